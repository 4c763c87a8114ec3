package fsm

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// ackSize is the size the property test's subtask task reports for checkpoint
// id: fixed per (id, task), so a duplicate ack repeats it.
func ackSize(id int64, task TaskID) (state, checkpointed int64) {
	return id*1000 + int64(task) + 1, int64(task)*7 + id
}

// TestAckSizesTotalTheKeptAcks is the property behind the persist and completed
// totals: on every path (global, regional with failed regions, forced global,
// expiries, failovers), a persist effect's sizes are the sums over exactly the
// subtasks whose ack the checkpoint kept (PendingInfo.Acked), and its completed
// effect repeats them.
func TestAckSizesTotalTheKeptAcks(t *testing.T) {
	topo, err := NewTopology(JobSpec{Vertices: []VertexSpec{
		{ID: "src", Parallelism: 6, Coordinator: CoordinatorFallback}, {ID: "sink", Parallelism: 6}},
		Edges: []EdgeSpec{{From: "src", To: "sink"}}})
	if err != nil {
		t.Fatal(err)
	}
	n := TaskID(topo.NumSubtasks())
	persists, regional, global := 0, 0, 0
	for seed := uint64(0); seed < 60; seed++ {
		rng := rand.New(rand.NewPCG(seed, 16))
		cfg := DefaultConfig()
		cfg.IntervalMs = 100
		cfg.TimeoutMs = 3000
		cfg.MaxConcurrent = 2
		cfg.TolerableFailures = 1000
		cfg.Regional.Enabled = seed%3 != 0
		cfg.Regional.MaxFailureRatio = 0.5
		s, err := New(topo, cfg)
		if err != nil {
			t.Fatal(err)
		}
		at := int64(0)
		want := map[int64][2]int64{}
		// step applies one event and checks its effects while the State still
		// shows the checkpoint they name.
		step := func(ev Event) {
			ev.At = at
			effs, err := s.Step(ev)
			if err != nil {
				t.Fatalf("seed %d: %s: %v", seed, DescribeEvent(topo, ev), err)
			}
			for _, e := range effs {
				switch e.Type {
				case EffPersist:
					var st, ck int64
					found := false
					for _, p := range s.Pending() {
						found = found || p.ID == e.Checkpoint
						for id := TaskID(0); p.ID == e.Checkpoint && id < n; id++ {
							if p.Acked(id) {
								a, b := ackSize(e.Checkpoint, id)
								st, ck = st+a, ck+b
							}
						}
					}
					if !found {
						continue // aborted by the same step (a failover): it never completes
					}
					if e.StateSize != st || e.CheckpointedSize != ck {
						t.Fatalf("seed %d: %s: want state_size=%d checkpointed_size=%d", seed, DescribeEffect(topo, e), st, ck)
					}
					want[e.Checkpoint] = [2]int64{st, ck}
					persists++
					if e.Mode == ModeRegional {
						regional++
					} else {
						global++
					}
				case EffCompleted:
					if w := want[e.Checkpoint]; e.StateSize != w[0] || e.CheckpointedSize != w[1] {
						t.Fatalf("seed %d: %s: the persist effect said %v", seed, DescribeEffect(topo, e), w)
					}
				}
			}
		}
		step(Event{Type: EvStart, Restore: &Restore{Checkpoint: 1}})
		for i := 0; i < 400; i++ {
			at += int64(rng.IntN(30))
			task := TaskID(rng.IntN(int(n)))
			switch u := rng.IntN(100); {
			case u < 80:
				id := s.NextID() - 1 - int64(rng.IntN(2))
				if id < 2 {
					continue
				}
				st, ck := ackSize(id, task)
				step(Event{Type: EvAck, Checkpoint: id, Task: task, StateSize: st, CheckpointedSize: ck})
			case u < 83:
				step(Event{Type: EvDecline, Checkpoint: s.NextID() - 1, Task: task})
			case u < 85:
				step(Event{Type: EvTaskFailed, Task: task})
			case u < 90:
				for id := TaskID(0); id < n; id++ {
					if !s.TaskRunning(id) && !s.TaskFinished(id) {
						step(Event{Type: EvTaskRunning, Task: id})
					}
				}
			default:
				for _, p := range s.Pending() {
					if p.Persisting {
						step(Event{Type: EvPersisted, Checkpoint: p.ID})
						break
					}
				}
				step(Event{Type: EvTick})
			}
		}
	}
	// The property must have been exercised on both paths.
	t.Logf("%d persists checked: %d regional, %d global", persists, regional, global)
	if regional < 20 || global < 10 {
		t.Fatalf("%d persists, %d regional, %d global: the generator does not reach both paths", persists, regional, global)
	}
}

// TestAckSizesDropAFailedRegion: a region that fails after acking takes its
// sizes out of the regional completion (R18: its acks are dropped).
func TestAckSizesDropAFailedRegion(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IntervalMs = 1000
	cfg.Regional.Enabled = true
	cfg.Regional.MaxFailureRatio = 0.5
	s := twoByTwo(t, cfg)
	out := run(t, s,
		Event{At: 0, Type: EvStart, Restore: &Restore{Checkpoint: 1}},
		Event{At: 1000, Type: EvTick}, // checkpoint 2; regions r0 = {src/0, sink/0}, r1 = {src/1, sink/1}
		Event{At: 1010, Type: EvAck, Checkpoint: 2, Task: 0, StateSize: 100, CheckpointedSize: 10},
		Event{At: 1010, Type: EvAck, Checkpoint: 2, Task: 1, StateSize: 200, CheckpointedSize: 20},
		Event{At: 1010, Type: EvAck, Checkpoint: 2, Task: 2, StateSize: 300, CheckpointedSize: 30},
		Event{At: 1020, Type: EvDecline, Checkpoint: 2, Task: 3},
		Event{At: 1030, Type: EvPersisted, Checkpoint: 2},
	)
	got := strings.Join(out, "\n")
	// r1 (src/1, sink/1) failed: only src/0 and sink/0 count.
	for _, want := range []string{"persist 2 checkpoint regional consecutive=1 older_refs={r1->1} state_size=400 checkpointed_size=40",
		"completed 2 checkpoint regional consecutive=1 older_refs={r1->1} state_size=400 checkpointed_size=40"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// TestAckSizesValidated: sizes are byte counts below 2^53 and only an ack has
// them; a bad one is refused with the field named and the state unchanged.
func TestAckSizesValidated(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IntervalMs = 1000
	s := twoByTwo(t, cfg)
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1000, Type: EvTick})
	for _, c := range []struct {
		ev    Event
		field string
	}{
		{Event{At: 1001, Type: EvAck, Checkpoint: 1, Task: 0, StateSize: -1}, "state_size"},
		{Event{At: 1001, Type: EvAck, Checkpoint: 1, Task: 0, CheckpointedSize: MaxSafeInt + 1}, "checkpointed_size"},
		{Event{At: 1001, Type: EvDecline, Checkpoint: 1, Task: 0, StateSize: 5}, "state_size"},
		{Event{At: 1001, Type: EvTick, CheckpointedSize: 5}, "checkpointed_size"},
	} {
		effs, err := s.Step(c.ev)
		ee, ok := err.(*EventError)
		if !ok || ee.Field != c.field || effs != nil {
			t.Errorf("%+v: got %v, want an error on %s", c.ev, err, c.field)
		}
	}
	if p := s.Pending(); len(p) != 1 || p[0].Acked(0) || s.Now() != 1000 {
		t.Fatalf("a refused event changed the state")
	}
	// The largest sizes saturate rather than overflow.
	for id := TaskID(0); id < 4; id++ {
		run(t, s, Event{At: 1001, Type: EvAck, Checkpoint: 1, Task: id, StateSize: MaxSafeInt, CheckpointedSize: MaxSafeInt})
	}
	out := strings.Join(run(t, s, Event{At: 1002, Type: EvPersisted, Checkpoint: 1}), "\n")
	if !strings.Contains(out, "completed 1 checkpoint global consecutive=0 state_size=9007199254740991 checkpointed_size=9007199254740991") {
		t.Fatalf("saturated totals missing in\n%s", out)
	}
}

// BenchmarkAckWithSizes acks every subtask but one of a regional checkpoint
// of a 10,000-region job, with sizes and without: the sizes cost one
// allocation per checkpoint (the per-region sums, at its first sized ack) and
// none per ack (go test -bench AckWithSizes -benchmem ./fsm/; ns/ack is per
// ack).
func BenchmarkAckWithSizes(b *testing.B) {
	const n = 10_000
	topo, err := NewTopology(JobSpec{Vertices: []VertexSpec{{ID: "src", Parallelism: n, Coordinator: CoordinatorFallback},
		{ID: "sink", Parallelism: n}}, Edges: []EdgeSpec{{From: "src", To: "sink"}}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.IntervalMs = 1000
	cfg.Regional.Enabled = true
	base, err := New(topo, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, ev := range []Event{{At: 0, Type: EvStart, Restore: &Restore{Checkpoint: 1}}, {At: 1000, Type: EvTick}} {
		if _, err := base.Step(ev); err != nil {
			b.Fatal(err)
		}
	}
	acks := TaskID(topo.NumSubtasks() - 1)
	for _, c := range []struct {
		name string
		size int64
	}{{"sizes", 1 << 20}, {"no-sizes", 0}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				s := base.Clone()
				b.StartTimer()
				for id := TaskID(0); id < acks; id++ {
					if _, err := s.Step(Event{At: 1001, Type: EvAck, Checkpoint: 2, Task: id, StateSize: c.size, CheckpointedSize: c.size}); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(acks), "ns/ack")
		})
	}
}
