package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// replay runs the command and returns its exit code and streams.
func replay(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func write(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const valid = `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"a","parallelism":1}]},"config":{"interval_ms":1000}}
// a comment
{"at":0,"type":"start"}
{"at":1000,"type":"tick"}
{"at":1001,"type":"ack","checkpoint":1,"task":"a/0"}
{"at":1002,"type":"persisted","checkpoint":1}
`

// TestExamples replays every committed example: each must exit 0 with and
// without -summary.
func TestExamples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*.jsonl")
	if err != nil || len(paths) < 2 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	for _, p := range paths {
		for _, args := range [][]string{{p}, {"-summary", p}} {
			if code, _, stderr := replay(t, "", args...); code != 0 {
				t.Errorf("replay %v: exit %d\n%s", args, code, stderr)
			}
		}
	}
}

func TestTraceAndSummary(t *testing.T) {
	path := write(t, "ok.jsonl", valid)
	code, out, stderr := replay(t, "", path)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"L3 @0 start\n", "L4 @1000 tick\n    -> trigger 1 checkpoint deadline=601000 tasks=[a/0]\n",
		"-- 4 events: 1 triggered, 1 completed", "-- invariants: all held\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = replay(t, "", "-summary", path)
	if code != 0 || !strings.HasPrefix(out, `{"format":"ckpt-summary/v1",`) || !strings.HasSuffix(out, "]}\n") ||
		strings.Count(out, `"format"`) != 1 {
		t.Errorf("exit %d, summary:\n%s", code, out)
	}
	// The same from standard input, and -check=false.
	code2, out2, _ := replay(t, valid, "-summary", "-check=false", "-")
	if code2 != 0 || out2 != out {
		t.Errorf("stdin: exit %d, summary differs:\n%s", code2, out2)
	}
}

func TestInvalidInputExit2(t *testing.T) {
	path := write(t, "bad.jsonl", strings.Replace(valid, `"task":"a/0"`, `"task":"a/1"`, 1))
	code, out, stderr := replay(t, "", path)
	want := path + `:5: task: task "a/1": vertex "a" has parallelism 1` + "\n"
	// The history streams: the trace goes out up to the bad line, no further.
	if code != 2 || stderr != want || strings.Contains(out, "L5") || strings.Contains(out, "-- ") {
		t.Errorf("exit %d, stderr %q, want %q; stdout %q", code, stderr, want, out)
	}
	code, _, stderr = replay(t, "{\n", "-")
	if code != 2 || !strings.HasPrefix(stderr, "<stdin>:1: malformed JSON") {
		t.Errorf("stdin: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = replay(t, "", filepath.Join(t.TempDir(), "missing.jsonl"))
	if code != 2 || !strings.Contains(stderr, "replay: open ") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestDivergenceExit1(t *testing.T) {
	text := strings.Replace(valid, `{"at":1000,"type":"tick"}`,
		`{"at":1000,"type":"tick","effects":[{"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":600000}]}`, 1)
	path := write(t, "div.jsonl", text)
	code, _, stderr := replay(t, "", "-summary", path)
	want := path + `:4: recorded effects diverge from the recomputed ones at effect 1 (field deadline) after @1000 tick
  recorded (1 effects):
  > {"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":600000}
  recomputed (1 effects):
  > {"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":601000}
`
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
}

func TestUsageExit2(t *testing.T) {
	path := write(t, "ok.jsonl", valid)
	for _, args := range [][]string{{}, {path, path}, {"-nope", path}, {"-summary=maybe", path}, {path, "-summary"}} {
		code, out, stderr := replay(t, "", args...)
		if code != 2 || !strings.Contains(stderr, "usage: replay [flags] FILE") || out != "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
	if code, _, stderr := replay(t, "", "-h"); code != 0 || !strings.Contains(stderr, "-summary") {
		t.Errorf("-h: exit %d, stderr %q", code, stderr)
	}
}

func TestViolationExit1(t *testing.T) {
	defer func(old func(*history.Reader, history.Options) (*history.Result, error)) { replayReader = old }(replayReader)
	replayReader = func(d *history.Reader, opt history.Options) (*history.Result, error) {
		res, err := history.ReplayReader(d, opt)
		if err == nil {
			res.Summary.Violations = append(res.Summary.Violations, history.Violation{
				Invariant: "I-NoLeak", Line: 6, Event: "@1002 persisted 1", Detail: "checkpoint 1 leaked"})
		}
		return res, err
	}
	path := write(t, "ok.jsonl", valid)
	code, out, stderr := replay(t, "", "-summary", path)
	if want := path + ":6: I-NoLeak violated after @1002 persisted 1: checkpoint 1 leaked\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
	if !strings.Contains(out, `"violations":[{"invariant":"I-NoLeak","line":6,`) {
		t.Errorf("summary:\n%s", out)
	}
}

// The import-flink and what-if subcommands are wired: a Flink log imports into a
// history that replays, and what-if re-decides it.
func TestSubcommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"import-flink", "../../flinklog/testdata/log4j1-1.10-decline.log"}, nil, &out, &errb); code != 0 {
		t.Fatalf("import-flink exit %d: %s", code, errb.String())
	}
	hist := out.String()
	if !strings.HasPrefix(hist, "{\"format\":\"ckpt-history/v1\"") && !strings.Contains(hist, "ckpt-history/v1") {
		t.Fatalf("not a history:\n%s", hist)
	}
	out.Reset()
	if code := run([]string{"-summary", "-"}, strings.NewReader(hist), &out, &errb); code != 0 {
		t.Fatalf("replay of the import exit %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"what-if", "--regional", "../../flinklog/testdata/log4j1-1.10-decline.log"}, nil, &out, &errb); code != 0 {
		t.Fatalf("what-if exit %d: %s", code, errb.String())
	}
	if out.Len() == 0 {
		t.Fatal("what-if printed nothing")
	}
}
