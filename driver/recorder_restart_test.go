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

// storeState loads dir's store as the next Open would.
func storeState(t *testing.T, dir string) fsm.Durable {
	t.Helper()
	st, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.Load()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// Every restart starts its own file with the state it resumed from — here a
// regional latest checkpoint with consecutive 1 and active overrides, which a
// start event could not express — and the files chain: each replays, and each
// one's end is the next one's resume record, the last one's the store.
func TestFlightFilesChainAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	h := firstRun(t, dir, cfg)
	h2 := secondRun(t, dir, cfg, h.clock)
	h3 := secondRun(t, dir, cfg, h2.clock)
	files := flightFiles(t, dir)
	if len(files) != 3 || h3.d.FlightFile() != files[2] {
		t.Fatalf("flight files %v, last incarnation wrote %s", files, h3.d.FlightFile())
	}
	for i, f := range files {
		hist, err := history.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		first := hist.Records[0]
		if i == 0 && (hist.Header.Format != history.Format || first.Event.Type != fsm.EvStart) ||
			i > 0 && (hist.Header.Format != history.FormatResume || first.Resume == nil) {
			t.Fatalf("%s: format %s, first record %+v", f, hist.Header.Format, first)
		}
		replayFile(t, f)
	}
	hist, _ := history.ReadFile(files[1])
	if r := hist.Records[0].Resume; r.Overrides == nil || r.Overrides.IntervalMs != 500 || len(r.Known) == 0 ||
		r.Known[len(r.Known)-1].Mode != fsm.ModeRegional || r.Known[len(r.Known)-1].Consecutive != 1 {
		t.Fatalf("resume record %+v", r)
	}
	chain, err := CheckFlightChain(filepath.Join(dir, "flight"), storeState(t, dir))
	if err != nil || chain.Files != 3 {
		t.Fatalf("chain %+v: %v", chain, err)
	}
}

// A crash between the metadata write and the persisted event: the store holds
// checkpoint 2, the file shows it persisting. The chain check accounts for it;
// a store holding a checkpoint no file mentions breaks the chain.
func TestFlightChainReconcilesPersisted(t *testing.T) {
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
	h2.d.Close()
	flight := filepath.Join(dir, "flight")
	if _, err := CheckFlightChain(flight, storeState(t, dir)); err != nil {
		t.Fatal(err)
	}
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
	if _, err := CheckFlightChain(flight, storeState(t, dir)); err == nil ||
		!strings.Contains(err.Error(), "flight-2.jsonl ends in a state that is not the store") {
		t.Fatalf("a store ahead of every file: %v", err)
	}
}

// A torn last line (a power loss during its write) is cut off at the next Open.
func TestFlightRecorderCutsTornLine(t *testing.T) {
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
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte("99999")) || !bytes.HasSuffix(data, []byte("\n")) {
		t.Fatalf("torn line kept:\n%s", data)
	}
	if _, err := CheckFlightChain(filepath.Join(dir, "flight"), storeState(t, dir)); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "flight", ".*")); len(m) > 0 {
		t.Fatalf("temporary files left: %v", m)
	}
}

// The chain check is not vacuous: a file with a header and no event (what a
// kill between the two writes left before the first lines went out together)
// fails it; an id counter the store has behind the file's (a trigger recorded,
// its counter write not made, so never sent: R14) passes it.
func TestFlightChainCatchesAndAllows(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	firstRun(t, dir, cfg)
	flight := filepath.Join(dir, "flight")
	store := storeState(t, dir)
	behind := store
	behind.NextID--
	if _, err := CheckFlightChain(flight, behind); err != nil {
		t.Fatalf("a counter write not made: %v", err)
	}
	ahead := store
	ahead.NextID += 5
	if _, err := CheckFlightChain(flight, ahead); err == nil || !strings.Contains(err.Error(), "next id") {
		t.Fatalf("a store counter ahead of every file: %v", err)
	}
	data, _ := os.ReadFile(flightFiles(t, dir)[0])
	header, _, _ := strings.Cut(string(data), "\n")
	if err := os.WriteFile(filepath.Join(flight, "flight-2.jsonl"), []byte(header+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckFlightChain(flight, store); err == nil || !strings.Contains(err.Error(), "no events") {
		t.Fatalf("a header-only file: %v", err)
	}
}
