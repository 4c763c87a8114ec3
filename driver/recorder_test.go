package driver

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// replayFile replays a flight-recorder file with every invariant checked and
// fails on a divergence or a violation.
func replayFile(t *testing.T, path string) *history.Result {
	t.Helper()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var trace bytes.Buffer
	res, err := history.Replay(h, history.Options{Check: true, Trace: &trace})
	if err != nil {
		t.Fatalf("replay %s: %v", path, err)
	}
	if res.Divergence != nil {
		t.Fatalf("replay %s diverged: %v\n%s", path, res.Divergence, trace.String())
	}
	if len(res.Summary.Violations) > 0 {
		t.Fatalf("replay %s: violations %+v\n%s", path, res.Summary.Violations, trace.String())
	}
	return res
}

// The flight recorder's file reproduces the run: replay with -check recomputes
// exactly the effects the driver saw, and every invariant holds.
func TestFlightRecorderReplays(t *testing.T) {
	h := openHarness(t, t.TempDir(), flightScenarioConfig())
	path := flightScenario(t, h)
	res := replayFile(t, path)
	if got := len(res.Summary.Completed); got != 4 {
		t.Fatalf("replay completed %d checkpoints, want 4: %+v", got, res.Summary.Completed)
	}
	// Every effect the executor saw is in the file, in order.
	hist, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recorded int
	for _, r := range hist.Records {
		recorded += len(r.Recorded)
	}
	if seen := len(h.exec.snapshot()); recorded != seen {
		t.Fatalf("file records %d effects, the executor saw %d", recorded, seen)
	}
}

func flightScenarioConfig() fsm.Config {
	cfg := regionalConfig(1000)
	cfg.TolerableFailures = 10
	return cfg
}

// flightScenario runs five checkpoints (a regional completion, a late ack, an
// expiry, a savepoint), two PATCHes and a region failover on a fake clock,
// closes the driver and returns its flight file.
func flightScenario(t *testing.T, h *harness) string {
	t.Helper()
	h.clock.Advance(time.Second) // checkpoint 1: global
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	h.clock.Advance(5 * time.Millisecond)
	h.ackAll(1, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))

	h.clock.Advance(995 * time.Millisecond) // checkpoint 2: r1 declines, regional completion
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 2))
	h.ackAll(2, 0, 2)
	if err := h.d.Decline(2, 1, ""); err != nil {
		t.Fatal(err)
	}
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 2))
	h.ackAll(2, 3) // late: its region failed for checkpoint 2

	// A PATCH, applied only once durable; then one that the core rejects.
	eff, err := h.d.PatchConfig(context.Background(), ConfigPatch{IntervalMs: ptrTo[int64](400), TimeoutMs: ptrTo[int64](300)})
	if err != nil || eff.IntervalMs != 400 {
		t.Fatal(eff, err)
	}
	if _, err := h.d.PatchConfig(context.Background(), ConfigPatch{TimeoutMs: ptrTo[int64](1)}); err == nil {
		t.Fatal("timeout 1 accepted")
	}
	h.clock.Advance(400 * time.Millisecond) // checkpoint 3 expires
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 3))
	h.clock.Advance(300 * time.Millisecond)
	h.exec.wait(t, "abort", isEffect(fsm.EffAbort, 3))
	if err := h.d.TaskFailed(3); err != nil { // sink/1 fails: region r1 fails over and comes back
		t.Fatal(err)
	}
	for _, task := range []fsm.TaskID{1, 3} {
		if err := h.d.TaskRunning(task); err != nil {
			t.Fatal(err)
		}
	}
	h.clock.Advance(100 * time.Millisecond)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 4))
	h.ackAll(4, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 4))
	if err := h.d.Trigger(fsm.KindSavepoint); err != nil {
		t.Fatal(err)
	}
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 5))
	h.ackAll(5, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 5))
	h.flush() // Close drops effects not carried out yet
	path := h.d.FlightFile()
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// A resumed incarnation's file starts with the state it resumed from and
// replays on its own, with the history of the previous file gone.
func TestFlightRecorderResumedIncarnation(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, regionalConfig(1000))
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	h.ackAll(1, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	if _, err := h.d.PatchConfig(context.Background(), ConfigPatch{IntervalMs: ptrTo[int64](500)}); err != nil {
		t.Fatal(err)
	}
	h.d.Close()
	os.RemoveAll(filepath.Join(dir, "flight"))

	h2 := openHarness(t, dir, regionalConfig(1000))
	h2.clock.Advance(500 * time.Millisecond)
	h2.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 2))
	h2.ackAll(2, 0, 2)
	if err := h2.d.Decline(2, 1, ""); err != nil {
		t.Fatal(err)
	}
	h2.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 2))
	h2.flush()
	path2 := h2.d.FlightFile()
	h2.d.Close()
	data, _ := os.ReadFile(path2)
	if !strings.Contains(string(data), `"format":"ckpt-history/v1.1"`) || !strings.Contains(string(data), `"type":"resume"`) {
		t.Fatalf("no resume record in\n%s", data)
	}
	res := replayFile(t, path2)
	if c := res.Summary.Completed; len(c) != 1 || c[0].ID != 2 || c[0].Mode != "regional" {
		t.Fatalf("completed %+v", c)
	}
}

// Every value the driver records is one the history decoder reads back: a
// PATCH beyond ±(2^53−1) is invalid input to the core (never recorded), one
// just inside the bound is recorded and rejected by the core (R60), and the
// file replays (issue 13: such a line made the flight file unreadable).
func TestFlightRecorderBoundsPatchValues(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, regionalConfig(1000))
	for _, v := range []int64{-1 << 60, -(1 << 53), 1 << 53, math.MaxInt64, math.MinInt64} {
		for _, p := range []ConfigPatch{{IntervalMs: ptrTo(v)}, {TimeoutMs: ptrTo(v)}} {
			if _, err := h.d.PatchConfig(context.Background(), p); err == nil || !strings.Contains(err.Error(), "below 2^53") {
				t.Fatalf("patch %d: %v", v, err)
			}
		}
	}
	edge := int64(-(1<<53 - 1))
	if _, err := h.d.PatchConfig(context.Background(), ConfigPatch{IntervalMs: &edge, TimeoutMs: &edge}); err == nil {
		t.Fatal("a negative interval applied")
	}
	h.flush()
	path := h.d.FlightFile()
	h.d.Close()
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"interval_ms":-9007199254740991`) {
		t.Fatalf("the edge value is not recorded:\n%s", data)
	}
	replayFile(t, path)
}
