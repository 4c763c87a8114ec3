package sim

import (
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz"
)

// BenchmarkExplore measures the exhaustive explorer (fuzz.Explore): distinct
// nodes per second over a complete exploration of a small regional model — two
// one-subtask regions started from a snapshot, three checkpoints, a decline, a
// task failure, a coordinator failover, a config patch and one deadline. The
// explorer replays each node's path to rebuild its invariant checker, so its
// rate is bounded by path length × the core's step cost.
func BenchmarkExplore(b *testing.B) {
	cfg := fsm.DefaultConfig()
	cfg.TimeoutMs = 100
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio, cfg.Regional.MaxConsecutive = true, 0.5, 1
	m := fuzz.Model{
		Name:   "bench-regional-2x1",
		Job:    fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2, Coordinator: fsm.CoordinatorFallback}}},
		Config: cfg,
		Start:  fsm.Event{Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1, Mode: fsm.Claim}},
		Budget: fuzz.Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, Recovers: 1, Patches: 1, Advances: 1},
		Patch:  fsm.Event{Type: fsm.EvConfigPatch, HasTimeout: true, TimeoutMs: 50},
	}
	var nodes, states int
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		res := fuzz.Explore(m, fuzz.Options{})
		if res.Violation != nil {
			b.Fatalf("%s: %s", res.Violation.Invariant, res.Violation.Detail)
		}
		if !res.Complete {
			b.Fatal("exploration not complete")
		}
		nodes, states = res.Nodes, res.CoreStates
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(nodes)*float64(b.N)/sec, "nodes/s")
	b.ReportMetric(float64(states)*float64(b.N)/sec, "states/s")
	b.ReportMetric(float64(nodes), "nodes")
}
