package fsm

import (
	"fmt"
	"testing"
)

// Micro-benchmarks of the core's side of the exhaustive explorer (issue 17):
// the explorer clones a stored state, steps the clone once and keys the
// successor. BENCHMARKS.md ("Core clone and key") has the commands and the
// before/after numbers; keep the names stable for benchstat. Besides ns/op
// each reports cpu-ns/op, the process's CPU time per operation (garbage
// collection included): on a shared machine wall time mostly measures the
// other processes.
//
//	go test -run '^$' -bench 'Clone|AppendKey|CloneStep' -benchmem ./fsm/

// measure runs body b.N times and reports allocations and CPU time per run.
func measure(b *testing.B, body func()) {
	b.ReportAllocs()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		body()
	}
	b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/op")
}

// benchJob is a job of the benchmarks: "2x1" is the explorer's regional 2×1
// model (two one-subtask regions, a fallback coordinator), "50x2" a pipeline
// of 50 source→sink regions.
type benchJob struct {
	name string
	spec JobSpec
}

var benchJobs = []benchJob{
	{"2x1", JobSpec{Vertices: []VertexSpec{{ID: "a", Parallelism: 2, Coordinator: CoordinatorFallback}}}},
	{"50x2", JobSpec{
		Vertices: []VertexSpec{{ID: "src", Parallelism: 50, Coordinator: CoordinatorFallback}, {ID: "sink", Parallelism: 50}},
		Edges:    []EdgeSpec{{From: "src", To: "sink"}},
	}},
}

// benchConfig is close to the 2×1 model's configuration (regional, a 100 ms
// timeout, max_failure_ratio 0.5), with room for benchMidway's history:
// max_consecutive 2, one tolerable failure.
func benchConfig() Config {
	cfg := DefaultConfig()
	cfg.TimeoutMs, cfg.TolerableFailures = 100, 1
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio, cfg.Regional.MaxConsecutive = true, 0.5, 2
	return cfg
}

func benchStep(tb testing.TB, s *State, evs ...Event) {
	tb.Helper()
	for _, ev := range evs {
		if _, err := s.Step(ev); err != nil {
			tb.Fatalf("%s: %v", DescribeEvent(s.topo, ev), err)
		}
	}
}

// benchStarted returns a job started from snapshot 1 (every region uses it).
func benchStarted(tb testing.TB, spec JobSpec) *State {
	tb.Helper()
	topo, err := NewTopology(spec)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(topo, benchConfig())
	if err != nil {
		tb.Fatal(err)
	}
	benchStep(tb, s, Event{At: 0, Type: EvStart, Restore: &Restore{Checkpoint: 1, Mode: Claim}})
	return s
}

// benchTriggered is benchStarted with checkpoint 2 triggered at 1.
func benchTriggered(tb testing.TB, spec JobSpec) *State {
	s := benchStarted(tb, spec)
	benchStep(tb, s, Event{At: 1, Type: EvTrigger})
	return s
}

// benchMidway is a state with something in every part the explorer reaches:
// a completed regional checkpoint 2 (region 0 fell back to 1: the store holds
// refs, and the region-skipped notice waits because region 0 is restarting), a
// counted failure (checkpoint 3's metadata write failed), checkpoint 4 pending
// on the regional path with every subtask but the last acked, and an
// unconfirmed config patch.
func benchMidway(tb testing.TB, spec JobSpec) *State {
	s := benchTriggered(tb, spec)
	n := s.topo.NumSubtasks()
	ackOthers := func(at, id int64) {
		for t := 0; t < n; t++ {
			if s.topo.RegionOf(TaskID(t)) != 0 {
				benchStep(tb, s, Event{At: at, Type: EvAck, Checkpoint: id, Task: TaskID(t)})
			}
		}
	}
	benchStep(tb, s, Event{At: 2, Type: EvDecline, Checkpoint: 2, Task: 0})
	ackOthers(2, 2)
	benchStep(tb, s, Event{At: 3, Type: EvPersisted, Checkpoint: 2}, Event{At: 3, Type: EvTaskFailed, Task: 0},
		Event{At: 4, Type: EvTrigger})
	ackOthers(4, 3)
	benchStep(tb, s, Event{At: 5, Type: EvPersistFailed, Checkpoint: 3}, Event{At: 6, Type: EvTrigger},
		Event{At: 6, Type: EvConfigPatch, Request: 1, HasTimeout: true, TimeoutMs: 50})
	if len(s.pending) != 1 || len(s.known) < 2 || len(s.known[len(s.known)-1].refs) == 0 || len(s.skipped) == 0 ||
		len(s.patches) == 0 || len(s.countedIDs) == 0 || s.regionsDown == 0 {
		tb.Fatalf("setup: %d pending, %d known, %d skipped, %d patches, %d counted, %d regions down",
			len(s.pending), len(s.known), len(s.skipped), len(s.patches), len(s.countedIDs), s.regionsDown)
	}
	id := s.pending[0].id
	for t := 0; t < n-1; t++ {
		benchStep(tb, s, Event{At: 7, Type: EvAck, Checkpoint: id, Task: TaskID(t)})
	}
	if s.pending[0].waitingCount != 1 {
		tb.Fatalf("setup: checkpoint %d waits for %d acks, want 1", id, s.pending[0].waitingCount)
	}
	return s
}

func BenchmarkClone(b *testing.B) {
	for _, j := range benchJobs {
		s := benchMidway(b, j.spec)
		b.Run("job="+j.name, func(b *testing.B) {
			measure(b, func() { cloneSink = s.Clone() })
		})
	}
}

var (
	benchKey  []byte
	cloneSink *State // makes a clone escape, as the explorer's do
)

func BenchmarkAppendKey(b *testing.B) {
	for _, j := range benchJobs {
		s := benchMidway(b, j.spec)
		b.Run("job="+j.name, func(b *testing.B) {
			measure(b, func() { benchKey = s.AppendKey(benchKey[:0]) })
			b.ReportMetric(float64(len(benchKey)), "key-bytes")
		})
		// The swap of regions 0 and 1 (Symmetries would list all 50! of 50x2).
		swap := identityPerm(s.topo.NumRegions())
		swap[0], swap[1] = 1, 0
		rl := s.topo.relabelOf(swap)
		rl.TimeBase = s.now
		b.Run("job="+j.name+"/relabeled", func(b *testing.B) {
			measure(b, func() { benchKey = s.AppendKeyRelabeled(benchKey[:0], &rl) })
		})
	}
}

// benchEvent is a hot event of the explorer and the state it is applied to.
type benchEvent struct {
	name  string
	state func(testing.TB, JobSpec) *State
	event func(*State) Event
}

// lastTask is the highest subtask: the one benchMidway leaves unacked.
func lastTask(s *State) TaskID { return TaskID(s.topo.NumSubtasks() - 1) }

var benchEvents = []benchEvent{
	{"ack", benchTriggered, func(s *State) Event { return Event{At: 2, Type: EvAck, Checkpoint: 2, Task: 0} }},
	{"ack-last", benchMidway, func(s *State) Event {
		return Event{At: 8, Type: EvAck, Checkpoint: s.pending[0].id, Task: lastTask(s)}
	}},
	{"decline", benchTriggered, func(s *State) Event { return Event{At: 2, Type: EvDecline, Checkpoint: 2, Task: 0} }},
	{"trigger", benchStarted, func(s *State) Event { return Event{At: 1, Type: EvTrigger} }},
	{"tick", benchTriggered, func(s *State) Event { return Event{At: 50, Type: EvTick} }},
	{"expire", benchTriggered, func(s *State) Event { return Event{At: 200, Type: EvTick} }},
	{"task-failed", benchTriggered, func(s *State) Event { return Event{At: 2, Type: EvTaskFailed, Task: 0} }},
	{"recover", benchMidway, func(s *State) Event { return Event{At: 8, Type: EvRecover} }},
	{"persisted", benchPersisting, func(s *State) Event {
		return Event{At: 9, Type: EvPersisted, Checkpoint: s.pending[0].id}
	}},
}

// benchPersisting is benchMidway with its last ack in: the pending
// checkpoint is sealed (regional, region 0 falling back) and waits for its
// metadata write; the persisted event completes it (R23), the explorer's
// commonest completion.
func benchPersisting(tb testing.TB, spec JobSpec) *State {
	s := benchMidway(tb, spec)
	benchStep(tb, s, Event{At: 8, Type: EvAck, Checkpoint: s.pending[0].id, Task: lastTask(s)})
	if !s.pending[0].persisting {
		tb.Fatalf("setup: checkpoint %d is not persisting", s.pending[0].id)
	}
	return s
}

// BenchmarkCloneStep is the explorer's core step: clone a stored state, step
// the clone with one event.
func BenchmarkCloneStep(b *testing.B) {
	for _, j := range benchJobs {
		for _, be := range benchEvents {
			s := be.state(b, j.spec)
			ev := be.event(s)
			b.Run(fmt.Sprintf("job=%s/event=%s", j.name, be.name), func(b *testing.B) {
				measure(b, func() {
					cloneSink = s.Clone()
					if _, err := cloneSink.Step(ev); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}
