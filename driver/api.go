package driver

import (
	"context"
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
)

// The event methods below — a subtask's messages, Flink's fire-and-forget
// acknowledgeCheckpoint/declineCheckpoint RPCs and task state updates — queue
// one event for the core and return at once, without waiting for the core
// (ingest: they allocate nothing and take a mutex for a few nanoseconds). The
// event is applied at the time the event loop takes it; events of one caller
// are applied in the order it submitted them, and before any later request of
// the same caller (Sync, Status, Trigger, PatchConfig), so a caller that needs
// "applied" calls Sync. When the queue is full the call waits for room
// (back-pressure: memory stays bounded).
//
// The error is ErrClosed after Close (an event queued but not yet applied when
// Close comes is dropped, as a crash would drop it). An event the core
// refuses (invalid input: an *fsm.EventError, e.g. a subtask the job does
// not have; the core is unchanged) is not returned — the call has returned by
// then — but reported to Options.OnRefused, warned to the Executor
// (CodeEventRefused), written to the flight file as a comment line and counted
// in Status.RefusedEvents (docs/DECISIONS.md, "Fire-and-forget events").

// Ack reports that a subtask acknowledged a checkpoint (R16).
func (d *Driver) Ack(checkpoint int64, task fsm.TaskID) error {
	return d.in.push(item{typ: fsm.EvAck, ack: Ack{Checkpoint: checkpoint, Task: task}})
}

// AckWithSizes reports an acknowledgement with the sizes the subtask reported
// (bytes: its full state and what it uploaded for this checkpoint, Flink's
// state_size and checkpointed_size); persist and completed effects and the
// REST API report their totals.
func (d *Driver) AckWithSizes(checkpoint int64, task fsm.TaskID, stateSize, checkpointedSize int64) error {
	return d.in.push(item{typ: fsm.EvAck, ack: Ack{Checkpoint: checkpoint, Task: task,
		StateSize: stateSize, CheckpointedSize: checkpointedSize}})
}

// Decline reports that a subtask declined a checkpoint; reason "" means
// fsm.ReasonDeclined (R17, R18, R30).
func (d *Driver) Decline(checkpoint int64, task fsm.TaskID, reason fsm.Reason) error {
	return d.in.push(item{typ: fsm.EvDecline, ack: Ack{Checkpoint: checkpoint, Task: task}, reason: reason})
}

// TaskFailed reports that a subtask failed: its region fails over (R19).
func (d *Driver) TaskFailed(task fsm.TaskID) error {
	return d.in.push(item{typ: fsm.EvTaskFailed, ack: Ack{Task: task}})
}

// TaskRunning reports that a subtask runs (again).
func (d *Driver) TaskRunning(task fsm.TaskID) error {
	return d.in.push(item{typ: fsm.EvTaskRunning, ack: Ack{Task: task}})
}

// TaskFinished reports that a subtask finished its bounded input.
func (d *Driver) TaskFinished(task fsm.TaskID) error {
	return d.in.push(item{typ: fsm.EvTaskFinished, ack: Ack{Task: task}})
}

// Sync waits until the core has applied every event the caller submitted
// before it (and returns ErrClosed after Close): the barrier for a caller that
// needs "applied" — a test, or a runtime that reads Status next. Whether the
// core accepted them is Options.OnRefused's to say.
func (d *Driver) Sync() error {
	return d.call(func() {})
}

// Trigger requests a checkpoint, savepoint or stop-with-savepoint (a manual
// request, R12). Whether and when it gets an id is the core's decision; the
// trigger reaches the Executor like any other.
func (d *Driver) Trigger(kind fsm.Kind) error {
	return d.request(kind, nil)
}

// ConfigPatch is a FLIP-571 change of the checkpoint configuration; a nil field
// keeps its value (R60).
type ConfigPatch struct {
	IntervalMs *int64 // execution.checkpointing.interval; 0 stops periodic checkpoints
	TimeoutMs  *int64 // execution.checkpointing.timeout
}

// PatchRejectedError is a patch the core rejected (config_rejected, R60):
// Reason is the core's text. Nothing changed.
type PatchRejectedError struct {
	Request int64
	Reason  string
}

// Error returns the core's reason.
func (e *PatchRejectedError) Error() string { return e.Reason }

// OverridesNotDurableError says the store could not write a patch's overrides.
// The patch's outcome is then not decided: the core keeps it pending (it has no
// event for a failed overrides write), so it takes effect if a later patch's
// write succeeds — every write carries all accepted patches (R63) — and is
// dropped at the next restart (R50). Repeating the PATCH is safe.
type OverridesNotDurableError struct {
	Request int64
	Err     error
}

// Error names the request and the store's error.
func (e *OverridesNotDurableError) Error() string {
	return fmt.Sprintf("config patch %d: the overrides could not be made durable, so they do not apply: %v", e.Request, e.Err)
}

// Unwrap returns the store's error.
func (e *OverridesNotDurableError) Unwrap() error { return e.Err }

type patchResult struct {
	cfg fsm.EffectiveConfig
	err error
}

// PatchConfig submits a FLIP-571 patch (a config_patch event with a fresh
// request id) and waits until the core applied it — which it does only once
// the overrides are durable in the store (R63) — returning the configuration
// then in force. It returns a *PatchRejectedError for a patch the core refuses
// (an empty patch, a value outside SEMANTICS §2), an *OverridesNotDurableError
// when the store write failed, ctx's error when ctx ends first (the patch then
// still applies if its write succeeds) and ErrClosed.
func (d *Driver) PatchConfig(ctx context.Context, p ConfigPatch) (fsm.EffectiveConfig, error) {
	ev := fsm.Event{Type: fsm.EvConfigPatch}
	if p.IntervalMs != nil {
		ev.HasInterval, ev.IntervalMs = true, *p.IntervalMs
	}
	if p.TimeoutMs != nil {
		ev.HasTimeout, ev.TimeoutMs = true, *p.TimeoutMs
	}
	ch := make(chan patchResult, 1)
	err := d.call(func() {
		d.nextRequest++
		ev.Request = d.nextRequest
		d.waiters[ev.Request] = ch
		if err := d.stepEvent(ev); err != nil {
			// fsm's validation is the one check of the values' range.
			d.answer(ev.Request, patchResult{err: &PatchRejectedError{Request: ev.Request, Reason: err.Error()}})
		}
	})
	if err != nil {
		return fsm.EffectiveConfig{}, err
	}
	select {
	case r := <-ch:
		return r.cfg, r.err
	case <-ctx.Done():
		return fsm.EffectiveConfig{}, ctx.Err()
	}
}
