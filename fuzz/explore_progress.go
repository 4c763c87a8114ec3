package fuzz

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// progress prints a line at most every Options.ProgressEvery while a depth
// expands, and one per finished depth: nodes, distinct states per second, the
// queue (frontier) depth, and an estimate of the time left.
type progress struct {
	name    string
	opt     Options
	start   time.Time
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	nodes   int // after the last finished depth
	cores   int
	queue   int     // items in the current frontier
	ratio   float64 // the last depth's frontier growth
	depth   int
	expands atomic.Int64 // frontier items expanded in the current depth
}

func newProgress(name string, opt Options, start time.Time) *progress {
	p := &progress{name: name, opt: opt, start: start, done: make(chan struct{}), queue: 1}
	if opt.Progress == nil {
		return p
	}
	every := opt.ProgressEvery
	if every <= 0 {
		every = 5 * time.Second
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.print("")
			}
		}
	}()
	return p
}

func (p *progress) expanded() {
	if p.opt.Progress != nil {
		p.expands.Add(1)
	}
}

func (p *progress) depthDone(depth, nodes, cores, queue int) {
	if p.opt.Progress == nil {
		return
	}
	p.mu.Lock()
	if p.queue > 0 {
		p.ratio = float64(queue) / float64(p.queue)
	}
	p.depth, p.nodes, p.cores, p.queue = depth, nodes, cores, queue
	p.mu.Unlock()
	p.expands.Store(0)
	p.print(" (depth done)")
}

// print writes one line. The ETA assumes the frontier keeps shrinking by the
// last depth's ratio (a geometric tail); while it grows no estimate is given.
func (p *progress) print(suffix string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el := time.Since(p.start).Seconds()
	rate := float64(p.nodes) / max(el, 1e-9)
	left := float64(p.queue - int(p.expands.Load()))
	eta := "unknown (queue growing)"
	if p.ratio > 0 && p.ratio < 1 && rate > 0 {
		remaining := left + float64(p.queue)*p.ratio/(1-p.ratio)
		eta = fmt.Sprintf("~%s", time.Duration(remaining/rate*float64(time.Second)).Round(time.Second))
	} else if p.queue == 0 {
		eta = "0s"
	}
	fmt.Fprintf(p.opt.Progress, "explore %s: depth %d, %d nodes (%d core states), %.0f nodes/s, queue %d (%.0f left at this depth), eta %s%s\n",
		p.name, p.depth, p.nodes, p.cores, rate, p.queue, max(left, 0), eta, suffix)
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}
