package history

import (
	"encoding/base64"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// FormatSnapshot is the header format of a history whose first event may be
// a snapshot record (HISTORY.md, "Snapshot"): ckpt-history/v1.2 plus that one
// event type. An earlier reader refuses such a file by its header, naming
// the version; this package reads all four.
const FormatSnapshot = "ckpt-history/v1.3"

// snapshotType is the snapshot record's type. Like resume it is not an fsm
// event: the record is the core (fsm.DecodeSnapshot), not a step of one.
const snapshotType = "snapshot"

// decodeSnapshotRecord reads {"at":T,"type":"snapshot","snapshot":"<base64>"}
// with optional "effects" (always empty: the record decides nothing). The
// snapshot must decode for this job (fsm.DecodeSnapshot's strict checks) and be
// of time T. The Reader checks the header's format and configuration and that
// the record comes first.
func decodeSnapshotRecord(t *fsm.Topology, o *object) (Record, error) {
	var rec Record
	if err := o.allow("a snapshot record has", "at", "type", "snapshot", "effects"); err != nil {
		return rec, err
	}
	var err error
	if rec.Event.At, _, err = o.integer("at", true, 0, maxID); err != nil {
		return rec, err
	}
	text, _, err := o.str("snapshot", true)
	if err != nil {
		return rec, err
	}
	b, err := base64.StdEncoding.Strict().DecodeString(text)
	if err != nil {
		return rec, errorf(o.field("snapshot"), "not standard base64: %v", err)
	}
	s, err := fsm.DecodeSnapshot(t, b)
	if err != nil {
		return rec, errorf(o.field("snapshot"), "%s", strings.TrimPrefix(err.Error(), "fsm: snapshot: "))
	}
	if s.Now() != rec.Event.At {
		return rec, errorf(o.field("at"), "%d, but the snapshot is of time %d", rec.Event.At, s.Now())
	}
	rec.Snapshot = s
	if err := decodeRecorded(o, &rec); err != nil {
		return rec, err
	}
	if len(rec.Recorded) > 0 {
		return rec, errorf(o.field("effects"), "a snapshot record has no effects (it decides nothing), got %d", len(rec.Recorded))
	}
	return rec, nil
}

// EncodeSnapshotRecord renders a snapshot record of the core as one line
// without the newline: base64 of fsm's snapshot, at the core's time, with an
// empty effects list (the record decides nothing; a reader that compares
// recorded effects sees none).
func EncodeSnapshotRecord(s *fsm.State) []byte {
	o := newObject()
	o.int("at", s.Now())
	o.str("type", snapshotType)
	o.str("snapshot", base64.StdEncoding.EncodeToString(s.AppendSnapshot(nil)))
	o.raw("effects", []byte("[]"))
	return o.bytes()
}
