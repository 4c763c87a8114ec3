package history

import (
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
)

// AppendEvent appends the line EncodeEvent renders (without the newline) to b
// and returns the extended slice; on an error b is returned unchanged in
// length. The events a running coordinator sees by the million — ack, decline,
// task_failed/running/finished, tick and persisted — with no effect are
// written field by field straight into b, as cheap as the decoder's fast path
// (fastEvent) reads them back, allocating nothing when b has room; every other
// line goes through EncodeEvent. The two are byte-identical
// (TestAppendEventIsEncodeEvent).
func AppendEvent(b []byte, t *fsm.Topology, ev fsm.Event, effects []fsm.Effect) ([]byte, error) {
	if len(effects) > 0 || !fastEncodable(t, &ev) {
		line, err := EncodeEvent(t, ev, effects)
		if err != nil {
			return b, err
		}
		return append(b, line...), nil
	}
	b = append(b, `{"at":`...)
	b = strconv.AppendInt(b, ev.At, 10)
	b = append(b, `,"type":"`...)
	b = append(b, ev.Type.String()...)
	b = append(b, '"')
	switch ev.Type {
	case fsm.EvAck, fsm.EvDecline:
		b = append(b, `,"checkpoint":`...)
		b = strconv.AppendInt(b, ev.Checkpoint, 10)
		b = appendTask(b, t, ev.Task)
		return appendAckTail(b, &ev, effects), nil
	case fsm.EvTaskFailed, fsm.EvTaskRunning, fsm.EvTaskFinished:
		b = appendTask(b, t, ev.Task)
	case fsm.EvPersisted, fsm.EvPersistFailed:
		b = append(b, `,"checkpoint":`...)
		b = strconv.AppendInt(b, ev.Checkpoint, 10)
	}
	return appendEnd(b, effects), nil
}

// appendAckTail appends what follows the subtask in an ack or decline line.
func appendAckTail(b []byte, ev *fsm.Event, effects []fsm.Effect) []byte {
	if ev.Type == fsm.EvDecline && ev.Reason != "" {
		b = append(b, `,"reason":`...)
		b = appendString(b, string(ev.Reason))
	}
	return appendEnd(appendSizes(b, ev), effects)
}

// appendSizes appends an ack's or decline's non-zero sizes.
func appendSizes(b []byte, ev *fsm.Event) []byte {
	if ev.StateSize != 0 {
		b = append(b, `,"state_size":`...)
		b = strconv.AppendInt(b, ev.StateSize, 10)
	}
	if ev.CheckpointedSize != 0 {
		b = append(b, `,"checkpointed_size":`...)
		b = strconv.AppendInt(b, ev.CheckpointedSize, 10)
	}
	return b
}

// appendEnd closes a line without effects: "effects":[] when they are
// recorded (effects != nil, empty).
func appendEnd(b []byte, effects []fsm.Effect) []byte {
	if effects != nil {
		b = append(b, `,"effects":[]`...)
	}
	return append(b, '}')
}

// LineEncoder is AppendEvent for one job with a memory: the acks and declines
// of a batch share their time, type, checkpoint and vertex, so it keeps the
// line up to the subtask index of the last one it wrote —
// {"at":…,"type":"ack","checkpoint":…,"task":"vertex/ — and starts the next
// line of the same kind with a copy of it: an ack line costs a copy, one
// integer and the tail. Its output is AppendEvent's. Not safe for concurrent
// use.
type LineEncoder struct {
	t      *fsm.Topology
	prefix []byte
	at     int64
	typ    fsm.EventType
	ckpt   int64
	vertex int
}

// NewLineEncoder returns an encoder for the lines of job t.
func NewLineEncoder(t *fsm.Topology) *LineEncoder { return &LineEncoder{t: t} }

// Append is AppendEvent(b, t, ev, effects).
func (e *LineEncoder) Append(b []byte, ev fsm.Event, effects []fsm.Effect) ([]byte, error) {
	return e.AppendState(b, ev, StateHandle{}, effects)
}

// AppendState appends EncodeEventState's line for an event whose ack may
// carry a state handle h (zero: none); on an error b is returned unchanged
// in length.
func (e *LineEncoder) AppendState(b []byte, ev fsm.Event, h StateHandle, effects []fsm.Effect) ([]byte, error) {
	t := e.t
	if !h.IsZero() && (ev.Type != fsm.EvAck || h.Validate() != nil) {
		return b, encodeStateError(t, ev, h, effects)
	}
	if (ev.Type != fsm.EvAck && ev.Type != fsm.EvDecline) || len(effects) > 0 || t == nil || !t.ValidTask(ev.Task) {
		if h.IsZero() {
			return AppendEvent(b, t, ev, effects)
		}
		line, err := EncodeEventState(t, ev, h, effects)
		if err != nil {
			return b, err
		}
		return append(b, line...), nil
	}
	v := t.VertexOf(ev.Task)
	if e.prefix == nil || e.at != ev.At || e.typ != ev.Type || e.ckpt != ev.Checkpoint || e.vertex != v {
		p := append(e.prefix[:0], `{"at":`...)
		p = strconv.AppendInt(p, ev.At, 10)
		p = append(p, `,"type":"`...)
		p = append(p, ev.Type.String()...)
		p = append(p, `","checkpoint":`...)
		p = strconv.AppendInt(p, ev.Checkpoint, 10)
		p = append(p, `,"task":`...)
		p = appendString(p, t.Vertices()[v].ID)
		p[len(p)-1] = '/'
		e.prefix, e.at, e.typ, e.ckpt, e.vertex = p, ev.At, ev.Type, ev.Checkpoint, v
	}
	b = append(b, e.prefix...)
	b = strconv.AppendInt(b, int64(ev.Task-t.Vertices()[v].First), 10)
	b = append(b, '"')
	if !h.IsZero() {
		b = appendSizes(b, &ev)
		b = append(b, `,"state":`...)
		b = AppendStateHandle(b, h)
		return appendEnd(b, effects), nil
	}
	return appendAckTail(b, &ev, effects), nil
}

// encodeStateError is EncodeEventState's error for a handle it refuses.
func encodeStateError(t *fsm.Topology, ev fsm.Event, h StateHandle, effects []fsm.Effect) error {
	_, err := EncodeEventState(t, ev, h, effects)
	return err
}

// fastEncodable reports whether AppendEvent writes ev itself: a type whose
// fields it knows, with a subtask of the job where the type has one.
func fastEncodable(t *fsm.Topology, ev *fsm.Event) bool {
	switch ev.Type {
	case fsm.EvTick, fsm.EvPersisted, fsm.EvPersistFailed:
		return true
	case fsm.EvAck, fsm.EvDecline, fsm.EvTaskFailed, fsm.EvTaskRunning, fsm.EvTaskFinished:
		return t != nil && t.ValidTask(ev.Task)
	}
	return false
}

// appendTask appends ,"task":"vertex/index" as Topology.TaskName names it,
// without building the name as a string.
func appendTask(b []byte, t *fsm.Topology, id fsm.TaskID) []byte {
	v := t.Vertices()[t.VertexOf(id)]
	b = append(b, `,"task":`...)
	b = appendString(b, v.ID)
	b[len(b)-1] = '/' // over appendString's closing quote
	b = strconv.AppendInt(b, int64(id-v.First), 10)
	return append(b, '"')
}
