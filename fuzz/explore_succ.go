package fuzz

import (
	"fmt"
	"math/bits"

	"github.com/ckptcore/ckptcore/fsm"
)

// budgetField names one counter of a Budget.
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

// packedBudget is a node's remaining budget in 64 bits (budgetCodec), so that
// a node is its pair and one word: nodes are told apart and successors'
// budgets computed without hashing or copying a Budget.
type packedBudget uint64

// budgetCodec packs the budgets of one model: counter f takes width[f] bits
// at shift[f] and holds its count plus one (0 is Unbounded), enough for the
// model's own count, which no node exceeds (counts only go down).
type budgetCodec struct {
	shift, width [numBudgetFields]uint8
}

// codec returns the codec of a model whose budget is b; it fails, naming
// the counter, on a count below Unbounded, or when the counts need more than
// 64 bits together (an exploration with that many events of each kind would
// not finish anyway).
func (b Budget) codec() (budgetCodec, error) {
	var c budgetCodec
	at := 0
	for f := bCheckpoints; f < numBudgetFields; f++ {
		n := *b.field(f)
		if n < Unbounded {
			return c, fmt.Errorf("budget %s = %d: want %d (unbounded) or more", f, n, Unbounded)
		}
		w := bits.Len64(uint64(n) + 1)
		c.shift[f], c.width[f] = uint8(min(at, 63)), uint8(w)
		at += w
	}
	if at > 64 {
		return c, fmt.Errorf("budget %+v: the counts need %d bits together; the explorer keeps a node's budget in 64", b, at)
	}
	return c, nil
}

// Check reports whether Explore can explore a model with this budget: every
// count is Unbounded or more, and the counts fit together in 64 bits (about
// 2^6 each for all ten counters, far more for a few).
func (b Budget) Check() error {
	_, err := b.codec()
	return err
}

// pack packs a budget the codec's model allows.
func (c *budgetCodec) pack(b Budget) packedBudget {
	var v packedBudget
	for f := bCheckpoints; f < numBudgetFields; f++ {
		v |= packedBudget(*b.field(f)+1) << c.shift[f]
	}
	return v
}

// left returns counter f of v (Unbounded for an unbounded fault).
func (c *budgetCodec) left(v packedBudget, f budgetField) int {
	return int(uint64(v)>>c.shift[f]&(1<<c.width[f]-1)) - 1
}

// unpack returns v as a Budget.
func (c *budgetCodec) unpack(v packedBudget) Budget {
	var b Budget
	for f := bCheckpoints; f < numBudgetFields; f++ {
		*b.field(f) = c.left(v, f)
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
	return m.appendMoves(nil, topo, s)
}

// appendMoves appends the moves of s to out.
func (m *Model) appendMoves(out []move, topo *fsm.Topology, s *fsm.State) []move {
	now := s.Now()
	add := func(mv move) { out = append(out, mv) }
	add(move{typ: fsm.EvTrigger, kind: fsm.KindCheckpoint, spend: bCheckpoints})
	add(move{typ: fsm.EvTrigger, kind: fsm.KindSavepoint, spend: bSavepoints})
	add(move{typ: fsm.EvTrigger, kind: fsm.KindStopWithSavepoint, spend: bStopSavepoints})
	tasks := topo.NumSubtasks()
	// The regions a decline or failure was added for: on the stack for up to
	// 64 regions.
	var small [2][64]bool
	declined, failed := small[0][:], small[1][:]
	if n := topo.NumRegions(); n > 64 {
		declined, failed = make([]bool, n), make([]bool, n)
	}
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
			if r := topo.RegionOf(id); !failed[r] {
				failed[r] = true
				add(move{typ: fsm.EvTaskFailed, task: id, spend: bTaskFailures})
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
	return out
}

// allows reports whether the remaining budget b allows move mv and returns
// the budget left after it and, for a patch, its request id. A fault budget
// allows its event while it is not 0 (Unbounded stays unbounded); every other
// counter while it is positive. patches is the model's patch budget (a
// patch's request id counts the patches before it).
func (c *budgetCodec) allows(mv *move, b packedBudget, patches int) (packedBudget, int64, bool) {
	if mv.spend == noBudget {
		return b, 0, true
	}
	left := c.left(b, mv.spend)
	if left == 0 || left < 0 && !mv.spend.fault() {
		return b, 0, false
	}
	if left > 0 {
		b -= 1 << c.shift[mv.spend] // Unbounded stays unbounded
	}
	var req int64
	if mv.spend == bPatches {
		req = int64(patches - left + 1)
	}
	return b, req, true
}
