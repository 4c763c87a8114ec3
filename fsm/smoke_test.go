package fsm

import (
	"strings"
	"testing"
)

// run drives a state through events and returns the rendered effects per event.
func run(t *testing.T, s *State, evs ...Event) []string {
	t.Helper()
	var out []string
	for _, ev := range evs {
		effs, err := s.Step(ev)
		if err != nil {
			t.Fatalf("%s: %v", DescribeEvent(s.topo, ev), err)
		}
		for _, e := range effs {
			out = append(out, DescribeEffect(s.topo, e))
		}
	}
	return out
}

func twoByTwo(t *testing.T, cfg Config) *State {
	t.Helper()
	topo, err := NewTopology(JobSpec{
		Vertices: []VertexSpec{{ID: "src", Parallelism: 2, Coordinator: CoordinatorFallback}, {ID: "sink", Parallelism: 2}},
		Edges:    []EdgeSpec{{From: "src", To: "sink"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSmokeGlobalCycle(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IntervalMs = 1000
	s := twoByTwo(t, cfg)
	out := run(t, s,
		Event{At: 0, Type: EvStart},
		Event{At: 1000, Type: EvTick},
		Event{At: 1010, Type: EvAck, Checkpoint: 1, Task: 0},
		Event{At: 1010, Type: EvAck, Checkpoint: 1, Task: 1},
		Event{At: 1010, Type: EvAck, Checkpoint: 1, Task: 2},
		Event{At: 1010, Type: EvAck, Checkpoint: 1, Task: 3},
		Event{At: 1020, Type: EvPersisted, Checkpoint: 1},
	)
	got := strings.Join(out, "\n")
	for _, want := range []string{"trigger 1 checkpoint deadline=601000 tasks=[src/0-1 sink/0-1]",
		"persist 1 checkpoint global consecutive=0", "completed 1", "notify_complete 1 tasks=[src/0-1 sink/0-1]"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestSmokeRegional(t *testing.T) {
	s, _ := regionalAfterFirst(t)
	run(t, s, Event{At: 1002, Type: EvPersisted, Checkpoint: 1}, Event{At: 2000, Type: EvTick})
	out := run(t, s,
		Event{At: 2001, Type: EvAck, Checkpoint: 2, Task: 0},
		Event{At: 2001, Type: EvAck, Checkpoint: 2, Task: 2},
		Event{At: 2002, Type: EvDecline, Checkpoint: 2, Task: 1},
		Event{At: 2003, Type: EvPersisted, Checkpoint: 2},
	)
	got := strings.Join(out, "\n")
	for _, want := range []string{"coordinator_fallback 2 vertex=src refs={r1->1}",
		"persist 2 checkpoint regional consecutive=1 older_refs={r1->1}",
		"notify_complete 2 tasks=[src/0 sink/0] uses(1)=[src/1 sink/1]"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if s.Consecutive() != 1 {
		t.Errorf("consecutive = %d", s.Consecutive())
	}
}

func TestResumeMatchesRecover(t *testing.T) {
	s, cfg := regionalAfterFirst(t)
	run(t, s, Event{At: 1002, Type: EvPersisted, Checkpoint: 1}, Event{At: 2000, Type: EvTick},
		Event{At: 2001, Type: EvAck, Checkpoint: 2, Task: 0}, Event{At: 2001, Type: EvAck, Checkpoint: 2, Task: 2},
		Event{At: 2002, Type: EvDecline, Checkpoint: 2, Task: 1}, Event{At: 2003, Type: EvPersisted, Checkpoint: 2},
		Event{At: 2004, Type: EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: 5000},
		Event{At: 2005, Type: EvConfigPersisted, Request: 1})
	r, effs, err := Resume(s.Topology(), cfg, s.Durable(), 2500)
	if err != nil || len(effs) != 0 {
		t.Fatal(err, effs)
	}
	run(t, s, Event{At: 2500, Type: EvRecover})
	if !r.Equal(s) {
		t.Fatalf("resume and recover leave different states")
	}
	if r.Consecutive() != s.Consecutive() || r.NextID() != s.NextID() || r.Effective() != s.Effective() {
		t.Fatalf("resume %d/%d/%v, recover %d/%d/%v", r.Consecutive(), r.NextID(), r.Effective(),
			s.Consecutive(), s.NextID(), s.Effective())
	}
	a, b := run(t, r, Event{At: 3500, Type: EvTick}), run(t, s, Event{At: 3500, Type: EvTick})
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("after resume:\n%s\nafter recover:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// regionalAfterFirst is a regional src(2)->sink(2) job whose checkpoint 1 has
// every ack and waits for its persisted event.
func regionalAfterFirst(t *testing.T) (*State, Config) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.IntervalMs = 1000
	cfg.Regional.Enabled = true
	cfg.Regional.MaxFailureRatio = 0.5
	s := twoByTwo(t, cfg)
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1000, Type: EvTick})
	for id := TaskID(0); id < 4; id++ {
		run(t, s, Event{At: 1001, Type: EvAck, Checkpoint: 1, Task: id})
	}
	return s, cfg
}

// TestResumeDecidesRetention: Resume applies R40 to what a store holds: with
// retained 1, the latest checkpoint stays, an older one it references stays,
// and every other checkpoint the job owns is discarded once; one it does not
// own (no_claim) is forgotten without a discard. The Retained flags it is
// handed are not read.
func TestResumeDecidesRetention(t *testing.T) {
	topo := mustTopo(t, JobSpec{Vertices: []VertexSpec{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Edges: []EdgeSpec{{From: "src", To: "sink"}}})
	d := Durable{NextID: 9, Known: []StoredCheckpoint{
		{ID: 2, Owned: true, Retained: true},
		{ID: 4, Owned: true},
		{ID: 5, Owned: false},
		{ID: 6, Owned: true, Retained: true},
		{ID: 8, Owned: true, Mode: ModeRegional, Refs: []RegionRef{{Region: 1, Checkpoint: 4}}},
	}}
	s, effs, err := Resume(topo, DefaultConfig(), d, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range effs {
		got = append(got, DescribeEffect(topo, e))
	}
	if strings.Join(got, "; ") != "discard 2; discard 6" {
		t.Fatalf("effects %q, want discards of 2 and 6", got)
	}
	if r := s.Retained(); len(r) != 1 || r[0] != 8 {
		t.Fatalf("retained %v, want [8]", r)
	}
	if k := s.Known(); len(k) != 2 || k[0].ID != 4 || k[1].ID != 8 {
		t.Fatalf("known %+v, want 4 (referenced) and 8", k)
	}
	if effs[0].At != 100 {
		t.Fatalf("discard at %d, want the resume time 100", effs[0].At)
	}
}
