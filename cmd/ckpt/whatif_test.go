package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/flinklog"
	"github.com/ckptcore/ckptcore/history"
)

func TestWhatIf(t *testing.T) {
	// Flags may follow the file.
	code, out, errOut := ckpt(t, "", "what-if", flinkLog("log4j1-1.10-decline.log"), "--regional")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"log id", "completed (regional)", "r2→4", "1 failed in the log, 1 saved", "maximum reference age 1",
		"job: failed (tolerable_failures_exceeded) as recorded, running regionally"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = ckpt(t, "", "what-if", "--regional", "-o", "json", "--max-failure-ratio", "0.5", "--edges", "forward", flinkLog("log4j2-1.17-region-failover.log"))
	var rep flinklog.WhatIfReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Format != "ckpt-whatif/v1" || rep.Totals.Saved != 3 || rep.Regional.MaxFailureRatio != 0.5 {
		t.Errorf("-o json: exit %d, %+v\n%s", code, rep.Totals, out)
	}
	if !strings.Contains(out, `"cause": "failure of Source:in/1 (region r1)"`) {
		t.Errorf("JSON escapes or loses the cause:\n%s", out)
	}
	regHist := filepath.Join(t.TempDir(), "regional.jsonl")
	if code, _, errOut := ckpt(t, "", "what-if", "--regional", "--max-failure-ratio", "0.5", "--edges", "forward", "--regional-history", regHist,
		flinkLog("log4j2-1.17-region-failover.log")); code != 0 {
		t.Fatalf("--regional-history: exit %d %s", code, errOut)
	}
	if h, err := history.ReadFile(regHist); err != nil {
		t.Errorf("the regional history does not decode: %v", err)
	} else if res, err := history.Replay(h, history.Options{Check: true}); err != nil || !res.OK() || len(res.Summary.Completed) != 6 ||
		!h.Header.Config.Regional.Enabled {
		t.Errorf("the regional history replays to %v %+v", err, res.Summary)
	}

	// A history file works too, and refuses the import flags.
	_, hist, _ := ckpt(t, "", "import-flink", "-q", flinkLog("log4j1-1.10-decline.log"))
	path := filepath.Join(t.TempDir(), "h.jsonl")
	if err := os.WriteFile(path, []byte(hist), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := ckpt(t, hist, "what-if", "--regional", "-"); code != 0 || !strings.Contains(out, "1 saved") {
		t.Errorf("stdin: exit %d\n%s", code, out)
	}
	if code, out, errOut := ckpt(t, "", "what-if", "--regional", path); code != 0 || !strings.Contains(out, "1 saved") {
		t.Errorf("history file: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := ckpt(t, "", "what-if", "--regional", "--assume-regions", "3", path); code != 2 || !strings.Contains(errOut, "--assume-regions applies to a log") {
		t.Errorf("--assume-regions with a history: exit %d, %s", code, errOut)
	}
	for _, args := range [][]string{{flinkLog("log4j1-1.10-decline.log")}, {"--regional"}, {"--regional", "--max-failure-ratio", "2", flinkLog("log4j1-1.10-decline.log")},
		{"--regional", flinkLog("nonexistent.log")}, {"--regional", "--max-consecutive", "x", flinkLog("log4j1-1.10-decline.log")}} {
		if code, _, _ := ckpt(t, "", append([]string{"what-if"}, args...)...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
	bad := writeTemp(t, "bad.jsonl", `{"format":"nope"}`+"\n")
	if code, _, errOut := ckpt(t, "", "what-if", "--regional", bad); code != 2 || !strings.HasPrefix(errOut, bad+":1") {
		t.Errorf("a bad history: exit %d, %s", code, errOut)
	}
}

// flightFixture is a flight file of history/testdata/flight (written by the
// driver's flight recorder after a restart or a rotation).
func flightFixture(name string) string {
	return filepath.Join("..", "..", "history", "testdata", "flight", name)
}

// what-if reads flight files that start with a resume record (v1.1) or a
// snapshot record (v1.3), as replay does, and its regional history starts
// from the same record and replays.
func TestWhatIfFlightFiles(t *testing.T) {
	for file, want := range map[string]string{
		"resume.jsonl":   "2 failed in the log, 2 saved",
		"snapshot.jsonl": "1 failed in the log, 1 saved",
	} {
		regHist := filepath.Join(t.TempDir(), "regional.jsonl")
		code, out, errOut := ckpt(t, "", "what-if", "--regional", "--max-failure-ratio", "0.5", "--regional-history", regHist, flightFixture(file))
		if code != 0 || !strings.Contains(out, want) || !strings.Contains(out, "completed (regional)") {
			t.Fatalf("%s: exit %d, %s\n%s", file, code, errOut, out)
		}
		if code, out, errOut := ckpt(t, "", "replay", regHist); code != 0 || !strings.Contains(out, "invariants: all held") {
			t.Errorf("%s: the regional history replays with exit %d: %s%s", file, code, out, errOut)
		}
	}
}
