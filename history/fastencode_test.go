package history

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestAppendEventIsEncodeEvent: AppendEvent writes exactly EncodeEvent's line
// for events of every type, valid or not, with and without effects, after
// whatever b already holds — the property the flight recorder's fast path
// rests on — and leaves b's length alone when it fails; so does a
// LineEncoder fed the same sequence.
func TestAppendEventIsEncodeEvent(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{
		{ID: `src"α\`, Parallelism: 3}, {ID: "sink", Parallelism: 12}}})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(19, 1))
	reasons := []fsm.Reason{"", fsm.ReasonDeclined, "a \"quoted\" reason\n"}
	effects := [][]fsm.Effect{nil, {}, {{Type: fsm.EffPersistIDCounter, NextID: 3}}}
	prefix := []byte("earlier line\n")
	enc := NewLineEncoder(topo)
	for i := range 20000 {
		// Few times and checkpoints, so that LineEncoder's remembered prefix
		// is reused, and must be renewed, often.
		ev := fsm.Event{
			Type:       fsm.EventType(rng.IntN(int(fsm.EvRecover) + 2)), // one beyond: unknown
			At:         1<<44 + rng.Int64N(3),
			Checkpoint: rng.Int64N(3),
			Task:       fsm.TaskID(rng.IntN(17) - 1), // -1 and 15, 16: not in the job
			Reason:     reasons[rng.IntN(len(reasons))],
			Kind:       fsm.KindCheckpoint,
			Request:    rng.Int64N(5),
		}
		if rng.IntN(2) == 0 {
			ev.StateSize, ev.CheckpointedSize = rng.Int64N(1<<40), rng.Int64N(3)
		}
		effs := effects[rng.IntN(len(effects))]
		want, wantErr := EncodeEvent(topo, ev, effs)
		got, gotErr := AppendEvent(append([]byte(nil), prefix...), topo, ev, effs)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("case %d %+v: EncodeEvent error %v, AppendEvent error %v", i, ev, wantErr, gotErr)
		}
		if wantErr != nil {
			if !bytes.Equal(got, prefix) {
				t.Fatalf("case %d: a failed AppendEvent changed b: %q", i, got)
			}
			continue
		}
		if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("case %d %+v:\nAppendEvent %s\nEncodeEvent %s", i, ev, got[len(prefix):], want)
		}
		if got, _ := enc.Append(append([]byte(nil), prefix...), ev, effs); !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("case %d %+v:\nLineEncoder %s\nEncodeEvent %s", i, ev, got[len(prefix):], want)
		}
	}
}

// TestLineEncoderStateIsEncodeEventState: with state handles (valid, out of
// bounds, on the wrong event type), LineEncoder.AppendState writes exactly
// EncodeEventState's line, or fails where it fails, leaving b's length alone.
func TestLineEncoderStateIsEncodeEventState(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 4}, {ID: "sink", Parallelism: 4}}})
	if err != nil {
		t.Fatal(err)
	}
	handles := []StateHandle{{}, {URI: "file:///ckpt/chk-1/src-0", Size: 1024}, {Inline: []byte("hello"), Size: 5},
		{Inline: []byte("hello"), Size: 4}, {Size: 0, URI: "s3://b/\"quoted\""}, {URI: "x", Inline: []byte("y"), Size: 1}}
	rng := rand.New(rand.NewPCG(19, 2))
	enc := NewLineEncoder(topo)
	prefix := []byte("x\n")
	for i := range 5000 {
		ev := fsm.Event{Type: []fsm.EventType{fsm.EvAck, fsm.EvAck, fsm.EvDecline, fsm.EvTick}[rng.IntN(4)],
			At: 5 + rng.Int64N(2), Checkpoint: 1 + rng.Int64N(2), Task: fsm.TaskID(rng.IntN(9)),
			Reason: []fsm.Reason{"", fsm.ReasonDeclined}[rng.IntN(2)], StateSize: rng.Int64N(2) * 100}
		h := handles[rng.IntN(len(handles))]
		effs := [][]fsm.Effect{nil, {}}[rng.IntN(2)]
		want, wantErr := EncodeEventState(topo, ev, h, effs)
		got, gotErr := enc.AppendState(append([]byte(nil), prefix...), ev, h, effs)
		if (wantErr != nil) != (gotErr != nil) {
			t.Fatalf("case %d %+v %+v: EncodeEventState error %v, AppendState error %v", i, ev, h, wantErr, gotErr)
		}
		if wantErr != nil {
			if !bytes.Equal(got, prefix) {
				t.Fatalf("case %d: a failed AppendState changed b: %q", i, got)
			}
			continue
		}
		if !bytes.Equal(got[len(prefix):], want) {
			t.Fatalf("case %d %+v %+v:\nAppendState      %s\nEncodeEventState %s", i, ev, h, got[len(prefix):], want)
		}
	}
}

// TestAppendEventAllocatesNothing: an ack line goes into a buffer with room
// without an allocation (the flight recorder's per-ack cost, issue 19).
func TestAppendEventAllocatesNothing(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "v", Parallelism: 100000}}})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	ev := fsm.Event{Type: fsm.EvAck, At: 1_700_000_000_000, Checkpoint: 7, Task: 99999, StateSize: 1 << 20}
	if n := testing.AllocsPerRun(100, func() { buf, _ = AppendEvent(buf[:0], topo, ev, []fsm.Effect{}) }); n != 0 {
		t.Fatalf("AppendEvent of an ack: %v allocations, want 0", n)
	}
	enc := NewLineEncoder(topo)
	if n := testing.AllocsPerRun(100, func() { buf, _ = enc.Append(buf[:0], ev, []fsm.Effect{}) }); n != 0 {
		t.Fatalf("LineEncoder.Append of an ack: %v allocations, want 0", n)
	}
}
