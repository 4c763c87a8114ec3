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
	dir := t.TempDir()
	cfg := regionalConfig(1000)
	cfg.TolerableFailures = 10
	h := openHarness(t, dir, cfg)
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

// A resumed incarnation whose state a start with restore rebuilds exactly gets
// a replayable file with that prelude; one whose state it cannot (a regional
// latest checkpoint, a consecutive count) gets the comment and no start. Both
// apply only when there is no earlier flight file to continue, so the test
// removes it before each restart.
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

	// Latest checkpoint 1 is global, nothing was triggered after it, overrides
	// are active: start(restore 1) + the patch rebuild it exactly.
	h2 := openHarness(t, dir, regionalConfig(1000))
	h2.clock.Advance(500 * time.Millisecond)
	h2.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 2))
	h2.ackAll(2, 0, 2)
	if err := h2.d.Decline(2, 1, ""); err != nil {
		t.Fatal(err)
	}
	h2.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 2))
	path2 := h2.d.FlightFile()
	h2.d.Close()
	data, _ := os.ReadFile(path2)
	if !strings.Contains(string(data), "rebuilds exactly this state") {
		t.Fatalf("no prelude comment in\n%s", data)
	}
	res := replayFile(t, path2)
	if c := res.Summary.Completed; len(c) != 1 || c[0].ID != 2 {
		t.Fatalf("completed %+v", c)
	}

	// Latest checkpoint 2 is regional with consecutive 1: not expressible.
	os.RemoveAll(filepath.Join(dir, "flight"))
	h3 := openHarness(t, dir, regionalConfig(1000))
	path3 := h3.d.FlightFile()
	h3.d.Close()
	data, _ = os.ReadFile(path3)
	if !strings.HasPrefix(string(data), "// resumed from store") || !strings.Contains(string(data), "needs the store") {
		t.Fatalf("file of a resumed incarnation:\n%s", data)
	}
	if hist, err := history.ReadFile(path3); err == nil {
		for _, r := range hist.Records {
			if r.Event.Type == fsm.EvStart {
				t.Fatal("a non-reproducible resume was written as a start")
			}
		}
	}
}

// sameBehavior is what makes a prelude honest: whenever it says a prelude
// rebuilds the resumed core, the two cores must react identically to the same
// events. Drive both through a mixed sequence and compare every effect.
func TestPreludeBehavesLikeResume(t *testing.T) {
	topo, err := fsm.NewTopology(twoRegions())
	if err != nil {
		t.Fatal(err)
	}
	for _, retained := range []int{1, 2} {
		cfg := regionalConfig(100)
		cfg.Retained = retained
		cfg.TolerableFailures = 3
		src, _ := fsm.New(topo, cfg)
		step := func(s *fsm.State, ev fsm.Event) []string {
			effs, err := s.Step(ev)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range effs {
				out = append(out, fsm.DescribeEffect(topo, e))
			}
			return out
		}
		step(src, fsm.Event{Type: fsm.EvStart})
		at := int64(0)
		for id := int64(1); id <= 3; id++ { // three global checkpoints
			at += 100
			step(src, fsm.Event{At: at, Type: fsm.EvTick})
			for task := fsm.TaskID(0); task < 4; task++ {
				step(src, fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: id, Task: task})
			}
			step(src, fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: id})
		}
		step(src, fsm.Event{At: at, Type: fsm.EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: 250})
		step(src, fsm.Event{At: at, Type: fsm.EvConfigPersisted, Request: 1})
		resumed, _, err := fsm.Resume(topo, cfg, src.Durable(), at+10)
		if err != nil {
			t.Fatal(err)
		}
		prelude, why := resumePrelude(topo, cfg, resumed, at+10)
		if (prelude == nil) != (retained == 2) {
			t.Fatalf("retained %d: prelude %v, why %q", retained, prelude, why)
		}
		if prelude == nil {
			continue
		}
		cand, _ := fsm.New(topo, cfg)
		for _, ev := range prelude {
			step(cand, ev)
		}
		script := []fsm.Event{
			{At: at + 110, Type: fsm.EvTick},
			{At: at + 111, Type: fsm.EvAck, Checkpoint: 4, Task: 0},
			{At: at + 111, Type: fsm.EvAck, Checkpoint: 4, Task: 2},
			{At: at + 112, Type: fsm.EvDecline, Checkpoint: 4, Task: 1},
			{At: at + 113, Type: fsm.EvPersisted, Checkpoint: 4},
			{At: at + 210, Type: fsm.EvTick},
			{At: at + 215, Type: fsm.EvTaskFailed, Task: 3},
			{At: at + 216, Type: fsm.EvTaskRunning, Task: 3},
			{At: at + 300, Type: fsm.EvConfigPatch, Request: 2, HasInterval: true, IntervalMs: 50},
			{At: at + 301, Type: fsm.EvConfigPersisted, Request: 2},
			{At: at + 1000, Type: fsm.EvTick},
			{At: at + 1001, Type: fsm.EvAck, Checkpoint: 7, Task: 1},
			{At: at + 2000, Type: fsm.EvTick},
		}
		for _, ev := range script {
			a, b := step(resumed, ev), step(cand, ev)
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Fatalf("%s:\nresumed:\n%s\nprelude:\n%s", fsm.DescribeEvent(topo, ev), strings.Join(a, "\n"), strings.Join(b, "\n"))
			}
		}
	}
}
