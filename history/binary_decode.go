package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
)

// binReader is a Reader's state on a binary history: where it is in the
// input and the run record whose events it is handing out.
type binReader struct {
	off     int64 // bytes consumed
	recOff  int64 // offset of the record being read
	payload []byte
	run     runReader
}

// runReader iterates over a run record's events; the record was checked
// whole when read (checkRun), so iterating cannot fail.
type runReader struct {
	left     int // events not yet handed out
	ev       fsm.Event
	recorded bool
	sized    bool
	first    fsm.TaskID
	ranges   []byte
	sizes    []byte
	cur, end int64 // the current range: indexes [cur, end) still to hand out
	prevEnd  int64
}

// binError is invalid input in a binary history at byte offset off.
func (d *Reader) binError(off int64, field, format string, args ...any) *Error {
	return &Error{File: d.file, Line: d.line, Offset: off, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// readBinary is readLine for a binary history: the next line record's
// payload, or the next event of a run (then d.pre holds it decoded and the
// line returned is its NDJSON line if d.onLine wants it, else nil).
func (d *Reader) readBinary() ([]byte, error) {
	b := d.bin
	if b.run.left > 0 {
		return d.runEvent(), nil
	}
	b.recOff = b.off
	kind, err := d.br.ReadByte()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, d.binError(b.off, "", "read: %v", err)
	}
	b.off++
	d.line++ // the record's first line: where its errors are reported
	var n uint64
	for k := 0; ; k++ {
		c, err := d.br.ReadByte()
		if err != nil {
			return nil, d.tornOrRead(err, 1+k, "the record's length")
		}
		b.off++
		if k == 9 && c > 1 {
			return nil, d.binError(b.recOff+1, "length", "varint overflows 64 bits")
		}
		n |= uint64(c&0x7f) << (7 * k)
		if c < 0x80 {
			if c == 0 && k > 0 {
				return nil, d.binError(b.recOff+1, "length", "non-minimal varint")
			}
			break
		}
	}
	if kind != binLine && kind != binRun {
		return nil, d.binError(b.recOff, "kind", "unknown record kind %d (want %d, a line, or %d, a run)", kind, binLine, binRun)
	}
	if n > MaxLineBytes {
		return nil, d.binError(b.recOff+1, "length", "%d bytes: a record is at most %d", n, MaxLineBytes)
	}
	start := b.off
	if cap(b.payload) < int(n) {
		b.payload = make([]byte, n)
	}
	p := b.payload[:n]
	if k, err := io.ReadFull(d.br, p); err != nil {
		b.off += int64(k)
		return nil, d.tornOrRead(err, int(start-b.recOff)+k, fmt.Sprintf("a record of %d bytes", int(start-b.recOff)+int(n)))
	}
	b.off += int64(n)
	if kind == binLine {
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			return nil, d.binError(start+int64(i), "line", "a line record holds a newline")
		}
		if d.onLine != nil {
			d.onLine(p)
		}
		return p, nil
	}
	if err := d.checkRun(p, start); err != nil {
		return nil, err
	}
	d.line-- // runEvent counts each event's line
	return d.runEvent(), nil
}

// tornOrRead is the error for input that ends inside a record (a torn last
// record: a crash during its write) or that cannot be read.
func (d *Reader) tornOrRead(err error, got int, what string) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return d.binError(d.bin.recOff, "", "torn last record: the input ends %d bytes into %s (a crash during its write; the driver cuts it when the job restarts)", got, what)
	}
	return d.binError(d.bin.off, "", "read: %v", err)
}

// runEvent hands out the open run's next event as d.pre.
func (d *Reader) runEvent() []byte {
	r := &d.bin.run
	if r.cur == r.end {
		var u, l uint64
		i := 0
		u, i, _ = uvarint(r.ranges, i)
		l, i, _ = uvarint(r.ranges, i)
		r.ranges = r.ranges[i:]
		r.cur = r.prevEnd + unzigzag(u)
		r.end = r.cur + int64(l)
		r.prevEnd = r.end
	}
	rec := Record{Event: r.ev}
	rec.Event.Task = r.first + fsm.TaskID(r.cur)
	r.cur++
	if r.sized {
		var s, c uint64
		i := 0
		s, i, _ = uvarint(r.sizes, i)
		c, i, _ = uvarint(r.sizes, i)
		r.sizes = r.sizes[i:]
		rec.Event.StateSize, rec.Event.CheckpointedSize = int64(s), int64(c)
	}
	if r.recorded {
		rec.HasRecorded, rec.Recorded = true, []json.RawMessage{}
	}
	r.left--
	d.line++
	d.pre, d.hasPre = rec, true
	if d.onLine == nil {
		return nil
	}
	var effs []fsm.Effect
	if r.recorded {
		effs = []fsm.Effect{}
	}
	d.lineBuf, _ = AppendEvent(d.lineBuf[:0], d.topo, rec.Event, effs)
	d.onLine(d.lineBuf)
	return d.lineBuf
}

// checkRun reads a run record's payload p (which starts at byte off of the
// input) whole, checking every field, and opens it for runEvent.
func (d *Reader) checkRun(p []byte, off int64) *Error {
	if d.topo == nil {
		return d.binError(off-1, "kind", "a run record before the header: the first record must be the header line")
	}
	i := 0
	field := ""
	num := func(name string, lo, hi uint64) (uint64, *Error) {
		at := i
		v, next, why := uvarint(p, i)
		if why != "" {
			return 0, d.binError(off+int64(at), name, "%s", why)
		}
		if v < lo || v > hi {
			return 0, d.binError(off+int64(at), name, "%d is out of range [%d, %d]", v, lo, hi)
		}
		i = next
		return v, nil
	}
	r := runReader{}
	at, err := num("run.at", 0, maxID)
	if err != nil {
		return err
	}
	r.ev.At = int64(at)
	if i+2 > len(p) {
		return d.binError(off+int64(i), "run.type", "truncated run record")
	}
	typ, ok := runType(p[i])
	if !ok {
		return d.binError(off+int64(i), "run.type", "unknown run event type %d (want 1 ack, 2 decline, 3 task_failed, 4 task_running, 5 task_finished)", p[i])
	}
	flags := p[i+1]
	if flags&^runFlags != 0 || flags&runSizes != 0 && typ != fsm.EvAck {
		return d.binError(off+int64(i+1), "run.flags", "flags %#02x: only bit 0 (effects recorded) and, on acks, bit 1 (sizes) are defined", flags)
	}
	i += 2
	r.ev.Type, r.recorded, r.sized = typ, flags&runRecorded != 0, flags&runSizes != 0
	if typ == fsm.EvAck || typ == fsm.EvDecline {
		id, err := num("run.checkpoint", 1, maxID)
		if err != nil {
			return err
		}
		r.ev.Checkpoint = int64(id)
	}
	if typ == fsm.EvDecline {
		n, err := num("run.reason", 0, 64)
		if err != nil {
			return err
		}
		if i+int(n) > len(p) {
			return d.binError(off+int64(i), "run.reason", "truncated run record")
		}
		reason := fsm.Reason(p[i : i+int(n)])
		if n > 0 && !fsm.ValidDeclineReason(reason) {
			return d.binError(off+int64(i), "run.reason", "%q is not a decline reason (want one of %s)", reason, declineReasons())
		}
		for _, known := range fsm.DeclineReasons { // the constant, not a copy of the input
			if known == reason {
				r.ev.Reason = known
			}
		}
		i += int(n)
	}
	vertices := d.topo.Vertices()
	vi, err := num("run.vertex", 0, uint64(len(vertices)-1))
	if err != nil {
		return err
	}
	v := vertices[vi]
	r.first = v.First
	nranges, err := num("run.ranges", 1, uint64(len(p)))
	if err != nil {
		return err
	}
	rangesAt := i
	events, prevEnd := 0, int64(0)
	for k := 0; k < int(nranges); k++ {
		field = "run.ranges[" + strconv.Itoa(k) + "]"
		at := i
		u, next, why := uvarint(p, i)
		if why != "" {
			return d.binError(off+int64(at), field+".start", "%s", why)
		}
		delta := unzigzag(u)
		if k > 0 && delta == 0 {
			return d.binError(off+int64(at), field+".start", "starts where the previous range ends: the two are one range")
		}
		i = next
		start := prevEnd + delta
		if start < 0 || start >= int64(v.Parallelism) {
			return d.binError(off+int64(at), field+".start", "subtask index %d: vertex %q has %d subtasks", start, v.ID, v.Parallelism)
		}
		n, err := num(field+".length", 1, uint64(int64(v.Parallelism)-start))
		if err != nil {
			return err
		}
		prevEnd = start + int64(n)
		events += int(n)
	}
	r.ranges = p[rangesAt:i]
	if r.sized {
		sizesAt := i
		for k := 0; k < events; k++ {
			field = "run.sizes[" + strconv.Itoa(k) + "]"
			if _, err := num(field+".state_size", 0, maxID); err != nil {
				return err
			}
			if _, err := num(field+".checkpointed_size", 0, maxID); err != nil {
				return err
			}
		}
		r.sizes = p[sizesAt:i]
	}
	if i != len(p) {
		return d.binError(off+int64(i), "run", "%d bytes after the run's last field", len(p)-i)
	}
	r.left = events
	d.bin.run = r
	return nil
}
