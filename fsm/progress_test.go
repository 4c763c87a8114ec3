package fsm

import (
	"strings"
	"testing"
)

// TestAdvanceEndsOnAStuckPeriodicRequest: should a bug leave the periodic
// request due at or before the time it fired (an off-by-one in the min-pause
// check did), advance still ends, with a no_progress warning and the request
// moved to the grid after the event's time.
func TestAdvanceEndsOnAStuckPeriodicRequest(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.IntervalMs = 100 }))
	run(t, s, Event{At: 0, Type: EvStart})
	s.effects = s.effects[:0]
	s.now, s.periodicDue = 150, 150 // as if a request fired at 150 but did not move on
	if s.progressed(150, 0, 420) {
		t.Fatal("a periodic request still due at its firing time counts as progress")
	}
	if s.periodicDue != 450 {
		t.Fatalf("moved to %d, want 450 (the grid point after 420)", s.periodicDue)
	}
	if len(s.effects) != 1 || s.effects[0].Code != WarnNoProgress {
		t.Fatalf("effects %+v, want one no_progress warning", s.effects)
	}
	if !s.progressed(150, 0, 420) {
		t.Fatal("a request due after its firing time is progress")
	}
}

// TestAdvanceEndsOnAStuckExpiry: a checkpoint that expired but still waits for
// acks (a bug) is aborted, with a warning, so that it is not due again.
func TestAdvanceEndsOnAStuckExpiry(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.TimeoutMs = 100 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 10, Type: EvTrigger})
	s.effects = s.effects[:0]
	if s.progressed(110, 1, 200) {
		t.Fatal("a checkpoint that still waits for acks after its expiry counts as progress")
	}
	if len(s.pending) != 0 || s.effects[0].Code != WarnNoProgress {
		t.Fatalf("pending %d, effects %+v: want the checkpoint aborted after a no_progress warning", len(s.pending), s.effects)
	}
}

// TestStepsTerminateOverLongJumps: a step over a long time jump with every
// kind of due item (deadlines, periodic requests, min_pause drops, queued
// requests) makes a bounded number of requests: one per group of items due at
// one time, never one per grid point.
func TestStepsTerminateOverLongJumps(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) {
		c.IntervalMs, c.TimeoutMs, c.MinPauseMs, c.MaxConcurrent = 10, 10, 10, 1
	}))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 10, Type: EvTrigger}, Event{At: 11, Type: EvTrigger})
	run(t, s, ackAll(s, 12, 1)...)
	run(t, s, Event{At: 13, Type: EvPersisted, Checkpoint: 1})
	out := run(t, s, Event{At: MaxSafeInt - 1, Type: EvTick})
	if len(out) > 20 {
		t.Fatalf("%d effects over one jump: %v", len(out), out)
	}
	if count(out, "warn") != 0 {
		t.Fatalf("a warning: %v", out)
	}
}

// TestCheckBookkeepingCatchesDrift: CheckBookkeeping names a counter that no
// longer mirrors its set, and an ack kept for a failed region.
func TestCheckBookkeepingCatchesDrift(t *testing.T) {
	cfg := cfgWith(func(c *Config) { c.Regional.Enabled = true; c.Regional.MaxFailureRatio = 0.5 })
	s := twoByTwo(t, cfg)
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 10, Type: EvTrigger}, Event{At: 11, Type: EvAck, Checkpoint: 1, Task: 0})
	if err := s.CheckBookkeeping(); err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	c.pending[0].waitingCount++
	if err := c.CheckBookkeeping(); err == nil {
		t.Fatal("a waitingCount that does not match the waiting set passes")
	}
	c = s.Clone()
	c.pending[0].failed.set(s.topo.RegionOf(0))
	c.pending[0].failedCount++
	if err := c.CheckBookkeeping(); err == nil {
		t.Fatal("an ack kept for a failed region passes")
	}
}

// TestCheckBookkeepingOnePersistSlot: two checkpoints persisting at once break
// the persist slot (R23), on which discardUnneeded relies.
func TestCheckBookkeepingOnePersistSlot(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.MaxConcurrent = 2 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 10, Type: EvTrigger}, Event{At: 11, Type: EvTrigger})
	for id := int64(1); id <= 2; id++ {
		for task := TaskID(0); task < 4; task++ {
			run(t, s, Event{At: 12, Type: EvAck, Checkpoint: id, Task: task})
		}
	}
	if len(s.pending) != 2 || !s.pending[0].persisting || s.pending[1].persisting || s.pending[1].waitingCount != 0 {
		t.Fatalf("want 1 persisting and 2 ready, waiting for the slot: %+v", s.Pending())
	}
	if err := s.CheckBookkeeping(); err != nil {
		t.Fatal(err)
	}
	c := s.Clone()
	c.pending[1].persisting = true
	if err := c.CheckBookkeeping(); err == nil || !strings.Contains(err.Error(), "persist at once") {
		t.Fatalf("two checkpoints persisting at once: %v", err)
	}
}

// TestPendingViewsAreCopies: a view from Pending stays as it was after the
// checkpoint it describes changes or ends (Step reallocates the pending list).
func TestPendingViewsAreCopies(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) { c.MaxConcurrent, c.TolerableFailures = 2, 5 }))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 10, Type: EvTrigger})
	before := s.Pending()
	run(t, s, Event{At: 11, Type: EvAck, Checkpoint: 1, Task: 0}, Event{At: 12, Type: EvTrigger},
		Event{At: 13, Type: EvDecline, Checkpoint: 1, Task: 1})
	if len(before) != 1 || before[0].ID != 1 || before[0].Acked(0) || !before[0].Triggered(3) {
		t.Fatalf("the view of checkpoint 1 changed after later steps: %+v acked(0)=%t", before[0], before[0].Acked(0))
	}
	n := 0
	s.EachPending(func(p PendingInfo) bool { n++; return p.ID != 2 })
	if n != 1 || s.NumPending() != 1 {
		t.Fatalf("EachPending visited %d, NumPending %d, want 1 and 1", n, s.NumPending())
	}
}
