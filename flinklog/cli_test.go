package flinklog

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

func runMain(main func([]string, *bytes.Buffer, *bytes.Buffer) int, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := main(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func importMain(args []string, out, errOut *bytes.Buffer) int {
	return ImportMain(args, strings.NewReader(readFixtureOrEmpty("log4j1-1.9-notready.log")), out, errOut)
}

func whatIfMain(args []string, out, errOut *bytes.Buffer) int {
	return WhatIfMain(args, strings.NewReader(readFixtureOrEmpty("log4j1-1.10-decline.log")), out, errOut)
}

// readFixtureOrEmpty is what "-" reads in these tests.
func readFixtureOrEmpty(name string) string {
	b, _ := os.ReadFile(filepath.Join("testdata", name))
	return string(b)
}

func TestImportMain(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "report.json")
	code, out, errOut := runMain(importMain, "testdata/log4j1-1.10-decline.log", "-report", report)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := history.Decode(strings.NewReader(out), "stdout"); err != nil {
		t.Errorf("stdout is not a history: %v", err)
	}
	for _, want := range []string{"8 checkpoint lines of this job", "checkpoint lines: 6 understood (became events), 2 annotated", "tolerable_failures = 0", "declined by Source:Kafka->Map->Sink:Kafka/2"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("report lacks %q:\n%s", want, errOut)
		}
	}
	var rep ImportReport
	b, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(b, &rep) != nil || rep.Format != "ckpt-flinkimport/v1" || rep.Interpreted != 1 || len(rep.Checkpoints) != 3 {
		t.Errorf("JSON report: %v %+v", err, rep)
	}

	if code, _, errOut := runMain(importMain, "-q", "testdata/logback-1.10-two-jobs.log"); code != 0 || errOut != "" {
		t.Errorf("-q: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runMain(importMain, "-"); code != 0 || !strings.Contains(out, `"type":"decline"`) || !strings.Contains(errOut, "<stdin>") {
		t.Errorf("stdin: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runMain(importMain, "-h"); code != 0 || !strings.Contains(errOut, "usage: replay import-flink") {
		t.Errorf("-h: exit %d %s", code, errOut)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"-nosuchflag", "x"}, {"testdata/nonexistent.log"},
		{"-edges", "diagonal", "testdata/log4j1-1.9-notready.log"}, {"-job", "deadbeef", "testdata/log4j1-1.9-notready.log"}} {
		if code, _, _ := runMain(importMain, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

func TestWhatIfMain(t *testing.T) {
	// Flags may follow the file, as in the example.
	code, out, errOut := runMain(whatIfMain, "testdata/log4j1-1.10-decline.log", "--regional")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"log id", "completed (regional)", "r2→4", "1 failed in the log, 1 saved", "maximum reference age 1",
		"job: failed (tolerable_failures_exceeded) as recorded, running regionally"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runMain(whatIfMain, "--regional", "-json", "--max-failure-ratio", "0.5", "-edges", "forward", "testdata/log4j2-1.17-region-failover.log")
	var rep WhatIfReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Format != "ckpt-whatif/v1" || rep.Totals.Saved != 3 || rep.Regional.MaxFailureRatio != 0.5 {
		t.Errorf("-json: exit %d, %+v\n%s", code, rep.Totals, out)
	}
	regHist := filepath.Join(t.TempDir(), "regional.jsonl")
	if code, _, errOut := runMain(whatIfMain, "--regional", "--max-failure-ratio", "0.5", "-edges", "forward", "-regional-history", regHist,
		"testdata/log4j2-1.17-region-failover.log"); code != 0 {
		t.Fatalf("-regional-history: exit %d %s", code, errOut)
	}
	if h, err := history.ReadFile(regHist); err != nil {
		t.Errorf("the regional history does not decode: %v", err)
	} else if res, err := history.Replay(h, history.Options{Check: true}); err != nil || !res.OK() || len(res.Summary.Completed) != 6 ||
		!h.Header.Config.Regional.Enabled {
		t.Errorf("the regional history replays to %v %+v", err, res.Summary)
	}
	if !strings.Contains(out, `"cause": "failure of Source:in/1 (region r1)"`) {
		t.Errorf("JSON escapes or loses the cause:\n%s", out)
	}

	// A history file works too, and refuses the import flags.
	_, hist, _ := runMain(importMain, "-q", "testdata/log4j1-1.10-decline.log")
	path := filepath.Join(t.TempDir(), "h.jsonl")
	if err := os.WriteFile(path, []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runMain(whatIfMain, "--regional", "-"); code != 0 || !strings.Contains(out, "1 saved") {
		t.Errorf("stdin: exit %d\n%s", code, out)
	}
	if code, out, errOut := runMain(whatIfMain, "--regional", path); code != 0 || !strings.Contains(out, "1 saved") {
		t.Errorf("history file: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runMain(whatIfMain, "--regional", "-assume-regions", "3", path); code != 2 || !strings.Contains(errOut, "applies to a log") {
		t.Errorf("-assume-regions with a history: exit %d, %s", code, errOut)
	}
	for _, args := range [][]string{{"testdata/log4j1-1.10-decline.log"}, {"--regional"}, {"--regional", "--max-failure-ratio", "2", "testdata/log4j1-1.10-decline.log"},
		{"--regional", "testdata/nonexistent.log"}} {
		if code, _, _ := runMain(whatIfMain, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"format":"nope"}`+"\n"), 0o644)
	if code, _, errOut := runMain(whatIfMain, "--regional", bad); code != 2 || !strings.Contains(errOut, "bad.jsonl:1") {
		t.Errorf("a bad history: exit %d, %s", code, errOut)
	}
}
