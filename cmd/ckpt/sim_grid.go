package main

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/sim"
)

// mode is the checkpointing mode a run compares: global only, or regional
// (FLIP-600) with the proposal's defaults.
type mode string

const (
	global   mode = "global"
	regional mode = "regional"
)

var modes = []mode{global, regional}

// grid is the experiment: every number of regions × decline probability × mode.
type grid struct {
	Regions     []int
	DeclineProb []float64
	FailProb    float64
	Checkpoints int // periods simulated per run
	Seed        uint64
	Cold        bool // start without a completed checkpoint (no restore)
	MaxConsec   int  // regional.max_consecutive
}

// cell is one run of the grid.
type cell struct {
	Regions int
	P       float64
	Mode    mode
	Seed    uint64
	Params  sim.Params
}

// result is a finished cell.
type result struct {
	cell
	Stats sim.Stats
	Wall  time.Duration
}

// cells lists the runs in table order: regions, then p, then mode. Both modes
// of a (regions, p) pair share a seed, so their difference is the mode's, not
// the dice's (common random numbers).
func (g grid) cells() []cell {
	var out []cell
	for i, n := range g.Regions {
		for j, p := range g.DeclineProb {
			seed := mix(g.Seed, uint64(i), uint64(j))
			for _, m := range modes {
				prm := sim.DefaultParams(n)
				prm.Seed = seed
				prm.DeclineProb = p
				prm.FailProb = g.FailProb
				prm.DurationMs = int64(g.Checkpoints) * prm.Config.IntervalMs
				prm.Config.Regional.Enabled = m == regional
				prm.Config.Regional.MaxConsecutive = g.MaxConsec
				if !g.Cold {
					// The job starts from a snapshot, as after an upgrade: regional
					// checkpoints have state to fall back to from the start (R22d).
					prm.Restore = &fsm.Restore{Checkpoint: 1}
				}
				out = append(out, cell{Regions: n, P: p, Mode: m, Seed: seed, Params: prm})
			}
		}
	}
	return out
}

// mix derives a cell's seed from the base seed and the cell's coordinates
// (SplitMix64 finalizer), so that adding a row leaves other rows' seeds alone.
func mix(base uint64, xs ...uint64) uint64 {
	z := base
	for _, x := range xs {
		z += 0x9e3779b97f4a7c15 + x*0xbf58476d1ce4e5b9
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
	}
	return z
}

// runCells executes the cells on workers goroutines. Results come back in cell
// order whatever the scheduling, so the outputs are byte-identical across runs.
func runCells(cells []cell, workers int, progress func(result)) ([]result, error) {
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	out := make([]result, len(cells))
	errs := make([]error, len(cells))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				start := time.Now()
				st, err := sim.Run(cells[i].Params, nil)
				out[i] = result{cell: cells[i], Stats: st, Wall: time.Since(start)}
				errs[i] = err
				if progress != nil && err == nil {
					mu.Lock()
					progress(out[i])
					mu.Unlock()
				}
			}
		}()
	}
	// Largest runs first: the grid ends when its slowest run does.
	order := make([]int, len(cells))
	for i := range order {
		order[i] = len(cells) - 1 - i
	}
	for _, i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("regions=%d p=%g %s: %w", cells[i].Regions, cells[i].P, cells[i].Mode, err)
		}
	}
	return out, nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("%q: want probabilities separated by commas", s)
		}
		out = append(out, v)
	}
	return out, nil
}
