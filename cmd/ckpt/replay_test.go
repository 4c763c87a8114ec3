package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

const valid = `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"a","parallelism":1}]},"config":{"interval_ms":1000}}
// a comment
{"at":0,"type":"start"}
{"at":1000,"type":"tick"}
{"at":1001,"type":"ack","checkpoint":1,"task":"a/0"}
{"at":1002,"type":"persisted","checkpoint":1}
`

// TestExamples replays every committed example: each must exit 0 with the
// trace and with the JSON summary.
func TestExamples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*.jsonl")
	if err != nil || len(paths) < 2 {
		t.Fatalf("examples: %v %v", paths, err)
	}
	for _, p := range paths {
		for _, args := range [][]string{{"replay", p}, {"replay", "-o", "json", p}} {
			if code, _, stderr := ckpt(t, "", args...); code != 0 {
				t.Errorf("%v: exit %d\n%s", args, code, stderr)
			}
		}
	}
}

func TestReplayTraceAndSummary(t *testing.T) {
	path := writeTemp(t, "ok.jsonl", valid)
	code, out, stderr := ckpt(t, "", "replay", path)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{"L3 @0 start\n", "L4 @1000 tick\n    -> persist_id_counter next_id=2\n    -> trigger 1 checkpoint deadline=601000 tasks=[a/0]\n",
		"-- 4 events: 1 triggered, 1 completed", "-- invariants: all held\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("trace lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = ckpt(t, "", "replay", "-o", "json", path)
	if code != 0 || !strings.HasPrefix(out, `{"format":"ckpt-summary/v1",`) || !strings.HasSuffix(out, "]}\n") ||
		strings.Count(out, `"format"`) != 1 {
		t.Errorf("exit %d, summary:\n%s", code, out)
	}
	// The same from standard input, with the flags after the file and
	// --check=false, and with the long form of -o.
	code2, out2, _ := ckpt(t, valid, "replay", "-", "--output=json", "--check=false")
	if code2 != 0 || out2 != out {
		t.Errorf("stdin: exit %d, summary differs:\n%s", code2, out2)
	}
}

func TestReplayInvalidInputExit2(t *testing.T) {
	path := writeTemp(t, "bad.jsonl", strings.Replace(valid, `"task":"a/0"`, `"task":"a/1"`, 1))
	code, out, stderr := ckpt(t, "", "replay", path)
	want := path + `:5: task: task "a/1": vertex "a" has parallelism 1` + "\n"
	// The history streams: the trace goes out up to the bad line, no further.
	if code != 2 || stderr != want || strings.Contains(out, "L5") || strings.Contains(out, "-- ") {
		t.Errorf("exit %d, stderr %q, want %q; stdout %q", code, stderr, want, out)
	}
	code, _, stderr = ckpt(t, "{\n", "replay", "-")
	if code != 2 || !strings.HasPrefix(stderr, "<stdin>:1: malformed JSON") {
		t.Errorf("stdin: exit %d, stderr %q", code, stderr)
	}
	code, _, stderr = ckpt(t, "", "replay", filepath.Join(t.TempDir(), "missing.jsonl"))
	if code != 2 || !strings.HasPrefix(stderr, "ckpt replay: open ") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}

func TestReplayDivergenceExit1(t *testing.T) {
	text := strings.Replace(valid, `{"at":1000,"type":"tick"}`,
		`{"at":1000,"type":"tick","effects":[{"type":"persist_id_counter","next_id":2},{"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":600000}]}`, 1)
	path := writeTemp(t, "div.jsonl", text)
	code, _, stderr := ckpt(t, "", "replay", "-o", "json", path)
	want := path + `:4: recorded effects diverge from the recomputed ones at effect 2 (field deadline) after @1000 tick
  recorded (2 effects):
    {"type":"persist_id_counter","next_id":2}
  > {"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":600000}
  recomputed (2 effects):
    {"type":"persist_id_counter","next_id":2}
  > {"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":601000}
`
	if code != 1 || stderr != want {
		t.Errorf("exit %d, stderr\n%s\nwant\n%s", code, stderr, want)
	}
}

// Command-line mistakes exit 2 with one error line and a pointer to the help,
// and print nothing on standard output.
func TestReplayUsageExit2(t *testing.T) {
	path := writeTemp(t, "ok.jsonl", valid)
	for _, args := range [][]string{{}, {path, path}, {"-nope", path}, {"--check=maybe", path}, {path, "-summary"},
		{"-o", "xml", path}, {"--summary", path}} {
		code, out, stderr := ckpt(t, "", append([]string{"replay"}, args...)...)
		if code != 2 || !strings.HasSuffix(stderr, "Run 'ckpt replay --help' for usage.\n") || strings.Count(stderr, "\n") != 2 || out != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	if code, out, stderr := ckpt(t, "", "replay", "-h"); code != 0 || !strings.Contains(out, "--output format") || stderr != "" {
		t.Errorf("-h: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
}

func TestReplayViolationExit1(t *testing.T) {
	violate := func(a *app) {
		a.replayReader = func(d *history.Reader, opt history.Options) (*history.Result, error) {
			res, err := history.ReplayReader(d, opt)
			if err == nil {
				res.Summary.Violations = append(res.Summary.Violations, history.Violation{
					Invariant: "I-NoLeak", Line: 6, Event: "@1002 persisted 1", Detail: "checkpoint 1 leaked"})
			}
			return res, err
		}
	}
	path := writeTemp(t, "ok.jsonl", valid)
	code, out, stderr := ckptApp(t, violate, "", "replay", "-o", "json", path)
	if want := path + ":6: I-NoLeak violated after @1002 persisted 1: checkpoint 1 leaked\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
	if !strings.Contains(out, `"violations":[{"invariant":"I-NoLeak","line":6,`) {
		t.Errorf("summary:\n%s", out)
	}
}

// A Flink log imports into a history that replays, and what-if re-decides it.
func TestImportThenReplayAndWhatIf(t *testing.T) {
	code, hist, stderr := ckpt(t, "", "import-flink", flinkLog("log4j1-1.10-decline.log"))
	if code != 0 {
		t.Fatalf("import-flink exit %d: %s", code, stderr)
	}
	if !strings.Contains(hist, "ckpt-history/v1") {
		t.Fatalf("not a history:\n%s", hist)
	}
	if code, _, stderr := ckpt(t, hist, "replay", "-o", "json", "-"); code != 0 {
		t.Fatalf("replay of the import exit %d: %s", code, stderr)
	}
	code, out, stderr := ckpt(t, "", "what-if", "--regional", flinkLog("log4j1-1.10-decline.log"))
	if code != 0 || out == "" {
		t.Fatalf("what-if exit %d: %s%s", code, out, stderr)
	}
}

// TestReplayMaxListed: --max-listed caps the JSON summary's lists and adds the
// "truncated" marker with the full counts; the default cap leaves a short
// history's document as it was.
func TestReplayMaxListed(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "regional-drift.jsonl")
	code, full, _ := ckpt(t, "", "replay", "-o", "json", path)
	if code != 0 || strings.Contains(full, `"truncated"`) {
		t.Fatalf("default cap: exit %d:\n%s", code, full)
	}
	code, capped, _ := ckpt(t, "", "replay", "-o", "json", "--max-listed", "1", path)
	if code != 0 || !strings.Contains(capped, `"truncated":{"limit":1,`) || strings.Count(capped, `"kind":"checkpoint","forced_global"`) != 1 {
		t.Errorf("--max-listed 1: exit %d:\n%s", code, capped)
	}
}
