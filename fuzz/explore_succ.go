package fuzz

import (
	"fmt"
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

type successor struct {
	ev     fsm.Event
	budget budgetVec
	move   int // the index of its move
}

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

// move is an event that may be tried from a state and the budget counter it
// spends. A state's moves do not depend on the budget, so the explorer
// computes them once per core state and filters them per node.
type move struct {
	ev    fsm.Event
	spend budgetField
}

// moves lists, in a fixed order, the events tried from a state when the
// budget allows every kind. Every event happens at the state's own time
// except a tick, which goes to the next due instant (Budget.Advances); a
// patch's request id is set from the budget (successor).
func (m *Model) moves(topo *fsm.Topology, s *fsm.State) []move {
	now := s.Now()
	var buf [32]move // on the stack: the result is copied out at its size
	out := buf[:0]
	add := func(ev fsm.Event, f budgetField) {
		if ev.At == 0 {
			ev.At = now
		}
		out = append(out, move{ev, f})
	}
	add(fsm.Event{Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint}, bCheckpoints)
	add(fsm.Event{Type: fsm.EvTrigger, Kind: fsm.KindSavepoint}, bSavepoints)
	add(fsm.Event{Type: fsm.EvTrigger, Kind: fsm.KindStopWithSavepoint}, bStopSavepoints)
	tasks := topo.NumSubtasks()
	var declined, failed []bool
	s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting {
			add(fsm.Event{Type: fsm.EvPersisted, Checkpoint: p.ID}, noBudget)
			add(fsm.Event{Type: fsm.EvPersistFailed, Checkpoint: p.ID}, bPersistFailures)
			return true
		}
		clear(declined)
		for id := fsm.TaskID(0); int(id) < tasks; id++ {
			r := topo.RegionOf(id)
			if !p.Triggered(id) || p.Acked(id) || p.RegionFailed(r) || s.TaskFinished(id) {
				continue
			}
			add(fsm.Event{Type: fsm.EvAck, Checkpoint: p.ID, Task: id}, noBudget)
			// Every subtask of a region declines alike (R17, R18): one per region.
			if declined == nil {
				declined = make([]bool, topo.NumRegions())
			}
			if !declined[r] {
				declined[r] = true
				add(fsm.Event{Type: fsm.EvDecline, Checkpoint: p.ID, Task: id}, bDeclines)
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
					add(fsm.Event{Type: fsm.EvTaskFailed, Task: id}, bTaskFailures)
				}
			}
			add(fsm.Event{Type: fsm.EvTaskFinished, Task: id}, bTaskFinishes)
		case !s.TaskFinished(id):
			add(fsm.Event{Type: fsm.EvTaskRunning, Task: id}, noBudget)
		}
	}
	add(fsm.Event{Type: fsm.EvRecover}, bRecovers)
	ev := m.Patch
	ev.Type, ev.At = fsm.EvConfigPatch, now
	add(ev, bPatches)
	for _, req := range s.PendingPatches() {
		add(fsm.Event{Type: fsm.EvConfigPersisted, Request: req}, noBudget)
	}
	if due, ok := s.NextDeadline(); ok {
		add(fsm.Event{Type: fsm.EvTick, At: max(due, now)}, bAdvances)
	}
	return slices.Clone(out) // kept per core entry
}

// appendSuccessors appends the moves the remaining budget b allows, each with
// the budget left after it. A fault budget allows its event while it is not 0
// (Unbounded stays unbounded); every other counter while it is positive.
// patches is the model's patch budget (a patch's request id counts them).
func appendSuccessors(out []successor, moves []move, b budgetVec, patches int) []successor {
	for j := range moves {
		mv := &moves[j]
		if mv.spend == noBudget {
			out = append(out, successor{mv.ev, b, j})
			continue
		}
		left := b[mv.spend]
		if left == 0 || left < 0 && !mv.spend.fault() {
			continue
		}
		out = append(out, successor{mv.ev, b, j})
		sc := &out[len(out)-1]
		if left > 0 {
			sc.budget[mv.spend]-- // Unbounded stays unbounded
		}
		if mv.spend == bPatches {
			sc.ev.Request = int64(patches - int(left) + 1)
		}
	}
	return out
}

// successors lists the events tried from a state with the remaining budget b,
// in a fixed order, each with the budget left after it.
func (m *Model) successors(topo *fsm.Topology, s *fsm.State, b budgetVec) []successor {
	return appendSuccessors(nil, m.moves(topo, s), b, m.Budget.Patches)
}
