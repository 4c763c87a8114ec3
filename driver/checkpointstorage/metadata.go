package checkpointstorage

import (
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// Format is the format string of a _metadata file (METADATA.md). A reader
// refuses any other, so that a file of another version is never misread.
const Format = "ckpt-checkpoint-metadata/v1"

// MetadataFile is the name of the metadata file in a checkpoint's directory
// (Flink's AbstractFsCheckpointStorageAccess.METADATA_FILE_NAME).
const MetadataFile = "_metadata"

// Bounds the reader and the writer enforce besides the handles' own
// (history.StateHandle.Validate).
const (
	// MaxMetadataBytes bounds a _metadata file: the reader refuses a larger
	// one before decoding it, so memory stays bounded whatever the input.
	MaxMetadataBytes = 256 << 20
	// MaxNameBytes bounds a job name and a vertex id.
	MaxNameBytes = 256
)

// CheckpointMetadata is the content of one _metadata file: everything a
// runtime needs to restore every subtask of the job, with no other file read.
type CheckpointMetadata struct {
	Job        string
	Checkpoint int64
	Kind       fsm.Kind
	Mode       fsm.Mode
	// TriggeredMs and CompletedMs are wall-clock times in milliseconds since
	// the Unix epoch: when the checkpoint was triggered and when its
	// completion was decided (the persist effect).
	TriggeredMs int64
	CompletedMs int64
	// Consecutive counts the consecutive regional completions up to this one
	// (R21, R25).
	Consecutive int
	// Vertices is the job's shape: each vertex with its parallelism, in job
	// order. Subtasks has one entry per subtask, in the same order.
	Vertices []Vertex
	Subtasks []SubtaskState
}

// Vertex is one vertex of the job and its parallelism.
type Vertex struct {
	ID          string
	Parallelism int
}

// SubtaskState is one subtask's state in a checkpoint.
type SubtaskState struct {
	// Task is the subtask's name, "<vertex>/<index>" (HISTORY.md).
	Task string
	// Region is the subtask's pipelined region (R3).
	Region int
	// Ref is the checkpoint this state was taken in (Flink's
	// refCheckpointId): the checkpoint itself, or for a region that failed in
	// a regional completion, the older checkpoint whose state it falls back
	// to (R21). It is never a chain: Handle is that checkpoint's handle,
	// copied.
	Ref int64
	// Handle is the state as the subtask's ack reported it; the zero value
	// means the subtask reported no state.
	Handle history.StateHandle
}

// RefOfRegion returns the checkpoint whose state region r uses, and false
// when no subtask of the file is in region r.
func (m *CheckpointMetadata) RefOfRegion(r int) (int64, bool) {
	for i := range m.Subtasks {
		if m.Subtasks[i].Region == r {
			return m.Subtasks[i].Ref, true
		}
	}
	return 0, false
}

// NumRegions returns one more than the highest region number in the file.
func (m *CheckpointMetadata) NumRegions() int {
	n := 0
	for i := range m.Subtasks {
		n = max(n, m.Subtasks[i].Region+1)
	}
	return n
}

// RestoreRegion returns the state of every subtask of region r, in job
// order, as a runtime restoring that region reads it: each with the handle
// to load and the checkpoint it belongs to. It fails when the file has no
// subtask in region r.
func (m *CheckpointMetadata) RestoreRegion(r int) ([]SubtaskState, error) {
	var out []SubtaskState
	for _, s := range m.Subtasks {
		if s.Region == r {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, &Error{Field: "subtasks", Value: fsm.RegionName(r),
			Reason: "no subtask of checkpoint " + itoa(m.Checkpoint) + " is in this region"}
	}
	return out, nil
}

// RestoreSubtask returns the state of the named subtask.
func (m *CheckpointMetadata) RestoreSubtask(task string) (SubtaskState, error) {
	for _, s := range m.Subtasks {
		if s.Task == task {
			return s, nil
		}
	}
	return SubtaskState{}, &Error{Field: "subtasks", Value: task, Reason: "no such subtask in checkpoint " + itoa(m.Checkpoint)}
}
