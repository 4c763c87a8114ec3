package fsm

import (
	"fmt"
	"strconv"
	"strings"
)

// DescribeEvent renders an event as one human-readable line (the replay trace
// and golden transcripts use it).
func DescribeEvent(t *Topology, ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "@%d %s", ev.At, ev.Type)
	switch ev.Type {
	case EvStart:
		if ev.HasInitialDelay {
			fmt.Fprintf(&b, " initial_delay=%d", ev.InitialDelayMs)
		}
		if r := ev.Restore; r != nil {
			fmt.Fprintf(&b, " restore=%d mode=%s", r.Checkpoint, r.Mode)
			if len(r.Refs) > 0 {
				fmt.Fprintf(&b, " refs=%s", describeRefs(r.Refs))
			}
		}
	case EvTrigger:
		fmt.Fprintf(&b, " %s", ev.Kind)
	case EvAck, EvDecline:
		fmt.Fprintf(&b, " %d %s", ev.Checkpoint, taskName(t, ev.Task))
		if ev.Type == EvDecline && ev.Reason != "" {
			fmt.Fprintf(&b, " reason=%s", ev.Reason)
		}
		b.WriteString(describeSizes(ev.StateSize, ev.CheckpointedSize))
	case EvTaskFailed, EvTaskRunning, EvTaskFinished:
		fmt.Fprintf(&b, " %s", taskName(t, ev.Task))
	case EvPersisted, EvPersistFailed:
		fmt.Fprintf(&b, " %d", ev.Checkpoint)
	case EvConfigPatch:
		fmt.Fprintf(&b, " request=%d", ev.Request)
		if ev.HasInterval {
			fmt.Fprintf(&b, " interval=%d", ev.IntervalMs)
		}
		if ev.HasTimeout {
			fmt.Fprintf(&b, " timeout=%d", ev.TimeoutMs)
		}
	case EvConfigPersisted:
		fmt.Fprintf(&b, " request=%d", ev.Request)
	}
	return b.String()
}

func taskName(t *Topology, id TaskID) string {
	if t.ValidTask(id) {
		return t.TaskName(id)
	}
	return "task#" + strconv.Itoa(int(id))
}

// DescribeEffect renders an effect as one human-readable line.
func DescribeEffect(t *Topology, e Effect) string {
	var b strings.Builder
	b.WriteString(e.Type.String())
	tasks := func() string { return "[" + strings.Join(e.Tasks.Names(t), " ") + "]" }
	switch e.Type {
	case EffTrigger:
		fmt.Fprintf(&b, " %d %s", e.Checkpoint, e.Kind)
		if e.ForcedGlobal {
			b.WriteString(" forced_global")
		}
		fmt.Fprintf(&b, " deadline=%d tasks=%s", e.Deadline, tasks())
	case EffAbort:
		fmt.Fprintf(&b, " %d reason=%s counted=%t", e.Checkpoint, e.Reason, e.Counted)
		if e.Message != "" {
			fmt.Fprintf(&b, " (%s)", e.Message)
		}
	case EffCoordinatorFallback:
		vertex := "vertex#" + strconv.Itoa(e.Vertex)
		if e.Vertex >= 0 && e.Vertex < len(t.vertices) {
			vertex = t.vertices[e.Vertex].ID
		}
		fmt.Fprintf(&b, " %d vertex=%s refs=%s", e.Checkpoint, vertex, describeRefs(e.Refs))
	case EffPersist, EffCompleted:
		fmt.Fprintf(&b, " %d %s %s consecutive=%d", e.Checkpoint, e.Kind, e.Mode, e.Consecutive)
		if len(e.Refs) > 0 {
			fmt.Fprintf(&b, " older_refs=%s", describeRefs(e.Refs))
		}
		b.WriteString(describeSizes(e.StateSize, e.CheckpointedSize))
	case EffNotifyComplete:
		fmt.Fprintf(&b, " %d tasks=%s", e.Checkpoint, tasks())
		for _, g := range e.RegionalInfo {
			fmt.Fprintf(&b, " uses(%d)=[%s]", g.Checkpoint, strings.Join(g.Tasks.Names(t), " "))
		}
	case EffNotifyAborted:
		fmt.Fprintf(&b, " %d latest_completed=%d tasks=%s", e.Checkpoint, e.LatestCompleted, tasks())
	case EffRegionSkipped:
		fmt.Fprintf(&b, " %d %s tasks=%s", e.Checkpoint, RegionName(e.Region), tasks())
	case EffDiscard:
		fmt.Fprintf(&b, " %d", e.Checkpoint)
	case EffDiscardLateState:
		fmt.Fprintf(&b, " %d %s", e.Checkpoint, taskName(t, e.Task))
	case EffFailJob:
		fmt.Fprintf(&b, " reason=%s (%s)", e.Reason, e.Message)
	case EffFinishJob:
		fmt.Fprintf(&b, " (%s)", e.Message)
	case EffPersistOverrides, EffConfigApplied:
		fmt.Fprintf(&b, " request=%d interval=%d timeout=%d", e.Request, e.IntervalMs, e.TimeoutMs)
	case EffConfigRejected:
		fmt.Fprintf(&b, " request=%d: %s", e.Request, e.Error)
	case EffWarn:
		fmt.Fprintf(&b, " %s: %s", e.Code, e.Message)
	case EffPersistIDCounter:
		fmt.Fprintf(&b, " next_id=%d", e.NextID)
	case EffTriggerFailed:
		fmt.Fprintf(&b, " %s reason=%s", e.Kind, e.Reason)
		if e.Message != "" {
			fmt.Fprintf(&b, " (%s)", e.Message)
		}
	}
	return b.String()
}

func describeRefs(refs []RegionRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fmt.Sprintf("%s->%d", RegionName(r.Region), r.Checkpoint)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// describeSizes renders ack sizes; nothing when none was reported, so that
// transcripts of histories without sizes stay as they were.
func describeSizes(state, checkpointed int64) string {
	if state == 0 && checkpointed == 0 {
		return ""
	}
	return fmt.Sprintf(" state_size=%d checkpointed_size=%d", state, checkpointed)
}
