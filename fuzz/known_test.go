package fuzz

import (
	"fmt"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz/refmodel"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// knownIssue names a disagreement between the core and the invariant checker
// that is already reported to their owners, so that the property keeps
// searching for new ones instead of re-finding it on every run. Each entry is
// pinned by a history under testdata/known/ that TestKnownIssues replays: when
// the owners settle it, that test fails and the entry goes.
func knownIssue(ev fsm.Event, v invariants.Violation, s *fsm.State) string {
	if v.Invariant != invariants.TierTwoReset {
		return ""
	}
	if ev.Type == fsm.EvTaskFinished && s.Consecutive() == 0 && s.ForceNextGlobal() && allSourcesFinished(s) {
		// An expiry due before the event resolves a forced-global checkpoint
		// (tier 2 resets the forcing), then the event finishes the last source,
		// which forces the next checkpoint again (R25's last sentence). The
		// checker reads only the end of the step (known/tier2-then-sources-finished.jsonl).
		return "tier2-then-sources-finished"
	}
	return ""
}

func allSourcesFinished(s *fsm.State) bool {
	for _, id := range s.Topology().Sources() {
		if !s.TaskFinished(id) {
			return false
		}
	}
	return true
}

// TestKnownIssues replays the pinned reproductions of known issues. Each must
// still show its issue; when one no longer does, its owners fixed it and the
// accommodation in this package (knownIssue, a refmodel option) must go.
func TestKnownIssues(t *testing.T) {
	t.Run("failover-hands-slot-on", func(t *testing.T) {
		h := readHistory(t, "testdata/known/failover-hands-slot-on.jsonl")
		strict := diffLine(t, h, refmodel.Options{})
		if strict == 0 {
			t.Errorf("the core now agrees with R18 here: drop refmodel.Options.SlotDuringFailover")
		} else if want := h.Records[len(h.Records)-1].Line; strict != want {
			t.Errorf("the strict model differs first on line %d, want %d (the task_failed)", strict, want)
		}
		if line := diffLine(t, h, refmodel.Options{SlotDuringFailover: true}); line != 0 {
			t.Errorf("with SlotDuringFailover the model still differs on line %d", line)
		}
	})
	t.Run("tier2-then-sources-finished", func(t *testing.T) {
		h := readHistory(t, "testdata/known/tier2-then-sources-finished.jsonl")
		res, err := history.Replay(h, history.Options{Check: true})
		if err != nil {
			t.Fatal(err)
		}
		vs := res.Summary.Violations
		if len(vs) == 0 {
			t.Errorf("I-TierTwoReset no longer fires here: drop the tier2-then-sources-finished entry of knownIssue")
		}
		for _, v := range vs {
			if v.Invariant != invariants.TierTwoReset {
				t.Errorf("unexpected violation %s on line %d: %s", v.Invariant, v.Line, v.Detail)
			}
		}
	})
}

func readHistory(t *testing.T, path string) *history.History {
	t.Helper()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// diffLine steps the core and the reference model through a history and
// returns the line of the first event on which they differ, 0 if none.
func diffLine(t *testing.T, h *history.History, opt refmodel.Options) int {
	t.Helper()
	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := refmodel.New(h.Header.Job, h.Header.Config, opt)
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{topo: h.Topology, s: s, ref: ref}
	for _, rec := range h.Records {
		effs, err := s.Step(rec.Event)
		if err != nil {
			t.Fatalf("line %d: %v", rec.Line, err)
		}
		want, err := ref.Step(rec.Event)
		if err != nil {
			t.Fatalf("line %d: refmodel: %v", rec.Line, err)
		}
		got := coreOutcome(h.Topology, effs)
		if fmt.Sprintf("%+v", canonical(got)) != fmt.Sprintf("%+v", canonical(want)) ||
			fmt.Sprintf("%+v", m.snap()) != fmt.Sprintf("%+v", refSnap(ref)) {
			return rec.Line
		}
	}
	return 0
}
