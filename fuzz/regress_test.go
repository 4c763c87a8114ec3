package fuzz

import (
	"path/filepath"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz/refmodel"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// knownIssue names a violation that is already reported to the owners of the
// core or the checker, so that the property and the explorer keep searching
// for new ones instead of re-finding it on every run. An entry comes with a
// reproduction under testdata/known/ and a test that fails once it is fixed.
// There are none at present: the last two were fixed upstream (fsm 528bc80)
// and their reproductions are regressions under testdata/regress/.
func knownIssue(fsm.Event, invariants.Violation, *fsm.State) string { return "" }

func ignoreKnownIssues(ev fsm.Event, v invariants.Violation, s *fsm.State) bool {
	return knownIssue(ev, v, s) != ""
}

// TestRegressions replays every history the harness once found a problem
// with: every invariant must hold, and the core must agree with the strict
// reference model where the history is in the model's scope.
func TestRegressions(t *testing.T) {
	files, err := filepath.Glob("testdata/regress/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression histories (%v)", err)
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			h := readHistory(t, path)
			res, err := history.Replay(h, history.Options{Check: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Summary.Violations {
				t.Errorf("line %d: %s: %s", v.Line, v.Invariant, v.Detail)
			}
			if line, diff := diffLine(t, h); line != 0 {
				t.Errorf("line %d: the core and the reference model differ: %s", line, diff)
			}
		})
	}
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
// returns the line of the first event on which they differ (0 if none) and
// the difference.
func diffLine(t *testing.T, h *history.History) (int, string) {
	t.Helper()
	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := refmodel.New(h.Header.Job, h.Header.Config, refmodel.Options{})
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
		if rule, d := diffStep(effs, want, m.snap(), refSnap(ref)); rule != "" {
			return rec.Line, rule + ": " + d
		}
	}
	return 0, ""
}
