package driver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

func TestGlobalCheckpointCompletesAndIsDurable(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(1000))
	h.clock.waitArmed(t, epochMs+1000)
	h.clock.Advance(time.Second)
	tr := h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	if tr.Deadline != epochMs+1000+600000 || tr.Tasks.Len() != 4 {
		t.Fatalf("trigger %+v", tr)
	}
	h.ackAll(1, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	h.exec.wait(t, "notify_complete", isEffect(fsm.EffNotifyComplete, 1))
	if _, err := os.Stat(filepath.Join(h.dir, checkpointDir, "chk-1.json")); err != nil {
		t.Fatal("metadata of a completed checkpoint is missing:", err)
	}
	st := h.status()
	if st.Counts != (Counts{Total: 1, Completed: 1}) || st.LatestCompleted == nil || st.LatestCompleted.ID != 1 ||
		st.LatestCompleted.TriggerAt != epochMs+1000 {
		t.Fatalf("status %+v latest %+v", st.Counts, st.LatestCompleted)
	}
}

// The loop sleeps until exactly the core's next deadline: one millisecond
// before it nothing happens, at it the checkpoint expires.
func TestTimerWakesExactlyAtNextDeadline(t *testing.T) {
	cfg := testConfig(1000)
	cfg.TimeoutMs = 300
	cfg.TolerableFailures = 5 // the expiry must not fail the job: the period goes on
	h := openHarness(t, t.TempDir(), cfg)
	h.clock.waitArmed(t, epochMs+1000)
	h.clock.Advance(999 * time.Millisecond)
	if h.status().Counts.Total != 0 {
		t.Fatal("triggered before the period")
	}
	h.clock.Advance(time.Millisecond)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	h.clock.waitArmed(t, epochMs+1300) // the expiry, before the next period at 2000
	h.clock.Advance(299 * time.Millisecond)
	if st := h.status(); st.Counts.Failed != 0 || st.Now != epochMs+1000 {
		t.Fatalf("woke early: %+v now %d", st.Counts, st.Now)
	}
	h.clock.Advance(time.Millisecond)
	ab := h.exec.wait(t, "abort", isEffect(fsm.EffAbort, 1))
	if ab.Reason != fsm.ReasonExpired {
		t.Fatalf("abort reason %s", ab.Reason)
	}
	h.clock.waitArmed(t, epochMs+2000)
	if st := h.status(); st.Now != epochMs+1300 {
		t.Fatalf("tick at %d, want %d", st.Now, epochMs+1300)
	}
}

// A PATCH moves the timer at once: a shorter timeout expires a pending
// checkpoint (R61), a shorter interval brings the next trigger forward (R62).
func TestPatchRearmsTimer(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(10000))
	h.clock.waitArmed(t, epochMs+10000)
	if _, err := h.d.PatchConfig(context.Background(), ConfigPatch{IntervalMs: ptrTo[int64](500)}); err != nil {
		t.Fatal(err)
	}
	h.clock.waitArmed(t, epochMs+500)
	h.clock.Advance(500 * time.Millisecond)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	eff, err := h.d.PatchConfig(context.Background(), ConfigPatch{TimeoutMs: ptrTo[int64](50)})
	if err != nil || eff.TimeoutMs != 50 || !eff.OverridesActive {
		t.Fatal(eff, err)
	}
	h.clock.waitArmed(t, epochMs+550)
	h.clock.Advance(50 * time.Millisecond)
	h.exec.wait(t, "abort", isEffect(fsm.EffAbort, 1))
}

// Time from the clock never goes backwards into the core (R10): a clock that
// jumps back is clamped and events are still accepted.
func TestClockGoingBackwardsIsClamped(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(1000))
	h.clock.Advance(1000 * time.Millisecond)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	h.clock.Advance(-5 * time.Second)
	if err := h.d.Ack(1, 0); err != nil {
		t.Fatal("ack after the clock went back:", err)
	}
	if now := h.status().Now; now != epochMs+1000 {
		t.Fatalf("core time %d, want %d (clamped)", now, epochMs+1000)
	}
}

func TestInvalidEventIsRefused(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(0))
	if err := h.d.Ack(1, 99); err != nil {
		t.Fatalf("ack from an unknown subtask: %v (Ack does not wait for the core)", err)
	}
	h.flush()
	var ee *fsm.EventError
	if r := h.exec.refused(); len(r) != 1 || !errors.As(r[0].err, &ee) {
		t.Fatalf("ack from an unknown subtask: OnRefused got %+v", r)
	}
	if err := h.d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
}

// An Executor may call back into the Driver from an effect: the loop never
// waits for the effect worker, so this cannot deadlock.
func TestExecutorCallsBack(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(0))
	h.exec.onTrigger = func(id int64, tasks fsm.TaskSet) {
		tasks.All(func(task fsm.TaskID) bool { return h.d.Ack(id, task) == nil })
	}
	for i := 0; i < 3; i++ {
		if err := h.d.Trigger(fsm.KindCheckpoint); err != nil {
			t.Fatal(err)
		}
		h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, int64(i+1)))
	}
	h.exec.wait(t, "discard", isEffect(fsm.EffDiscard, 2))
	h.flush() // the metadata delete follows the Discard call
	if _, err := os.Stat(filepath.Join(h.dir, checkpointDir, "chk-2.json")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("discarded checkpoint's metadata still there:", err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := 0; i < 5; i++ {
		clock, exec := newFakeClock(), newRecExec()
		d, err := Open(t.TempDir(), twoRegions(), testConfig(1000), Options{Clock: clock, Executor: exec})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		blocked := make(chan struct{})
		go func() {
			close(blocked)
			_, err := d.PatchConfig(ctx, ConfigPatch{})
			done <- err
		}()
		<-blocked
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if err := d.Close(); err != nil {
			t.Fatal("second Close:", err)
		}
		if err := <-done; err != nil && !errors.Is(err, ErrClosed) {
			var rej *PatchRejectedError
			if !errors.As(err, &rej) {
				t.Fatal(err)
			}
		}
		cancel()
		if err := d.Ack(1, 0); !errors.Is(err, ErrClosed) {
			t.Fatalf("Ack after Close: %v", err)
		}
		if _, err := d.Status(); !errors.Is(err, ErrClosed) {
			t.Fatalf("Status after Close: %v", err)
		}
	}
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("goroutines leaked: %d > %d\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// A persisted checkpoint survives a restart; the overrides are in force again
// (R63); ids continue above every id handed out before (R14); a checkpoint
// pending at the restart is gone (R50).
func TestRestartResumesFromStore(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, regionalConfig(1000))
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	h.ackAll(1, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	if _, err := h.d.PatchConfig(context.Background(), ConfigPatch{TimeoutMs: ptrTo[int64](5000)}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 2))
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}

	h2 := reopenHarness(t, dir, regionalConfig(1000), h.clock)
	st := h2.status()
	if !st.Effective.OverridesActive || st.Effective.TimeoutMs != 5000 {
		t.Fatalf("overrides after restart: %+v", st.Effective)
	}
	if st.LatestCompleted == nil || st.LatestCompleted.ID != 1 || st.Counts.Restored != 1 || len(st.Pending) != 0 {
		t.Fatalf("after restart: %+v", st)
	}
	h2.clock.Advance(time.Second)
	if tr := h2.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 0)); tr.Checkpoint != 3 {
		t.Fatalf("first id after restart %d, want 3 (2 was handed out before)", tr.Checkpoint)
	}
	// The restart writes its own file, starting from the state it resumed from (see recorder).
	if h2.d.FlightFile() != filepath.Join(dir, "flight", "flight-2.jsonl") {
		t.Fatalf("flight file %s", h2.d.FlightFile())
	}
}

// Checkpoints the store holds but the core would already have discarded (a
// crash between a completion and its discards) are discarded at Open.
func TestOpenSweepsOrphans(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	for id := int64(1); id <= 3; id++ {
		if err := st.Save(Metadata{ID: id, Kind: fsm.KindCheckpoint, Owned: true}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	h := openHarness(t, dir, testConfig(0))
	if got := h.status().Retained; len(got) != 1 || got[0] != 3 {
		t.Fatalf("retained %v", got)
	}
	// The sweep runs on the effect worker before anything else; a trigger
	// behind it proves it ran.
	if err := h.d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 4))
	discards := h.exec.discarded()
	if len(discards) != 2 || discards[0] != 1 || discards[1] != 2 {
		t.Fatalf("discards %v, want [1 2]", discards)
	}
	for _, id := range []string{"1", "2"} {
		if _, err := os.Stat(filepath.Join(dir, checkpointDir, "chk-"+id+".json")); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("chk-%s.json still there", id)
		}
	}
	// The core decided the discards (fsm.Resume, R40) and the flight file
	// records them as the resume record's effects, which replay recomputes.
	h.flush()
	flight, err := os.ReadFile(h.d.FlightFile())
	if err != nil {
		t.Fatal(err)
	}
	if want := `"effects":[{"type":"discard","checkpoint":1},{"type":"discard","checkpoint":2}]`; !strings.Contains(string(flight), want) {
		t.Errorf("the flight file lacks %s:\n%s", want, flight)
	}
	replayFile(t, h.d.FlightFile())
}
