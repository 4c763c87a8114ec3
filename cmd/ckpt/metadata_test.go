package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

func writeSampleMetadata(t *testing.T) (string, *checkpointstorage.CheckpointMetadata) {
	t.Helper()
	m := &checkpointstorage.CheckpointMetadata{
		Job: "job-1", Checkpoint: 7, Kind: fsm.KindCheckpoint, Mode: fsm.ModeRegional,
		TriggeredMs: 1764768000000, CompletedMs: 1764768000450, Consecutive: 1,
		Vertices: []checkpointstorage.Vertex{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Subtasks: []checkpointstorage.SubtaskState{
			{Task: "src/0", Region: 0, Ref: 7, Handle: history.StateHandle{URI: "file:///d/chk-7/src-0", Size: 1024}},
			{Task: "src/1", Region: 1, Ref: 5, Handle: history.StateHandle{Inline: []byte("hello"), Size: 5}},
			{Task: "sink/0", Region: 0, Ref: 7},
			{Task: "sink/1", Region: 1, Ref: 5, Handle: history.StateHandle{Size: 9}},
		},
	}
	st, err := checkpointstorage.Open(t.TempDir(), "job-1")
	if err != nil {
		t.Fatal(err)
	}
	path, err := st.WriteMetadata(m)
	if err != nil {
		t.Fatal(err)
	}
	return path, m
}

func TestMetadataText(t *testing.T) {
	path, _ := writeSampleMetadata(t)
	for _, arg := range []string{path, filepath.Dir(path)} {
		code, out, errOut := ckpt(t, "", "metadata", arg)
		if code != 0 || errOut != "" {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{
			"checkpoint 7 of job job-1: regional (consecutive regional completions: 1)",
			"completed 2025-12-03T13:20:00.45Z (450 ms)",
			"vertices: src (2), sink (2); 4 subtasks in 2 regions",
			"region r0: state of checkpoint 7\n  src/0                    file:///d/chk-7/src-0 (1024 bytes)\n  sink/0                   no state\n",
			"region r1: state of checkpoint 5 (failed here; handles copied from that checkpoint)\n  src/1                    inline, 5 bytes\n  sink/1                   9 bytes, no location\n",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}
}

func TestMetadataJSON(t *testing.T) {
	path, _ := writeSampleMetadata(t)
	code, out, _ := ckpt(t, "", "metadata", "-o", "json", path)
	file, _ := os.ReadFile(path)
	if code != 0 || out != string(file) {
		t.Fatalf("exit %d; -o json printed\n%s\nthe file is\n%s", code, out, file)
	}
}

func TestMetadataMalformed(t *testing.T) {
	path, _ := writeSampleMetadata(t)
	data, _ := os.ReadFile(path)
	bad := strings.Replace(string(data), `"ref":5`, `"ref":8`, 1)
	os.WriteFile(path, []byte(bad), 0o644)
	code, _, errOut := ckpt(t, "", "metadata", path)
	if code != 2 || !strings.Contains(errOut, path+": subtasks[1].ref: 8: want a checkpoint id in [1, 7]") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if code, _, errOut := ckpt(t, "", "metadata", filepath.Join(t.TempDir(), "none")); code != 2 || errOut == "" {
		t.Fatalf("missing file: exit %d: %s", code, errOut)
	}
}
