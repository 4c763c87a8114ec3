package fsm

import (
	"strings"
	"testing"
)

func cfgWith(mut func(*Config)) Config {
	c := DefaultConfig()
	mut(&c)
	return c
}

// has reports whether some effect line contains every fragment.
func has(lines []string, fragments ...string) bool {
	for _, l := range lines {
		ok := true
		for _, f := range fragments {
			ok = ok && strings.Contains(l, f)
		}
		if ok {
			return true
		}
	}
	return false
}

func count(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func ackAll(s *State, at, id int64) []Event {
	var evs []Event
	for t := 0; t < s.topo.NumSubtasks(); t++ {
		evs = append(evs, Event{At: at, Type: EvAck, Checkpoint: id, Task: TaskID(t)})
	}
	return evs
}

// R10: an event with an earlier time is refused and changes nothing.
func TestTimeNeverGoesBackwards(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 100 }))
	if _, err := s.Step(Event{At: 5, Type: EvTick}); err == nil || !strings.Contains(err.Error(), "first event must be start") {
		t.Fatalf("tick before start: %v", err)
	}
	run(t, s, Event{At: 50, Type: EvStart})
	before := s.Clone()
	_, err := s.Step(Event{At: 40, Type: EvTick})
	if err == nil || !strings.Contains(err.Error(), "time goes backwards: 40 after 50 (R10)") {
		t.Fatalf("err = %v", err)
	}
	if s.Now() != before.Now() || s.NextID() != before.NextID() {
		t.Fatal("state changed on error")
	}
	if _, err := s.Step(Event{At: 60, Type: EvAck, Checkpoint: 1, Task: 99}); err == nil || !strings.Contains(err.Error(), "unknown subtask") {
		t.Fatalf("unknown subtask: %v", err)
	}
	if _, err := s.Step(Event{At: 60, Type: EvStart}); err == nil {
		t.Fatal("second start accepted")
	}
}

// R10, R11: a periodic request due at 1000 is made at 1000 (its deadline counts
// from there) even when the next event is much later; one request for a jump
// over several grid points, the next at the first grid point after now.
func TestPeriodicGridAndTimeJumps(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 1000; c.TimeoutMs = 100000 }))
	out := run(t, s, Event{At: 0, Type: EvStart}, Event{At: 3500, Type: EvTick})
	if count(out, "trigger ") != 1 || !has(out, "trigger 1 checkpoint deadline=101000") {
		t.Fatalf("jump: %v", out)
	}
	if at, _ := s.NextDeadline(); at != 4000 {
		t.Fatalf("next due %d, want 4000", at)
	}
	// The initial delay moves the first request; the grid follows it.
	s = twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 1000 }))
	run(t, s, Event{At: 0, Type: EvStart, HasInitialDelay: true, InitialDelayMs: 250})
	if at, _ := s.NextDeadline(); at != 250 {
		t.Fatalf("first due %d, want 250", at)
	}
	// P = max(interval, min_pause) (Flink's baseInterval).
	s = twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 100; c.MinPauseMs = 700 }))
	run(t, s, Event{At: 0, Type: EvStart})
	if at, _ := s.NextDeadline(); at != 700 {
		t.Fatalf("first due %d, want 700", at)
	}
}

// R10: expirations and the periodic request due by an event happen each at its
// own time, expirations first on ties.
func TestDueItemsInTimeOrder(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 1000; c.TimeoutMs = 1000; c.TolerableFailures = 5 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1000, Type: EvTick})
	out := run(t, s, Event{At: 2000, Type: EvTick})
	want := []string{"abort 1 reason=expired", "notify_aborted 1", "persist_id_counter next_id=3", "trigger 2 checkpoint deadline=3000"}
	if len(out) != len(want) {
		t.Fatalf("got %q", out)
	}
	for i := range want {
		if !strings.HasPrefix(out[i], want[i]) {
			t.Fatalf("effect %d = %q, want prefix %q", i, out[i], want[i])
		}
	}
}

// R12: with max_concurrent pending, one periodic request waits (later ones merge
// into it) and runs when a checkpoint ends.
func TestQueuedPeriodicRequestRunsWhenSlotFrees(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 100 }))
	out := run(t, s, Event{At: 0, Type: EvStart}, Event{At: 100, Type: EvTick}, Event{At: 200, Type: EvTick},
		Event{At: 300, Type: EvTick}, Event{At: 400, Type: EvTick})
	if count(out, "trigger ") != 1 || count(out, "trigger_failed") != 0 {
		t.Fatalf("queued requests should wait silently: %v", out)
	}
	out = run(t, s, ackAll(s, 450, 1)...)
	out = append(out, run(t, s, Event{At: 460, Type: EvPersisted, Checkpoint: 1})...)
	if !has(out, "completed 1") || count(out, "trigger ") != 1 {
		t.Fatalf("min_pause 0: the waiting request runs at once, but only one: %v", out)
	}
}

// R12: a waiting periodic request that finds the last completion less than
// min_pause ago is dropped and the schedule moves to completion + min_pause.
func TestMinPauseDropsAndReschedules(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 100; c.MinPauseMs = 100 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 100, Type: EvTick}, Event{At: 200, Type: EvTick})
	run(t, s, ackAll(s, 250, 1)...)
	out := run(t, s, Event{At: 260, Type: EvPersisted, Checkpoint: 1})
	if !has(out, "trigger_failed checkpoint reason=min_pause", "next periodic request at 360") {
		t.Fatalf("got %v", out)
	}
	if at, _ := s.NextDeadline(); at != 360 {
		t.Fatalf("next due %d, want 360", at)
	}
	// A manual checkpoint ignores min_pause (CheckpointRequestDeciderTest#testCheckpointTiming).
	out = run(t, s, Event{At: 270, Type: EvTrigger, Kind: KindCheckpoint})
	if !has(out, "trigger 2 checkpoint") {
		t.Fatalf("manual checkpoint: %v", out)
	}
}

// R13, R14: a global request with a restarting subtask fails without an id.
func TestNotAllRunningUsesNoID(t *testing.T) {
	s := twoByTwo(t, DefaultConfig())
	out := run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1, Type: EvTaskFailed, Task: 0},
		Event{At: 2, Type: EvTrigger, Kind: KindSavepoint})
	if !has(out, "trigger_failed savepoint reason=not_all_running") || s.NextID() != 1 {
		t.Fatalf("got %v next id %d", out, s.NextID())
	}
	out = run(t, s, Event{At: 3, Type: EvTaskRunning, Task: 0}, Event{At: 3, Type: EvTaskRunning, Task: 2},
		Event{At: 4, Type: EvTrigger, Kind: KindCheckpoint})
	if !has(out, "trigger 1 checkpoint") {
		t.Fatalf("after restart: %v", out)
	}
}

// R13: in regional mode a checkpoint may start while a region restarts, with
// that region failed, when the gate would pass.
func TestRegionalTriggerWhileRegionRestarts(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.Regional.Enabled = true; c.Regional.MaxFailureRatio = 0.5 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1, Type: EvTrigger})
	run(t, s, ackAll(s, 2, 1)...)
	run(t, s, Event{At: 3, Type: EvPersisted, Checkpoint: 1}, Event{At: 4, Type: EvTaskFailed, Task: 1})
	out := run(t, s, Event{At: 5, Type: EvTrigger})
	if !has(out, "trigger 2 checkpoint", "tasks=[src/0 sink/0]") {
		t.Fatalf("got %v", out)
	}
	out = run(t, s, Event{At: 6, Type: EvAck, Checkpoint: 2, Task: 0}, Event{At: 6, Type: EvAck, Checkpoint: 2, Task: 2},
		Event{At: 7, Type: EvPersisted, Checkpoint: 2})
	if !has(out, "completed 2 checkpoint regional consecutive=1 older_refs={r1->1}") {
		t.Fatalf("got %v", out)
	}
	// Savepoints are global: they need every subtask running.
	if out := run(t, s, Event{At: 8, Type: EvTrigger, Kind: KindSavepoint}); !has(out, "reason=not_all_running") {
		t.Fatalf("savepoint: %v", out)
	}
}

// R60, R61, R63: a patch is validated, persisted, then applied in one step; a
// shorter timeout expires an overdue checkpoint in that same step.
func TestConfigPatchLifecycle(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.TimeoutMs = 10000; c.MaxTimeoutMs = 20000; c.TolerableFailures = 3 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 100, Type: EvTrigger})
	out := run(t, s,
		Event{At: 200, Type: EvConfigPatch, Request: 1},
		Event{At: 200, Type: EvConfigPatch, Request: 2, HasTimeout: true, TimeoutMs: 30000},
		Event{At: 200, Type: EvConfigPatch, Request: 3, HasInterval: true, IntervalMs: 5},
		Event{At: 300, Type: EvConfigPatch, Request: 4, HasTimeout: true, TimeoutMs: 150},
	)
	for _, want := range []string{"config_rejected request=1: empty patch", "config_rejected request=2: config: timeout_ms = 30000: must be <= max_timeout_ms (20000)",
		"config_rejected request=3: config: interval_ms = 5", "persist_overrides request=4 interval=0 timeout=150"} {
		if !has(out, want) {
			t.Fatalf("missing %q in %v", want, out)
		}
	}
	if e := s.Effective(); e.TimeoutMs != 10000 || e.OverridesActive {
		t.Fatalf("applied before it was durable: %+v", e)
	}
	out = run(t, s, Event{At: 400, Type: EvConfigPersisted, Request: 4})
	if !has(out, "config_applied request=4") || !has(out, "abort 1 reason=expired") {
		t.Fatalf("got %v", out)
	}
	if e := s.Effective(); e.TimeoutMs != 150 || !e.OverridesActive {
		t.Fatalf("effective %+v", e)
	}
	// R50: unconfirmed patches are lost; confirmed overrides stay.
	run(t, s, Event{At: 500, Type: EvConfigPatch, Request: 5, HasTimeout: true, TimeoutMs: 900})
	out = run(t, s, Event{At: 600, Type: EvRecover})
	if !has(out, "config_rejected request=5: lost") || s.Effective().TimeoutMs != 150 {
		t.Fatalf("got %v, effective %+v", out, s.Effective())
	}
}

// R62: a new interval applies from the next cycle: due at min(current, now+P).
func TestIntervalPatchReschedules(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 10000 }))
	run(t, s, Event{At: 0, Type: EvStart},
		Event{At: 1000, Type: EvConfigPatch, Request: 1, HasInterval: true, HasTimeout: true, IntervalMs: 2000, TimeoutMs: 5000},
		Event{At: 1500, Type: EvConfigPersisted, Request: 1})
	if at, _ := s.NextDeadline(); at != 3500 {
		t.Fatalf("next due %d, want 3500", at)
	}
	run(t, s, Event{At: 1600, Type: EvConfigPatch, Request: 2, HasInterval: true, IntervalMs: 0},
		Event{At: 1700, Type: EvConfigPersisted, Request: 2})
	if _, ok := s.NextDeadline(); ok {
		t.Fatal("interval 0 must stop periodic checkpoints")
	}
	if e := s.Effective(); e.TimeoutMs != 5000 || e.IntervalMs != 0 {
		t.Fatalf("a missing field keeps its value (R60): %+v", e)
	}
}

// R25: tier 1 forces global after max_consecutive regional completions; tier 2
// resets when the forced-global checkpoint fails.
func TestTwoTierCounter(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) {
		c.Regional.Enabled = true
		c.Regional.MaxFailureRatio = 0.5
		c.Regional.MaxConsecutive = 1
		c.TolerableFailures = 10
	}))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1, Type: EvTrigger})
	run(t, s, ackAll(s, 1, 1)...)
	run(t, s, Event{At: 2, Type: EvPersisted, Checkpoint: 1}, Event{At: 3, Type: EvTrigger},
		Event{At: 4, Type: EvDecline, Checkpoint: 2, Task: 1})
	run(t, s, Event{At: 4, Type: EvAck, Checkpoint: 2, Task: 0}, Event{At: 4, Type: EvAck, Checkpoint: 2, Task: 2},
		Event{At: 5, Type: EvPersisted, Checkpoint: 2})
	if s.Consecutive() != 1 || !s.Forcing() {
		t.Fatalf("tier 1: consecutive %d forcing %t", s.Consecutive(), s.Forcing())
	}
	out := run(t, s, Event{At: 6, Type: EvTrigger}, Event{At: 7, Type: EvDecline, Checkpoint: 3, Task: 1})
	if !has(out, "trigger 3 checkpoint forced_global") || !has(out, "abort 3 reason=declined counted=true") {
		t.Fatalf("forced checkpoint: %v", out)
	}
	if s.Consecutive() != 0 || s.Forcing() {
		t.Fatalf("tier 2: consecutive %d forcing %t", s.Consecutive(), s.Forcing())
	}
	if out := run(t, s, Event{At: 8, Type: EvTrigger}); has(out, "forced_global") {
		t.Fatalf("after tier 2 the next checkpoint may be regional: %v", out)
	}
}

// Clone is deep: stepping a clone leaves the original untouched.
func TestCloneIsIndependent(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.Regional.Enabled = true; c.Regional.MaxFailureRatio = 0.5 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1, Type: EvTrigger}, Event{At: 2, Type: EvAck, Checkpoint: 1, Task: 0})
	c := s.Clone()
	run(t, c, Event{At: 3, Type: EvAck, Checkpoint: 1, Task: 1}, Event{At: 3, Type: EvTaskFailed, Task: 0})
	p := s.Pending()
	if len(p) != 1 || !p[0].Acked(0) || p[0].Acked(1) || p[0].FailedCount != 0 || !s.TaskRunning(0) {
		t.Fatal("the clone shares state with the original")
	}
}

// Durations are bounded so that time + timeout cannot overflow into the past:
// a value of magnitude 2^53 or more is invalid input (no history could hold
// it); one below it but outside §2 is a valid patch the core rejects (R60).
func TestHugeDurationsRejected(t *testing.T) {
	s := twoByTwo(t, DefaultConfig())
	run(t, s, Event{At: 0, Type: EvStart})
	for _, ev := range []Event{
		{At: 1, Type: EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: 1 << 62},
		{At: 1, Type: EvConfigPatch, Request: 1, HasInterval: true, IntervalMs: -(1 << 62)},
	} {
		if _, err := s.Step(ev); err == nil || !strings.Contains(err.Error(), "magnitude below 2^53") {
			t.Fatalf("%+v: %v", ev, err)
		}
	}
	out := run(t, s, Event{At: 1, Type: EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: MaxSafeInt},
		Event{At: 1, Type: EvConfigPatch, Request: 2, HasInterval: true, IntervalMs: -MaxSafeInt})
	if !has(out, "persist_overrides request=1 interval=0 timeout=9007199254740991") || !has(out, "request=2: config: interval_ms") {
		t.Fatalf("got %v", out)
	}
}
