package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
	"github.com/ckptcore/ckptcore/fsm"
)

// TestServeWritesMetadata: ckpt serve's simulated subtasks ack with handles
// of state files they write in checkpoint storage, and each retained
// checkpoint has a _metadata file naming them, which ckpt metadata prints.
// A failure prints the serve's output, the storage's files and the store's
// pointers.
func TestServeWritesMetadata(t *testing.T) {
	state, storage := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "storage")
	_, done := startServe(context.Background(), t, "--state-dir", state, "--checkpoints-dir", storage,
		"--interval", "30", "--ack-min", "1", "--ack-max", "5", "--duration", "1500ms")
	r := waitServe(t, done)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	fatalf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf(format+"\n--- serve stdout:\n%s--- storage:\n%s--- store:\n%s", append(args, r.stdout, listTree(storage), listStore(state))...)
	}
	// Only what the store points to is checked, and only the retained
	// checkpoints in full. The run ends with Close, which drops the effects
	// the worker has not started, as a crash would (driver.Close): when a
	// completion's discards (in id order, R40) are cut short — "discard 3"
	// done, "discard 5" dropped, with chk-5 falling back to chk-3 for a
	// region — the store still points to chk-5 while its _metadata names
	// chk-3's deleted state. That checkpoint is neither retained nor
	// referenced: the next open's Resume discards it again (fsm/durable.go)
	// and Repair removes any directory without a pointer. Likewise a
	// checkpoint kept only because a retained one references some of its
	// regions may name discarded state for its other regions (DECISIONS.md,
	// "Restore points are the retained checkpoints"). What a restart restores
	// is the latest Retained checkpoints the store points to (Resume's rule):
	// each must restore every subtask from its one file, with every ref a
	// checkpoint the store still holds (R40).
	ms := storedCheckpoints(t, state)
	retained := fsm.DefaultConfig().Retained // ckpt serve has no flag for it
	if len(ms) == 0 {
		fatalf("the store points to no checkpoint")
	}
	stored := map[int64]bool{}
	for _, m := range ms {
		stored[m.ID] = true
		if _, err := checkpointstorage.ReadMetadata(m.External); err != nil {
			fatalf("checkpoint %d: the store's pointer: %v", m.ID, err) // R23
		}
	}
	latest, kept := ms[len(ms)-1].External, ms[max(len(ms)-retained, 0):]
	needed := map[int64]bool{}
	for _, m := range kept {
		needed[m.ID] = true
		for _, ref := range m.Refs {
			needed[ref.Checkpoint] = true
		}
	}
	for _, m := range ms {
		if !needed[m.ID] {
			t.Logf("checkpoint %d: a discard Close cut short (neither retained nor referenced; the next open discards it)", m.ID)
		}
	}
	for _, m := range kept {
		md, err := checkpointstorage.ReadMetadata(m.External)
		if err != nil {
			fatalf("%v", err)
		}
		for _, s := range md.Subtasks {
			path, ok := strings.CutPrefix(s.Handle.URI, "file://")
			if !ok {
				fatalf("%s: %s has no state file handle: %+v", m.External, s.Task, s.Handle)
			}
			if !stored[s.Ref] {
				fatalf("%s: %s's state is checkpoint %d's, which the store no longer holds", m.External, s.Task, s.Ref)
			}
			if data, err := os.ReadFile(path); err != nil || int64(len(data)) != s.Handle.Size {
				fatalf("%s: %s: state file %s: %v", m.External, s.Task, path, err)
			}
		}
	}
	code, out, errOut := ckpt(t, "", "metadata", filepath.Dir(latest))
	if code != 0 || !strings.Contains(out, "of job demo") || !strings.Contains(out, "src/0") {
		t.Fatalf("ckpt metadata: exit %d\n%s%s", code, out, errOut)
	}
}

// storedCheckpoints returns the checkpoints the store under dir points to,
// in id order (savepoints left out).
func storedCheckpoints(t *testing.T, dir string) []driver.Metadata {
	t.Helper()
	st, err := driver.OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.ListMetadata()
	if err != nil {
		t.Fatal(err)
	}
	var out []driver.Metadata
	for _, m := range ms {
		if m.Kind == fsm.KindCheckpoint {
			out = append(out, m)
		}
	}
	return out
}

// listTree lists the files under dir, one path (relative to dir) a line.
func listTree(dir string) string {
	var b strings.Builder
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, path)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v\n", rel, err)
			return nil
		}
		if !e.IsDir() {
			fmt.Fprintf(&b, "%s\n", rel)
		}
		return nil
	})
	return b.String()
}

// listStore lists the checkpoints and savepoints the store under dir points to.
func listStore(dir string) string {
	st, err := driver.OpenFileStore(dir)
	if err != nil {
		return err.Error() + "\n"
	}
	defer st.Close()
	ms, err := st.ListMetadata()
	if err != nil {
		return err.Error() + "\n"
	}
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%s %d refs %v -> %s\n", m.Kind, m.ID, m.Refs, m.External)
	}
	return b.String()
}
