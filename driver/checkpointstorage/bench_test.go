package checkpointstorage

import (
	"strconv"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// benchMetadata is a regional checkpoint of a job of 10 vertices x 100
// subtasks (1,000 subtasks, 100 regions), every handle a URI.
func benchMetadata() *CheckpointMetadata {
	m := &CheckpointMetadata{Job: "bench", Checkpoint: 1000, Kind: fsm.KindCheckpoint, Mode: fsm.ModeRegional,
		TriggeredMs: 1, CompletedMs: 2, Consecutive: 1}
	for v := 0; v < 10; v++ {
		id := "v" + strconv.Itoa(v)
		m.Vertices = append(m.Vertices, Vertex{ID: id, Parallelism: 100})
		for i := 0; i < 100; i++ {
			ref := int64(1000)
			if i%10 == 0 {
				ref = 990
			}
			m.Subtasks = append(m.Subtasks, SubtaskState{Task: id + "/" + strconv.Itoa(i), Region: i, Ref: ref,
				Handle: history.StateHandle{URI: "s3://bucket/job/chk-" + strconv.FormatInt(ref, 10) + "/" + id + "-" + strconv.Itoa(i), Size: 1 << 20}})
		}
	}
	return m
}

// BenchmarkEncode1000 and BenchmarkDecode1000: writing and reading (strictly)
// the _metadata of a 1,000-subtask job (go test -bench . -benchmem).
func BenchmarkEncode1000(b *testing.B) {
	m := benchMetadata()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode1000(b *testing.B) {
	data, err := Encode(benchMetadata())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
