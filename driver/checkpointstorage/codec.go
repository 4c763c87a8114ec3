package checkpointstorage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// Encode renders m as a _metadata file (METADATA.md): one JSON object with
// its keys in a fixed order, one subtask per line, so the same metadata
// always gives the same bytes. It validates m first.
func Encode(m *CheckpointMetadata) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 256+96*len(m.Subtasks))
	b = append(b, `{"format":`...)
	b = appendString(b, Format)
	b = append(b, `,"job":`...)
	b = appendString(b, m.Job)
	b = appendInt(b, "checkpoint", m.Checkpoint)
	b = append(b, `,"kind":`...)
	b = appendString(b, m.Kind.String())
	b = append(b, `,"mode":`...)
	b = appendString(b, m.Mode.String())
	b = appendInt(b, "triggered_ms", m.TriggeredMs)
	b = appendInt(b, "completed_ms", m.CompletedMs)
	b = appendInt(b, "consecutive", int64(m.Consecutive))
	b = append(b, `,"vertices":[`...)
	for i, v := range m.Vertices {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = appendString(b, v.ID)
		b = appendInt(b, "parallelism", int64(v.Parallelism))
		b = append(b, '}')
	}
	b = append(b, "],\n\"subtasks\":[\n"...)
	for i, s := range m.Subtasks {
		if i > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, `{"task":`...)
		b = appendString(b, s.Task)
		b = appendInt(b, "region", int64(s.Region))
		b = appendInt(b, "ref", s.Ref)
		if !s.Handle.IsZero() {
			b = append(b, `,"state":`...)
			b = history.AppendStateHandle(b, s.Handle)
		}
		b = append(b, '}')
	}
	return append(b, "\n]}\n"...), nil
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

func appendInt(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

// ReadMetadata reads and validates the _metadata file at path (a restore
// reads nothing else). Anything malformed — bad JSON, an unknown, missing or
// duplicate field, a value out of bounds, a subtask missing or out of order,
// a region whose subtasks disagree on their checkpoint — is an *Error naming
// the file, the field and the value.
func ReadMetadata(path string) (*CheckpointMetadata, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpointstorage: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() > MaxMetadataBytes {
		return nil, &Error{File: path, Value: strconv.FormatInt(st.Size(), 10) + " bytes", Reason: "larger than " + strconv.Itoa(MaxMetadataBytes) + " bytes (is this a _metadata file?)"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxMetadataBytes+1))
	if err != nil {
		return nil, fmt.Errorf("checkpointstorage: %s: %w", path, err)
	}
	if len(data) > MaxMetadataBytes {
		return nil, &Error{File: path, Reason: "larger than " + strconv.Itoa(MaxMetadataBytes) + " bytes (is this a _metadata file?)"}
	}
	m, err := Decode(data)
	var e *Error
	if errors.As(err, &e) {
		e.File = path
	}
	return m, err
}

// IsNotExist reports whether err says that a metadata file is not there.
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// Decode parses and validates the content of a _metadata file; see
// ReadMetadata.
func Decode(data []byte) (*CheckpointMetadata, error) {
	if len(data) > MaxMetadataBytes {
		return nil, errf("", "", "larger than "+strconv.Itoa(MaxMetadataBytes)+" bytes")
	}
	o, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	if err := o.allow("format", "job", "checkpoint", "kind", "mode", "triggered_ms", "completed_ms",
		"consecutive", "vertices", "subtasks"); err != nil {
		return nil, err
	}
	format, _, err := o.str("format", true)
	if err != nil {
		return nil, err
	}
	if format != Format {
		return nil, errf("format", quote(format), "not supported (want "+quote(Format)+")")
	}
	m := &CheckpointMetadata{}
	if m.Job, _, err = o.str("job", true); err != nil {
		return nil, err
	}
	if m.Checkpoint, _, err = o.integer("checkpoint", true, 1, fsm.MaxSafeInt); err != nil {
		return nil, err
	}
	kind, _, err := o.str("kind", true)
	if err != nil {
		return nil, err
	}
	var ok bool
	if m.Kind, ok = fsm.ParseKind(kind); !ok {
		return nil, errf("kind", quote(kind), "want checkpoint, savepoint or stop_with_savepoint")
	}
	mode, _, err := o.str("mode", true)
	if err != nil {
		return nil, err
	}
	switch mode {
	case fsm.ModeGlobal.String():
		m.Mode = fsm.ModeGlobal
	case fsm.ModeRegional.String():
		m.Mode = fsm.ModeRegional
	default:
		return nil, errf("mode", quote(mode), "want global or regional")
	}
	if m.TriggeredMs, _, err = o.integer("triggered_ms", true, 0, fsm.MaxSafeInt); err != nil {
		return nil, err
	}
	if m.CompletedMs, _, err = o.integer("completed_ms", true, 0, fsm.MaxSafeInt); err != nil {
		return nil, err
	}
	consecutive, _, err := o.integer("consecutive", true, 0, 1<<31-1)
	if err != nil {
		return nil, err
	}
	m.Consecutive = int(consecutive)
	if err := decodeVertices(o, m); err != nil {
		return nil, err
	}
	if err := decodeSubtasks(o, m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeVertices(o *obj, m *CheckpointMetadata) error {
	vs, _, err := o.array("vertices", true)
	if err != nil {
		return err
	}
	total := int64(0)
	for i, raw := range vs {
		v, err := parseObj("vertices["+strconv.Itoa(i)+"]", raw)
		if err != nil {
			return err
		}
		if err := v.allow("id", "parallelism"); err != nil {
			return err
		}
		id, _, err := v.str("id", true)
		if err != nil {
			return err
		}
		p, _, err := v.integer("parallelism", true, 1, fsm.MaxSubtasks-total)
		if err != nil {
			return err
		}
		total += p
		m.Vertices = append(m.Vertices, Vertex{ID: id, Parallelism: int(p)})
	}
	return nil
}

func decodeSubtasks(o *obj, m *CheckpointMetadata) error {
	ss, _, err := o.array("subtasks", true)
	if err != nil {
		return err
	}
	m.Subtasks = make([]SubtaskState, 0, len(ss))
	for i, raw := range ss {
		path := "subtasks[" + strconv.Itoa(i) + "]"
		s, err := parseObj(path, raw)
		if err != nil {
			return err
		}
		if err := s.allow("task", "region", "ref", "state"); err != nil {
			return err
		}
		var st SubtaskState
		if st.Task, _, err = s.str("task", true); err != nil {
			return err
		}
		region, _, err := s.integer("region", true, 0, fsm.MaxSubtasks-1)
		if err != nil {
			return err
		}
		st.Region = int(region)
		if st.Ref, _, err = s.integer("ref", true, 1, fsm.MaxSafeInt); err != nil {
			return err
		}
		hraw, ok, _ := s.raw("state", false)
		if ok {
			if st.Handle, err = decodeHandle(path+".state", hraw); err != nil {
				return err
			}
		}
		m.Subtasks = append(m.Subtasks, st)
	}
	return nil
}

// decodeHandle reads a subtask's "state" with history's handle parser (one
// definition of the form for histories and _metadata files); path names the
// field in errors.
func decodeHandle(path string, raw json.RawMessage) (history.StateHandle, error) {
	h, err := history.ParseStateHandle(raw)
	if err != nil {
		var he *history.HandleError
		if errors.As(err, &he) && he.Field != "" {
			return h, errf(path+"."+he.Field, he.Value, he.Reason)
		}
		return h, errf(path, "", err.Error())
	}
	return h, nil
}
