package driver

import (
	"errors"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestAckBatchCompletesAndReportsRefusals: a batch's acks are applied in
// order — the valid ones complete the checkpoint with their sizes — and a
// refused one is reported with its position and the core's error, without
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
	err := h.d.AckBatch(batch)
	var ae *AckError
	var ee *fsm.EventError
	if !errors.As(err, &ae) || ae.Index != 2 || ae.Ack.Task != 99 || !errors.As(err, &ee) {
		t.Fatalf("AckBatch error %v, want an *AckError for index 2 wrapping an *fsm.EventError", err)
	}
	e := h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	if e.StateSize != 406 || e.CheckpointedSize != 4 {
		t.Fatalf("completed sizes %d/%d, want 406/4", e.StateSize, e.CheckpointedSize)
	}
	if err := h.d.AckBatch(nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	h.d.Close()
	if err := h.d.AckBatch(batch[:1]); !errors.Is(err, ErrClosed) {
		t.Fatalf("AckBatch after Close: %v, want ErrClosed", err)
	}
}
