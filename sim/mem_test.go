package sim

import (
	"runtime"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// stateBytes measures the live heap of a job's Topology, and of a started State
// with one pending checkpoint on it, for a job of the given shape.
func stateBytes(tb testing.TB, shape Shape) (topoBytes, stateBytes uint64, n int) {
	tb.Helper()
	spec, err := shape.Spec()
	if err != nil {
		tb.Fatal(err)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	h0 := heap()
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		tb.Fatal(err)
	}
	h1 := heap()
	cfg := DefaultParams(1).Config
	cfg.IntervalMs = 0
	s, err := fsm.New(topo, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	mustStep(tb, s, fsm.Event{At: 0, Type: fsm.EvStart})
	trigger(tb, s, 1)
	h2 := heap()
	runtime.KeepAlive(s)
	runtime.KeepAlive(topo)
	return h1 - h0, h2 - h1, topo.NumSubtasks()
}

// memShapes are two 100,000-subtask jobs: the experiments' shape (50,000
// two-subtask regions, the worst case for per-region tables) and 1,000 wide
// regions of 100 subtasks.
var memShapes = []struct {
	name  string
	shape Shape
}{
	{"regions=50000", ParallelShape(50_000)},
	{"regions=1000", Shape{Regions: 1000, Depth: 2, Fanout: 99, Coordinator: fsm.CoordinatorFallback}},
}

// TestStateBytesPerSubtask holds the memory target of BENCHMARKS.md: a State
// with one pending checkpoint takes at most 200 bytes per subtask, and so does
// its Topology.
func TestStateBytesPerSubtask(t *testing.T) {
	for _, c := range memShapes {
		topo, state, n := stateBytes(t, c.shape)
		perTopo, perState := float64(topo)/float64(n), float64(state)/float64(n)
		t.Logf("%s: %d subtasks: topology %.1f B/subtask, state with one pending checkpoint %.1f B/subtask",
			c.name, n, perTopo, perState)
		if perState > 200 || perTopo > 200 {
			t.Errorf("%s: %.1f + %.1f bytes per subtask, want <= 200 each", c.name, perTopo, perState)
		}
	}
}

// BenchmarkStateBytes reports the same measurement as metrics, for comparison
// across commits; the time it reports is that of building the job and state.
func BenchmarkStateBytes(b *testing.B) {
	for _, c := range memShapes {
		b.Run(c.name, func(b *testing.B) {
			var topo, state uint64
			var n int
			for i := 0; i < b.N; i++ {
				topo, state, n = stateBytes(b, c.shape)
			}
			b.ReportMetric(float64(topo)/float64(n), "topo-B/subtask")
			b.ReportMetric(float64(state)/float64(n), "state-B/subtask")
			b.ReportMetric(float64(n), "subtasks")
		})
	}
}
