package fuzz

import (
	"os"
	"testing"
	"time"
)

func TestScratch(t *testing.T) {
	m, err := ModelByName(os.Getenv("M"))
	if err != nil {
		t.Skip(err)
	}
	res := Explore(m, Options{Ignore: ignoreKnownIssues, Symmetry: os.Getenv("SYM") != "", Progress: os.Stdout, ProgressEvery: 5 * time.Second, MaxStates: 3000000, Minimize: true})
	if cx := res.Violation; cx != nil {
		t.Logf("%s after %d events: %s\n%s", cx.Invariant, len(cx.Events), cx.Detail, writeCounterexample(t, cx))
	}
	t.Logf("%s: %d nodes, %d core, %d trans, depth %d, complete %v, %v, group %d", m.Name, res.Nodes, res.CoreStates, res.Transitions, res.Depth, res.Complete, res.Elapsed, res.Group)
}
