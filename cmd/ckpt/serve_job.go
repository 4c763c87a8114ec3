package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

// simJob, the job `ckpt serve` runs, is src(4) -> map(4) -> sink(4),
// pointwise and pipelined: four pipelined regions {src/i, map/i, sink/i}; the source has a coordinator that
// supports region fallback (as a Kafka source would need to).
func simJob() fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{
			{ID: "src", Parallelism: 4, Coordinator: fsm.CoordinatorFallback},
			{ID: "map", Parallelism: 4},
			{ID: "sink", Parallelism: 4},
		},
		Edges: []fsm.EdgeSpec{{From: "src", To: "map"}, {From: "map", To: "sink"}},
	}
}

// simParams shape the simulated subtasks.
type simParams struct {
	ackMinMs, ackMaxMs int64
	decline, fail      float64
	restartMs          int64
}

// simExecutor is the Executor of the simulated job: its subtasks answer triggers from
// timers. Every random draw happens in TriggerCheckpoint, on the driver's
// effect worker, so a seed fixes the sequence of decisions (not the timing,
// which is real).
type simExecutor struct {
	driver.NopExecutor
	p    simParams
	rnd  *rand.Rand
	log  *printer
	topo *fsm.Topology
	d    *driver.Driver // set by Attach, before any effect

	mu      sync.Mutex
	stopped bool
	timers  map[*time.Timer]struct{}
}

func newSimExecutor(p simParams, seed uint64, log *printer) *simExecutor {
	topo, err := fsm.NewTopology(simJob())
	if err != nil {
		panic(err) // simJob is a constant job
	}
	return &simExecutor{p: p, rnd: rand.New(rand.NewPCG(seed, 0x636b7074)), log: log, topo: topo,
		timers: map[*time.Timer]struct{}{}}
}

// Attach gives the simulated subtasks the driver to answer to.
func (s *simExecutor) Attach(d *driver.Driver) {
	s.mu.Lock()
	s.d = d
	s.mu.Unlock()
}

// after runs f after ms unless the simulation stopped.
func (s *simExecutor) after(ms int64, f func(d *driver.Driver)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(time.Duration(ms)*time.Millisecond, func() {
		s.mu.Lock()
		delete(s.timers, t)
		stopped, d := s.stopped, s.d
		s.mu.Unlock()
		if !stopped {
			f(d) // errors are ErrClosed at shutdown: nothing to do
		}
	})
	s.timers[t] = struct{}{}
}

func (s *simExecutor) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for t := range s.timers {
		t.Stop()
	}
}

// TriggerCheckpoint schedules every subtask's answer: an ack after a random
// delay, or a decline, or a failure followed by its region's restart.
func (s *simExecutor) TriggerCheckpoint(id int64, kind fsm.Kind, _ bool, tasks fsm.TaskSet, _ time.Time) {
	tasks.All(func(task fsm.TaskID) bool {
		delay := s.p.ackMinMs + s.rnd.Int64N(s.p.ackMaxMs-s.p.ackMinMs+1)
		switch r := s.rnd.Float64(); {
		case r < s.p.fail:
			region := s.topo.RegionOf(task)
			s.after(delay, func(d *driver.Driver) {
				s.log.printf("  [sim] %s fails: region %s restarts", s.topo.TaskName(task), fsm.RegionName(region))
				d.TaskFailed(task)
			})
			s.after(delay+s.p.restartMs, func(d *driver.Driver) {
				for _, t := range s.topo.RegionTasks(region) {
					d.TaskRunning(t)
				}
				s.log.printf("  [sim] region %s running again", fsm.RegionName(region))
			})
		case r < s.p.fail+s.p.decline:
			s.after(delay, func(d *driver.Driver) { d.Decline(id, task, fsm.ReasonDeclined) })
		default:
			// Sizes as a subtask would report them (not drawn: the run stays as it was).
			state, uploaded := int64(64+task%8)<<20, int64(1+task%4)<<20
			ack := driver.Ack{Checkpoint: id, Task: task, StateSize: state, CheckpointedSize: uploaded,
				Handle: s.writeState(kind, id, task)}
			s.after(delay, func(d *driver.Driver) { d.AckBatch([]driver.Ack{ack}) })
		}
		return true
	})
}

// ObserveEffect prints every effect of the coordinator.
func (s *simExecutor) ObserveEffect(e fsm.Effect) {
	s.log.printf("%s", fsm.DescribeEffect(s.topo, e))
}

// FailJob explains what a failed job means here.
func (s *simExecutor) FailJob(reason fsm.Reason, _ string) {
	s.log.printf("  [sim] the job failed (%s): no more checkpoints; the REST API stays up", reason)
}

// printer writes timestamped lines; several goroutines print.
type printer struct {
	mu     *sync.Mutex // shared with the printers made by withPrefix
	w      io.Writer
	prefix string
}

func newPrinter(w io.Writer) *printer { return &printer{mu: new(sync.Mutex), w: w} }

// withPrefix returns a printer to the same output whose lines start with
// prefix after the time (a job's lines when one process runs several).
func (p *printer) withPrefix(prefix string) *printer {
	return &printer{mu: p.mu, w: p.w, prefix: p.prefix + prefix}
}

func (p *printer) printf(format string, args ...any) {
	p.line(time.Now().Format("15:04:05.000") + "  " + p.prefix + fmt.Sprintf(format, args...))
}

// line writes one line as it is, without the time (lines that other
// programs parse, e.g. serve --etcd's "ha: " lines).
func (p *printer) line(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.w, s+"\n")
}

// writeState is a simulated subtask taking its snapshot: a small state file
// in the checkpoint's directory of checkpoint storage, whose handle its ack
// carries (the _metadata file then names it). It runs on the effect worker,
// before any abort of the checkpoint removes that directory, so no file
// outlives its checkpoint. Without storage, or if the write fails, the ack
// carries no state.
func (s *simExecutor) writeState(kind fsm.Kind, id int64, task fsm.TaskID) driver.StateHandle {
	st := s.d.CheckpointStorage()
	if st == nil {
		return driver.StateHandle{}
	}
	data := fmt.Appendf(nil, "simulated state of %s at %s %d\n", s.topo.TaskName(task), kind, id)
	dir := st.Dir(kind, id)
	path := filepath.Join(dir, strings.ReplaceAll(s.topo.TaskName(task), "/", "-"))
	if os.MkdirAll(dir, 0o755) != nil || os.WriteFile(path, data, 0o644) != nil {
		return driver.StateHandle{}
	}
	return driver.StateHandle{URI: "file://" + path, Size: int64(len(data))}
}
