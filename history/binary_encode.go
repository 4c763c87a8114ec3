package history

import (
	"github.com/ckptcore/ckptcore/fsm"
)

// BinaryEncoder writes the records of a binary history (binary.go) for one
// job: AppendEvent turns the events a running coordinator sees by the million
// — acks, declines and subtask updates without effects — into run records,
// a few bytes for a whole batch of them, and every other event into a line
// record holding the NDJSON line LineEncoder writes for it. A run stays open
// across calls (the next event may extend it) until an event that does not
// belong to it, a line record or Flush closes it; nothing of an open run is in
// the output before then. Not safe for concurrent use.
type BinaryEncoder struct {
	t    *fsm.Topology
	line *LineEncoder
	lb   []byte // the line of a line record being encoded
	run  runBuilder
}

// runBuilder is the open run: its key, its ranges encoded so far and the
// range being extended.
type runBuilder struct {
	open    bool
	at      int64
	typ     fsm.EventType
	ckpt    int64
	vertex  int
	first   fsm.TaskID
	reason  fsm.Reason
	flags   byte
	start   int64 // the open range: subtask indexes [start, end) of the vertex
	end     int64
	prevEnd int64 // the end of the last closed range (0 before the first)
	nranges int
	events  int
	ranges  []byte
	sizes   []byte
	hdr     []byte
}

// maxRunBytes closes a run whose encoding reaches it, far below MaxLineBytes.
const maxRunBytes = 1 << 20

// NewBinaryEncoder returns an encoder for the records of job t.
func NewBinaryEncoder(t *fsm.Topology) *BinaryEncoder {
	return &BinaryEncoder{t: t, line: NewLineEncoder(t)}
}

// AppendBinaryMagic appends the magic and version that start a binary
// history.
func AppendBinaryMagic(b []byte) []byte {
	return append(append(b, BinaryMagic...), BinaryVersion)
}

// AppendLine appends a line record holding line (an NDJSON line without its
// newline: a header, an event line, a comment), after the open run.
func (e *BinaryEncoder) AppendLine(b, line []byte) []byte {
	b = e.Flush(b)
	b = append(b, binLine)
	b = appendUvarint(b, uint64(len(line)))
	return append(b, line...)
}

// AppendEvent records an event with the effects the runtime saw for it
// (effects != nil: recorded, possibly none) and the state handle its ack
// carried (zero: none), as AppendState would write its line. An event that
// can join a run extends the open run or closes it and opens its own; any
// other goes out as a line record after the open run. It returns b extended
// by the records it closed. On an error (an event LineEncoder refuses) the
// event is not recorded; the open run is closed and in b.
func (e *BinaryEncoder) AppendEvent(b []byte, ev fsm.Event, h StateHandle, effects []fsm.Effect) ([]byte, error) {
	return e.AppendEventRef(b, &ev, &h, effects)
}

// AppendEventRef is AppendEvent without copying the event and the handle (a
// flight recorder calls it for every ack); it keeps neither pointer.
func (e *BinaryEncoder) AppendEventRef(b []byte, ev *fsm.Event, h *StateHandle, effects []fsm.Effect) ([]byte, error) {
	if !e.runnable(ev, h, effects) {
		b = e.Flush(b)
		var err error
		if e.lb, err = e.line.AppendState(e.lb[:0], *ev, *h, effects); err != nil {
			return b, err
		}
		return e.AppendLine(b, e.lb), nil
	}
	r := &e.run
	v := e.t.VertexOf(ev.Task)
	sized := ev.Type == fsm.EvAck && (ev.StateSize != 0 || ev.CheckpointedSize != 0)
	recorded := effects != nil
	if !r.open || r.at != ev.At || r.typ != ev.Type || r.ckpt != ev.Checkpoint || r.vertex != v ||
		r.reason != ev.Reason || recorded != (r.flags&runRecorded != 0) || sized && r.flags&runSizes == 0 ||
		len(r.ranges)+len(r.sizes) >= maxRunBytes {
		b = e.Flush(b)
		r.open, r.at, r.typ, r.ckpt, r.vertex, r.reason = true, ev.At, ev.Type, ev.Checkpoint, v, ev.Reason
		r.first = e.t.Vertices()[v].First
		r.flags = 0
		if recorded {
			r.flags |= runRecorded
		}
		if sized {
			r.flags |= runSizes
		}
	}
	idx := int64(ev.Task - r.first)
	switch {
	case r.events == 0:
		r.start, r.end = idx, idx+1
	case idx == r.end:
		r.end++
	default:
		r.closeRange()
		r.start, r.end = idx, idx+1
	}
	r.events++
	if r.flags&runSizes != 0 {
		r.sizes = appendUvarint(r.sizes, uint64(ev.StateSize))
		r.sizes = appendUvarint(r.sizes, uint64(ev.CheckpointedSize))
	}
	return b, nil
}

// runnable reports whether ev goes into a run: a run type with a subtask of
// the job, no effects, no handle, and every field within what a decoder
// accepts (anything else goes out as a line, and fails there if it must).
func (e *BinaryEncoder) runnable(ev *fsm.Event, h *StateHandle, effects []fsm.Effect) bool {
	if len(effects) > 0 || h.Size != 0 || h.URI != "" || h.Inline != nil || runCode(ev.Type) == 0 || e.t == nil ||
		!e.t.ValidTask(ev.Task) || ev.At < 0 || ev.At > maxID {
		return false
	}
	switch ev.Type {
	case fsm.EvAck:
		return ev.Checkpoint >= 1 && ev.Checkpoint <= maxID && ev.Reason == "" &&
			ev.StateSize >= 0 && ev.StateSize <= maxID && ev.CheckpointedSize >= 0 && ev.CheckpointedSize <= maxID
	case fsm.EvDecline:
		return ev.Checkpoint >= 1 && ev.Checkpoint <= maxID && ev.StateSize == 0 && ev.CheckpointedSize == 0 &&
			(ev.Reason == "" || fsm.ValidDeclineReason(ev.Reason))
	}
	// task_*: the line holds only the subtask.
	return ev.Checkpoint == 0 && ev.Reason == "" && ev.StateSize == 0 && ev.CheckpointedSize == 0
}

// Pending reports whether a run is open (Flush would append a record).
func (e *BinaryEncoder) Pending() bool { return e.run.open }

// Flush appends the open run's record, if any, and closes it.
func (e *BinaryEncoder) Flush(b []byte) []byte {
	r := &e.run
	if !r.open {
		return b
	}
	r.closeRange()
	h := appendUvarint(r.hdr[:0], uint64(r.at))
	h = append(h, runCode(r.typ), r.flags)
	if r.typ == fsm.EvAck || r.typ == fsm.EvDecline {
		h = appendUvarint(h, uint64(r.ckpt))
	}
	if r.typ == fsm.EvDecline {
		h = appendUvarint(h, uint64(len(r.reason)))
		h = append(h, r.reason...)
	}
	h = appendUvarint(h, uint64(r.vertex))
	h = appendUvarint(h, uint64(r.nranges))
	b = append(b, binRun)
	b = appendUvarint(b, uint64(len(h)+len(r.ranges)+len(r.sizes)))
	b = append(append(append(b, h...), r.ranges...), r.sizes...)
	r.hdr, r.ranges, r.sizes = h[:0], r.ranges[:0], r.sizes[:0]
	r.open, r.events, r.nranges, r.prevEnd = false, 0, 0, 0
	return b
}

// closeRange encodes the open range: its start as a zigzag delta from the
// previous range's end, then its length.
func (r *runBuilder) closeRange() {
	r.ranges = appendUvarint(r.ranges, zigzag(r.start-r.prevEnd))
	r.ranges = appendUvarint(r.ranges, uint64(r.end-r.start))
	r.prevEnd = r.end
	r.nranges++
}
