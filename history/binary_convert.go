package history

import (
	"bytes"
	"io"

	"github.com/ckptcore/ckptcore/fsm"
)

// ToNDJSON reads a history, binary or NDJSON, and writes its NDJSON form:
// for a binary history, the file the NDJSON flight recorder would have written
// for the same run, byte for byte (every line a record held, every event of a
// run as AppendEvent writes it, each ended by a newline). The input is checked
// as NewReader and Next check it; on an error (an *Error naming the line and,
// in a binary history, the byte offset) part of the output may have been
// written.
func ToNDJSON(w io.Writer, r io.Reader, file string) error {
	out := &chunkWriter{w: w}
	d, err := newReader(r, file, func(line []byte) {
		out.b = append(append(out.b, line...), '\n')
		out.maybeFlush()
	})
	if err != nil {
		return err
	}
	if err := drain(d); err != nil {
		return err
	}
	return out.flush()
}

// ToBinary reads a history, binary or NDJSON, and writes it in the binary
// variant: every event line that AppendEvent would write as it stands (an
// ack, decline or subtask update without effects) joins a run, every other
// line — header, comments, claims, events with effects or written otherwise —
// is kept verbatim in a line record. So ToNDJSON of the result is the input
// byte for byte, when the input's lines all end with a newline (a last line
// without one gets one). The input is checked as NewReader and Next check it.
func ToBinary(w io.Writer, r io.Reader, file string) error {
	out := &chunkWriter{w: w, b: AppendBinaryMagic(nil)}
	var pending [][]byte // lines read since the last event, copied
	var spare [][]byte
	d, err := newReader(r, file, func(line []byte) {
		var c []byte
		if n := len(spare); n > 0 {
			c, spare = spare[n-1][:0], spare[:n-1]
		}
		pending = append(pending, append(c, line...))
	})
	if err != nil {
		return err
	}
	enc := NewBinaryEncoder(d.Topology())
	lines := func(ls [][]byte) {
		for _, l := range ls {
			out.b = enc.AppendLine(out.b, l)
			spare = append(spare, l)
		}
	}
	lines(pending)
	pending = pending[:0]
	var canon []byte
	for {
		rec, err := d.Next()
		if err == io.EOF {
			lines(pending)
			out.b = enc.Flush(out.b)
			return out.flush()
		}
		if err != nil {
			return err
		}
		last := pending[len(pending)-1]
		lines(pending[:len(pending)-1])
		pending = pending[:0]
		var effs []fsm.Effect
		if rec.HasRecorded {
			effs = []fsm.Effect{}
		}
		runnable := len(rec.Recorded) == 0 && rec.Resume == nil && rec.Snapshot == nil &&
			enc.runnable(&rec.Event, &rec.Handle, effs)
		if runnable {
			canon, _ = AppendEvent(canon[:0], d.Topology(), rec.Event, effs)
			runnable = bytes.Equal(canon, last)
		}
		if runnable {
			out.b, _ = enc.AppendEvent(out.b, rec.Event, StateHandle{}, effs)
		} else {
			out.b = enc.AppendLine(out.b, last)
		}
		spare = append(spare, last)
		out.maybeFlush()
	}
}

// drain reads a history to its end.
func drain(d *Reader) error {
	for {
		if _, err := d.Next(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// chunkWriter collects output and writes it in chunks of about 64 KiB.
type chunkWriter struct {
	w   io.Writer
	b   []byte
	err error
}

func (c *chunkWriter) maybeFlush() {
	if len(c.b) >= 64<<10 {
		_ = c.flush()
	}
}

func (c *chunkWriter) flush() error {
	if c.err == nil && len(c.b) > 0 {
		_, c.err = c.w.Write(c.b)
	}
	c.b = c.b[:0]
	return c.err
}
