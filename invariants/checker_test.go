package invariants

import (
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// harness steps a real core and the checker together.
type harness struct {
	t *testing.T
	s *fsm.State
	c *Checker
}

func newHarness(t *testing.T, cfg fsm.Config) *harness {
	t.Helper()
	topo, err := fsm.NewTopology(fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 3, Coordinator: fsm.CoordinatorFallback}, {ID: "sink", Parallelism: 3}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := fsm.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t, s, New(topo, cfg)}
}

func (h *harness) step(ev fsm.Event) []Violation {
	h.t.Helper()
	effs, err := h.s.Step(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.c.Step(ev, effs, h.s)
}

func (h *harness) clean(evs ...fsm.Event) {
	h.t.Helper()
	for _, ev := range evs {
		if v := h.step(ev); len(v) > 0 {
			h.t.Fatalf("%s: unexpected violations %v", fsm.DescribeEvent(h.s.Topology(), ev), v)
		}
	}
}

func regionalConfig() fsm.Config {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 1000
	cfg.Regional.Enabled = true
	cfg.Regional.MaxFailureRatio = 0.5
	return cfg
}

func acks(at, id int64, tasks ...fsm.TaskID) []fsm.Event {
	var evs []fsm.Event
	for _, t := range tasks {
		evs = append(evs, fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: id, Task: t})
	}
	return evs
}

// TestCleanRegionalRun: a real run with regional completions, a failover and a
// config patch holds every invariant, so the checks below fail for their reason.
func TestCleanRegionalRun(t *testing.T) {
	h := newHarness(t, regionalConfig())
	h.clean(fsm.Event{At: 0, Type: fsm.EvStart}, fsm.Event{At: 1000, Type: fsm.EvTick})
	h.clean(acks(1001, 1, 0, 1, 2, 3, 4, 5)...)
	h.clean(fsm.Event{At: 1002, Type: fsm.EvPersisted, Checkpoint: 1}, fsm.Event{At: 2000, Type: fsm.EvTick})
	h.clean(acks(2001, 2, 0, 3, 2)...)
	h.clean(fsm.Event{At: 2002, Type: fsm.EvTaskFailed, Task: 1})
	h.clean(acks(2003, 2, 5)...)
	h.clean(fsm.Event{At: 2004, Type: fsm.EvPersisted, Checkpoint: 2},
		fsm.Event{At: 2005, Type: fsm.EvTaskRunning, Task: 1}, fsm.Event{At: 2005, Type: fsm.EvTaskRunning, Task: 4},
		fsm.Event{At: 2006, Type: fsm.EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: 500},
		fsm.Event{At: 2007, Type: fsm.EvConfigPersisted, Request: 1},
		fsm.Event{At: 5000, Type: fsm.EvTick}, fsm.Event{At: 5001, Type: fsm.EvRecover})
	if got := h.s.Retained(); len(got) != 1 || got[0] != 2 {
		t.Fatalf("retained %v, want [2]", got)
	}
}

func TestViolationsAreNamed(t *testing.T) {
	cases := []struct {
		name   string
		want   string
		broken func(h *harness) []Violation
	}{
		{"discard twice", RetentionSafety, func(h *harness) []Violation {
			h.c.set(7, fDiscarded)
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, []fsm.Effect{{Type: fsm.EffDiscard, Checkpoint: 7}}, h.s)
		}},
		{"leak", NoLeak, func(h *harness) []Violation {
			h.c.set(3, fOwned)
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, nil, h.s)
		}},
		{"notify before completion", NotifySafety, func(h *harness) []Violation {
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, []fsm.Effect{{Type: fsm.EffNotifyComplete, Checkpoint: 1}}, h.s)
		}},
		{"savepoint completes regionally", SavepointGlobal, func(h *harness) []Violation {
			r := h.c.recFor(1)
			r.kind, r.flags = fsm.KindSavepoint, r.flags|fHasKind
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvPersisted, Checkpoint: 1}, []fsm.Effect{{Type: fsm.EffCompleted,
				Checkpoint: 1, Kind: fsm.KindSavepoint, Mode: fsm.ModeRegional, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 1}}}}, h.s)
		}},
		{"forced completes regionally", ConsecutiveBound, func(h *harness) []Violation {
			h.c.set(5, fHasForced|fForced)
			h.c.set(4, fRestored)
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvPersisted, Checkpoint: 5}, []fsm.Effect{{Type: fsm.EffCompleted,
				Checkpoint: 5, Mode: fsm.ModeRegional, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 4}}}}, h.s)
		}},
		{"reference to unhealthy region", RegionConsistency, func(h *harness) []Violation {
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvPersisted, Checkpoint: 5}, []fsm.Effect{{Type: fsm.EffCompleted,
				Checkpoint: 5, Mode: fsm.ModeRegional, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 4}}}}, h.s)
		}},
		{"stale fallback", RegionConsistency, func(h *harness) []Violation {
			// r1 was healthy in 2 and 3, yet 4 falls back to 2 (R21: latest completed).
			h.c.setSets(h.c.recFor(2), []bool{true, true, true}, nil, nil)
			h.c.latestRefs = []int64{3, 3, 3}
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvPersisted, Checkpoint: 4}, []fsm.Effect{{Type: fsm.EffCompleted,
				Checkpoint: 4, Mode: fsm.ModeRegional, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 2}}}}, h.s)
		}},
		{"orphan state", NoOrphanState, func(h *harness) []Violation {
			h.c.addFailedOver(5, 0)
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvPersisted, Checkpoint: 5}, []fsm.Effect{{Type: fsm.EffCompleted, Checkpoint: 5}}, h.s)
		}},
		{"ids go back", MonotonicIds, func(h *harness) []Violation {
			h.c.lastTrigger = 9
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, []fsm.Effect{{Type: fsm.EffTrigger, Checkpoint: 3}}, h.s)
		}},
		{"uncounted decline", FailureAccounting, func(h *harness) []Violation {
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, []fsm.Effect{{Type: fsm.EffAbort, Checkpoint: 3, Reason: "declined"}}, h.s)
		}},
		{"torn config", ConfigAtomic, func(h *harness) []Violation {
			h.c.confirmed, h.c.hasConfirmed = fsm.EffectiveConfig{IntervalMs: 5000, TimeoutMs: 600000, OverridesActive: true}, true
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, nil, h.s)
		}},
		{"overrides lost in recovery", DurableOverrides, func(h *harness) []Violation {
			h.c.confirmed, h.c.hasConfirmed = fsm.EffectiveConfig{IntervalMs: 5000, TimeoutMs: 600000, OverridesActive: true}, true
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvRecover}, nil, h.s)
		}},
		{"persist without its coordinator fallback", RuleCompletionOrder, func(h *harness) []Violation {
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvAck, Checkpoint: 5}, []fsm.Effect{{Type: fsm.EffPersist,
				Checkpoint: 5, Mode: fsm.ModeRegional, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 4}}}}, h.s)
		}},
		{"coordinator fallback after persist", RuleCompletionOrder, func(h *harness) []Violation {
			refs := []fsm.RegionRef{{Region: 1, Checkpoint: 4}}
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvAck, Checkpoint: 5}, []fsm.Effect{
				{Type: fsm.EffPersist, Checkpoint: 5, Mode: fsm.ModeRegional, Refs: refs},
				{Type: fsm.EffCoordinatorFallback, Checkpoint: 5, Vertex: 0, Refs: refs}}, h.s)
		}},
		{"coordinator fallback names another region", RuleCompletionOrder, func(h *harness) []Violation {
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvAck, Checkpoint: 5}, []fsm.Effect{
				{Type: fsm.EffCoordinatorFallback, Checkpoint: 5, Vertex: 0, Refs: []fsm.RegionRef{{Region: 2, Checkpoint: 4}}},
				{Type: fsm.EffPersist, Checkpoint: 5, Mode: fsm.ModeRegional, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 4}}}}, h.s)
		}},
		{"a reason the spec does not count", FailureAccounting, func(h *harness) []Violation {
			r := h.c.recFor(3)
			r.kind, r.flags = fsm.KindCheckpoint, r.flags|fHasKind
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, []fsm.Effect{{Type: fsm.EffAbort, Checkpoint: 3,
				Reason: "task_not_ready", Counted: true}}, h.s)
		}},
		{"no tier-two reset", TierTwoReset, func(h *harness) []Violation {
			r := h.c.recFor(2)
			r.kind, r.flags = fsm.KindCheckpoint, r.flags|fHasKind|fHasForced|fForced
			return h.c.Step(fsm.Event{At: 1, Type: fsm.EvTick}, []fsm.Effect{{Type: fsm.EffAbort, Checkpoint: 2, Reason: "region_failover"}},
				withConsecutive(h, 1))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, regionalConfig())
			h.clean(fsm.Event{At: 0, Type: fsm.EvStart})
			vs := tc.broken(h)
			for _, v := range vs {
				if v.Invariant == tc.want {
					return
				}
			}
			t.Fatalf("want a %s violation, got %v", tc.want, vs)
		})
	}
}

// withConsecutive returns a state whose consecutive counter is n, built by real
// regional completions.
func withConsecutive(h *harness, n int) *fsm.State {
	s := h.s.Clone()
	step := func(ev fsm.Event) {
		if _, err := s.Step(ev); err != nil {
			h.t.Fatal(err)
		}
	}
	at := int64(1000)
	step(fsm.Event{At: at, Type: fsm.EvTick})
	for _, ev := range acks(at, 1, 0, 1, 2, 3, 4, 5) {
		step(ev)
	}
	step(fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: 1})
	for i := 0; i < n; i++ {
		at += 1000
		id := s.NextID()
		step(fsm.Event{At: at, Type: fsm.EvTick})
		for _, ev := range acks(at, id, 0, 3, 1, 4) {
			step(ev)
		}
		step(fsm.Event{At: at, Type: fsm.EvDecline, Checkpoint: id, Task: 2})
		step(fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: id})
	}
	if s.Consecutive() != n {
		h.t.Fatalf("consecutive = %d, want %d", s.Consecutive(), n)
	}
	return s
}

// TestTimingNamesALostSchedule: the periodic check fires when the next
// request is further away than a period (here: the checker did not see the
// start's initial delay, so the core's schedule looks lost to it), and is
// quiet on the same run when it did.
func TestTimingNamesALostSchedule(t *testing.T) {
	cfg := regionalConfig()
	h := newHarness(t, cfg)
	start := fsm.Event{At: 0, Type: fsm.EvStart, HasInitialDelay: true, InitialDelayMs: 5000}
	effs, err := h.s.Step(start)
	if err != nil {
		t.Fatal(err)
	}
	if v := NewTiming(h.s.Topology(), cfg).Step(start, effs, h.s); len(v) != 0 {
		t.Fatalf("a checker that saw the start: %v", v)
	}
	blind := NewTiming(h.s.Topology(), cfg)
	v := blind.Step(fsm.Event{At: 0, Type: fsm.EvTick}, nil, h.s)
	if len(v) != 1 || v[0].Invariant != RulePeriodicAlways {
		t.Fatalf("want one %s violation, got %v", RulePeriodicAlways, v)
	}
}
