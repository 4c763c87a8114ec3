package flinklog

import (
	"bytes"
	"strings"
	"testing"
)

// TestReplayReportsWhatTheLogClaims: the imported history carries the log's
// triggers, completions, aborts, restores and job status as //claim lines;
// replaying it checks them, so a history the core decides differently from the
// log (here: a timeout far shorter than the log's, so the core expires the
// checkpoints the log completed) replays with every disagreement reported.
func TestReplayReportsWhatTheLogClaims(t *testing.T) {
	data := []byte(readFixture(t, "log4j1-1.10-decline.log"))
	im, res := importBytes(t, "decline.log", data, DefaultOptions())
	if !res.OK() || res.Checked != im.Stats.Claims || im.Stats.Claims < 6 {
		t.Fatalf("as imported: %d claims written, %d checked, failures %v", im.Stats.Claims, res.Checked, res.Claims)
	}
	var buf bytes.Buffer
	if err := im.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"//claim log line 4: triggered 3", "//claim log line 5: completed 3", "//claim log line 9: aborted 5 declined",
		"//claim log line 17: job failed -- Exceeded checkpoint tolerable failure threshold"} {
		if !strings.Contains(buf.String(), c+"\n") {
			t.Errorf("the history lacks %q:\n%s", c, buf.String())
		}
	}

	opt := DefaultOptions()
	opt.TimeoutMs = 100 // checkpoint 3 takes 329 ms in the log
	im, res = importBytes(t, "decline.log", data, opt)
	var got []string
	for _, f := range res.Claims {
		got = append(got, f.Error())
	}
	want := "decline.log.jsonl:"
	if res.OK() || len(got) < 2 || !strings.HasPrefix(got[0], want) ||
		!strings.Contains(strings.Join(got, "\n"), "the log (line 5) says checkpoint 3 completed; the core: checkpoint 3 was aborted (expired)") {
		t.Errorf("replay with a wrong timeout reports %q", got)
	}
	if len(im.Mismatches) == 0 {
		t.Error("the import itself saw no mismatch")
	}
}
