package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// The histories in tla/testdata are what tla/run.sh trace validates against the
// TLA+ spec by default. They must stay valid histories that the Go core
// replays with every invariant holding, and normalize must turn each into the
// NDJSON TLC reads: a job line, then one object per event with its effects.
func TestTestdata(t *testing.T) {
	files, err := filepath.Glob("../testdata/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no histories in tla/testdata (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h, err := history.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res, err := history.Replay(h, history.Options{Check: true})
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() {
				t.Fatalf("replay: violations %v, divergence %v", res.Summary.Violations, res.Divergence)
			}
			out, err := normalize(f, true)
			if err != nil {
				t.Fatal(err)
			}
			lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
			if len(lines) != len(h.Records)+1 {
				t.Fatalf("%d lines, want the job line and %d events", len(lines), len(h.Records))
			}
			for i, l := range lines {
				var v map[string]any
				if err := json.Unmarshal(l, &v); err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				if i == 0 && v["type"] != "job" {
					t.Fatalf("first line is %v, want the job", v["type"])
				}
				if _, ok := v["effects"]; i > 0 && !ok {
					t.Fatalf("line %d has no effects", i+1)
				}
			}
		})
	}
}

// A number TLC cannot hold is refused rather than silently truncated.
func TestRange(t *testing.T) {
	if _, err := clean(map[string]any{"at": json.Number("4294967296")}); err == nil {
		t.Fatal("2^32 accepted")
	}
	if _, err := clean(map[string]any{"ratio": json.Number("0.5")}); err == nil {
		t.Fatal("0.5 accepted")
	}
	v, err := clean(map[string]any{"x": nil, "y": json.Number("7")})
	if err != nil {
		t.Fatal(err)
	}
	if m := v.(map[string]any); len(m) != 1 || m["y"] != int64(7) {
		t.Fatalf("got %v, want nulls dropped and 7 kept", m)
	}
}

// Subtask ranges become one name each, so that TLC compares them as sets.
func TestExpandNames(t *testing.T) {
	got, err := expandNames([]any{"src/0-2", "sink/1", "a/b/3-4"})
	if err != nil {
		t.Fatal(err)
	}
	want := []any{"src/0", "src/1", "src/2", "sink/1", "a/b/3", "a/b/4"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	for _, bad := range []string{"src", "src/x", "src/3-1"} {
		if _, err := expandNames([]any{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
