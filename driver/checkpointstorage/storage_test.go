package checkpointstorage

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

func TestWriteReadDiscard(t *testing.T) {
	root := t.TempDir()
	s, err := Open(root, "job-1")
	if err != nil {
		t.Fatal(err)
	}
	m := sample()
	path, err := s.WriteMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "job-1", "chk-7", "_metadata"); path != want {
		t.Fatalf("path %s, want %s (Flink's layout)", path, want)
	}
	got, err := ReadMetadata(path)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("read back %+v, %v", got, err)
	}
	sp := sample()
	sp.Checkpoint, sp.Kind, sp.Mode, sp.Consecutive = 8, fsm.KindSavepoint, fsm.ModeGlobal, 0
	for i := range sp.Subtasks {
		sp.Subtasks[i].Ref = 8
	}
	spPath, err := s.WriteMetadata(sp)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "job-1", "savepoints", "savepoint-8", "_metadata"); spPath != want {
		t.Fatalf("savepoint path %s, want %s", spPath, want)
	}
	if l, _ := s.List(); !reflect.DeepEqual(l, []Entry{{fsm.KindCheckpoint, 7}, {fsm.KindSavepoint, 8}}) {
		t.Fatalf("List %+v", l)
	}
	other := sample()
	other.Job = "job-2"
	if _, err := s.WriteMetadata(other); err == nil {
		t.Fatal("wrote another job's metadata")
	}
	os.WriteFile(filepath.Join(s.Dir(fsm.KindCheckpoint, 7), "state-src-0"), []byte("x"), 0o644)
	if err := s.Discard(fsm.KindCheckpoint, 7); err != nil {
		t.Fatal(err)
	}
	if err := s.Discard(fsm.KindCheckpoint, 7); err != nil {
		t.Fatalf("a repeated discard: %v", err)
	}
	if _, err := os.Stat(s.Dir(fsm.KindCheckpoint, 7)); !os.IsNotExist(err) {
		t.Fatalf("chk-7 still there: %v", err)
	}
	if l, _ := s.List(); !reflect.DeepEqual(l, []Entry{{fsm.KindSavepoint, 8}}) {
		t.Fatalf("List after discard %+v", l)
	}
}

// TestRepair: what a crash leaves — a directory a discard renamed, a
// directory no pointer names, a temporary file in a kept directory — is
// removed; what keep accepts and names Repair does not know stay.
func TestRepair(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root, "j")
	mk := func(rel string) string {
		p := filepath.Join(s.JobDir(), rel)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mk("chk-1")
	mk("chk-2")
	kept := mk("chk-3")
	os.WriteFile(filepath.Join(kept, ".tmp-_metadata-123"), nil, 0o644)
	os.WriteFile(filepath.Join(kept, MetadataFile), []byte("x"), 0o644)
	mk(".discard-chk-4")
	mk("savepoints/savepoint-5")
	mk("savepoints/savepoint-6")
	mk("savepoints/.discard-savepoint-7")
	mk("shared")
	mk("chk-01") // not a name Repair writes: left alone
	keep := func(k fsm.Kind, id int64) bool { return id == 3 || id == 6 }
	removed, err := s.Repair(keep)
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, p := range removed {
		r, _ := filepath.Rel(s.JobDir(), p)
		rel = append(rel, r)
	}
	slices.Sort(rel)
	want := []string{".discard-chk-4", "chk-1", "chk-2", "savepoints/.discard-savepoint-7", "savepoints/savepoint-5"}
	if !reflect.DeepEqual(rel, want) {
		t.Fatalf("removed %v, want %v", rel, want)
	}
	left, _ := os.ReadDir(kept)
	if len(left) != 1 || left[0].Name() != MetadataFile {
		t.Fatalf("chk-3 holds %v, want only _metadata", left)
	}
	for _, p := range []string{"shared", "chk-01", "savepoints/savepoint-6"} {
		if _, err := os.Stat(filepath.Join(s.JobDir(), p)); err != nil {
			t.Fatalf("%s removed: %v", p, err)
		}
	}
}

func TestOpenRefusesBadJob(t *testing.T) {
	for _, job := range []string{"", ".", "..", "a/b", "a b"} {
		if _, err := Open(t.TempDir(), job); err == nil {
			t.Fatalf("job %q accepted", job)
		}
	}
}
