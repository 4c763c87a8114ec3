package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/flinklog"
	"github.com/ckptcore/ckptcore/history"
)

func TestImportFlink(t *testing.T) {
	code, out, errOut := ckpt(t, "", "import-flink", flinkLog("log4j1-1.10-decline.log"))
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
	// -o json: the same history on standard output, the report as JSON on
	// standard error.
	code, outJSON, errJSON := ckpt(t, "", "import-flink", "-o", "json", flinkLog("log4j1-1.10-decline.log"))
	var rep flinklog.ImportReport
	if err := json.Unmarshal([]byte(errJSON), &rep); code != 0 || err != nil || outJSON != out ||
		rep.Format != "ckpt-flinkimport/v1" || rep.Interpreted != 1 || len(rep.Checkpoints) != 3 {
		t.Errorf("-o json: exit %d, %v %+v", code, err, rep)
	}

	if code, _, errOut := ckpt(t, "", "import-flink", "-q", flinkLog("logback-1.10-two-jobs.log")); code != 0 || errOut != "" {
		t.Errorf("-q: exit %d, stderr %q", code, errOut)
	}
	stdin := fixture(t, flinkLog("log4j1-1.9-notready.log"))
	if code, out, errOut := ckpt(t, stdin, "import-flink", "-"); code != 0 || !strings.Contains(out, `"type":"decline"`) || !strings.Contains(errOut, "<stdin>") {
		t.Errorf("stdin: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := ckpt(t, "", "import-flink", "-h"); code != 0 || !strings.Contains(out, "ckpt import-flink [flags] LOG") || errOut != "" {
		t.Errorf("-h: exit %d %s%s", code, out, errOut)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"-nosuchflag", "x"}, {flinkLog("nonexistent.log")},
		{"--edges", "diagonal", flinkLog("log4j1-1.9-notready.log")}, {"--job", "deadbeef", flinkLog("log4j1-1.9-notready.log")},
		{"--tolerable", "many", flinkLog("log4j1-1.9-notready.log")}, {"-o", "yaml", flinkLog("log4j1-1.9-notready.log")}} {
		if code, _, errOut := ckpt(t, "", append([]string{"import-flink"}, args...)...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, want 2 with a reason (%q)", args, code, errOut)
		}
	}
}

// The inferred settings show no sentinel default in the help: "(default:
// inferred)" alone, never "(default -1)" beside it.
func TestImportFlinkHelpDefaults(t *testing.T) {
	_, out, _ := ckpt(t, "", "help", "import-flink")
	for _, line := range strings.Split(out, "\n") {
		flag := strings.HasPrefix(strings.TrimSpace(line), "-")
		if flag && strings.Contains(line, "inferred") && strings.Count(line, "default") != 1 {
			t.Errorf("two defaults on one line: %q", line)
		}
	}
	if !strings.Contains(out, "--tolerable int") || strings.Contains(out, "(default -1)") || strings.Contains(out, "(default 0)") {
		t.Errorf("help:\n%s", out)
	}
}

// The README's flow: import-flink writes a history, and replaying that file
// reports the lines where the log and the core disagree (checkpoint 5 of this
// log is triggered after the job failed), with exit 1.
func TestReplayOfImportReportsTheLogsClaims(t *testing.T) {
	code, hist, _ := ckpt(t, "", "import-flink", "-q", flinkLog("log4j2-1.12-expired-tolerable.log"))
	if code != 0 {
		t.Fatalf("import-flink exit %d", code)
	}
	h, err := history.Decode(strings.NewReader(hist), "h.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	res, err := history.Replay(h, history.Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	const claim = "the log (line 13) says checkpoint 5 was triggered; the core: checkpoint 5 was never triggered"
	if len(res.Claims) != 1 || !strings.Contains(res.Claims[0].Error(), claim) {
		t.Errorf("claims failed: %v", res.Claims)
	}
	code, _, errOut := ckpt(t, hist, "replay", "-o", "json", "-")
	if code != 1 || strings.Count(errOut, claim) != 1 {
		t.Errorf("ckpt replay: exit %d, stderr %q", code, errOut)
	}
}
