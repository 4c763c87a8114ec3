package fsm

// EffectType names an output of the core (HISTORY.md, Effects). A runtime
// carries the effects of one Step out in the order returned; the comment on
// each constant is its contract: what the runtime must do, and which event, if
// any, answers it. Effects that need no answer are fire-and-forget: the core
// has already moved on.
type EffectType uint8

// Effect types. The first fifteen (trigger … warn) are HISTORY.md's contract;
// Completed and TriggerFailed make the commit point of a checkpoint and a
// request that got no id explicit, so that a runtime and the replay summary
// need not infer them; PersistIDCounter makes R14's durability visible to
// replay and TLA+.
const (
	// EffTrigger: send the trigger (Checkpoint, Kind, ForcedGlobal) to every
	// subtask in Tasks — only after the EffPersistIDCounter just before it is
	// durable. Subtasks answer with EvAck or EvDecline; nothing answers the
	// trigger itself (the core expires it at Deadline, R10, R15).
	EffTrigger EffectType = iota + 1
	// EffAbort: the checkpoint ended without completing (Reason, Counted,
	// R17–R18, R30). Metadata written for it must not survive (delete it if
	// its persist went out). No answer.
	EffAbort
	// EffCoordinatorFallback: ask the operator coordinator of Vertex to fall
	// back to the state of Refs for its failed regions (R23), before the
	// metadata is persisted. No answer.
	EffCoordinatorFallback
	// EffPersist: write the checkpoint's metadata (Kind, Mode, Refs,
	// Consecutive) durably, then Step EvPersisted, or EvPersistFailed if the
	// write failed (R23). Completion waits for that event.
	EffPersist
	// EffNotifyComplete: tell Tasks that Checkpoint completed, with
	// RegionalInfo for the regions that use older state (R26). No answer.
	EffNotifyComplete
	// EffNotifyAborted: tell Tasks that Checkpoint was aborted, naming
	// LatestCompleted (R26). No answer.
	EffNotifyAborted
	// EffRegionSkipped: tell Tasks of Region that Checkpoint completed without
	// their state, so they may clean it up locally (R26, delivered with the
	// next trigger that reaches them). No answer.
	EffRegionSkipped
	// EffDiscard: delete the state and the metadata of completed Checkpoint,
	// exactly once; nothing references it any more (R40). No answer.
	EffDiscard
	// EffDiscardLateState: delete the state Task uploaded for Checkpoint; its
	// ack came late or was not needed (R16). No answer.
	EffDiscardLateState
	// EffFailJob: fail the job (Reason, R24, R30); the core has ended every
	// pending checkpoint. A restart is the runtime's business (EvRecover
	// models a coordinator failover, R50).
	EffFailJob
	// EffFinishJob: the job finished (every subtask finished, or a
	// stop-with-savepoint completed, R24). No answer.
	EffFinishJob
	// EffPersistOverrides: write the overrides (IntervalMs, TimeoutMs)
	// durably, each write containing the earlier accepted ones, then Step
	// EvConfigPersisted with Request (R63). A failed write is answered by no
	// event: the patch stays unconfirmed and is lost at the next EvRecover.
	EffPersistOverrides
	// EffConfigApplied: the patch Request is in force; answer its caller with
	// the new values (R63). No answer to the core.
	EffConfigApplied
	// EffConfigRejected: answer the caller of Request with Error; nothing
	// changed (R60, R50). No answer to the core.
	EffConfigRejected
	// EffWarn: log or surface Message under Code (R4, §11, R41, or a core bug
	// the core survived: WarnNoProgress). No answer.
	EffWarn
	// EffCompleted: Checkpoint is complete (the commit point, R23): record or
	// report it; the metadata EffPersist wrote stands. No answer.
	EffCompleted
	// EffTriggerFailed: a request of Kind got no id (Reason, R12–R14, R24);
	// answer its caller, if any. No answer to the core.
	EffTriggerFailed
	// EffPersistIDCounter: write the id counter durably so that the next id
	// the runtime will ever see allocated after a restart is at least NextID
	// (R14, R50), before carrying out the EffTrigger that follows it. If the
	// write fails, do not send that trigger (the checkpoint then expires at its
	// deadline). No answer.
	EffPersistIDCounter
)

var effectNames = [...]string{"", "trigger", "abort", "coordinator_fallback", "persist",
	"notify_complete", "notify_aborted", "region_skipped", "discard", "discard_late_state",
	"fail_job", "finish_job", "persist_overrides", "config_applied", "config_rejected", "warn",
	"completed", "trigger_failed", "persist_id_counter"}

// String returns the history spelling of the type.
func (t EffectType) String() string {
	if int(t) < len(effectNames) {
		return effectNames[t]
	}
	return "unknown"
}

// Mode says how a checkpoint completed: every region with its own state
// (global) or some regions falling back to older state (regional, R21).
type Mode uint8

// Completion modes.
const (
	ModeGlobal Mode = iota
	ModeRegional
)

// String returns the history spelling of the mode.
func (m Mode) String() string {
	if m == ModeRegional {
		return "regional"
	}
	return "global"
}

// RefGroup names the subtasks that use the state of an older checkpoint
// (notify_complete's regional info, R26).
type RefGroup struct {
	Checkpoint int64
	Tasks      TaskSet
}

// Effect is one output of the core. Which fields matter depends on Type
// (HISTORY.md lists them per type).
type Effect struct {
	Type       EffectType
	Checkpoint int64
	// At is when the core decided it: the event's time, or the due time of the
	// deadline or periodic request that caused it (R10).
	At int64

	Kind         Kind    // trigger, persist, completed, trigger_failed
	ForcedGlobal bool    // trigger
	Tasks        TaskSet // trigger, notify_*, region_skipped
	Deadline     int64   // trigger

	Reason  Reason // abort, fail_job, trigger_failed
	Counted bool   // abort

	Vertex int // coordinator_fallback: vertex index

	// Refs: for persist and completed, the regions whose state is older than
	// Checkpoint (every other region references Checkpoint itself); for
	// coordinator_fallback, exactly the failed regions of that vertex.
	Refs        []RegionRef
	Mode        Mode // persist, completed
	Consecutive int  // persist, completed: consecutive regional completions in the metadata (R21)
	// StateSize and CheckpointedSize (persist, completed) total the sizes of
	// the acks the checkpoint kept: a failed region's acks are dropped with its
	// state (R18), so they do not count. Totals saturate at 2^53-1.
	StateSize        int64
	CheckpointedSize int64

	RegionalInfo    []RefGroup // notify_complete
	LatestCompleted int64      // notify_aborted; 0 = none
	Region          int        // region_skipped
	Task            TaskID     // discard_late_state

	NextID int64 // persist_id_counter: the id counter to make durable (the trigger's checkpoint + 1)

	Request    int64 // persist_overrides, config_applied, config_rejected
	IntervalMs int64 // persist_overrides, config_applied
	TimeoutMs  int64 // persist_overrides, config_applied
	Error      string

	Code    string // warn
	Message string // warn, fail_job detail
}

// RefOf resolves the checkpoint whose state region r uses in a persist or
// completed effect.
func (e *Effect) RefOf(r int) int64 { return refOf(e.Refs, e.Checkpoint, r) }

func refOf(refs []RegionRef, self int64, r int) int64 {
	lo, hi := 0, len(refs)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case refs[m].Region < r:
			lo = m + 1
		case refs[m].Region > r:
			hi = m
		default:
			return refs[m].Checkpoint
		}
	}
	return self
}

// Warning codes of warn effects.
const (
	WarnRegionalDisabled  = "regional_disabled"   // R4: regional.enabled but the job does not qualify
	WarnRefDrift          = "ref_drift"           // §11: a reference older than max_consecutive+1 ids
	WarnNoClaimReferenced = "no_claim_referenced" // R41: a retained checkpoint uses the no_claim snapshot
	WarnNoClaimReleased   = "no_claim_released"   // R41: a global completion ends that
	// WarnMissingRef: at Resume, a stored checkpoint that would be retained
	// uses, for some region, a checkpoint the store no longer holds (its state
	// was discarded while nothing retained used it); it is not retained (R40,
	// I-RetentionSafety).
	WarnMissingRef = "missing_ref"
	// WarnNoProgress reports a core bug that would have made Step loop forever
	// (see advance): a step always terminates, and the checkers flag this code.
	WarnNoProgress = "no_progress"
)
