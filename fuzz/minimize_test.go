package fuzz

import (
	"bytes"
	"strings"
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

// TestMinimize shrinks a padded reproduction of a real violation (the pinned
// known issue tier2-then-sources-finished) back to the events it needs, and
// the written file replays to the same violation.
func TestMinimize(t *testing.T) {
	h := readHistory(t, "testdata/known/tier2-then-sources-finished.jsonl")
	// Pad it with events that change nothing that matters: acks and persists
	// of unknown checkpoints, ticks before the deadline, a rejected patch.
	var padded []history.Record
	noise := func(at int64) []fsm.Event {
		return []fsm.Event{{At: at, Type: fsm.EvAck, Checkpoint: 9, Task: 1}, {At: at, Type: fsm.EvTick},
			{At: at, Type: fsm.EvPersisted, Checkpoint: 7}, {At: at, Type: fsm.EvConfigPatch, Request: 5}}
	}
	for i, r := range h.Records {
		padded = append(padded, r)
		if i > 0 {
			for _, ev := range noise(r.Event.At) {
				padded = append(padded, history.Record{Event: ev})
			}
		}
	}
	big := *h
	big.Records = padded
	min, err := Minimize(&big, invariants.TierTwoReset)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range h.Records {
		want = append(want, fsm.DescribeEvent(h.Topology, r.Event))
	}
	var got []string
	for _, r := range min.Records {
		got = append(got, fsm.DescribeEvent(h.Topology, r.Event))
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("minimized %d events to:\n%s\nwant:\n%s", len(padded), strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var buf bytes.Buffer
	if err := WriteHistory(&buf, min, "minimized"); err != nil {
		t.Fatal(err)
	}
	back, err := history.Decode(&buf, "min.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := history.Replay(back, history.Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Summary.Violations) == 0 || res.Summary.Violations[0].Invariant != invariants.TierTwoReset {
		t.Fatalf("the minimized file replays to %v", res.Summary.Violations)
	}
	if _, err := Minimize(&big, invariants.NoLeak); err == nil {
		t.Fatal("minimizing for an invariant the history does not break must fail")
	}
	if _, err := Minimize(&big, "I-Bogus"); err == nil {
		t.Fatal("an unknown invariant must be refused")
	}
}
