package refmodel

import "github.com/ckptcore/ckptcore/fsm"

// Effect is one output of a step, in HISTORY.md's terms, with the fields the
// contract names for its type and nothing else (free-text messages are not
// compared). Subtasks are indexes in job order, regions indexes r0, r1, …
type Effect struct {
	Type            string
	At              int64
	Checkpoint      int64
	Kind            string
	Forced          bool
	Tasks           []int
	Deadline        int64
	Reason          string
	Counted         bool
	Vertex          int
	Refs            []Ref // regions using older state, ascending region
	Mode            string
	Consecutive     int
	RegionalInfo    []Group
	LatestCompleted int64
	Region          int
	Task            int
	Request         int64
	NextID          int64
	IntervalMs      int64
	TimeoutMs       int64
	Code            string
}

// Ref says that a region uses the state of an older checkpoint.
type Ref struct {
	Region     int
	Checkpoint int64
}

// Group is notify_complete's regional info: the subtasks that use an older
// checkpoint's state.
type Group struct {
	Checkpoint int64
	Tasks      []int
}

// Effect types, HISTORY.md's spellings (completed and trigger_failed are the
// two commit-point effects of docs/DECISIONS.md).
const (
	EffTrigger             = "trigger"
	EffTriggerFailed       = "trigger_failed"
	EffAbort               = "abort"
	EffNotifyAborted       = "notify_aborted"
	EffCoordinatorFallback = "coordinator_fallback"
	EffPersist             = "persist"
	EffCompleted           = "completed"
	EffNotifyComplete      = "notify_complete"
	EffRegionSkipped       = "region_skipped"
	EffDiscard             = "discard"
	EffDiscardLateState    = "discard_late_state"
	EffFailJob             = "fail_job"
	EffFinishJob           = "finish_job"
	EffPersistOverrides    = "persist_overrides"
	EffConfigApplied       = "config_applied"
	EffConfigRejected      = "config_rejected"
	EffWarn                = "warn"
	EffPersistIDCounter    = "persist_id_counter"
)

// FromCore reads one of the core's effects as the model's Effect, keeping
// only the fields HISTORY.md lists for its type, so that the two can be
// compared field by field.
func FromCore(e fsm.Effect) Effect {
	out := Effect{Type: e.Type.String(), At: e.At}
	tasks := func() []int {
		var ts []int
		e.Tasks.All(func(t fsm.TaskID) bool { ts = append(ts, int(t)); return true })
		return ts
	}
	refs := func() []Ref {
		var rs []Ref
		for _, r := range e.Refs {
			rs = append(rs, Ref{r.Region, r.Checkpoint})
		}
		return rs
	}
	switch e.Type {
	case fsm.EffTrigger:
		out.Checkpoint, out.Kind, out.Forced, out.Tasks, out.Deadline = e.Checkpoint, e.Kind.String(), e.ForcedGlobal, tasks(), e.Deadline
	case fsm.EffTriggerFailed:
		out.Kind, out.Reason = e.Kind.String(), string(e.Reason)
	case fsm.EffAbort:
		out.Checkpoint, out.Reason, out.Counted = e.Checkpoint, string(e.Reason), e.Counted
	case fsm.EffNotifyAborted:
		out.Checkpoint, out.Tasks, out.LatestCompleted = e.Checkpoint, tasks(), e.LatestCompleted
	case fsm.EffCoordinatorFallback:
		out.Checkpoint, out.Vertex, out.Refs = e.Checkpoint, e.Vertex, refs()
	case fsm.EffPersist, fsm.EffCompleted:
		out.Checkpoint, out.Kind, out.Mode, out.Refs, out.Consecutive = e.Checkpoint, e.Kind.String(), e.Mode.String(), refs(), e.Consecutive
	case fsm.EffNotifyComplete:
		out.Checkpoint, out.Tasks = e.Checkpoint, tasks()
		for _, g := range e.RegionalInfo {
			var ts []int
			g.Tasks.All(func(t fsm.TaskID) bool { ts = append(ts, int(t)); return true })
			out.RegionalInfo = append(out.RegionalInfo, Group{g.Checkpoint, ts})
		}
	case fsm.EffRegionSkipped:
		out.Checkpoint, out.Region, out.Tasks = e.Checkpoint, e.Region, tasks()
	case fsm.EffDiscard:
		out.Checkpoint = e.Checkpoint
	case fsm.EffDiscardLateState:
		out.Checkpoint, out.Task = e.Checkpoint, int(e.Task)
	case fsm.EffFailJob:
		out.Reason = string(e.Reason)
	case fsm.EffFinishJob:
	case fsm.EffPersistOverrides, fsm.EffConfigApplied:
		out.Request, out.IntervalMs, out.TimeoutMs = e.Request, e.IntervalMs, e.TimeoutMs
	case fsm.EffConfigRejected:
		out.Request = e.Request
	case fsm.EffWarn:
		out.Code, out.Checkpoint = e.Code, e.Checkpoint
	case fsm.EffPersistIDCounter:
		out.NextID = e.NextID
	}
	return out
}

// Rule is the rule of SEMANTICS.md an effect type mainly carries, for
// failure messages.
func Rule(effectType string) string {
	switch effectType {
	case EffTrigger:
		return "R15"
	case EffTriggerFailed:
		return "R12"
	case EffPersistIDCounter:
		return "R14"
	case EffAbort:
		return "R18"
	case EffNotifyAborted, EffNotifyComplete, EffRegionSkipped:
		return "R26"
	case EffCoordinatorFallback, EffCompleted:
		return "R23"
	case EffPersist:
		return "R21"
	case EffDiscard:
		return "R40"
	case EffDiscardLateState:
		return "R16"
	case EffFailJob:
		return "R30"
	case EffFinishJob:
		return "R24"
	case EffPersistOverrides, EffConfigRejected:
		return "R60"
	case EffConfigApplied:
		return "R63"
	case EffWarn:
		return "R41"
	}
	return "R10"
}

func (m *Model) emit(e Effect) {
	e.At = m.now
	m.out = append(m.out, e)
}
