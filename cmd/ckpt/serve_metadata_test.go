package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
)

// TestServeWritesMetadata: ckpt serve's simulated subtasks ack with handles
// of state files they write in checkpoint storage, and each retained
// checkpoint has a _metadata file naming them, which ckpt metadata prints.
func TestServeWritesMetadata(t *testing.T) {
	state, storage := filepath.Join(t.TempDir(), "state"), filepath.Join(t.TempDir(), "storage")
	_, done := startServe(context.Background(), t, "--state-dir", state, "--checkpoints-dir", storage,
		"--interval", "30", "--ack-min", "1", "--ack-max", "5", "--duration", "1500ms")
	if r := waitServe(t, done); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(storage, "demo", "chk-*", checkpointstorage.MetadataFile))
	if len(files) == 0 {
		t.Fatalf("no _metadata under %s", storage)
	}
	deadline := time.Now().Add(time.Second)
	for _, f := range files {
		m, err := checkpointstorage.ReadMetadata(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range m.Subtasks {
			path, ok := strings.CutPrefix(s.Handle.URI, "file://")
			if !ok {
				t.Fatalf("%s: %s has no state file handle: %+v", f, s.Task, s.Handle)
			}
			if data, err := os.ReadFile(path); err != nil || int64(len(data)) != s.Handle.Size {
				t.Fatalf("%s: %s: state file %s: %v", f, s.Task, path, err)
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	code, out, errOut := ckpt(t, "", "metadata", filepath.Dir(files[0]))
	if code != 0 || !strings.Contains(out, "of job demo") || !strings.Contains(out, "src/0") {
		t.Fatalf("ckpt metadata: exit %d\n%s%s", code, out, errOut)
	}
}
