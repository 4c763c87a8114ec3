package driver

import (
	"errors"
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
)

// Ack is one subtask's acknowledgement of a checkpoint (R16), the unit of
// AckBatch: StateSize and CheckpointedSize are the sizes the subtask reported
// (bytes: its full state and what it uploaded for this checkpoint, Flink's
// state_size and checkpointed_size); zero when unknown.
type Ack struct {
	Checkpoint int64
	Task       fsm.TaskID

	StateSize, CheckpointedSize int64
}

// event is the ack as the core's event (its time is set when it is applied).
func (a *Ack) event() fsm.Event {
	return fsm.Event{Type: fsm.EvAck, Checkpoint: a.Checkpoint, Task: a.Task,
		StateSize: a.StateSize, CheckpointedSize: a.CheckpointedSize}
}

// AckBatch reports many acknowledgements at once, for a runtime that receives
// them in bulk: they are applied in slice order, one after the other, in a
// single turn of the event loop (no other event comes between them). An ack
// the core refuses (an *fsm.EventError: a subtask the job does not have, a
// negative size) changes nothing and does not stop the others; the returned
// error joins one *AckError per refused ack, or is ErrClosed.
func (d *Driver) AckBatch(acks []Ack) error {
	if len(acks) == 0 {
		return nil
	}
	var errs []error
	if err := d.call(func() {
		for i := range acks {
			if err := d.stepEvent(acks[i].event()); err != nil {
				errs = append(errs, &AckError{Index: i, Ack: acks[i], Err: err})
			}
		}
	}); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// AckError is an ack of a batch that the core refused; Err is the core's
// error (an *fsm.EventError).
type AckError struct {
	Index int // its position in the batch
	Ack   Ack
	Err   error
}

// Error names the ack and the core's reason.
func (e *AckError) Error() string {
	return fmt.Sprintf("ack %d (checkpoint %d, subtask %d): %v", e.Index, e.Ack.Checkpoint, e.Ack.Task, e.Err)
}

// Unwrap returns the core's error.
func (e *AckError) Unwrap() error { return e.Err }
