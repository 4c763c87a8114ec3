//go:build ckpt_mutants

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// TestMinimizeWritesNextToFile: with a known bug on, -minimize shrinks a failing
// history to a smaller one, written next to it, that breaks the same invariant.
func TestMinimizeWritesNextToFile(t *testing.T) {
	var out, errb bytes.Buffer
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/orphan-under-mutant.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "orphan.jsonl")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"-minimize", path}, nil, &out, &errb); code != 0 {
		t.Fatalf("the real core breaks no invariant here: exit %d: %s", code, errb.String())
	}
	fsm.EnableMutant(fsm.MutantKeepFailedAcks)
	defer fsm.DisableMutants()
	errb.Reset()
	if code := run([]string{"-minimize", path}, nil, &out, &errb); code != 1 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	minPath := filepath.Join(dir, "orphan.min.jsonl")
	h, err := history.ReadFile(minPath)
	if err != nil {
		t.Fatalf("%v (stderr: %s)", err, errb.String())
	}
	orig, _ := history.ReadFile(path)
	if len(h.Records) >= len(orig.Records) {
		t.Fatalf("not smaller: %d events from %d", len(h.Records), len(orig.Records))
	}
	res, err := history.Replay(h, history.Options{Check: true})
	if err != nil || len(res.Summary.Violations) == 0 || res.Summary.Violations[0].Invariant != "I-NoOrphanState" {
		t.Fatalf("minimized history: err %v, violations %+v", err, res)
	}
	if !strings.Contains(errb.String(), "I-NoOrphanState") {
		t.Fatalf("stderr does not name the invariant: %s", errb.String())
	}
}
