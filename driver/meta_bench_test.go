package driver

import (
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// BenchmarkHandleTrack: what the event loop adds per ack that carries a state
// handle (keeping it for the checkpoint's metadata): O(1), no allocation.
func BenchmarkHandleTrack(b *testing.B) {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "v", Parallelism: 1000}}})
	if err != nil {
		b.Fatal(err)
	}
	t := newHandleTracker(topo)
	t.track(fsm.Event{Type: fsm.EvTick}, StateHandle{}, []fxItem{{eff: fsm.Effect{Type: fsm.EffTrigger, Checkpoint: 1}}})
	h := StateHandle{URI: "s3://bucket/job/chk-1/v-0", Size: 1 << 20}
	ev := fsm.Event{Type: fsm.EvAck, Checkpoint: 1}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		ev.Task = fsm.TaskID(i % 1000)
		if err := t.checkAck(h); err != nil {
			b.Fatal(err)
		}
		t.track(ev, h, nil)
		i++
	}
}
