package driver

import "github.com/ckptcore/ckptcore/fsm"

// Ack is one subtask's acknowledgement of a checkpoint (R16), the unit of
// AckBatch: StateSize and CheckpointedSize are the sizes the subtask reported
// (bytes: its full state and what it uploaded for this checkpoint, Flink's
// state_size and checkpointed_size); zero when unknown. Handle is the
// subtask's state for the checkpoint (zero: none), which goes into the
// checkpoint's _metadata file (docs/spec/METADATA.md); it needs
// Options.CheckpointsDir, else the ack is refused (ErrNoCheckpointStorage).
type Ack struct {
	Checkpoint int64
	Task       fsm.TaskID

	StateSize, CheckpointedSize int64

	Handle StateHandle
}

// event is the ack as the core's event (its time is set when it is applied).
func (a *Ack) event() fsm.Event {
	return fsm.Event{Type: fsm.EvAck, Checkpoint: a.Checkpoint, Task: a.Task,
		StateSize: a.StateSize, CheckpointedSize: a.CheckpointedSize}
}

// AckBatch reports many acknowledgements at once, for a runtime that receives
// them in bulk: it queues them in slice order with one lock per up to
// ingestLimit acks and returns without waiting for the core, like Ack (see
// the event methods in api.go: order, back-pressure, ErrClosed, and how a
// refused ack is reported — to Options.OnRefused, not to the caller). The
// slice is not kept: the caller may reuse it at once.
func (d *Driver) AckBatch(acks []Ack) error {
	return d.in.pushAcks(acks)
}
