package history

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
)

// MaxLineBytes caps the length of one line of a history (its newline not
// counted). A longer line is an error naming it, so that reading a history
// holds at most one line in memory whatever the input (replay /dev/zero ends
// with "line longer than …", not out of memory). The largest lines real
// histories have are headers of jobs with thousands of vertices and events
// whose recorded effects list thousands of subtasks: well below this.
const MaxLineBytes = 16 << 20

// Reader decodes a history one event at a time: its memory is the header's
// topology and one line, whatever the size of the input. It checks what
// Decode checks, in the same order, with the same errors.
type Reader struct {
	file       string
	br         *bufio.Reader
	buf        []byte // the line being assembled when it spans reads
	line       int    // physical line number of the last line read
	headerLine int
	header     Header
	topo       *fsm.Topology
	events     int
	firstLine  int // line of the first event
	prevAt     int64
	prevLine   int
	claims     []Claim // read since the last TakeClaims
	err        error   // sticky: once reading failed, Next keeps returning it
	// bin is set on a binary history (binary.go); pre then holds the event of
	// a run record that readBinary handed out, already decoded (hasPre).
	bin    *binReader
	pre    Record
	hasPre bool
	// onLine, when set, sees every physical line as read, without its
	// newline (a run's events as their NDJSON lines): the converters use it.
	onLine  func(line []byte)
	lineBuf []byte
}

// NewReader reads up to and including the header of the history in r and
// returns a Reader positioned before its first event. file names the input in
// errors. An error is an *Error naming the line, as Decode's.
//
// A binary history (HISTORY.md, "Binary variant") is recognized by its magic
// and read the same way: the same records, the same checks, lines numbered as
// in its NDJSON conversion, and every error also naming the byte offset.
func NewReader(r io.Reader, file string) (*Reader, error) {
	return newReader(r, file, nil)
}

func newReader(r io.Reader, file string, onLine func([]byte)) (*Reader, error) {
	d := &Reader{file: file, br: bufio.NewReaderSize(r, 64<<10), onLine: onLine}
	if err := d.detectBinary(); err != nil {
		return nil, err
	}
	text, err := d.nextLine()
	if err == io.EOF {
		return nil, d.withOffset(&Error{File: file, Line: d.line + 1, Reason: "no header: the file has no JSON line (want a " + Format + " header)"})
	}
	if err != nil {
		return nil, d.withOffset(err)
	}
	d.headerLine = d.line
	if d.hasPre {
		return nil, d.withOffset(&Error{File: file, Line: d.line, Field: "kind", Reason: "a run record before the header: the first record must be the header line"})
	}
	hdr, topo, herr := decodeHeader(text)
	if herr != nil {
		return nil, d.withOffset(at(file, d.line, herr))
	}
	d.header, d.topo = hdr, topo
	return d, nil
}

// detectBinary switches the reader to the binary variant when the input
// starts with its magic, and checks its version.
func (d *Reader) detectBinary() error {
	head, _ := d.br.Peek(len(BinaryMagic) + 1)
	if !IsBinary(head) {
		return nil
	}
	d.bin = &binReader{off: int64(len(BinaryMagic) + 1)}
	if len(head) <= len(BinaryMagic) {
		return &Error{File: d.file, Line: 1, Offset: int64(len(head)), Field: "version", Reason: "the input ends after the binary magic"}
	}
	if v := head[len(BinaryMagic)]; v != BinaryVersion {
		return &Error{File: d.file, Line: 1, Offset: int64(len(BinaryMagic)), Field: "version",
			Reason: "binary layout version " + strconv.Itoa(int(v)) + " is not supported (this reader reads version " + strconv.Itoa(BinaryVersion) + ")"}
	}
	_, _ = d.br.Discard(len(BinaryMagic) + 1)
	return nil
}

// withOffset adds, in a binary history, the offset of the record being read
// to an *Error that has none.
func (d *Reader) withOffset(err error) error {
	if e, ok := err.(*Error); ok && d.bin != nil && e.Offset == 0 {
		e.Offset = d.bin.recOff
	}
	return err
}

// File is the name the input goes by in errors.
func (d *Reader) File() string { return d.file }

// Header is the history's header.
func (d *Reader) Header() Header { return d.header }

// HeaderLine is the header's physical line.
func (d *Reader) HeaderLine() int { return d.headerLine }

// Topology is the header's job, built and validated.
func (d *Reader) Topology() *fsm.Topology { return d.topo }

// TakeClaims returns the //claim lines read since the last call (claims.go):
// those before the event Next just returned or, after io.EOF, those at the
// end. The caller checks them against the state after the events before them
// (Claim.After).
func (d *Reader) TakeClaims() []Claim {
	c := d.claims
	d.claims = nil
	return c
}

// Next returns the next event. At the end of the input it returns io.EOF, or
// an *Error when the history has no event at all (it needs at least the
// first event). Any other error is an *Error naming the line; after one, Next
// returns it again.
func (d *Reader) Next() (Record, error) {
	if d.err != nil {
		return Record{}, d.err
	}
	rec, err := d.next()
	if err != nil && err != io.EOF {
		err = d.withOffset(err)
	}
	if err != nil {
		d.err = err
	}
	return rec, err
}

func (d *Reader) next() (Record, error) {
	text, err := d.nextLine()
	if err == io.EOF {
		if d.events == 0 {
			return Record{}, &Error{File: d.file, Line: d.headerLine, Reason: "no events: a history needs at least the start event"}
		}
		return Record{}, io.EOF
	}
	if err != nil {
		return Record{}, err
	}
	var rec Record
	if d.hasPre {
		rec, d.hasPre = d.pre, false
	} else if rec, err = decodeEvent(d.topo, text); err != nil {
		return Record{}, at(d.file, d.line, err)
	}
	rec.Line = d.line
	if serr := d.sequence(rec); serr != nil {
		return Record{}, at(d.file, d.line, serr)
	}
	if d.events == 0 {
		d.firstLine = d.line
	}
	d.events++
	d.prevAt, d.prevLine = rec.Event.At, d.line
	return rec, nil
}

// sequence checks the order HISTORY.md requires of events: start first and once,
// time never backwards (R10). The core refuses the same on Step; checking here
// refuses the file before any of it is replayed.
func (d *Reader) sequence(rec Record) error {
	ev := rec.Event
	switch {
	case rec.Resume != nil && d.header.Format == Format:
		return errorf("type", "a resume record needs the header format %q or later (this file says %q)", FormatResume, d.header.Format)
	case !rec.Handle.IsZero() && d.header.Format != FormatState && d.header.Format != FormatSnapshot:
		return errorf("state", "an ack's state handle needs the header format %q or later (this file says %q)", FormatState, d.header.Format)
	case rec.Resume != nil && d.events > 0:
		return errorf("type", "a resume record must be the first event (the job started on line %d)", d.firstLine)
	case rec.Snapshot != nil && d.header.Format != FormatSnapshot:
		return errorf("type", "a snapshot record needs the header format %q (this file says %q)", FormatSnapshot, d.header.Format)
	case rec.Snapshot != nil && d.events > 0:
		return errorf("type", "a snapshot record must be the first event (the job started on line %d)", d.firstLine)
	case rec.Snapshot != nil && rec.Snapshot.Config() != d.header.Config:
		return errorf("snapshot", "the snapshot's configuration %+v is not the header's %+v", rec.Snapshot.Config(), d.header.Config)
	case d.events == 0 && ev.Type != fsm.EvStart && rec.Resume == nil && rec.Snapshot == nil:
		return errorf("type", "the first event must be start, resume or snapshot, got %s", ev.Type)
	case d.events > 0 && ev.Type == fsm.EvStart:
		return errorf("type", "second start: the job already started on line %d", d.firstLine)
	case d.events > 0 && ev.At < d.prevAt:
		return errorf("at", "time goes backwards: %d after %d on line %d (R10)", ev.At, d.prevAt, d.prevLine)
	}
	return nil
}

// nextLine returns the next line that is neither blank nor a // comment,
// trimmed, or io.EOF. The slice is valid until the next call.
func (d *Reader) nextLine() ([]byte, error) {
	for {
		text, err := d.readLine()
		if err != nil {
			return nil, err
		}
		if d.hasPre { // an event of a run record: no text to look at
			return nil, nil
		}
		trimmed := bytes.TrimSpace(text)
		if bytes.HasPrefix(trimmed, []byte(ClaimPrefix)) {
			c, cerr := parseClaim(trimmed)
			if cerr != nil {
				return nil, &Error{File: d.file, Line: d.line, Field: cerr.Field, Reason: cerr.Reason}
			}
			c.Line, c.After = d.line, d.events
			d.claims = append(d.claims, c)
			continue
		}
		if len(trimmed) == 0 || bytes.HasPrefix(trimmed, []byte("//")) {
			continue
		}
		return trimmed, nil
	}
}

// readLine reads one physical line without its line ending, or io.EOF after
// the last one. A last line without a newline counts as a line.
func (d *Reader) readLine() ([]byte, error) {
	if d.bin != nil {
		return d.readBinary()
	}
	d.buf = d.buf[:0]
	for {
		chunk, err := d.br.ReadSlice('\n')
		if len(d.buf)+len(bytes.TrimRight(chunk, "\r\n")) > MaxLineBytes {
			d.line++
			return nil, &Error{File: d.file, Line: d.line,
				Reason: "line longer than " + strconv.Itoa(MaxLineBytes) + " bytes (is this a history?)"}
		}
		switch {
		case err == nil:
			d.line++
			if len(d.buf) == 0 {
				d.see(chunk[:len(chunk)-1])
				return bytes.TrimRight(chunk, "\r\n"), nil
			}
			d.buf = append(d.buf, chunk...)
			d.see(d.buf[:len(d.buf)-1])
			return bytes.TrimRight(d.buf, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			d.buf = append(d.buf, chunk...)
		case err == io.EOF:
			d.buf = append(d.buf, chunk...)
			if len(d.buf) == 0 {
				return nil, io.EOF
			}
			d.line++
			d.see(d.buf)
			return bytes.TrimRight(d.buf, "\r\n"), nil
		default:
			d.line++
			return nil, &Error{File: d.file, Line: d.line, Reason: "read: " + err.Error()}
		}
	}
}

// see hands a physical line to onLine, if set.
func (d *Reader) see(line []byte) {
	if d.onLine != nil {
		d.onLine(line)
	}
}

// DecodeEventLine decodes one event line of a history of job t, with the
// checks Decode makes of a line (not those of its place in the file: start
// first, time order). A resume record decodes with Record.Resume set.
func DecodeEventLine(t *fsm.Topology, line []byte) (Record, error) {
	if len(line) > MaxLineBytes {
		return Record{}, errorf("", "line longer than %d bytes", MaxLineBytes)
	}
	return decodeEvent(t, bytes.TrimSpace(line))
}
