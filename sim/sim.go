package sim

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// pcgStream is the PCG's second seed word. It is fixed so that Params.Seed alone
// names a run.
const pcgStream = 0x9e3779b97f4a7c15

// noEffects is recorded for a step without effects when effects are recorded:
// an empty list says "none", a missing one says "not recorded" (HISTORY.md).
var noEffects = []fsm.Effect{}

// Sim is one simulated run. Create it with New and call Run once.
type Sim struct {
	p    Params
	topo *fsm.Topology
	core *fsm.State
	rng  *rand.Rand
	q    queue

	// epoch counts each region's incarnations: an answer or failure scheduled by
	// an incarnation that has since failed over is dropped when it comes due, so
	// a restart needs no search through the queue.
	epoch []uint32
	// ckpts[id] holds checkpoint id's flags. Answers for a checkpoint that is no
	// longer open are dropped: notify_aborted tells its subtasks to stop working
	// on it, as Flink's notifyCheckpointAborted does.
	ckpts []ckptFlags

	hist    *history.Writer
	buf     *bufio.Writer
	stats   Stats
	lastAt  int64
	stalled int // consecutive ticks that left a deadline due: a guard against a livelock
}

// New builds the job, the core and, when hist is not nil, the history writer.
func New(p Params, hist io.Writer) (*Sim, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	spec, err := p.Shape.Spec()
	if err != nil {
		return nil, err
	}
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	core, err := fsm.New(topo, p.Config)
	if err != nil {
		return nil, fmt.Errorf("sim: %w", err)
	}
	s := &Sim{
		p:     p,
		topo:  topo,
		core:  core,
		rng:   rand.New(rand.NewPCG(p.Seed, pcgStream)),
		epoch: make([]uint32, topo.NumRegions()),
		ckpts: make([]ckptFlags, 1, 64),
		stats: newStats(topo),
	}
	// One answer per subtask is in flight after a trigger; sizing the queue for
	// it up front avoids regrowing it during the first checkpoints.
	s.q.items = make([]item, 0, topo.NumSubtasks()+16)
	if hist != nil {
		s.buf = bufio.NewWriterSize(hist, 1<<16)
		s.hist, err = history.NewWriter(s.buf, history.Header{Format: history.Format, Job: spec, Config: p.Config})
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
	}
	return s, nil
}

// Run simulates the job for p.DurationMs: everything due at or before that time
// happens. It returns the statistics of the run.
func Run(p Params, hist io.Writer) (Stats, error) {
	s, err := New(p, hist)
	if err != nil {
		return Stats{}, err
	}
	return s.Run()
}

// Topology returns the simulated job.
func (s *Sim) Topology() *fsm.Topology { return s.topo }

// Core returns the decision core; it is the simulator's, to be read only.
func (s *Sim) Core() *fsm.State { return s.core }

// Run drives the core until the simulated time is over, then flushes the history.
func (s *Sim) Run() (Stats, error) {
	if err := s.run(); err != nil {
		return s.stats, err
	}
	s.stats.PendingAtEnd = len(s.core.Pending())
	s.stats.SimTimeMs = s.lastAt
	if s.buf != nil {
		if err := s.buf.Flush(); err != nil {
			return s.stats, fmt.Errorf("sim: history: %w", err)
		}
	}
	return s.stats, nil
}

func (s *Sim) run() error {
	if err := s.step(fsm.Event{At: 0, Type: fsm.EvStart, Restore: s.p.Restore}); err != nil {
		return err
	}
	end := s.p.DurationMs
	for {
		qAt, queued := s.q.peek()
		due, hasDue := s.core.NextDeadline()
		if hasDue && (!queued || due < qAt) {
			// The core is due before the next happening: a tick makes it act
			// (R10). Ties go to the happening, whose step runs what is due first.
			if due > end {
				return nil
			}
			if err := s.tick(due); err != nil {
				return err
			}
			continue
		}
		if !queued || qAt > end {
			return nil
		}
		if err := s.dispatch(s.q.pop()); err != nil {
			return err
		}
	}
}

// tick steps the core at a deadline. A deadline at or before the last step that
// a tick did not clear would loop forever: that is a core bug, reported.
func (s *Sim) tick(due int64) error {
	at := max(due, s.lastAt)
	if due <= s.lastAt {
		s.stalled++
		if s.stalled > 2 {
			return fmt.Errorf("sim: the core stays due at %d after ticks at %d (NextDeadline livelock)", due, s.lastAt)
		}
	} else {
		s.stalled = 0
	}
	return s.step(fsm.Event{At: at, Type: fsm.EvTick})
}

// step applies one event, records it and carries out its effects.
func (s *Sim) step(ev fsm.Event) error {
	effs, err := s.core.Step(ev)
	if err != nil {
		return fmt.Errorf("sim: step %s: %w", fsm.DescribeEvent(s.topo, ev), err)
	}
	s.lastAt = ev.At
	s.stats.Events++
	if s.hist != nil {
		rec := []fsm.Effect(nil)
		if s.p.RecordEffects {
			rec = effs
			if rec == nil {
				rec = noEffects
			}
		}
		if err := s.hist.WriteEvent(ev, rec); err != nil {
			return fmt.Errorf("sim: history: %w", err)
		}
	}
	for i := range effs {
		s.carryOut(ev.At, &effs[i])
	}
	return nil
}
