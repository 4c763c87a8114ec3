package fsm

// EffectType names an output of the core (HISTORY.md, Effects).
type EffectType uint8

// Effect types. The first fourteen are HISTORY.md's contract; Completed and
// TriggerFailed make the commit point of a checkpoint and a request that got no
// id explicit, so that a runtime and the replay summary need not infer them.
const (
	EffTrigger EffectType = iota + 1
	EffAbort
	EffCoordinatorFallback
	EffPersist
	EffNotifyComplete
	EffNotifyAborted
	EffRegionSkipped
	EffDiscard
	EffDiscardLateState
	EffFailJob
	EffFinishJob
	EffPersistOverrides
	EffConfigApplied
	EffConfigRejected
	EffWarn
	EffCompleted
	EffTriggerFailed
)

var effectNames = [...]string{"", "trigger", "abort", "coordinator_fallback", "persist",
	"notify_complete", "notify_aborted", "region_skipped", "discard", "discard_late_state",
	"fail_job", "finish_job", "persist_overrides", "config_applied", "config_rejected", "warn",
	"completed", "trigger_failed"}

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
	// WarnNoProgress reports a core bug that would have made Step loop forever
	// (see advance): a step always terminates, and the checkers flag this code.
	WarnNoProgress = "no_progress"
)
