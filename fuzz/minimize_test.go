package fuzz

import (
	"bytes"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// TestDDMin: ddmin finds the two events a predicate needs among many, in
// order, and nothing else.
func TestDDMin(t *testing.T) {
	var evs []fsm.Event
	for i := 0; i < 40; i++ {
		evs = append(evs, fsm.Event{At: int64(i), Type: fsm.EvTick})
	}
	needs := func(evs []fsm.Event) bool {
		has := map[int64]bool{}
		for _, e := range evs {
			has[e.At] = true
		}
		return has[7] && has[31]
	}
	got := ddmin(evs, needs)
	if len(got) != 2 || got[0].At != 7 || got[1].At != 31 {
		t.Fatalf("ddmin = %v", got)
	}
	if got := ddmin(evs[:1], func([]fsm.Event) bool { return true }); len(got) != 0 {
		t.Fatalf("a predicate that always holds needs no event, got %v", got)
	}
}

// TestMinimize shrinks a padded regression history for a property of the
// core's run (the normal core has no invariant violation to offer): the result still has it, and removing any one more
// event loses it (1-minimality).
func TestMinimize(t *testing.T) {
	h := readHistory(t, "testdata/regress/failover-reaches-ready-before-slot.jsonl")
	// Pad it with events that change nothing that matters: acks and persists
	// of unknown checkpoints, ticks, an empty (rejected) patch.
	var padded []history.Record
	for i, r := range h.Records {
		padded = append(padded, r)
		if i > 0 {
			at := r.Event.At
			for _, ev := range []fsm.Event{{At: at, Type: fsm.EvAck, Checkpoint: 9, Task: 1}, {At: at, Type: fsm.EvTick},
				{At: at, Type: fsm.EvPersisted, Checkpoint: 7}, {At: at, Type: fsm.EvConfigPatch, Request: 5}} {
				padded = append(padded, history.Record{Event: ev})
			}
		}
	}
	big := *h
	big.Records = padded
	// The property: checkpoint 3 completes regionally (the regression's point).
	completes3 := func(topo *fsm.Topology, cfg fsm.Config, evs []fsm.Event) bool {
		s, _ := fsm.New(topo, cfg)
		for _, ev := range evs {
			effs, err := s.Step(ev)
			if err != nil {
				return false
			}
			for _, e := range effs {
				if e.Type == fsm.EffPersist && e.Checkpoint == 3 && e.Mode == fsm.ModeRegional {
					return true
				}
			}
		}
		return false
	}
	min, err := minimize(&big, "checkpoint 3 regional", completes3)
	if err != nil {
		t.Fatal(err)
	}
	evs := func(rs []history.Record) []fsm.Event {
		var out []fsm.Event
		for _, r := range rs {
			out = append(out, r.Event)
		}
		return out
	}
	got := evs(min.Records)
	if !completes3(h.Topology, h.Header.Config, got) {
		t.Fatal("the minimized history lost the property")
	}
	for i := 1; i < len(got); i++ {
		fewer := append(append([]fsm.Event(nil), got[:i]...), got[i+1:]...)
		if completes3(h.Topology, h.Header.Config, fewer) {
			t.Errorf("not 1-minimal: %s can go", fsm.DescribeEvent(h.Topology, got[i]))
		}
	}
	if len(got) >= len(h.Records) {
		t.Errorf("minimized %d padded events to %d, the unpadded history has %d", len(padded), len(got), len(h.Records))
	}
	var buf bytes.Buffer
	if err := WriteHistory(&buf, min, "minimized"); err != nil {
		t.Fatal(err)
	}
	back, err := history.Decode(&buf, "min.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if !completes3(back.Topology, back.Header.Config, evs(back.Records)) {
		t.Fatal("the written history lost the property")
	}
	// Minimize itself refuses what it cannot do.
	if _, err := Minimize(&big, invariants.NoLeak); err == nil {
		t.Fatal("minimizing for an invariant the history does not break must fail")
	}
	if _, err := Minimize(&big, "I-Bogus"); err == nil {
		t.Fatal("an unknown invariant must be refused")
	}
}
