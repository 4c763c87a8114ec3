package invariants

import (
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestCheckerMemoryBounded: over thousands of checkpoints — completions with a
// declined region (regional refs keep older ones alive), plain aborts — the
// checker's per-checkpoint memory stays bounded by the core's state, and an
// event about a forgotten checkpoint still breaks the invariant it breaks.
func TestCheckerMemoryBounded(t *testing.T) {
	h := newHarness(t, regionalConfig())
	h.clean(fsm.Event{At: 0, Type: fsm.EvStart})
	all := []fsm.TaskID{0, 1, 2, 3, 4, 5}
	for n := int64(1); n <= 3000; n++ {
		at, _ := h.s.NextDeadline()
		h.clean(fsm.Event{At: at, Type: fsm.EvTick})
		ps := h.s.Pending()
		if len(ps) != 1 {
			t.Fatalf("at %d: %d pending checkpoints", at, len(ps))
		}
		id := ps[0].ID
		switch n % 3 {
		case 0: // declined: aborted
			h.clean(fsm.Event{At: at + 1, Type: fsm.EvDecline, Checkpoint: id, Task: 0, Reason: fsm.ReasonTaskNotReady})
			continue
		case 1: // region r0 declines, a regional completion references older state
			h.clean(acks(at+1, id, 1, 2, 4, 5)...)
			h.clean(fsm.Event{At: at + 2, Type: fsm.EvDecline, Checkpoint: id, Task: 0, Reason: fsm.ReasonTaskNotReady})
		default:
			h.clean(acks(at+1, id, all...)...)
		}
		h.clean(fsm.Event{At: at + 3, Type: fsm.EvPersisted, Checkpoint: id})
	}
	c := h.c
	if n := len(c.recs); n > 2*pruneEvery {
		t.Fatalf("the checker holds %d records after 3000 checkpoints", n)
	}
	if c.floor < 1500 {
		t.Fatalf("floor %d after 3000 checkpoints", c.floor)
	}
	// A completion and a discard of a long-gone checkpoint are still caught.
	old := int64(10)
	v := c.Step(fsm.Event{At: h.s.Now(), Type: fsm.EvPersisted, Checkpoint: old},
		[]fsm.Effect{{Type: fsm.EffCompleted, Checkpoint: old, Kind: fsm.KindCheckpoint, Mode: fsm.ModeGlobal},
			{Type: fsm.EffDiscard, Checkpoint: old + 1}}, h.s)
	var names []string
	for _, x := range v {
		names = append(names, x.Invariant)
	}
	if !contains(names, NotifySafety) || !contains(names, RetentionSafety) {
		t.Fatalf("events about forgotten checkpoints: %v", v)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
