package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/invariants"
)

func mustRead(t *testing.T, path string) *History {
	t.Helper()
	h, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func replayFile(t *testing.T, path string, opt Options) *Result {
	t.Helper()
	res, err := Replay(mustRead(t, path), opt)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// compareGolden compares output with a committed file; the message says how to
// regenerate it (then review the diff by hand: a golden file accepts whatever
// the core does).
func compareGolden(t *testing.T, golden string, got []byte, regen string) {
	t.Helper()
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs; regenerate with\n  %s\ngot:\n%s", golden, regen, got)
	}
}

// TestSummaryGolden pins the ckpt-summary/v1 document and the trace of a
// fixture that exercises every summary field.
func TestSummaryGolden(t *testing.T) {
	const fixture = "testdata/replay/regional.jsonl"
	var trace bytes.Buffer
	res := replayFile(t, fixture, Options{Check: true, Trace: &trace})
	if !res.OK() {
		t.Errorf("violations %v, divergence %v", res.Summary.Violations, res.Divergence)
	}
	compareGolden(t, "testdata/replay/regional.summary.json", res.Summary.Encode(),
		"go run ./cmd/ckpt replay -o json history/"+fixture+" > history/testdata/replay/regional.summary.json")
	compareGolden(t, "testdata/replay/regional.trace", trace.Bytes(),
		"go run ./cmd/ckpt replay history/"+fixture+" > history/testdata/replay/regional.trace")
}

// TestSummaryDecodes checks that the summary is valid JSON that reads back into
// Summary (refs in region order included) and prints empty lists as [].
func TestSummaryDecodes(t *testing.T) {
	res := replayFile(t, "testdata/replay/regional.jsonl", Options{Check: true})
	var back Summary
	if err := json.Unmarshal(res.Summary.Encode(), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, res.Summary) {
		t.Errorf("decoded\n%+v\nwant\n%+v", back, res.Summary)
	}
	empty := (&Summary{Format: SummaryFormat, Job: "running"}).Encode()
	for _, key := range []string{"triggered", "completed", "aborted", "trigger_failures", "discarded", "retained", "violations"} {
		if !bytes.Contains(empty, []byte(`"`+key+`":[]`)) {
			t.Errorf("%s is not [] in\n%s", key, empty)
		}
	}
	if !bytes.Contains(empty, []byte(`"fail_reason":null`)) {
		t.Errorf("fail_reason is not null in\n%s", empty)
	}
}

// TestReplayDeterministic replays every fixture twice: trace and summary must
// be byte-identical.
func TestReplayDeterministic(t *testing.T) {
	for _, path := range []string{"testdata/replay/regional.jsonl", "testdata/replay/diverged.jsonl"} {
		var out [2]bytes.Buffer
		for i := range out {
			res := replayFile(t, path, Options{Check: true, Trace: &out[i]})
			out[i].Write(res.Summary.Encode())
			if res.Divergence != nil {
				out[i].WriteString(res.Divergence.Error())
			}
		}
		if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
			t.Errorf("%s: two replays differ:\n%s\n---\n%s", path, out[0].String(), out[1].String())
		}
	}
}

// TestDivergence checks that the first differing line is reported with a
// readable diff, that extra fields are ignored, and that replay goes on to the
// end for the summary.
func TestDivergence(t *testing.T) {
	var trace bytes.Buffer
	res := replayFile(t, "testdata/replay/diverged.jsonl", Options{Check: true, Trace: &trace})
	d := res.Divergence
	if d == nil {
		t.Fatal("no divergence")
	}
	if d.Line != 8 || d.Index != 0 || d.Field != "reason" || d.Event != "@1020 decline 1 sink/0" {
		t.Errorf("divergence %+v", d)
	}
	want := `testdata/replay/diverged.jsonl:8: recorded effects diverge from the recomputed ones at effect 1 (field reason) after @1020 decline 1 sink/0
  recorded (2 effects):
  > {"type":"abort","checkpoint":1,"reason":"expired","counted":true}
    {"type":"notify_aborted","checkpoint":1,"tasks":["src/0","sink/0"],"latest_completed":null}
  recomputed (2 effects):
  > {"type":"abort","checkpoint":1,"reason":"declined","counted":true,"detail":"declined by sink/0","kind":"checkpoint"}
    {"type":"notify_aborted","checkpoint":1,"tasks":["src/0","sink/0"],"latest_completed":null}
`
	if got := d.Error(); got != want {
		t.Errorf("diff\n%s\nwant\n%s", got, want)
	}
	if res.OK() {
		t.Error("OK with a divergence")
	}
	if res.Summary.Events != 6 || len(res.Summary.Triggered) != 2 {
		t.Errorf("replay stopped early: %+v", res.Summary)
	}
	if !strings.Contains(trace.String(), "L8 @1020 decline 1 sink/0\n") ||
		!strings.Contains(trace.String(), "    !! divergence: the recorded effects differ at effect 1 (field reason)\n") {
		t.Errorf("trace does not mark the divergence:\n%s", trace.String())
	}
}

func TestCompareEffects(t *testing.T) {
	raw := func(ss ...string) []json.RawMessage {
		out := make([]json.RawMessage, len(ss))
		for i, s := range ss {
			out[i] = json.RawMessage(s)
		}
		return out
	}
	cases := []struct {
		rec, got []json.RawMessage
		index    int
		field    string
		ok       bool
	}{
		{raw(`{"type":"discard","checkpoint":3}`), raw(`{ "checkpoint" : 3.0, "type":"discard", "x":1}`), 0, "", true},
		{raw(`{"type":"discard","checkpoint":3}`), raw(`{"type":"discard","checkpoint":4}`), 0, "checkpoint", false},
		{raw(`{"type":"discard","checkpoint":3}`), raw(`{"type":"abort","checkpoint":3}`), 0, "type", false},
		{raw(`{"type":"discard"}`), raw(`{"type":"discard","checkpoint":3}`), 0, "checkpoint", false},
		{raw(`{"type":"finish_job","detail":"a"}`), raw(`{"type":"finish_job","detail":"b"}`), 0, "", true},
		{raw(`{"type":"discard","checkpoint":1}`), raw(`{"type":"discard","checkpoint":1}`, `{"type":"discard","checkpoint":2}`), 1, "", false},
		{raw(), raw(`{"type":"discard","checkpoint":2}`), 0, "", false},
		{raw(`{"type":"notify_aborted","checkpoint":1,"tasks":[],"latest_completed":null}`),
			raw(`{"type":"notify_aborted","checkpoint":1,"tasks":[],"latest_completed":0}`), 0, "latest_completed", false},
		{raw(`{"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":9007199254740993}`),
			raw(`{"type":"trigger","checkpoint":1,"kind":"checkpoint","forced_global":false,"tasks":["a/0"],"deadline":9007199254740992}`), 0, "deadline", false},
	}
	for i, c := range cases {
		index, field, ok := compareEffects(c.rec, c.got)
		if index != c.index || field != c.field || ok != c.ok {
			t.Errorf("case %d: got (%d, %q, %v), want (%d, %q, %v)", i, index, field, ok, c.index, c.field, c.ok)
		}
	}
}

// fakeChecker reports one violation after every event of a type.
type fakeChecker struct{ on fsm.EventType }

func (f fakeChecker) Step(ev fsm.Event, _ []fsm.Effect, _ *fsm.State) []invariants.Violation {
	if ev.Type == f.on {
		return []invariants.Violation{{Invariant: invariants.NoLeak, Detail: "checkpoint 1 leaked"}}
	}
	return nil
}

func (f fakeChecker) Resume(int64, fsm.Durable, []fsm.Effect, *fsm.State) []invariants.Violation {
	return nil
}

func (f fakeChecker) Adopt(*fsm.State) []invariants.Violation { return nil }

// TestViolationsReported checks that violations land in the summary with line
// and event, are marked in the trace, do not stop the replay, and that
// Check=false does not run the checker.
func TestViolationsReported(t *testing.T) {
	defer func(old func(*fsm.Topology, fsm.Config) stepChecker) { newChecker = old }(newChecker)
	newChecker = func(*fsm.Topology, fsm.Config) stepChecker { return fakeChecker{on: fsm.EvPersisted} }

	var trace bytes.Buffer
	res := replayFile(t, "testdata/replay/regional.jsonl", Options{Check: true, Trace: &trace})
	vs := res.Summary.Violations
	if len(vs) != 4 || res.OK() {
		t.Fatalf("violations %+v", vs)
	}
	if want := (Violation{Invariant: "I-NoLeak", Line: 13, Event: "@1020 persisted 1", Detail: "checkpoint 1 leaked"}); vs[0] != want {
		t.Errorf("violation %+v, want %+v", vs[0], want)
	}
	if !strings.Contains(trace.String(), "L13 @1020 persisted 1\n    -> completed 1 checkpoint global consecutive=0\n    -> notify_complete 1 tasks=[src/0-1 sink/0-1]\n    !! I-NoLeak: checkpoint 1 leaked\n") {
		t.Errorf("trace:\n%s", trace.String())
	}
	if !strings.Contains(trace.String(), "-- invariants: 4 violations\n") {
		t.Errorf("trace summary:\n%s", trace.String())
	}
	if !bytes.Contains(res.Summary.Encode(), []byte(`"violations":[{"invariant":"I-NoLeak","line":13,"event":"@1020 persisted 1","detail":"checkpoint 1 leaked"},`)) {
		t.Errorf("summary:\n%s", res.Summary.Encode())
	}
	res = replayFile(t, "testdata/replay/regional.jsonl", Options{Check: false})
	if len(res.Summary.Violations) != 0 {
		t.Errorf("Check=false still checked: %+v", res.Summary.Violations)
	}
}

// TestReplayStepErrors builds histories Decode would refuse and checks that
// Replay turns the core's refusal into an *Error on the record's line.
func TestReplayStepErrors(t *testing.T) {
	h, err := Decode(strings.NewReader(withHeader(`{"at":5,"type":"tick"}`)), "f")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		ev    fsm.Event
		field string
		sub   string
	}{
		{"time backwards", fsm.Event{At: 4, Type: fsm.EvTick}, "at", "time goes backwards"},
		{"second start", fsm.Event{At: 6, Type: fsm.EvStart}, "", "already started"},
		{"unknown subtask", fsm.Event{At: 6, Type: fsm.EvTaskFailed, Task: 99}, "task", "unknown subtask"},
	}
	for _, c := range cases {
		bad := *h
		bad.Records = append(append([]Record(nil), h.Records...), Record{Line: 42, Event: c.ev})
		_, err := Replay(&bad, Options{Check: true})
		var he *Error
		if !errors.As(err, &he) || he.Line != 42 || he.Field != c.field || !strings.Contains(he.Reason, c.sub) {
			t.Errorf("%s: got %v, want f:42: %s: ...%s", c.name, err, c.field, c.sub)
		}
	}
	// An event before start.
	bad := *h
	bad.Records = []Record{{Line: 7, Event: fsm.Event{At: 1, Type: fsm.EvTick}}}
	if _, err := Replay(&bad, Options{}); err == nil || !strings.HasPrefix(err.Error(), "f:7: ") {
		t.Errorf("event before start: %v", err)
	}
	// A restore whose refs the core refuses.
	bad.Records = []Record{{Line: 3, Event: fsm.Event{Type: fsm.EvStart,
		Restore: &fsm.Restore{Checkpoint: 2, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 5}}}}}}
	if _, err := Replay(&bad, Options{}); err == nil || !strings.HasPrefix(err.Error(), "f:3: restore.refs: ") {
		t.Errorf("bad restore: %v", err)
	}
	// An invalid configuration in a History built by hand.
	bad = *h
	bad.Header.Config.Retained = 0
	if _, err := Replay(&bad, Options{}); err == nil || err.Error() != "f:1: config.retained: 0: must be >= 1 (docs/spec/SEMANTICS.md §2)" {
		t.Errorf("bad config: %v", err)
	}
}

// TestTriggerAtAcrossTimeoutChange checks the summary's trigger time when the
// timeout changes in the same step as a trigger: a periodic checkpoint due
// before a config_persisted is triggered under the old timeout.
func TestTriggerAtAcrossTimeoutChange(t *testing.T) {
	text := lines(
		`{"format":"ckpt-history/v1","job":{"vertices":[{"id":"a","parallelism":1}]},"config":{"interval_ms":1000,"timeout_ms":5000,"max_concurrent":2,"tolerable_failures":5}}`,
		`{"at":0,"type":"start"}`,
		`{"at":10,"type":"config_patch","request":1,"timeout_ms":300}`,
		`{"at":1500,"type":"config_persisted","request":1}`,
		`{"at":1600,"type":"trigger","kind":"checkpoint"}`,
	)
	h, err := Decode(strings.NewReader(text), "f")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Replay(h, Options{Check: true})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Summary.Triggered
	if len(got) != 2 || got[0].At != 1000 || got[1].At != 1600 {
		t.Errorf("triggered %+v, want ids 1 at 1000 and 2 at 1600", got)
	}
}
