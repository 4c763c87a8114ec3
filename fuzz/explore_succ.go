package fuzz

import (
	"fmt"
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// budgetField names one counter of a Budget: its index in a budgetVec.
type budgetField int8

const (
	noBudget budgetField = iota - 1 // the event spends nothing
	bCheckpoints
	bSavepoints
	bStopSavepoints
	bDeclines
	bTaskFailures
	bTaskFinishes
	bPersistFailures
	bRecovers
	bPatches
	bAdvances
	numBudgetFields
)

// MaxBudget is the largest count a Budget counter may hold: the explorer
// keeps a node's budget as small integers (budgetVec), so that a node's key
// is its pair and ten counters compared at once, without hashing.
const MaxBudget = 1<<15 - 1

// budgetVec is a Budget as the explorer keeps it per node: one int16 per
// counter, indexed by budgetField (comparable with ==, 20 bytes).
type budgetVec [numBudgetFields]int16

// vec converts a Budget; it fails, naming the counter, when one is outside
// Unbounded … MaxBudget.
func (b Budget) vec() (budgetVec, error) {
	var v budgetVec
	for f := bCheckpoints; f < numBudgetFields; f++ {
		n := *b.field(f)
		if n < Unbounded || n > MaxBudget {
			return v, fmt.Errorf("budget %s = %d: want %d (unbounded) to %d", f, n, Unbounded, MaxBudget)
		}
		v[f] = int16(n)
	}
	return v, nil
}

// budget converts back.
func (v budgetVec) budget() Budget {
	var b Budget
	for f := bCheckpoints; f < numBudgetFields; f++ {
		*b.field(f) = int(v[f])
	}
	return b
}

// String names a counter as the Budget field it is.
func (f budgetField) String() string {
	return [...]string{"Checkpoints", "Savepoints", "StopSavepoints", "Declines", "TaskFailures", "TaskFinishes",
		"PersistFailures", "Recovers", "Patches", "Advances"}[f]
}

func (b *Budget) field(f budgetField) *int {
	switch f {
	case bCheckpoints:
		return &b.Checkpoints
	case bSavepoints:
		return &b.Savepoints
	case bStopSavepoints:
		return &b.StopSavepoints
	case bDeclines:
		return &b.Declines
	case bTaskFailures:
		return &b.TaskFailures
	case bTaskFinishes:
		return &b.TaskFinishes
	case bPersistFailures:
		return &b.PersistFailures
	case bRecovers:
		return &b.Recovers
	case bPatches:
		return &b.Patches
	}
	return &b.Advances
}

// fault reports whether a counter is a fault budget, which may be Unbounded.
func (f budgetField) fault() bool {
	return f == bDeclines || f == bTaskFailures || f == bPersistFailures || f == bRecovers
}

// move is an event that may be tried from a state, in 16 bytes, and the
// budget counter it spends. A state's moves do not depend on the budget, so
// the explorer computes them once per core state and filters them per node;
// the event itself is built (move.event) only when its step is computed.
type move struct {
	typ   fsm.EventType
	kind  fsm.Kind // trigger
	spend budgetField
	task  fsm.TaskID // ack, decline, task_*
	// arg is the checkpoint id (ack, decline, persisted, persist_failed), the
	// request id (config_persisted) or the instant (tick).
	arg int64
}

// event is the move's event from a state whose clock reads now; a patch is
// the model's, with request id req.
func (m *Model) event(mv *move, now, req int64) fsm.Event {
	ev := fsm.Event{At: now, Type: mv.typ, Kind: mv.kind, Task: mv.task}
	switch mv.typ {
	case fsm.EvTick:
		ev.At = mv.arg
	case fsm.EvConfigPersisted:
		ev.Request = mv.arg
	case fsm.EvConfigPatch:
		ev = m.Patch
		ev.Type, ev.At, ev.Request = fsm.EvConfigPatch, now, req
	default:
		ev.Checkpoint = mv.arg
	}
	return ev
}

// moves lists, in a fixed order, the events tried from a state when the
// budget allows every kind. Every event happens at the state's own time
// except a tick, which goes to the next due instant (Budget.Advances); a
// patch's request id is set from the budget (allows).
func (m *Model) moves(topo *fsm.Topology, s *fsm.State) []move {
	now := s.Now()
	var buf [32]move // on the stack: the result is copied out at its size
	out := buf[:0]
	add := func(mv move) { out = append(out, mv) }
	add(move{typ: fsm.EvTrigger, kind: fsm.KindCheckpoint, spend: bCheckpoints})
	add(move{typ: fsm.EvTrigger, kind: fsm.KindSavepoint, spend: bSavepoints})
	add(move{typ: fsm.EvTrigger, kind: fsm.KindStopWithSavepoint, spend: bStopSavepoints})
	tasks := topo.NumSubtasks()
	var declined, failed []bool
	s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting {
			add(move{typ: fsm.EvPersisted, arg: p.ID, spend: noBudget})
			add(move{typ: fsm.EvPersistFailed, arg: p.ID, spend: bPersistFailures})
			return true
		}
		clear(declined)
		for id := fsm.TaskID(0); int(id) < tasks; id++ {
			r := topo.RegionOf(id)
			if !p.Triggered(id) || p.Acked(id) || p.RegionFailed(r) || s.TaskFinished(id) {
				continue
			}
			add(move{typ: fsm.EvAck, arg: p.ID, task: id, spend: noBudget})
			// Every subtask of a region declines alike (R17, R18): one per region.
			if declined == nil {
				declined = make([]bool, topo.NumRegions())
			}
			if !declined[r] {
				declined[r] = true
				add(move{typ: fsm.EvDecline, arg: p.ID, task: id, spend: bDeclines})
			}
		}
		return true
	})
	for id := fsm.TaskID(0); int(id) < tasks; id++ {
		switch {
		case s.TaskRunning(id):
			// The whole region fails over (R19): one failure per region.
			if r := topo.RegionOf(id); true {
				if failed == nil {
					failed = make([]bool, topo.NumRegions())
				}
				if !failed[r] {
					failed[r] = true
					add(move{typ: fsm.EvTaskFailed, task: id, spend: bTaskFailures})
				}
			}
			add(move{typ: fsm.EvTaskFinished, task: id, spend: bTaskFinishes})
		case !s.TaskFinished(id):
			add(move{typ: fsm.EvTaskRunning, task: id, spend: noBudget})
		}
	}
	add(move{typ: fsm.EvRecover, spend: bRecovers})
	add(move{typ: fsm.EvConfigPatch, spend: bPatches})
	for _, req := range s.PendingPatches() {
		add(move{typ: fsm.EvConfigPersisted, arg: req, spend: noBudget})
	}
	if due, ok := s.NextDeadline(); ok {
		add(move{typ: fsm.EvTick, arg: max(due, now), spend: bAdvances})
	}
	return slices.Clone(out) // kept per core entry
}

// allows reports whether the remaining budget b allows move mv and returns
// the budget left after it and, for a patch, its request id. A fault budget
// allows its event while it is not 0 (Unbounded stays unbounded); every other
// counter while it is positive. patches is the model's patch budget (a
// patch's request id counts the patches before it).
func allows(mv *move, b budgetVec, patches int) (budgetVec, int64, bool) {
	if mv.spend == noBudget {
		return b, 0, true
	}
	left := b[mv.spend]
	if left == 0 || left < 0 && !mv.spend.fault() {
		return b, 0, false
	}
	if left > 0 {
		b[mv.spend]-- // Unbounded stays unbounded
	}
	var req int64
	if mv.spend == bPatches {
		req = int64(patches - int(left) + 1)
	}
	return b, req, true
}
