package fuzz

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// pinned are the sizes of the CI models' complete explorations: {nodes, core
// states, transitions, depth}. Nodes are distinct (core state, checker
// history, remaining budget) triples; core states are distinct DeepKeys;
// transitions count every successor tried; depth is the longest path in
// events after the start. A change in any number means the core, the checker
// or a model now behaves differently on some interleaving: explain it in the
// commit that updates the table.
//
//	history of the numbers
//	2026-11-21  first pins (fsm at f29fff6: one checkpoint persists at a time)
var pinned = map[string][4]int{
	"global-2x1":          {12950, 2031, 48455, 16},
	"regional-2x1":        {23515, 5513, 61485, 16},
	"regional-finish-2x1": {15709, 11912, 35157, 13},
}

// TestExplore explores every CI model completely: no invariant may break on
// any interleaving, and each model's size must match its pinned numbers.
func TestExplore(t *testing.T) {
	for _, m := range ciModels() {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			res := Explore(m, Limits{Ignore: ignoreKnownIssues})
			if cx := res.Violation; cx != nil {
				t.Fatalf("%s after %d events: %s\ncounterexample: %s", cx.Invariant, len(cx.Events), cx.Detail,
					writeCounterexample(t, cx))
			}
			got := [4]int{res.Nodes, res.CoreStates, res.Transitions, res.Depth}
			t.Logf("%s: %d nodes, %d core states, %d transitions, depth %d, %v", m.Name, got[0], got[1], got[2], got[3],
				res.Elapsed.Round(time.Millisecond))
			if !res.Complete {
				t.Fatalf("exploration incomplete")
			}
			if want, ok := pinned[m.Name]; !ok || got != want {
				t.Errorf("%q: {%d, %d, %d, %d}, pinned %v: explain the change and update the table", m.Name,
					got[0], got[1], got[2], got[3], want)
			}
		})
	}
}

// writeCounterexample writes a counterexample under testdata/explore/ and
// returns the path for cmd/replay.
func writeCounterexample(t *testing.T, cx *Counterexample) string {
	var buf bytes.Buffer
	if err := cx.WriteHistory(&buf); err != nil {
		return "(not written: " + err.Error() + ")"
	}
	dir := filepath.Join("testdata", "explore")
	path := filepath.Join(dir, fmt.Sprintf("%s-%s.jsonl", cx.Model.Name, cx.Invariant))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "(not written: " + err.Error() + ")"
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "(not written: " + err.Error() + ")"
	}
	return path + " (go run ./cmd/replay fuzz/" + path + ")"
}

// TestFingerprintGaps measures what fsm's exported views miss: states of the
// global model that Fingerprint renders alike but the core keeps apart. The
// explorer deduplicates on DeepKey, so these gaps cost nothing there; they are
// listed so that fsm's owners can add the views (a runtime or a renderer that
// relies on the views cannot see these fields).
func TestFingerprintGaps(t *testing.T) {
	m := ciModels()[0]
	res := Explore(m, Limits{Ignore: ignoreKnownIssues, Views: true})
	if res.Violation != nil {
		t.Fatal(res.Violation.Detail)
	}
	t.Logf("%s: %d core states, %d distinct views; fields without a view: %v", m.Name, res.CoreStates,
		res.ViewStates, res.ViewGaps)
	known := []string{"countedIDs", "hasLastComplete", "lastComplete", "lastSucceeded", "queuedManual"}
	if !slices.Equal(res.ViewGaps, known) {
		t.Errorf("fields without a view: %v, known %v: update the list (and the report to fsm's owners)",
			res.ViewGaps, known)
	}
}

// TestExploreLarge explores the larger models with progress output, for
// `make explore`:
//
//	CKPT_EXPLORE_LARGE=1 go test -run=TestExploreLarge -v -timeout=0 ./fuzz/
func TestExploreLarge(t *testing.T) {
	if os.Getenv("CKPT_EXPLORE_LARGE") == "" {
		t.Skip("set CKPT_EXPLORE_LARGE=1 (make explore)")
	}
	for _, m := range append(ciModels(), largeModels()...) {
		res := Explore(m, Limits{Ignore: ignoreKnownIssues, Progress: os.Stdout})
		if cx := res.Violation; cx != nil {
			t.Errorf("%s: %s after %d events: %s\ncounterexample: %s", m.Name, cx.Invariant, len(cx.Events), cx.Detail,
				writeCounterexample(t, cx))
			continue
		}
		fmt.Printf("explore %s: complete: %d nodes, %d core states, %d transitions, depth %d in %v (%.0f nodes/s)\n",
			m.Name, res.Nodes, res.CoreStates, res.Transitions, res.Depth, res.Elapsed.Round(time.Millisecond),
			float64(res.Nodes)/res.Elapsed.Seconds())
	}
}
