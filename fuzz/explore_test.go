package fuzz

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pinned are the sizes of the CI models' complete explorations (symmetry
// reduction on; counts do not depend on the workers): {nodes, core states,
// transitions, depth}. Nodes are distinct (core state, checkers' memory,
// remaining budget) triples, canonical under the job's symmetries; core states are distinct fsm keys; transitions
// count every successor tried; depth is the longest path in events after the
// start. A change in any number means the core, the checker or a model now
// behaves differently on some interleaving: explain it in the commit that
// updates the table.
//
//	history of the numbers
//	2026-11-21  first pins (fsm at f29fff6: one checkpoint persists at a time)
//	2026-12-03  fsm keys (issue 17): times measured from the state's clock, so paths
//	            that reach one situation at different times meet; derived counters
//	            left out of the core-state count
//	2026-12-03  R60 (issue 12): the core keeps the last request id a patch used
//	            (ids are used once), so states before and after a patch differ
//	2026-12-03  issue 17: symmetry reduction; the time checker (invariants.Timing)
//	            and the rule properties (explore_rules.go) join the node; new models
//	            periodic-2x1, plain-2x1, sources-finish-3, and tlc-2x1 (make explore-vs-tlc,
//	            unbounded faults)
//	2026-12-03  issue 17: the checkers forget what no future check of the core can read
//	            (invariants.Checker.Forget, Timing.Forget; TestForgetKeepsVerdicts): fewer
//	            nodes and transitions, the same core states; the deepest new node of
//	            global-2x1 and periodic-2x1 was a memory variant of an earlier node
var pinned = map[string][4]int{
	"global-2x1":          {9135, 941, 34773, 15},
	"regional-2x1":        {12029, 2175, 31981, 16},
	"regional-finish-2x1": {7733, 5409, 17895, 13},
	"periodic-2x1":        {30645, 8605, 79209, 20},
	"plain-2x1":           {22702, 6317, 76965, 16},
	"sources-finish-3":    {6161, 2546, 15477, 13},
	"tlc-2x1":             {3328, 894, 15581, 19},
}

// pinDiff says what changed between a pinned size and a measured one.
func pinDiff(want, got [4]int) string {
	var parts []string
	for i, name := range []string{"nodes", "core states", "transitions", "depth"} {
		if want[i] != got[i] {
			parts = append(parts, fmt.Sprintf("%s %d -> %d (%+d)", name, want[i], got[i], got[i]-want[i]))
		}
	}
	return strings.Join(parts, ", ")
}

// TestExplore explores every CI model completely: no invariant may break on
// any interleaving, and each model's size must match its pinned numbers.
func TestExplore(t *testing.T) {
	for _, m := range append(Models(TierCI), Models(TierTLC)...) {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			res := Explore(m, Options{Ignore: ignoreKnownIssues, Workers: 1, Symmetry: true})
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
			if want, ok := pinned[m.Name]; !ok {
				t.Errorf("model %s is not pinned: add {%d, %d, %d, %d} to the table", m.Name, got[0], got[1], got[2], got[3])
			} else if got != want {
				t.Errorf("model %s changed: %s; explain the change and update the table (fuzz/explore_test.go)",
					m.Name, pinDiff(want, got))
			}
		})
	}
}

// writeCounterexample writes a counterexample under testdata/explore/ and
// returns the path for ckpt replay.
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
	return path + " (go run ./cmd/ckpt replay fuzz/" + path + ")"
}

// TestExploreLarge explores the larger models with progress output, for
// `make explore`:
//
//	CKPT_EXPLORE_LARGE=1 go test -run=TestExploreLarge -v -timeout=0 ./fuzz/
func TestExploreLarge(t *testing.T) {
	if os.Getenv("CKPT_EXPLORE_LARGE") == "" {
		t.Skip("set CKPT_EXPLORE_LARGE=1 (make explore)")
	}
	for _, m := range Models(TierLarge) {
		res := Explore(m, Options{Ignore: ignoreKnownIssues, Progress: os.Stdout, Symmetry: true, Minimize: true})
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

// TestBudgetOutOfRangeRefused: a budget the explorer cannot pack into a
// node's 64 bits, or a count below Unbounded, is refused by name before
// anything is explored; the largest counts that fit are explored.
func TestBudgetOutOfRangeRefused(t *testing.T) {
	for b, want := range map[Budget]string{
		{Declines: -2}: "budget Declines = -2: want -1 (unbounded) or more",
		{Checkpoints: 1 << 20, Savepoints: 1 << 20, StopSavepoints: 1 << 20, Declines: 1 << 20}: "need 90 bits together",
	} {
		m := ciModels()[0]
		m.Budget = b
		res := Explore(m, Options{Workers: 1})
		if res.Violation == nil || res.Violation.Invariant != "refused" || res.Nodes != 0 {
			t.Fatalf("budget %+v: %+v, %d nodes; want refused before exploring", b, res.Violation, res.Nodes)
		}
		if !strings.Contains(res.Violation.Detail, want) || b.Check() == nil {
			t.Fatalf("budget %+v: detail %q, Check %v; want %q", b, res.Violation.Detail, b.Check(), want)
		}
	}
	m := ciModels()[0]
	m.Budget = Budget{Checkpoints: 1<<40 - 1, Declines: Unbounded, Advances: 1000}
	if res := Explore(m, Options{Workers: 1, MaxStates: 10}); res.Violation != nil || m.Budget.Check() != nil {
		t.Fatalf("a budget that fits was refused: %+v", res.Violation)
	}
}

// TestBudgetCodec: packing keeps every count of every budget below a model's
// own, spending one event lowers exactly its counter by one, and an
// unbounded fault stays unbounded.
func TestBudgetCodec(t *testing.T) {
	model := Budget{Checkpoints: 3, Savepoints: 1, Declines: Unbounded, TaskFinishes: 2, Patches: 1, Advances: 5}
	c, err := model.codec()
	if err != nil {
		t.Fatal(err)
	}
	var walk func(b Budget)
	seen := 0
	walk = func(b Budget) {
		seen++
		v := c.pack(b)
		if got := c.unpack(v); got != b {
			t.Fatalf("pack/unpack %+v = %+v", b, got)
		}
		for f := bCheckpoints; f < numBudgetFields; f++ {
			mv := move{spend: f}
			nv, _, ok := c.allows(&mv, v, model.Patches)
			n := *b.field(f)
			if want := n > 0 || n < 0 && f.fault(); ok != want {
				t.Fatalf("%+v: allows %s = %t, want %t", b, f, ok, want)
			}
			if !ok {
				continue
			}
			nb := b
			if n > 0 {
				*nb.field(f) = n - 1
			}
			if got := c.unpack(nv); got != nb {
				t.Fatalf("%+v spending %s: %+v, want %+v", b, f, got, nb)
			}
			if n > 0 {
				walk(nb)
			}
		}
	}
	walk(model)
	if seen < 4*2*3*2*6 {
		t.Fatalf("walked %d budgets", seen)
	}
}
