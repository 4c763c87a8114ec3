package fsm_test

import (
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
)

// The README's embedding example, kept compiling and correct by go test.
func Example() {
	topo, _ := fsm.NewTopology(fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}}, // pointwise, pipelined: 2 regions
	})
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 1000
	core, _ := fsm.New(topo, cfg)
	core.Step(fsm.Event{At: 0, Type: fsm.EvStart})
	effects, _ := core.Step(fsm.Event{At: 1000, Type: fsm.EvTick})
	for _, e := range effects {
		fmt.Println(fsm.DescribeEffect(topo, e))
	}
	next, ok := core.NextDeadline()
	fmt.Println(next, ok)
	// Output:
	// persist_id_counter next_id=2
	// trigger 1 checkpoint deadline=601000 tasks=[src/0-1 sink/0-1]
	// 2000 true
}
