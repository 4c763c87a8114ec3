package driver

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// A fresh job restored from a no_claim snapshot: the snapshot is durable before
// the job runs, ids continue after it (R14), a restart recovers it, and once
// the job no longer needs it the store forgets it without discarding its state
// (the job does not own it, R41).
func TestRestoreFromNoClaimSnapshot(t *testing.T) {
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	restore := &fsm.Restore{Checkpoint: 10, Mode: fsm.NoClaim, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 7}}}
	clock, exec := newFakeClock(), newRecExec()
	d, err := Open(dir, twoRegions(), cfg, Options{Clock: clock, Executor: exec, Restore: restore})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"chk-7.json", "chk-10.json"} {
		if _, err := os.Stat(filepath.Join(dir, checkpointDir, f)); err != nil {
			t.Fatalf("restored snapshot not durable before the job runs: %v", err)
		}
	}
	path := d.FlightFile()
	d.Close()
	replayFile(t, path) // start with restore: a fresh incarnation replays

	h := openHarness(t, dir, cfg)
	st := h.status()
	if st.LatestCompleted == nil || st.LatestCompleted.ID != 10 || st.LatestCompleted.RefOf(1) != 7 || st.Restored == nil {
		t.Fatalf("after restart: %+v", st)
	}
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 11))
	h.ackAll(11, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 11))
	h.d.Close()

	// Checkpoint 11 is global: 10 and 7 are neither retained nor referenced.
	// The core forgets them without a discard; the next Open removes their
	// metadata, still without discarding state the job does not own.
	h3 := openHarness(t, dir, cfg)
	if err := h3.d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	h3.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 12))
	if got := h3.exec.discarded(); len(got) != 0 {
		t.Fatalf("discarded %v, which the job does not own", got)
	}
	for _, f := range []string{"chk-7.json", "chk-10.json"} {
		if _, err := os.Stat(filepath.Join(dir, checkpointDir, f)); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still in the store", f)
		}
	}
}
