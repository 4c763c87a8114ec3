package timeline

import (
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestBuilderBounded: with a bound, a builder keeps the latest checkpoints,
// lines and failovers only, while its summary still counts everything.
func TestBuilderBounded(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBuilder(topo, fsm.DefaultConfig(), 5)
	for i := int64(1); i <= 50; i++ {
		b.Step(fsm.Event{At: i * 10, Type: fsm.EvTaskFailed, Task: 0}, []fsm.Effect{
			{Type: fsm.EffTrigger, Checkpoint: i, At: i * 10},
			{Type: fsm.EffConfigApplied, At: i * 10, IntervalMs: 1000, TimeoutMs: 2000},
			{Type: fsm.EffCompleted, Checkpoint: i, At: i*10 + 5},
		})
	}
	if len(b.ckpts) != 5 || b.ckpts[0].id != 46 || len(b.lines) > 5 || len(b.failovers) > 20 {
		t.Fatalf("kept %d checkpoints from %d, %d lines, %d failovers", len(b.ckpts), b.ckpts[0].id, len(b.lines), len(b.failovers))
	}
	if b.triggered != 50 || b.completedGlobal != 50 {
		t.Fatalf("summary counts %d triggered, %d completed", b.triggered, b.completedGlobal)
	}
}
