package invariants

import (
	"fmt"
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// Rule names of the timing checks (SEMANTICS §3; §10 states no invariant
// about time).
const (
	RuleDueFirst       = "R10" // nothing due is left undone after a step
	RulePeriodicAlways = "R11" // with an interval in force the next periodic request is scheduled
)

// Timing checks the time rules after each step, from events, effects and the
// state's views: R10 (everything due at or before an event happens first: no
// checkpoint still waiting for acks has a deadline at or before now) and
// R11/R62 (with interval > 0 in force and a running job, the next periodic
// request is scheduled, at most one period — or the start's initial delay —
// away; so a patch 0 → N starts periodic checkpoints and no request is lost).
// It is kept apart from Checker: it needs per-checkpoint history (subtasks
// that finished since the trigger) that the §10 checker's canonical key
// (clone.go) does not carry.
type Timing struct {
	topo     *fsm.Topology
	minPause int64           // the configuration's min_pause (fixed per job)
	finished []finishedSince // pending ids with subtasks finished since their trigger (R20), ascending
	startDue int64           // the first periodic request's due time (start + initial delay)
	out      []Violation
}

// NewTiming returns a timing checker for one history.
func NewTiming(t *fsm.Topology, cfg fsm.Config) *Timing {
	return &Timing{topo: t, minPause: cfg.MinPauseMs}
}

// finishedSince is a pending checkpoint and the subtasks that finished since
// its trigger, ascending (never written in place: clones share it).
type finishedSince struct {
	id    int64
	tasks []fsm.TaskID
}

// Step checks one accepted step and returns its violations.
func (c *Timing) Step(ev fsm.Event, effs []fsm.Effect, s *fsm.State) []Violation {
	c.out = nil
	if ev.Type == fsm.EvStart && ev.HasInitialDelay {
		c.startDue = ev.At + ev.InitialDelayMs
	}
	if len(c.finished) > 0 || ev.Type == fsm.EvTaskFinished {
		c.keepPending(ev, s)
	}
	now := s.Now()
	swsp := false
	s.EachPending(func(p fsm.PendingInfo) bool {
		swsp = swsp || p.Kind == fsm.KindStopWithSavepoint
		if p.Persisting || p.Deadline > now {
			return true
		}
		if t, ok := c.waitingFor(p); ok {
			c.fail(RuleDueFirst, "after the step at %d checkpoint %d still waits for %s although its deadline %d has passed",
				now, p.ID, c.topo.TaskName(t), p.Deadline)
		}
		return true
	})
	eff := s.Effective()
	if eff.IntervalMs > 0 && s.Job() == fsm.JobRunning && !swsp {
		period := max(eff.IntervalMs, c.minPause)
		due, ok := s.NextDeadline()
		switch {
		case !ok:
			c.fail(RulePeriodicAlways, "interval %d ms in force and the job runs, but no periodic request is scheduled", eff.IntervalMs)
		case due > now+period && due > c.startDue:
			c.fail(RulePeriodicAlways, "at %d the next request is due at %d, more than a period (%d ms) away", now, due, period)
		}
	}
	return c.out
}

// keepPending keeps the entries of the checkpoints still pending (both lists
// ascend) and adds the subtask a task_finished event finishes to each.
func (c *Timing) keepPending(ev fsm.Event, s *fsm.State) {
	kept := c.finished[:0:0]
	i := 0
	s.EachPending(func(p fsm.PendingInfo) bool {
		for i < len(c.finished) && c.finished[i].id < p.ID {
			i++
		}
		f := finishedSince{id: p.ID}
		if i < len(c.finished) && c.finished[i].id == p.ID {
			f = c.finished[i]
		}
		if ev.Type == fsm.EvTaskFinished {
			if j, ok := slices.BinarySearch(f.tasks, ev.Task); !ok {
				f.tasks = slices.Insert(slices.Clip(slices.Clone(f.tasks)), j, ev.Task)
			}
		}
		if f.tasks != nil {
			kept = append(kept, f)
		}
		return true
	})
	c.finished = kept
}

// waitingFor returns a subtask whose ack the checkpoint still needs: it got
// the trigger, has not acked, its region has not failed for the checkpoint,
// and it has not finished since the trigger (R18, R20).
func (c *Timing) waitingFor(p fsm.PendingInfo) (fsm.TaskID, bool) {
	var fin []fsm.TaskID
	for _, f := range c.finished {
		if f.id == p.ID {
			fin = f.tasks
		}
	}
	for t := fsm.TaskID(0); int(t) < c.topo.NumSubtasks(); t++ {
		if p.Triggered(t) && !p.Acked(t) && !p.RegionFailed(c.topo.RegionOf(t)) && !slices.Contains(fin, t) {
			return t, true
		}
	}
	return 0, false
}

func (c *Timing) fail(name, format string, args ...any) {
	c.out = append(c.out, Violation{name, fmt.Sprintf(format, args...)})
}
