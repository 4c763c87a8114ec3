package history

import (
	"bytes"
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// eventFields lists, per event type, the fields besides at, type and effects
// (HISTORY.md, Events).
var eventFields = map[fsm.EventType][]string{
	fsm.EvStart:           {"initial_delay_ms", "restore"},
	fsm.EvTick:            nil,
	fsm.EvTrigger:         {"kind"},
	fsm.EvAck:             {"checkpoint", "task", "state_size", "checkpointed_size", "state"},
	fsm.EvDecline:         {"checkpoint", "task", "reason"},
	fsm.EvTaskFailed:      {"task"},
	fsm.EvTaskRunning:     {"task"},
	fsm.EvTaskFinished:    {"task"},
	fsm.EvPersisted:       {"checkpoint"},
	fsm.EvPersistFailed:   {"checkpoint"},
	fsm.EvConfigPatch:     {"request", "interval_ms", "timeout_ms"},
	fsm.EvConfigPersisted: {"request"},
	fsm.EvRecover:         nil,
}

func eventTypeNames() string {
	var names []string
	for t := fsm.EvStart; t <= fsm.EvRecover; t++ {
		names = append(names, t.String())
	}
	return strings.Join(names, ", ")
}

// decodeEvent reads one event line against the job.
func decodeEvent(t *fsm.Topology, line []byte) (Record, error) {
	if rec, ok := fastEvent(t, line); ok {
		return rec, nil
	}
	return decodeEventStrict(t, line)
}

// decodeEventStrict is the full decoder, with an error naming the field for
// every way a line can be wrong; fastEvent must agree with it on every line it
// accepts (FuzzFastEventAgrees).
func decodeEventStrict(t *fsm.Topology, line []byte) (Record, error) {
	var rec Record
	if err := checkLine(line); err != nil {
		return rec, err
	}
	o, err := parseObject("", line)
	if err != nil {
		return rec, err
	}
	name, _, err := o.str("type", true)
	if err != nil {
		return rec, err
	}
	switch name {
	case resumeType:
		return decodeResume(t, o)
	case snapshotType:
		return decodeSnapshotRecord(t, o)
	}
	typ, ok := fsm.ParseEventType(name)
	if !ok {
		return rec, errorf("type", "unknown event type %q (want one of %s)", name, eventTypeNames())
	}
	ev := &rec.Event
	ev.Type = typ
	allowed := append([]string{"at", "type", "effects"}, eventFields[typ]...)
	if err := o.allow("a "+name+" event has", allowed...); err != nil {
		return rec, err
	}
	if ev.At, _, err = o.integer("at", true, 0, maxID); err != nil {
		return rec, err
	}
	if err := decodeEventFields(t, o, ev); err != nil {
		return rec, err
	}
	if raw, ok := o.get("state"); ok {
		h, err := ParseStateHandle(raw)
		if err != nil {
			he := err.(*HandleError)
			field := "state"
			if he.Field != "" {
				field += "." + he.Field
			}
			if he.Value != "" {
				return rec, errorf(field, "%s: %s", he.Value, he.Reason)
			}
			return rec, errorf(field, "%s", he.Reason)
		}
		rec.Handle = h
	}
	return rec, decodeRecorded(o, &rec)
}

// decodeRecorded reads a line's optional "effects" into rec.
func decodeRecorded(o *object, rec *Record) error {
	effs, ok, err := o.array("effects", false)
	if err != nil || !ok {
		return err
	}
	rec.HasRecorded = true
	rec.Recorded = make([]json.RawMessage, 0, len(effs))
	for i, raw := range effs {
		if kindOf(raw) != "object" {
			return errorf("effects["+strconv.Itoa(i)+"]", "want an effect object, got %s", describe(raw))
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return errorf("effects["+strconv.Itoa(i)+"]", "malformed JSON: %v", err)
		}
		rec.Recorded = append(rec.Recorded, json.RawMessage(buf.Bytes()))
	}
	return nil
}

func decodeEventFields(t *fsm.Topology, o *object, ev *fsm.Event) error {
	var err error
	switch ev.Type {
	case fsm.EvStart:
		if ev.InitialDelayMs, ev.HasInitialDelay, err = o.integer("initial_delay_ms", false, 0, maxID); err != nil {
			return err
		}
		r, ok, err := o.sub("restore", false)
		if err != nil || !ok {
			return err
		}
		ev.Restore, err = decodeRestore(t, r)
		return err
	case fsm.EvTrigger:
		k, _, err := o.str("kind", true)
		if err != nil {
			return err
		}
		kind, ok := fsm.ParseKind(k)
		if !ok {
			return errorf("kind", "unknown kind %q (want checkpoint, savepoint or stop_with_savepoint)", k)
		}
		ev.Kind = kind
	case fsm.EvAck, fsm.EvDecline, fsm.EvPersisted, fsm.EvPersistFailed:
		if ev.Checkpoint, _, err = o.id("checkpoint", true); err != nil {
			return err
		}
	case fsm.EvConfigPatch, fsm.EvConfigPersisted:
		if ev.Request, _, err = o.id("request", true); err != nil {
			return err
		}
	}
	switch ev.Type {
	case fsm.EvAck, fsm.EvDecline, fsm.EvTaskFailed, fsm.EvTaskRunning, fsm.EvTaskFinished:
		name, _, err := o.str("task", true)
		if err != nil {
			return err
		}
		if ev.Task, err = t.ParseTask(name); err != nil {
			return errorf("task", "%v", err)
		}
	}
	switch ev.Type {
	case fsm.EvDecline:
		r, ok, err := o.str("reason", false)
		if err != nil {
			return err
		}
		if ok {
			if !fsm.ValidDeclineReason(fsm.Reason(r)) {
				return errorf("reason", "%q is not a decline reason (want one of %s)", r, declineReasons())
			}
			ev.Reason = fsm.Reason(r)
		}
	case fsm.EvAck:
		if ev.StateSize, _, err = o.integer("state_size", false, 0, maxID); err != nil {
			return err
		}
		if ev.CheckpointedSize, _, err = o.integer("checkpointed_size", false, 0, maxID); err != nil {
			return err
		}
	case fsm.EvConfigPatch:
		// Out-of-range values are a valid event: the core rejects the patch (R60).
		// Only the type is checked here.
		if ev.IntervalMs, ev.HasInterval, err = o.integer("interval_ms", false, -maxID, maxID); err != nil {
			return err
		}
		if ev.TimeoutMs, ev.HasTimeout, err = o.integer("timeout_ms", false, -maxID, maxID); err != nil {
			return err
		}
	}
	return nil
}

func declineReasons() string {
	names := make([]string, len(fsm.DeclineReasons))
	for i, r := range fsm.DeclineReasons {
		names[i] = string(r)
	}
	return strings.Join(names, ", ")
}

func decodeRestore(t *fsm.Topology, o *object) (*fsm.Restore, error) {
	if err := o.allow("restore has", "checkpoint", "mode", "refs"); err != nil {
		return nil, err
	}
	r := &fsm.Restore{}
	var err error
	if r.Checkpoint, _, err = o.id("checkpoint", true); err != nil {
		return nil, err
	}
	mode, _, err := o.str("mode", true)
	if err != nil {
		return nil, err
	}
	switch mode {
	case "claim":
		r.Mode = fsm.Claim
	case "no_claim":
		r.Mode = fsm.NoClaim
	default:
		return nil, errorf(o.field("mode"), "unknown mode %q (want claim or no_claim)", mode)
	}
	refs, ok, err := o.sub("refs", false)
	if err != nil || !ok {
		return r, err
	}
	for _, m := range refs.members {
		region, err := fsm.ParseRegion(m.key, t.NumRegions())
		if err != nil {
			return nil, errorf(refs.field(m.key), "%v", err)
		}
		id, err := parseInt(refs.field(m.key), m.val, 1, maxID)
		if err != nil {
			return nil, err
		}
		if id > r.Checkpoint {
			return nil, errorf(refs.field(m.key), "%d is newer than the snapshot %d: a region references state at or before it (I-RegionConsistency)", id, r.Checkpoint)
		}
		r.Refs = append(r.Refs, fsm.RegionRef{Region: region, Checkpoint: id})
	}
	sort.Slice(r.Refs, func(a, b int) bool { return r.Refs[a].Region < r.Refs[b].Region })
	for i := 1; i < len(r.Refs); i++ {
		if r.Refs[i].Region == r.Refs[i-1].Region {
			// "r1" and "r01" cannot both parse, so this is "r1" twice: already a
			// duplicate key; kept as a guard.
			return nil, errorf(refs.path, "region %s listed twice", fsm.RegionName(r.Refs[i].Region))
		}
	}
	if len(r.Refs) == 0 {
		r.Refs = nil
	}
	return r, nil
}
