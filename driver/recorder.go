package driver

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// recorder is the flight recorder: every event the core accepts, with the
// effects it produced, goes to a history file (docs/spec/HISTORY.md) that
// `replay` reproduces. Files are flight-<n>.jsonl, n counting up in the
// directory, one per incarnation, each self-contained:
//
//   - a fresh job's file is header (ckpt-history/v1) and start, then events;
//   - a resumed incarnation's file (R50) is header (ckpt-history/v1.1) and a
//     resume record holding the durable state the core resumed from — the
//     store as loaded, after num-retained (R40): completed checkpoints with
//     refs, mode and consecutive count, the id counter, the confirmed
//     overrides, the restored snapshot — then events. Replay builds the core
//     with fsm.Resume from it, so the file needs nothing else;
//   - a file rotated inside an incarnation (rotate.go) is header
//     (ckpt-history/v1.3) and a snapshot record of the whole core after the
//     previous file's last event, then events.
//
// The header and the first line go out in one file that is written under a
// temporary name and renamed into place: a crash leaves either no file or one
// that replays. Later lines are encoded by a history.LineEncoder into a buffer
// (no allocation per event) that goes out in one write(2) of whole lines:
// when the event loop has caught up with its queue (nothing more signalled
// after a batch), when it reaches recorderFlushAt, and before the effects of a
// step are handed to the effect worker. So every line of a step with effects —
// a store write, a trigger, a notification — is in the file before any of its
// effects is carried out, and what a process crash loses is at most the steps
// without effects applied since the last write: events that changed nothing
// durable (the store, not the flight file, is what recovery rests on, R50).
// Under a flood of acks a batch is a few dozen events; a write(2) after each
// cost the loop more than the events (issue 19). Nothing is fsync'd before Close: a power loss
// may lose more of the tail (a torn last line is the most a crash leaves;
// CheckFlightChain and the next incarnation cut it). Close flushes and fsyncs.
//
// With FlightBinary the files are flight-<n>.bin in the binary variant
// (HISTORY.md, "Binary variant"; recorder_format.go): the same records, but an
// event without effects joins the encoder's open run — a compare and an
// increment on the loop, instead of an NDJSON line — and the run goes out as
// one record where the lines would have (when the loop catches up, before the
// effects of a step). What a crash loses is the same; a power loss may leave a
// torn last record, which the next incarnation cuts.
//
// Restart time does not depend on earlier files (at Open only the previous
// file's tail is read: its last line, or a binary file's record framing), and
// the files of one job chain: each one's end state, with what a crash can
// leave undone, is the state the next one resumes from (CheckFlightChain).
type recorder struct {
	f    *os.File
	topo *fsm.Topology
	path string
	enc  *history.LineEncoder
	// bin, in a binary flight file (FlightBinary), encodes the events
	// instead: acks and other events without effects go into its open run,
	// which flush writes out with the buffered records.
	bin      *history.BinaryEncoder
	ext      string  // the files' extension: .jsonl or .bin
	cbuf     []byte  // a comment line being built (binary)
	buf      []byte  // whole lines not yet written; nil between batches
	bufp     *[]byte // buf's pool entry
	err      error
	reported bool
	rot      *rotation // nil: the file is never rotated (rotate.go)
}

// recorderFlushAt is the buffered size at which the recorder writes without
// waiting for the loop to catch up.
const recorderFlushAt = 64 << 10

// lineBuffers holds the recorders' line buffers between batches: a recorder
// takes one for a batch and gives it back when it flushes, so a busy job
// reuses one buffer without allocating and an idle job holds none (many jobs
// share a handful; BenchmarkIdleJobs).
var lineBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, recorderFlushAt+4<<10)
	return &b
}}

// flightTmp is the name a flight file is written under until its first line
// is in it.
const flightTmp = ".flight.tmp"

// openRecorder creates this incarnation's file with its header and first line
// (a start or a resume record, with its effects), at once.
func (d *Driver) openRecorder(opt Options, format string, first []byte) error {
	if opt.NoFlightRecorder || opt.FlightDir == "" {
		return nil
	}
	if err := os.MkdirAll(opt.FlightDir, 0o755); err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	n, err := nextFlightNumber(opt.FlightDir)
	if err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	if n > 1 {
		if err := cutTorn(opt.FlightDir, n-1); err != nil {
			return fmt.Errorf("driver: flight recorder: %w", err)
		}
	}
	hdr, err := history.EncodeHeader(history.Header{Format: format, Job: d.job, Config: d.cfg})
	if err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	rec := &recorder{topo: d.topo, enc: history.NewLineEncoder(d.topo), ext: opt.FlightFormat.ext()}
	var b []byte
	if opt.FlightFormat == FlightBinary {
		rec.bin = history.NewBinaryEncoder(d.topo)
		b = rec.bin.AppendLine(rec.bin.AppendLine(history.AppendBinaryMagic(nil), hdr), first)
	} else {
		b = append(append(append(hdr, '\n'), first...), '\n')
	}
	tmp := filepath.Join(opt.FlightDir, flightTmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	path := filepath.Join(opt.FlightDir, fmt.Sprintf("flight-%d%s", n, rec.ext))
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	// The descriptor stays valid across the rename: later lines append to the
	// file under its final name.
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	rot, err := d.newRotation(opt, opt.FlightDir, n)
	if err != nil {
		f.Close()
		return fmt.Errorf("driver: flight recorder: %w", err)
	}
	rec.f, rec.path, rec.rot = f, path, rot
	d.rec = rec
	return nil
}

// cutTornLine cuts a last line without its newline off the previous
// incarnation's file: a power loss during its write (a process crash cannot
// tear a write(2) to a file). The step it recorded was never complete.
func cutTornLine(path string) error {
	return cutTail(path, func(f *os.File, size int64) (int64, error) {
		from := max(0, size-history.MaxLineBytes-1)
		tail := make([]byte, size-from)
		if _, err := f.ReadAt(tail, from); err != nil {
			return 0, err
		}
		if len(tail) == 0 || tail[len(tail)-1] == '\n' {
			return size, nil
		}
		return from + int64(bytes.LastIndexByte(tail, '\n')+1), nil
	})
}

// cutTail truncates the flight file at path to the length whole returns (the
// end of its last whole line or record) and syncs it; nothing if the file does
// not exist or is whole already.
func cutTail(path string, whole func(f *os.File, size int64) (int64, error)) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	keep, err := whole(f, st.Size())
	if err != nil || keep == st.Size() {
		return err
	}
	if err := f.Truncate(keep); err != nil {
		return err
	}
	return f.Sync()
}

// nextFlightNumber returns one more than the largest n of flight-<n>.jsonl
// and flight-<n>.bin in dir.
func nextFlightNumber(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if k, ok := flightNumber(e.Name()); ok && k > n {
			n = k
		}
	}
	return n + 1, nil
}

// flightNumber returns n of a file named flight-<n>.jsonl or flight-<n>.bin.
func flightNumber(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "flight-")
	if !ok {
		return 0, false
	}
	for _, ext := range flightExts {
		if num, ok := strings.CutSuffix(s, ext); ok {
			k, err := strconv.Atoi(num)
			return k, err == nil
		}
	}
	return 0, false
}

// write records one accepted event (into the buffer) with the state handle
// its ack carried (zero: none; HISTORY.md, "State handles"); after the first
// error it records nothing more and keeps returning that error.
func (r *recorder) write(ev *fsm.Event, h *history.StateHandle, effs []fsm.Effect) error {
	if r == nil {
		return nil
	}
	if r.err == nil {
		if effs == nil {
			effs = []fsm.Effect{} // record "no effect", not "not recorded"
		}
		start := len(r.buf)
		r.grab()
		if r.bin != nil {
			r.buf, r.err = r.bin.AppendEventRef(r.buf, ev, h, effs)
		} else if r.buf, r.err = r.enc.AppendState(r.buf, *ev, *h, effs); r.err == nil {
			r.buf = append(r.buf, '\n')
		}
		if r.err == nil {
			// Rotation (rotate.go): a full file is flushed and the next one
			// starts with a snapshot of the core after this event.
			full := r.rot != nil && r.rot.written(len(r.buf)-start, effs)
			if len(r.buf) >= recorderFlushAt || full {
				r.flush()
			}
			if full && r.err == nil {
				r.err = r.rotate()
			}
		}
	}
	return r.err
}

// comment records a // comment line (HISTORY.md: ignored by readers), such as
// an event the core refused; line breaks in text become spaces.
func (r *recorder) comment(text string) {
	if r == nil || r.err != nil {
		return
	}
	r.grab()
	line := append(r.cbuf[:0], "// "...)
	for i := 0; i < len(text); i++ {
		c := text[i]
		if c == '\n' || c == '\r' {
			c = ' '
		}
		line = append(line, c)
	}
	r.cbuf = line
	if r.bin != nil {
		r.buf = r.bin.AppendLine(r.buf, line)
		return
	}
	r.buf = append(append(r.buf, line...), '\n')
}

// flush writes the buffered lines in one write(2) (a process crash cannot
// tear it; see recorder) and returns the recorder's error.
func (r *recorder) flush() error {
	if r == nil {
		return nil
	}
	if r.bin != nil && r.err == nil && r.bin.Pending() {
		// The open run goes out with the batch; rotation counts its bytes now.
		r.grab()
		n := len(r.buf)
		r.buf = r.bin.Flush(r.buf)
		if r.rot != nil {
			r.rot.bytes += int64(len(r.buf) - n)
		}
	}
	if r.err == nil && len(r.buf) > 0 {
		_, r.err = r.f.Write(r.buf)
	}
	if r.bufp != nil {
		if cap(r.buf) <= 2*recorderFlushAt { // a huge line's buffer is not kept
			*r.bufp = r.buf[:0]
			lineBuffers.Put(r.bufp)
		}
		r.buf, r.bufp = nil, nil
	}
	return r.err
}

// grab takes a line buffer from the pool if the recorder holds none.
func (r *recorder) grab() {
	if r.bufp == nil {
		r.bufp = lineBuffers.Get().(*[]byte)
		r.buf = (*r.bufp)[:0]
	}
}

func (r *recorder) close() error {
	if r == nil {
		return nil
	}
	err := r.flush()
	if serr := r.f.Sync(); err == nil {
		err = serr
	}
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("driver: flight recorder %s: %w", r.path, err)
	}
	return nil
}
