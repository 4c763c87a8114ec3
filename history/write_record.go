package history

import "errors"

// WriteRecord writes one record as Decode read it: a resume record (without
// effects: replay recomputes Resume's discards), a snapshot record, or
// WriteEvent(rec.Event, nil). The header must allow the record: a resume
// record needs FormatResume or later, a snapshot record FormatSnapshot.
func (w *Writer) WriteRecord(rec Record) error {
	if w == nil || w.w == nil {
		return errors.New("history: WriteRecord on a nil Writer")
	}
	var line []byte
	switch {
	case rec.Resume != nil:
		line = EncodeResume(w.topo, rec.Event.At, *rec.Resume, nil)
	case rec.Snapshot != nil:
		line = EncodeSnapshotRecord(rec.Snapshot)
	default:
		return w.WriteEvent(rec.Event, nil)
	}
	_, err := w.w.Write(append(line, '\n'))
	return err
}
