package driver

import (
	"errors"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestAckBatchCompletesAndReportsRefusals: a batch's acks are applied in
// order — the valid ones complete the checkpoint with their sizes — and a
// refused one reaches Options.OnRefused with the core's error, without
// stopping the rest.
func TestAckBatchCompletesAndReportsRefusals(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(1000))
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	batch := []Ack{
		{Checkpoint: 1, Task: 0, StateSize: 100, CheckpointedSize: 1},
		{Checkpoint: 1, Task: 1, StateSize: 101, CheckpointedSize: 1},
		{Checkpoint: 1, Task: 99, StateSize: 1},
		{Checkpoint: 1, Task: 2, StateSize: 102, CheckpointedSize: 1},
		{Checkpoint: 1, Task: 3, StateSize: 103, CheckpointedSize: 1},
	}
	if err := h.d.AckBatch(batch); err != nil {
		t.Fatal(err)
	}
	e := h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	if e.StateSize != 406 || e.CheckpointedSize != 4 {
		t.Fatalf("completed sizes %d/%d, want 406/4", e.StateSize, e.CheckpointedSize)
	}
	h.flush()
	var ee *fsm.EventError
	if r := h.exec.refused(); len(r) != 1 || r[0].ev.Task != 99 || r[0].ev.StateSize != 1 || !errors.As(r[0].err, &ee) {
		t.Fatalf("OnRefused calls %+v, want the ack from subtask 99", r)
	}
	if err := h.d.AckBatch(nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	h.d.Close()
	if err := h.d.AckBatch(batch[:1]); !errors.Is(err, ErrClosed) {
		t.Fatalf("AckBatch after Close: %v, want ErrClosed", err)
	}
}
