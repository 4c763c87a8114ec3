package driver

import (
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// Executor carries out the effects of the decision core that reach outside the
// coordinator: messages to subtasks and operator coordinators, discarding state,
// ending the job. The embedding program implements it; embed NopExecutor to
// implement only some methods.
//
// The driver calls the methods from one goroutine (the effect worker), one at a
// time, in the order the core emitted the effects (HISTORY.md, Effects). A method
// may block — later effects then wait, the core does not — and may call the
// Driver's event methods (Ack, Decline, …) directly, because the event loop never
// waits for the effect worker. It must not call Close, which waits for it.
//
// The store effects (persist, persist_overrides) are carried out by the driver
// itself and never reach an Executor method; an Executor that also implements
// EffectObserver sees every effect, those included.
//
// Slices passed to a method are the Executor's to keep: the driver copies a
// step's effects out of the core's reused buffer once, when the step has
// effects — not per ack, whose step normally has none — and never touches the
// copy again.
type Executor interface {
	// TriggerCheckpoint sends the trigger of checkpoint id to every subtask in
	// tasks (R15). The id is durable before this call (R14): it is never reused,
	// not even after the process crashes. deadline is when the core expires the
	// checkpoint under the timeout in force (a later PATCH may move it, R61).
	TriggerCheckpoint(id int64, kind fsm.Kind, forcedGlobal bool, tasks fsm.TaskSet, deadline time.Time)
	// NotifyComplete tells subtasks that checkpoint id completed (R26); regional
	// lists, per older checkpoint, the subtasks whose state lives there.
	NotifyComplete(id int64, tasks fsm.TaskSet, regional []fsm.RefGroup)
	// NotifyAborted tells subtasks that checkpoint id was aborted, with the latest
	// completed checkpoint (0 = none), as Flink's notifyCheckpointAborted.
	NotifyAborted(id int64, tasks fsm.TaskSet, latestCompleted int64)
	// RegionSkipped tells the subtasks of a region that failed in checkpoint id
	// that it will never be notified complete for it (deferred cleanup, R26).
	RegionSkipped(id int64, region int, tasks fsm.TaskSet)
	// CoordinatorFallback asks the coordinator of vertex (an index into
	// Topology().Vertices()) to fall back, for the regions in refs, to the state
	// of the referenced checkpoints (R23).
	CoordinatorFallback(id int64, vertex int, refs []fsm.RegionRef)
	// Discard deletes the state of completed checkpoint id: no retained
	// checkpoint uses it any more (R40). The driver deletes the checkpoint's
	// metadata after this call returns, so after a crash in between the call is
	// repeated when the store is opened again: Discard must be idempotent.
	Discard(id int64)
	// DiscardLateState deletes state that task sent for a checkpoint that had
	// already ended (R16).
	DiscardLateState(id int64, task fsm.TaskID)
	// FailJob reports that the job failed (R24, R30).
	FailJob(reason fsm.Reason, message string)
	// FinishJob reports that the job finished (a stop-with-savepoint completed).
	FinishJob(message string)
	// Warn reports a condition an operator should see (fsm.Warn* codes, and
	// CodeStoreFailed from the driver itself).
	Warn(code, message string)
}

// EffectObserver is an optional interface of an Executor: ObserveEffect is called
// for every effect — also abort, completed, trigger_failed, persist and the
// config effects, which have no Executor method — on the effect worker, just
// before the effect is carried out. A monitor or a log uses it.
type EffectObserver interface {
	ObserveEffect(e fsm.Effect)
}

// Attacher is an optional interface of an Executor that needs the Driver — to
// report acks and declines back. Attach is called once, on the effect worker,
// before any other method: Open returns the Driver only after the worker may
// have started, so setting a field after Open would race with the first
// effects.
type Attacher interface {
	Attach(d *Driver)
}

// CodeStoreFailed is the warning code of a store write the driver could not
// make (the id counter before a trigger); the message names the error.
const CodeStoreFailed = "store_failed"

// NopExecutor implements Executor by doing nothing. Embed it in a struct to
// implement only the methods a program needs.
type NopExecutor struct{}

// TriggerCheckpoint does nothing.
func (NopExecutor) TriggerCheckpoint(int64, fsm.Kind, bool, fsm.TaskSet, time.Time) {}

// NotifyComplete does nothing.
func (NopExecutor) NotifyComplete(int64, fsm.TaskSet, []fsm.RefGroup) {}

// NotifyAborted does nothing.
func (NopExecutor) NotifyAborted(int64, fsm.TaskSet, int64) {}

// RegionSkipped does nothing.
func (NopExecutor) RegionSkipped(int64, int, fsm.TaskSet) {}

// CoordinatorFallback does nothing.
func (NopExecutor) CoordinatorFallback(int64, int, []fsm.RegionRef) {}

// Discard does nothing.
func (NopExecutor) Discard(int64) {}

// DiscardLateState does nothing.
func (NopExecutor) DiscardLateState(int64, fsm.TaskID) {}

// FailJob does nothing.
func (NopExecutor) FailJob(fsm.Reason, string) {}

// FinishJob does nothing.
func (NopExecutor) FinishJob(string) {}

// Warn does nothing.
func (NopExecutor) Warn(string, string) {}

// copyEffect deep-copies the slices of an effect: Step's effects live in a
// buffer the core reuses, and their refs may share memory with its state, while
// the effect worker and the Executor use them after the next Step.
func copyEffect(e fsm.Effect) fsm.Effect {
	e.Tasks = append(fsm.TaskSet(nil), e.Tasks...)
	e.Refs = append([]fsm.RegionRef(nil), e.Refs...)
	if e.RegionalInfo != nil {
		info := make([]fsm.RefGroup, len(e.RegionalInfo))
		for i, g := range e.RegionalInfo {
			info[i] = fsm.RefGroup{Checkpoint: g.Checkpoint, Tasks: append(fsm.TaskSet(nil), g.Tasks...)}
		}
		e.RegionalInfo = info
	}
	return e
}
