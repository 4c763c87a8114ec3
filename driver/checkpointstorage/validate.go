package checkpointstorage

import (
	"errors"
	"strconv"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// ValidName reports whether s may name a job (it is a directory name in the
// layout) or a vertex: 1 to MaxNameBytes bytes of letters, digits, '.', '_'
// and '-', and not "." or "..".
func ValidName(s string) bool {
	if s == "" || len(s) > MaxNameBytes || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Validate checks m against METADATA.md: the writer refuses to write, and
// the reader to return, anything that breaks it. The error is an *Error
// naming the field and the value.
func (m *CheckpointMetadata) Validate() error {
	if !ValidName(m.Job) {
		return errf("job", quote(m.Job), "want 1 to 256 letters, digits, '.', '_' or '-' (a directory name), not . or ..")
	}
	if m.Checkpoint < 1 || m.Checkpoint > fsm.MaxSafeInt {
		return errf("checkpoint", itoa(m.Checkpoint), "want an id in [1, 2^53-1]")
	}
	if m.Kind > fsm.KindStopWithSavepoint {
		return errf("kind", itoa(int64(m.Kind)), "unknown kind")
	}
	if m.Mode > fsm.ModeRegional {
		return errf("mode", itoa(int64(m.Mode)), "unknown mode")
	}
	for _, t := range []struct {
		name string
		v    int64
	}{{"triggered_ms", m.TriggeredMs}, {"completed_ms", m.CompletedMs}} {
		if t.v < 0 || t.v > fsm.MaxSafeInt {
			return errf(t.name, itoa(t.v), "want milliseconds in [0, 2^53-1]")
		}
	}
	if m.CompletedMs < m.TriggeredMs {
		return errf("completed_ms", itoa(m.CompletedMs), "before triggered_ms "+itoa(m.TriggeredMs))
	}
	if m.Consecutive < 0 || m.Consecutive > 1<<31-1 {
		return errf("consecutive", strconv.Itoa(m.Consecutive), "want an integer in [0, 2^31-1]")
	}
	if m.Mode == fsm.ModeRegional {
		if m.Kind != fsm.KindCheckpoint {
			return errf("mode", "regional", "a "+m.Kind.String()+" is always global (R24)")
		}
		if m.Consecutive < 1 {
			return errf("consecutive", strconv.Itoa(m.Consecutive), "a regional completion counts itself: want >= 1 (R21)")
		}
	} else if m.Kind == fsm.KindCheckpoint && m.Consecutive != 0 {
		return errf("consecutive", strconv.Itoa(m.Consecutive), "a global checkpoint resets the count: want 0 (R25)")
	}
	if err := m.validateShape(); err != nil {
		return err
	}
	return m.validateSubtasks()
}

// validateShape checks the vertices and that Subtasks lists each subtask of
// each vertex once, in order.
func (m *CheckpointMetadata) validateShape() error {
	if len(m.Vertices) == 0 {
		return errf("vertices", "[]", "a job has at least one vertex")
	}
	seen := make(map[string]bool, len(m.Vertices))
	total := 0
	for i, v := range m.Vertices {
		f := "vertices[" + strconv.Itoa(i) + "]"
		if !ValidName(v.ID) {
			return errf(f+".id", quote(v.ID), "want 1 to 256 letters, digits, '.', '_' or '-'")
		}
		if seen[v.ID] {
			return errf(f+".id", quote(v.ID), "listed twice")
		}
		seen[v.ID] = true
		if v.Parallelism < 1 || v.Parallelism > fsm.MaxSubtasks-total {
			return errf(f+".parallelism", strconv.Itoa(v.Parallelism), "want >= 1, at most "+strconv.Itoa(fsm.MaxSubtasks)+" subtasks in the job")
		}
		total += v.Parallelism
	}
	if len(m.Subtasks) != total {
		return errf("subtasks", strconv.Itoa(len(m.Subtasks))+" entries", "the vertices have "+strconv.Itoa(total)+" subtasks: every subtask is listed once, in job order")
	}
	k := 0
	for _, v := range m.Vertices {
		for i := 0; i < v.Parallelism; i++ {
			want := v.ID + "/" + strconv.Itoa(i)
			if m.Subtasks[k].Task != want {
				return errf("subtasks["+strconv.Itoa(k)+"].task", quote(m.Subtasks[k].Task), "want "+quote(want)+" (every subtask once, in job order)")
			}
			k++
		}
	}
	return nil
}

// validateSubtasks checks regions, refs and handles: every subtask of a
// region uses the same checkpoint's state (R21), refs are not newer than the
// checkpoint, and the mode is regional exactly when some region uses older
// state (I-RegionConsistency).
func (m *CheckpointMetadata) validateSubtasks() error {
	regionRef := map[int]int64{}
	older := false
	for k := range m.Subtasks {
		s := &m.Subtasks[k]
		f := "subtasks[" + strconv.Itoa(k) + "]"
		if s.Region < 0 || s.Region >= len(m.Subtasks) {
			return errf(f+".region", strconv.Itoa(s.Region), "want a region in [0, number of subtasks)")
		}
		if s.Ref < 1 || s.Ref > m.Checkpoint {
			return errf(f+".ref", itoa(s.Ref), "want a checkpoint id in [1, "+itoa(m.Checkpoint)+"]: the state of this checkpoint or of an older one (R21)")
		}
		if r, ok := regionRef[s.Region]; ok && r != s.Ref {
			return errf(f+".ref", itoa(s.Ref), "region "+fsm.RegionName(s.Region)+" uses checkpoint "+itoa(r)+" in an earlier subtask: a region's subtasks share one checkpoint (R21)")
		}
		regionRef[s.Region] = s.Ref
		older = older || s.Ref < m.Checkpoint
		if err := s.Handle.Validate(); err != nil {
			return handleError(f+".state", s.Handle, err)
		}
	}
	for r := 0; r < len(regionRef); r++ {
		if _, ok := regionRef[r]; !ok {
			return errf("subtasks", fsm.RegionName(r), "no subtask is in this region, but region numbers up to "+strconv.Itoa(len(regionRef)-1)+" are used: regions are numbered 0, 1, ... without gaps (R3)")
		}
	}
	if older != (m.Mode == fsm.ModeRegional) {
		return errf("mode", m.Mode.String(), "a checkpoint is regional exactly when some region uses an older checkpoint's state (I-RegionConsistency)")
	}
	return nil
}

// handleError turns a handle's bound error into an *Error naming the field
// of the file and its value.
func handleError(field string, h history.StateHandle, err error) *Error {
	var he *history.HandleError
	if !errors.As(err, &he) {
		return errf(field, "", err.Error())
	}
	value := he.Value
	if he.Field == "uri" && len(h.URI) <= MaxNameBytes {
		value = quote(h.URI)
	}
	return errf(field+"."+he.Field, value, he.Reason)
}
