package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz"
	"github.com/ckptcore/ckptcore/history"
)

// A small model explores completely and every invariant holds.
func TestExploreSmallModel(t *testing.T) {
	path := writeTemp(t, "m.jsonl", valid)
	code, out, errOut := ckpt(t, "", "explore", "--checkpoints", "1", "--declines", "1", "--task-failures", "0", "--advances", "1", path)
	if code != 0 || errOut != "" || !strings.Contains(out, "// complete: every path within the budget\n") ||
		!strings.Contains(out, "// every invariant held\n") {
		t.Fatalf("exit %d, %s%s", code, out, errOut)
	}
	code, out, _ = ckpt(t, "", "explore", "-o", "json", "--checkpoints", "1", "--task-failures", "0", "--max-states", "5", path)
	var rep exploreReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Format != "ckpt-explore/v1" || rep.Complete ||
		rep.Nodes < 5 || rep.Budget.Checkpoints != 1 || rep.Violation != nil {
		t.Fatalf("--max-states 5: exit %d, %v %+v\n%s", code, err, rep, out)
	}
	for _, args := range [][]string{{"--declines", "-1", path}, {"--patches", "1", path}, {"--patch-timeout", "x", path}, {}} {
		if code, _, errOut := ckpt(t, "", append([]string{"explore"}, args...)...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	big := []string{"explore", path}
	for _, f := range []string{"--checkpoints", "--savepoints", "--declines", "--task-failures", "--recovers"} {
		big = append(big, f, "100000")
	}
	if code, _, errOut := ckpt(t, "", big...); code != 2 || !strings.Contains(errOut, "need 91 bits together") {
		t.Errorf("five counts of 100000: exit %d %s", code, errOut)
	}
}

// The model is the history's job, configuration and start event, with the
// budget and patch of the flags.
func TestExploreModelFromHistory(t *testing.T) {
	var got fuzz.Model
	spy := func(a *app) {
		a.explore = func(m fuzz.Model, lim fuzz.Options) fuzz.Result {
			got = m
			return fuzz.Result{Complete: true}
		}
	}
	path := writeTemp(t, "m.jsonl", strings.Replace(valid, `{"at":0,"type":"start"}`, `{"at":5,"type":"start","initial_delay_ms":7}`, 1))
	if code, _, errOut := ckptApp(t, spy, "", "explore", "--patches", "2", "--patch-timeout", "50", "--recovers", "1", path); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got.Name != "m.jsonl" || got.Job.Vertices[0].ID != "a" || got.Config.IntervalMs != 1000 || got.Start.At != 5 || got.Start.InitialDelayMs != 7 ||
		got.Budget.Patches != 2 || got.Budget.Recovers != 1 || !got.Patch.HasTimeout || got.Patch.TimeoutMs != 50 || got.Patch.HasInterval ||
		got.Patch.Type != fsm.EvConfigPatch {
		t.Errorf("model %+v", got)
	}
}

// A violation exits 1, and the text output is a history that replays to it.
func TestExploreViolationIsAReplayableHistory(t *testing.T) {
	h, err := history.Decode(strings.NewReader(valid), "v.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var evs []fsm.Event
	for _, r := range h.Records {
		evs = append(evs, r.Event)
	}
	fake := func(a *app) {
		a.explore = func(m fuzz.Model, lim fuzz.Options) fuzz.Result {
			return fuzz.Result{Nodes: 9, Violation: &fuzz.Counterexample{Model: &m, Invariant: "I-NoLeak", Detail: "checkpoint 1 leaked", Events: evs}}
		}
	}
	path := writeTemp(t, "m.jsonl", valid)
	code, out, errOut := ckptApp(t, fake, "", "explore", path)
	if code != 1 || errOut != "" || !strings.Contains(out, "// I-NoLeak failed after 4 events") {
		t.Fatalf("exit %d, %s%s", code, out, errOut)
	}
	if code, _, errOut := ckpt(t, out, "replay", "-"); code != 0 {
		t.Errorf("the counterexample does not replay: exit %d %s", code, errOut)
	}
	code, out, _ = ckptApp(t, fake, "", "explore", "-o", "json", path)
	var rep exploreReport
	if err := json.Unmarshal([]byte(out), &rep); code != 1 || err != nil || rep.Violation == nil || rep.Violation.Invariant != "I-NoLeak" ||
		!strings.Contains(rep.Violation.History, `"format":"ckpt-history/v1"`) {
		t.Errorf("-o json: exit %d, %v %+v", code, err, rep)
	}
}

// --model explores a catalogue model with its own budget (tlc-2x1's faults
// are fuzz.Unbounded), stops at an explicit --max-states, and passes
// --symmetry on:
// its counts are what fuzz.Explore reports for the same model in-process (the
// sizes themselves are pinned by fuzz's TestExplore, not here);
// --list-models prints every model of the catalogue with its tier and budget;
// --replay replays a history through every explorer check (the real core
// passes its own examples).
func TestExploreCatalogueAndReplay(t *testing.T) {
	nodes := map[bool]int{} // tlc-2x1's, with and without symmetry
	for _, name := range []string{"sources-finish-3", "tlc-2x1"} {
		m, err := fuzz.ModelByName(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, sym := range []bool{true, false} {
			want := fuzz.Explore(m, fuzz.Options{Symmetry: sym})
			if !want.Complete || want.Violation != nil {
				t.Fatalf("fuzz.Explore(%s, symmetry %v): complete %v, violation %+v", name, sym, want.Complete, want.Violation)
			}
			if name == "tlc-2x1" {
				nodes[sym] = want.Nodes
			}
			args := []string{"explore", "--model", name}
			if sym {
				args = append(args, "--symmetry")
			}
			code, out, errOut := ckpt(t, "", args...)
			line := fmt.Sprintf("// ckpt explore %s: %d nodes, %d core states, %d transitions, depth %d, ",
				name, want.Nodes, want.CoreStates, want.Transitions, want.Depth)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, line) ||
				!strings.Contains(out, "\n// complete: every path within the budget\n// every invariant held\n") {
				t.Fatalf("%q: exit %d, want a summary beginning %q\n%s%s", args, code, line, out, errOut)
			}
			code, out, _ = ckpt(t, "", append(args, "-o", "json")...)
			var rep exploreReport
			if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Model != name || !rep.Complete ||
				rep.Violation != nil || rep.Budget != exploreBudget(m.Budget) || rep.Nodes != want.Nodes ||
				rep.CoreStates != want.CoreStates || rep.Transitions != want.Transitions || rep.Depth != want.Depth {
				t.Fatalf("%q -o json: exit %d, %v %+v; want the counts of %+v", args, code, err, rep, want)
			}
		}
	}
	// tlc-2x1 has fewer nodes with symmetry: the flag reaching the explorer is
	// what the counts above tell apart.
	if nodes[true] >= nodes[false] {
		t.Fatalf("tlc-2x1: %d nodes with symmetry, %d without: the --symmetry check checks nothing", nodes[true], nodes[false])
	}
	code, out, _ := ckpt(t, "", "explore", "--model", "tlc-2x1", "--max-states", "100", "-o", "json")
	var rep exploreReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Complete || rep.Nodes < 100 || rep.Nodes >= nodes[false] {
		t.Errorf("--model tlc-2x1 --max-states 100: exit %d, %v %+v", code, err, rep)
	}
	if code, _, errOut := ckpt(t, "", "explore", "--model", "sources-finish-3", "--checkpoints", "1"); code != 2 ||
		!strings.Contains(errOut, "--checkpoints: with --model") {
		t.Errorf("--model with a budget flag: exit %d %s", code, errOut)
	}
	if code, _, errOut := ckpt(t, "", "explore", "--model", "nope"); code != 2 || !strings.Contains(errOut, "periodic-2x1") {
		t.Errorf("--model nope: exit %d %s", code, errOut)
	}
	code, out, _ = ckpt(t, "", "explore", "--list-models")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var want []string
	for _, tier := range []fuzz.ModelTier{fuzz.TierCI, fuzz.TierLarge, fuzz.TierTLC} {
		for _, m := range fuzz.Models(tier) {
			want = append(want, fmt.Sprintf("%s %s %+v", tier, m.Name, m.Budget))
		}
	}
	if code != 0 || len(lines) != len(want) {
		t.Fatalf("--list-models: exit %d, %d lines for %d models\n%s", code, len(lines), len(want), out)
	}
	for i, l := range lines {
		if got := strings.Join(strings.Fields(l), " "); got != want[i] {
			t.Errorf("--list-models line %d: %q, want %q", i+1, got, want[i])
		}
	}
	path := writeTemp(t, "h.jsonl", valid)
	code, out, _ = ckpt(t, "", "explore", "--replay", path)
	if code != 0 || out != "// "+path+": 4 events, every explorer check held\n" {
		t.Errorf("--replay: exit %d\n%s", code, out)
	}
}
