package history

import (
	"errors"
	"strings"
	"testing"
)

const claimsHistory = `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"src","parallelism":2}]},"config":{"timeout_ms":1000,"tolerable_failures":0}}
{"at":0,"type":"start"}
//claim log line 1: job running
{"at":10,"type":"trigger","kind":"checkpoint"}
//claim log line 2: triggered 1
{"at":20,"type":"ack","checkpoint":1,"task":"src/0"}
{"at":21,"type":"ack","checkpoint":1,"task":"src/1"}
{"at":22,"type":"persisted","checkpoint":1}
//claim log line 3: completed 1 -- log id 7
//claim log line 4: restored 1
{"at":30,"type":"trigger","kind":"checkpoint"}
{"at":40,"type":"decline","checkpoint":2,"task":"src/1","reason":"task_not_ready"}
//claim log line 5: aborted 2 task_not_ready
//claim log line 6: aborted 2
{"at":50,"type":"task_failed","task":"src/0"}
//claim log line 7: refused -- src/0 restarts
`

// TestClaimsHold: claims the core agrees with are checked and none fails.
func TestClaimsHold(t *testing.T) {
	h, err := Decode(strings.NewReader(claimsHistory), "c.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Claims) != 7 || h.Claims[2].Note != "log id 7" || h.Claims[0].After != 1 || h.Claims[5].After != 7 {
		t.Fatalf("claims %+v", h.Claims)
	}
	res, err := Replay(h, Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.Checked != 7 {
		t.Fatalf("checked %d, failures %v", res.Checked, res.Claims)
	}
}

// TestClaimsContradicted: every claim the core contradicts is reported, with
// the history line, the log line and what the core decided, the trace shows
// it under its event, and the replay is not OK.
func TestClaimsContradicted(t *testing.T) {
	text := claimsHistory + `//claim log line 7: completed 2
//claim log line 8: aborted 1
//claim log line 9: triggered 3
//claim log line 10: restored 2
//claim log line 11: job failed
//claim log line 12: aborted 2 declined
{"at":60,"type":"task_running","task":"src/0"}
//claim log line 13: refused
`
	h, err := Decode(strings.NewReader(text), "c.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var trace strings.Builder
	res, err := Replay(h, Options{Check: true, Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range res.Claims {
		got = append(got, f.Error())
	}
	want := []string{
		"c.jsonl:17: the log (line 7) says checkpoint 2 completed; the core: checkpoint 2 was aborted (task_not_ready)",
		"c.jsonl:18: the log (line 8) says checkpoint 1 was aborted; the core: checkpoint 1 completed",
		"c.jsonl:19: the log (line 9) says checkpoint 3 was triggered; the core: checkpoint 3 was never triggered",
		"c.jsonl:20: the log (line 10) says a restart restores checkpoint 2; the core: its latest completed checkpoint is 1",
		"c.jsonl:21: the log (line 11) says the job is failed; the core: the job is running",
		"c.jsonl:22: the log (line 12) says checkpoint 2 was aborted (declined); the core: checkpoint 2 was aborted (task_not_ready)",
		"c.jsonl:24: the log (line 13) says a checkpoint request now gets no id; the core: a request now would trigger checkpoint 3",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.OK() || res.Checked != 14 {
		t.Errorf("OK %v checked %d", res.OK(), res.Checked)
	}
	for _, s := range []string{"!! claim L21: the log (line 11) says the job is failed", "-- claims: 14 checked, 7 contradicted"} {
		if !strings.Contains(trace.String(), s) {
			t.Errorf("trace lacks %q:\n%s", s, trace.String())
		}
	}
}

// TestClaimErrors: a malformed claim is invalid input naming its line; other
// comments stay comments.
func TestClaimErrors(t *testing.T) {
	head := `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"src","parallelism":1}]},"config":{}}
{"at":0,"type":"start"}
// claim-like prose is a comment
`
	for claim, want := range map[string]string{
		"//claim completed 1":               `does not start with "log line L:"`,
		"//claim log line x: completed 1":   `log line "x" is not a positive number`,
		"//claim log line 3: finished 1":    `unknown claim "finished"`,
		"//claim log line 3: completed":     "completed wants one checkpoint id",
		"//claim log line 3: completed 0":   `checkpoint id "0" is not a positive integer`,
		"//claim log line 3: job cancelled": "job wants one of running, failed, finished",
		"//claim log line 3:":               "nothing is claimed",
		"//claim log line 3: refused 4":     "refused takes no argument",
	} {
		_, err := Decode(strings.NewReader(head+claim+"\n"), "e.jsonl")
		var he *Error
		if !errors.As(err, &he) || he.Line != 4 || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want line 4 and %q", claim, err, want)
		}
	}
	if h, err := Decode(strings.NewReader(head), "ok.jsonl"); err != nil || len(h.Claims) != 0 {
		t.Errorf("plain comments: %v %+v", err, h)
	}
}
