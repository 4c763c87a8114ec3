package driver

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// flightFiles lists the flight files of dir's store.
func flightFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "flight", "flight-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// firstRun completes checkpoint 1, confirms a PATCH, completes checkpoint 2
// and closes: the store then has state, the flight file a complete history.
func firstRun(t *testing.T, dir string, cfg fsm.Config) *harness {
	t.Helper()
	h := openHarness(t, dir, cfg)
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	h.ackAll(1, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	if _, err := h.d.PatchConfig(context.Background(), ConfigPatch{IntervalMs: ptrTo[int64](500), TimeoutMs: ptrTo[int64](400)}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(500 * time.Millisecond)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 2))
	h.ackAll(2, 0, 2)
	if err := h.d.Decline(2, 1, ""); err != nil { // regional completion: consecutive 1
		t.Fatal(err)
	}
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 2))
	h.flush()
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}
	return h
}

// secondRun reopens dir with the clock going on and completes one more checkpoint.
func secondRun(t *testing.T, dir string, cfg fsm.Config, clock *fakeClock) *harness {
	t.Helper()
	h := reopenHarness(t, dir, cfg, clock)
	if err := h.d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	tr := h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 0))
	h.ackAll(tr.Checkpoint, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, tr.Checkpoint))
	h.flush()
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}
	return h
}

func countType(h *history.History, typ fsm.EventType) int {
	n := 0
	for _, r := range h.Records {
		if r.Event.Type == typ {
			n++
		}
	}
	return n
}

// A restart continues the previous incarnation's file: one file, one history,
// which replays with every invariant checked and no divergence.
func TestFlightRecorderContinuesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	h := firstRun(t, dir, cfg)
	h2 := secondRun(t, dir, cfg, h.clock)
	h3 := secondRun(t, dir, cfg, h2.clock) // and once more
	files := flightFiles(t, dir)
	if len(files) != 1 || h3.d.FlightFile() != files[0] {
		t.Fatalf("flight files %v, last incarnation wrote %s", files, h3.d.FlightFile())
	}
	data, _ := os.ReadFile(files[0])
	if bytes.Contains(data, []byte("resumed from store")) {
		t.Fatalf("continued file has a resume comment:\n%s", data)
	}
	res := replayFile(t, files[0])
	hist, _ := history.ReadFile(files[0])
	if n := countType(hist, fsm.EvRecover); n != 2 {
		t.Fatalf("%d recover events, want 2", n)
	}
	var ids []int64
	for _, c := range res.Summary.Completed {
		ids = append(ids, c.ID)
	}
	if len(ids) != 4 || ids[2] != 3 || ids[3] != 4 {
		t.Fatalf("completed %v, want [1 2 3 4]", ids)
	}
}

// A crash between the metadata write and the persisted event: the store holds
// the checkpoint, the file shows it persisting. The restart appends persisted,
// then recover, and the file still replays.
func TestFlightRecorderReconcilesPersisted(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	h := firstRun(t, dir, cfg)
	path := flightFiles(t, dir)[0]
	data, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(data), "\n")
	cut := -1
	for i, l := range lines {
		if strings.Contains(l, `"type":"persisted"`) && strings.Contains(l, `"checkpoint":2`) {
			cut = i
		}
	}
	if cut < 0 {
		t.Fatalf("no persisted line for checkpoint 2 in\n%s", data)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines[:cut], "")), 0o644); err != nil {
		t.Fatal(err)
	}

	h2 := reopenHarness(t, dir, cfg, h.clock)
	if st := h2.status(); st.LatestCompleted == nil || st.LatestCompleted.ID != 2 {
		t.Fatalf("after restart: %+v", st.LatestCompleted)
	}
	if h2.d.FlightFile() != path {
		t.Fatalf("flight file %s, want %s continued", h2.d.FlightFile(), path)
	}
	h2.d.Close()
	res := replayFile(t, path)
	if c := res.Summary.Completed; len(c) != 2 || c[1].ID != 2 {
		t.Fatalf("completed %+v", c)
	}
	hist, _ := history.ReadFile(path)
	n := len(hist.Records)
	if last, prev := hist.Records[n-1].Event, hist.Records[n-2].Event; last.Type != fsm.EvRecover ||
		prev.Type != fsm.EvPersisted || prev.Checkpoint != 2 {
		t.Fatalf("file ends with %v, %v; want persisted 2, recover", prev.Type, last.Type)
	}
}

// A torn last line (a crash during its write) is cut off before continuing.
func TestFlightRecorderTruncatesTornLine(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	h := firstRun(t, dir, cfg)
	path := flightFiles(t, dir)[0]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"at":99999,"type":"ti`)
	f.Close()
	secondRun(t, dir, cfg, h.clock)
	if files := flightFiles(t, dir); len(files) != 1 {
		t.Fatalf("flight files %v", files)
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte(`"ti`+"\n")) || bytes.Contains(data, []byte("99999")) {
		t.Fatalf("torn line kept:\n%s", data)
	}
	replayFile(t, path)
}

// When the history cannot be reconciled with the store — here the store holds
// a checkpoint the file never mentions — the restart falls back to a new file
// with the resume comment, which says why.
func TestFlightRecorderFallsBackWhenStoreDisagrees(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	h := firstRun(t, dir, cfg)
	st, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Save(Metadata{ID: 7, Kind: fsm.KindCheckpoint, Owned: true}); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveNextID(8); err != nil {
		t.Fatal(err)
	}
	st.Close()
	h2 := reopenHarness(t, dir, cfg, h.clock)
	path := h2.d.FlightFile()
	h2.d.Close()
	if filepath.Base(path) != "flight-2.jsonl" {
		t.Fatalf("flight file %s, want a new flight-2.jsonl", path)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "// resumed from store") || !strings.Contains(string(data), "not continued: next id") {
		t.Fatalf("fallback file:\n%s", data)
	}
	replayFile(t, flightFiles(t, dir)[0]) // the first file is left as it was
}
