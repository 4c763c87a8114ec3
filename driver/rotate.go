package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// Rotation of flight files inside one incarnation (issue 13). A file grows
// until its events (the lines after its header and first record) take
// FlightMaxBytes bytes or record FlightMaxCheckpoints
// completions; then, between two events, the recorder closes it and goes on
// in flight-<n+1>.jsonl (.bin), which starts with a header (ckpt-history/v1.3) and a
// snapshot record: the core's whole state after the last event of the
// previous file (fsm.AppendSnapshot: pending checkpoints, patches, failure
// counter, timers, subtask statuses — everything that affects what comes
// next), so that each file replays alone and the files of one job chain
// exactly (CheckFlightChain). A restart still begins a new file with a resume
// record: after a crash only the durable state is known.
//
// The next file is written under .flight.tmp and renamed into place before the
// current one is closed: a crash leaves the old file complete and, at most, the
// new one with its header and snapshot.

// Defaults of Options.FlightMaxBytes and FlightMaxCheckpoints.
const (
	DefaultFlightMaxBytes       = 64 << 20
	DefaultFlightMaxCheckpoints = 100000
)

// rotation is a recorder's limits and what the current file holds so far.
type rotation struct {
	maxBytes       int64 // <= 0: no limit
	maxCheckpoints int   // <= 0: no limit
	bytes          int64 // of the current file's events
	checkpoints    int   // completions recorded in the current file
	dir            string
	n              int    // the current file's number
	header         []byte // the v1.3 header line of every rotated file, with its newline
	core           func() *fsm.State
	// mu guards the recorder's path, which the event loop changes when it
	// rotates and FlightFile reads from any goroutine.
	mu sync.Mutex
}

// currentPath is the path of the file being written.
func (r *recorder) currentPath() string {
	if r.rot == nil {
		return r.path
	}
	r.rot.mu.Lock()
	defer r.rot.mu.Unlock()
	return r.path
}

// newRotation returns the limits of opt for a recorder whose first file is
// number n in dir; nil when rotation is off.
func (d *Driver) newRotation(opt Options, dir string, n int) (*rotation, error) {
	rot := &rotation{maxBytes: opt.FlightMaxBytes, maxCheckpoints: opt.FlightMaxCheckpoints,
		dir: dir, n: n, core: func() *fsm.State { return d.core }}
	if rot.maxBytes == 0 {
		rot.maxBytes = DefaultFlightMaxBytes
	}
	if rot.maxCheckpoints == 0 {
		rot.maxCheckpoints = DefaultFlightMaxCheckpoints
	}
	if rot.maxBytes < 0 && rot.maxCheckpoints < 0 {
		return nil, nil
	}
	hdr, err := history.EncodeHeader(history.Header{Format: history.FormatSnapshot, Job: d.job, Config: d.cfg})
	if err != nil {
		return nil, err
	}
	rot.header = append(hdr, '\n')
	return rot, nil
}

// written counts a recorded line and its completions; it reports whether the
// file is full.
func (rot *rotation) written(line int, effs []fsm.Effect) bool {
	rot.bytes += int64(line)
	for i := range effs {
		if effs[i].Type == fsm.EffCompleted {
			rot.checkpoints++
		}
	}
	return rot.maxBytes > 0 && rot.bytes >= rot.maxBytes || rot.maxCheckpoints > 0 && rot.checkpoints >= rot.maxCheckpoints
}

// rotate closes the recorder's file and continues in the next one, which
// starts with the header and a snapshot of the core as it is now (after the
// last recorded event).
func (r *recorder) rotate() error {
	rot := r.rot
	var b []byte
	if r.bin != nil {
		// A new binary file: magic, header and snapshot records (the open run
		// went out with the previous file's last flush).
		b = history.AppendBinaryMagic(nil)
		b = r.bin.AppendLine(b, rot.header[:len(rot.header)-1])
		b = r.bin.AppendLine(b, history.EncodeSnapshotRecord(rot.core()))
	} else {
		b = append(append([]byte(nil), rot.header...), history.EncodeSnapshotRecord(rot.core())...)
		b = append(b, '\n')
	}
	tmp := filepath.Join(rot.dir, flightTmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	path := filepath.Join(rot.dir, fmt.Sprintf("flight-%d%s", rot.n+1, r.ext))
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		f.Close()
		return err
	}
	old := r.f
	rot.mu.Lock()
	r.f, r.path = f, path
	rot.mu.Unlock()
	rot.n++
	rot.bytes, rot.checkpoints = 0, 0
	if err := old.Sync(); err != nil {
		old.Close()
		return err
	}
	return old.Close()
}
