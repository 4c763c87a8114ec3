package driver

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

func openStore(t *testing.T, dir string) *FileStore {
	t.Helper()
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if d, err := s.Load(); err != nil || hasState(d) {
		t.Fatalf("empty store: %+v %v", d, err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Save(Metadata{ID: 3, Kind: fsm.KindCheckpoint, Owned: true, Restored: true}))
	must(s.Save(Metadata{ID: 7, Kind: fsm.KindCheckpoint, Mode: fsm.ModeRegional, Consecutive: 2, Owned: true,
		Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 3}, {Region: 12, Checkpoint: 5}}}))
	must(s.Save(Metadata{ID: 9, Kind: fsm.KindSavepoint, Owned: true}))
	must(s.SaveOverrides(2000, 30000))
	must(s.SaveNextID(8))
	must(s.SaveRestored(3, true))
	s.Close()

	got, err := openStore(t, dir).Load()
	if err != nil {
		t.Fatal(err)
	}
	want := fsm.Durable{
		NextID: 10, // the savepoint's id counts (R14)
		Known: []fsm.StoredCheckpoint{
			{ID: 3, Owned: true, Restored: true},
			{ID: 7, Mode: fsm.ModeRegional, Consecutive: 2, Owned: true,
				Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 3}, {Region: 12, Checkpoint: 5}}},
		},
		Overrides:  &fsm.EffectiveConfig{IntervalMs: 2000, TimeoutMs: 30000, OverridesActive: true},
		RestoredID: 3, NoClaim: true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("loaded\n%+v\nwant\n%+v", got, want)
	}
}

func TestStoreDeleteIsIdempotent(t *testing.T) {
	s := openStore(t, t.TempDir())
	if err := s.Save(Metadata{ID: 1, Kind: fsm.KindCheckpoint, Owned: true}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.Delete(fsm.KindCheckpoint, 1); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}
	if d, err := s.Load(); err != nil || len(d.Known) != 0 {
		t.Fatalf("%+v %v", d, err)
	}
}

// A crash in the middle of a write leaves a temporary file; the target keeps
// its old version, loading ignores the leftover and opening removes it.
func TestStoreIgnoresTempLeftovers(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if err := s.Save(Metadata{ID: 1, Kind: fsm.KindCheckpoint, Owned: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveNextID(2); err != nil {
		t.Fatal(err)
	}
	leftovers := []string{
		filepath.Join(dir, checkpointDir, tmpPrefix+"chk-2.json-123"),
		filepath.Join(dir, tmpPrefix+"next-id.json-456"),
		filepath.Join(dir, tmpPrefix+"overrides.json-789"),
	}
	for _, p := range leftovers {
		if err := os.WriteFile(p, []byte(`{"format":"ckpt-meta`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Load()
	if err != nil {
		t.Fatal("leftover temp file not ignored:", err)
	}
	if d.NextID != 2 || len(d.Known) != 1 || d.Overrides != nil {
		t.Fatalf("%+v", d)
	}
	s.Close()
	openStore(t, dir)
	for _, p := range leftovers {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed at open", p)
		}
	}
}

// Every kind of damage is an error naming the file.
func TestStoreCorruptFileIsNamed(t *testing.T) {
	cases := []struct {
		name, file, content, reason string
	}{
		{"truncated", "checkpoints/chk-4.json", `{"format":"ckpt-metadata/v1","id":4,"ki`, "corrupt"},
		{"empty", "checkpoints/chk-4.json", ``, "corrupt"},
		{"garbage after", "next-id.json", `{"format":"ckpt-next-id/v1","next_id":5} x`, "corrupt"},
		{"unknown field", "overrides.json", `{"format":"ckpt-overrides/v1","interval_ms":100,"timeout_ms":100,"x":1}`, "unknown field"},
		{"wrong format", "overrides.json", `{"format":"ckpt-overrides/v9","interval_ms":100,"timeout_ms":100}`, "format"},
		{"bad override", "overrides.json", `{"format":"ckpt-overrides/v1","interval_ms":5,"timeout_ms":100}`, "interval_ms"},
		{"id mismatch", "checkpoints/chk-4.json", metadataJSON(5, `{}`), "does not match"},
		{"ref not older", "checkpoints/chk-4.json", metadataJSON(4, `{"r1":4}`), "older"},
		{"bad region", "checkpoints/chk-4.json", metadataJSON(4, `{"x1":2}`), "region"},
		{"stray file", "checkpoints/chk-4.json.bak", `{}`, "unexpected file"},
		{"missing field", "checkpoints/chk-4.json", `{"format":"ckpt-metadata/v1","id":4}`, "missing field"},
		{"savepoint in checkpoints", "checkpoints/chk-4.json",
			`{"format":"ckpt-metadata/v1","id":4,"kind":"savepoint","mode":"global","consecutive":0,"owned":true,"restored":false}`, "kind"},
		{"bad next id", "next-id.json", `{"format":"ckpt-next-id/v1","next_id":0}`, "next_id"},
		{"bad restored", "restored.json", `{"format":"ckpt-restored/v1","checkpoint":3,"mode":"own"}`, "mode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openStore(t, dir)
			path := filepath.Join(dir, filepath.FromSlash(c.file))
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load()
			var se *StoreError
			if !errors.As(err, &se) || se.File != path || !strings.Contains(err.Error(), path) ||
				!strings.Contains(err.Error(), c.reason) {
				t.Fatalf("error %v, want a StoreError naming %s with %q", err, path, c.reason)
			}
		})
	}
}

func metadataJSON(id int64, refs string) string {
	return `{"format":"ckpt-metadata/v1","id":` + strconv.FormatInt(id, 10) + `,"kind":"checkpoint","mode":"regional","refs":` + refs +
		`,"consecutive":1,"owned":true,"restored":false}`
}

func TestStoreIsLocked(t *testing.T) {
	dir := t.TempDir()
	openStore(t, dir)
	if _, err := OpenFileStore(dir); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open of a store: %v", err)
	}
}

// A store whose metadata does not fit the job (a region it does not have) is
// refused at Open, naming the checkpoint.
func TestOpenRefusesStoreOfAnotherJob(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if err := s.Save(Metadata{ID: 4, Kind: fsm.KindCheckpoint, Mode: fsm.ModeRegional, Owned: true,
		Refs: []fsm.RegionRef{{Region: 7, Checkpoint: 2}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(dir, twoRegions(), testConfig(0), Options{Clock: newFakeClock(), NoFlightRecorder: true})
	if err == nil || !strings.Contains(err.Error(), "checkpoint 4") {
		t.Fatalf("Open: %v", err)
	}
}
