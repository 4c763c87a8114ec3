package history

import (
	"encoding/json"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
)

// contractFields lists, per effect type, the fields HISTORY.md ("Effects") makes
// the contract. Recorded and recomputed effects are compared on type and these
// fields only, so that a runtime may add fields and this package may add detail
// (abort's "detail" and "kind") without breaking old recordings. completed and
// trigger_failed are this core's additions; their fields are chosen the same way.
var contractFields = map[string][]string{
	"trigger":              {"checkpoint", "kind", "forced_global", "tasks", "deadline"},
	"abort":                {"checkpoint", "reason", "counted"},
	"coordinator_fallback": {"checkpoint", "vertex", "refs"},
	"persist":              {"checkpoint", "kind", "mode", "refs", "consecutive"},
	"notify_complete":      {"checkpoint", "tasks", "regional_info"},
	"notify_aborted":       {"checkpoint", "tasks", "latest_completed"},
	"region_skipped":       {"checkpoint", "region", "tasks"},
	"discard":              {"checkpoint"},
	"discard_late_state":   {"checkpoint", "task"},
	"fail_job":             {"reason"},
	"finish_job":           {},
	"persist_overrides":    {"request", "interval_ms", "timeout_ms"},
	"config_applied":       {"request", "interval_ms", "timeout_ms"},
	"config_rejected":      {"request", "error"},
	"warn":                 {"code", "message"},
	"completed":            {"checkpoint", "kind", "mode", "refs", "consecutive"},
	"trigger_failed":       {"kind", "reason"},
	"persist_id_counter":   {"next_id"},
}

// EncodeEffect renders an effect as one JSON object with the field names of
// HISTORY.md ("Effects") in a fixed order. Subtask sets are arrays of
// fsm.TaskSet.Names ("src/0-3" = src/0 … src/3); persist and completed map every
// region to the checkpoint whose state it uses.
func EncodeEffect(t *fsm.Topology, e fsm.Effect) json.RawMessage {
	o := newObject()
	o.str("type", e.Type.String())
	tasks := func(k string, s fsm.TaskSet) { o.strings(k, taskNames(t, s)) }
	switch e.Type {
	case fsm.EffTrigger:
		o.int("checkpoint", e.Checkpoint)
		o.str("kind", e.Kind.String())
		o.bool("forced_global", e.ForcedGlobal)
		tasks("tasks", e.Tasks)
		o.int("deadline", e.Deadline)
	case fsm.EffAbort:
		o.int("checkpoint", e.Checkpoint)
		o.str("reason", string(e.Reason))
		o.bool("counted", e.Counted)
		o.str("detail", e.Message)
		o.str("kind", e.Kind.String())
	case fsm.EffCoordinatorFallback:
		o.int("checkpoint", e.Checkpoint)
		o.str("vertex", vertexName(t, e.Vertex))
		o.raw("refs", appendRefs(nil, e.Refs))
	case fsm.EffPersist, fsm.EffCompleted:
		o.int("checkpoint", e.Checkpoint)
		o.str("kind", e.Kind.String())
		o.str("mode", e.Mode.String())
		o.raw("refs", appendAllRefs(nil, t, &e))
		o.int("consecutive", int64(e.Consecutive))
		// Sizes are detail, not contract: written only when an ack reported one.
		if e.StateSize != 0 || e.CheckpointedSize != 0 {
			o.int("state_size", e.StateSize)
			o.int("checkpointed_size", e.CheckpointedSize)
		}
	case fsm.EffNotifyComplete:
		o.int("checkpoint", e.Checkpoint)
		tasks("tasks", e.Tasks)
		info := newObject()
		for _, g := range e.RegionalInfo {
			info.strings(strconv.FormatInt(g.Checkpoint, 10), taskNames(t, g.Tasks))
		}
		o.raw("regional_info", info.bytes())
	case fsm.EffNotifyAborted:
		o.int("checkpoint", e.Checkpoint)
		tasks("tasks", e.Tasks)
		if e.LatestCompleted == 0 {
			o.raw("latest_completed", []byte("null"))
		} else {
			o.int("latest_completed", e.LatestCompleted)
		}
	case fsm.EffRegionSkipped:
		o.int("checkpoint", e.Checkpoint)
		o.str("region", fsm.RegionName(e.Region))
		tasks("tasks", e.Tasks)
	case fsm.EffDiscard:
		o.int("checkpoint", e.Checkpoint)
	case fsm.EffDiscardLateState:
		o.int("checkpoint", e.Checkpoint)
		o.str("task", taskName(t, e.Task))
	case fsm.EffFailJob:
		o.str("reason", string(e.Reason))
		o.str("detail", e.Message)
	case fsm.EffFinishJob:
		o.str("detail", e.Message)
	case fsm.EffPersistOverrides, fsm.EffConfigApplied:
		o.int("request", e.Request)
		o.int("interval_ms", e.IntervalMs)
		o.int("timeout_ms", e.TimeoutMs)
	case fsm.EffConfigRejected:
		o.int("request", e.Request)
		o.str("error", e.Error)
	case fsm.EffWarn:
		o.str("code", e.Code)
		o.str("message", e.Message)
		if e.Checkpoint != 0 {
			o.int("checkpoint", e.Checkpoint)
		}
	case fsm.EffPersistIDCounter:
		o.int("next_id", e.NextID)
	case fsm.EffTriggerFailed:
		o.str("kind", e.Kind.String())
		o.str("reason", string(e.Reason))
		o.str("detail", e.Message)
	}
	return o.bytes()
}

// appendAllRefs renders, for every region in order, the checkpoint whose state
// it uses: {"r0":5,"r1":3}. It writes the names itself (fsm.RegionName's
// spelling) and walks the refs alongside — sorted by region, as Effect.RefOf
// assumes too: a job of 100,000
// regions costs no allocation per region (issue 19).
func appendAllRefs(b []byte, t *fsm.Topology, e *fsm.Effect) []byte {
	b = append(b, '{')
	if t != nil {
		refs := e.Refs
		for r := 0; r < t.NumRegions(); r++ {
			for len(refs) > 0 && refs[0].Region < r {
				refs = refs[1:]
			}
			ref := e.Checkpoint
			if len(refs) > 0 && refs[0].Region == r {
				ref = refs[0].Checkpoint
			}
			if r > 0 {
				b = append(b, ',')
			}
			b = append(b, `"r`...)
			b = strconv.AppendInt(b, int64(r), 10)
			b = append(b, `":`...)
			b = strconv.AppendInt(b, ref, 10)
		}
	}
	return append(b, '}')
}

// taskNames renders a subtask set; ranges the job does not have (impossible for
// effects of the core, possible for hand-made ones) are shown by number rather
// than trusted to fsm.TaskSet.Names.
func taskNames(t *fsm.Topology, s fsm.TaskSet) []string {
	if t != nil && validSet(t, s) {
		return s.Names(t)
	}
	out := make([]string, 0, len(s))
	for _, r := range s {
		out = append(out, "#"+strconv.Itoa(int(r.Lo))+"-#"+strconv.Itoa(int(r.Hi)-1))
	}
	return out
}

func validSet(t *fsm.Topology, s fsm.TaskSet) bool {
	n := fsm.TaskID(t.NumSubtasks())
	for i, r := range s {
		if r.Lo < 0 || r.Lo >= r.Hi || r.Hi > n || (i > 0 && r.Lo < s[i-1].Hi) {
			return false
		}
	}
	return true
}

func taskName(t *fsm.Topology, id fsm.TaskID) string {
	if t != nil && t.ValidTask(id) {
		return t.TaskName(id)
	}
	return "#" + strconv.Itoa(int(id))
}

func vertexName(t *fsm.Topology, v int) string {
	if t != nil && v >= 0 && v < len(t.Vertices()) {
		return t.Vertices()[v].ID
	}
	return "#" + strconv.Itoa(v)
}
