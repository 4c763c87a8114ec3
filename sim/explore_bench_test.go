package sim

import (
	"fmt"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz"
)

// benchRegional2x1 is the regional 2×1 model of issue 17's measurements: two
// one-subtask regions started from a snapshot, three checkpoints, a decline,
// a task failure, a coordinator failover, a config patch and one deadline.
func benchRegional2x1() fuzz.Model {
	cfg := fsm.DefaultConfig()
	cfg.TimeoutMs = 100
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio, cfg.Regional.MaxConsecutive = true, 0.5, 1
	return fuzz.Model{
		Name:   "bench-regional-2x1",
		Job:    fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2, Coordinator: fsm.CoordinatorFallback}}},
		Config: cfg,
		Start:  fsm.Event{Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1, Mode: fsm.Claim}},
		Budget: fuzz.Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, Recovers: 1, Patches: 1, Advances: 1},
		Patch:  fsm.Event{Type: fsm.EvConfigPatch, HasTimeout: true, TimeoutMs: 50},
	}
}

// BenchmarkExplore measures the exhaustive explorer (fuzz.Explore) over a
// complete exploration of the regional 2×1 model on 1 and 2 workers: distinct
// nodes and distinct core states per second of wall time, and per second of
// CPU time (the machine is shared; see cpuTime). Each node is expanded from
// its interned core state and checkers' memory; a step or check is computed
// only the first time its (core state up to a clock shift, event) or
// (memory, core step) is met (fuzz/explore_memo.go).
//
//	go test -run '^$' -bench BenchmarkExplore -benchmem ./sim/
func BenchmarkExplore(b *testing.B) {
	for _, sym := range []bool{false, true} {
		for _, w := range []int{1, 2} {
			name := fmt.Sprintf("workers=%d", w)
			if sym {
				name += "/symmetry"
			}
			b.Run(name, func(b *testing.B) { benchExplore(b, benchRegional2x1(), fuzz.Options{Workers: w, Symmetry: sym}) })
		}
	}
}

// BenchmarkExploreTLC is the explorer's side of make explore-vs-tlc: the
// tlc-2x1 model (fuzz/explore_models.go, the model tla/MCExploreCompare.cfg
// corresponds to) on one worker with symmetry, explored b.N times in one
// process, so its rate is the exploration's own and not that of starting a
// process and warming its heap (one exploration of this model is a few tens of
// milliseconds; a process start is a large share of it). TLC's side runs once
// for about a minute, so its JVM start and parse are a few percent of it.
//
//	go test -run '^$' -bench BenchmarkExploreTLC -benchtime 20x ./sim/
func BenchmarkExploreTLC(b *testing.B) {
	m, err := fuzz.ModelByName("tlc-2x1")
	if err != nil {
		b.Fatal(err)
	}
	benchExplore(b, m, fuzz.Options{Workers: 1, Symmetry: true})
}

func benchExplore(b *testing.B, m fuzz.Model, opt fuzz.Options) {
	var nodes, states, trans int
	b.ReportAllocs()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		res := fuzz.Explore(m, opt)
		if res.Violation != nil {
			b.Fatalf("%s: %s", res.Violation.Invariant, res.Violation.Detail)
		}
		if !res.Complete {
			b.Fatal("exploration not complete")
		}
		nodes, states, trans = res.Nodes, res.CoreStates, res.Transitions
	}
	sec := b.Elapsed().Seconds()
	cpu := (cpuTime() - cpu0).Seconds()
	n := float64(b.N)
	b.ReportMetric(float64(nodes)*n/sec, "nodes/s")
	b.ReportMetric(float64(states)*n/sec, "states/s")
	b.ReportMetric(float64(nodes)*n/cpu, "nodes/cpu-s")
	b.ReportMetric(float64(states)*n/cpu, "states/cpu-s")
	b.ReportMetric(float64(trans)*n/cpu, "transitions/cpu-s")
	b.ReportMetric(float64(nodes), "nodes")
}
