package history

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

func testHeader() Header {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs, cfg.MinPauseMs, cfg.MaxConcurrent, cfg.TolerableFailures, cfg.Retained = 1000, 5, 2, 3, 4
	cfg.Regional = fsm.RegionalConfig{Enabled: true, MaxFailureRatio: 0.1 + 0.2, MaxConsecutive: 3, MaxRefAge: 7}
	cfg.MaxTimeoutMs = 900000
	return Header{Format: Format, Config: cfg, Job: fsm.JobSpec{
		Vertices: []fsm.VertexSpec{
			{ID: "src", Parallelism: 4, Coordinator: fsm.CoordinatorFallback},
			{ID: `we"ird\é`, Parallelism: 2, Coordinator: fsm.CoordinatorPlain},
			{ID: "sink", Parallelism: 3},
		},
		Edges: []fsm.EdgeSpec{
			{From: "src", To: `we"ird\é`, Pattern: fsm.Pointwise, Exchange: fsm.Pipelined},
			{From: `we"ird\é`, To: "sink", Pattern: fsm.AllToAll, Exchange: fsm.Blocking},
			{From: "src", To: "sink", Exchange: fsm.Hybrid},
		},
	}}
}

// testEvents has one event of every type with every optional field both set
// and unset.
func testEvents(t *fsm.Topology) []fsm.Event {
	task := func(name string) fsm.TaskID {
		id, err := t.ParseTask(name)
		if err != nil {
			panic(err)
		}
		return id
	}
	return []fsm.Event{
		{At: 0, Type: fsm.EvStart, HasInitialDelay: true, InitialDelayMs: 0,
			Restore: &fsm.Restore{Checkpoint: 9, Mode: fsm.NoClaim, Refs: []fsm.RegionRef{{Region: 0, Checkpoint: 4}, {Region: 1, Checkpoint: 9}}}},
		{At: 1, Type: fsm.EvTick},
		{At: 2, Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint},
		{At: 2, Type: fsm.EvTrigger, Kind: fsm.KindSavepoint},
		{At: 2, Type: fsm.EvTrigger, Kind: fsm.KindStopWithSavepoint},
		{At: 3, Type: fsm.EvAck, Checkpoint: 10, Task: task("sink/2")},
		{At: 4, Type: fsm.EvDecline, Checkpoint: 10, Task: task(`we"ird\é/1`)},
		{At: 4, Type: fsm.EvDecline, Checkpoint: 10, Task: task("src/3"), Reason: fsm.ReasonInputEndOfStream},
		{At: 5, Type: fsm.EvTaskFailed, Task: task("src/0")},
		{At: 6, Type: fsm.EvTaskRunning, Task: task("src/0")},
		{At: 7, Type: fsm.EvTaskFinished, Task: task("sink/0")},
		{At: 8, Type: fsm.EvPersisted, Checkpoint: 1<<53 - 1},
		{At: 9, Type: fsm.EvPersistFailed, Checkpoint: 11},
		{At: 10, Type: fsm.EvConfigPatch, Request: 1},
		{At: 10, Type: fsm.EvConfigPatch, Request: 2, HasInterval: true, IntervalMs: -1},
		{At: 10, Type: fsm.EvConfigPatch, Request: 3, HasTimeout: true, TimeoutMs: 0},
		{At: 10, Type: fsm.EvConfigPatch, Request: 4, HasInterval: true, IntervalMs: 0, HasTimeout: true, TimeoutMs: 50},
		{At: 11, Type: fsm.EvConfigPersisted, Request: 4},
		{At: 1<<53 - 1, Type: fsm.EvRecover},
	}
}

// TestRoundTrip checks Decode(Encode(x)) == x for a header and an event of
// every type, written through Writer with and without recorded effects.
func TestRoundTrip(t *testing.T) {
	h := testHeader()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	evs := testEvents(w.Topology())
	effs := [][]fsm.Effect{nil, {}, {{Type: fsm.EffDiscard, Checkpoint: 3}, {Type: fsm.EffWarn, Code: "c", Message: "m <&>\n"}}}
	for i, ev := range evs {
		if err := w.WriteEvent(ev, effs[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := Decode(&buf, "rt")
	if err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got.Header, h) {
		t.Errorf("header\n got %+v\nwant %+v", got.Header, h)
	}
	if len(got.Records) != len(evs) {
		t.Fatalf("%d records, want %d", len(got.Records), len(evs))
	}
	for i, rec := range got.Records {
		if rec.Line != i+2 {
			t.Errorf("record %d on line %d", i, rec.Line)
		}
		if !reflect.DeepEqual(rec.Event, evs[i]) {
			t.Errorf("event %d\n got %+v\nwant %+v", i, rec.Event, evs[i])
		}
		e := effs[i%3]
		if rec.HasRecorded != (e != nil) || len(rec.Recorded) != len(e) {
			t.Errorf("event %d: recorded %v (%d), want %d effects", i, rec.HasRecorded, len(rec.Recorded), len(e))
			continue
		}
		for k := range e {
			if want := EncodeEffect(got.Topology, e[k]); !bytes.Equal(rec.Recorded[k], want) {
				t.Errorf("event %d effect %d: %s, want %s", i, k, rec.Recorded[k], want)
			}
		}
	}
	// Encoding what was decoded gives the same bytes.
	var again bytes.Buffer
	w2, err := NewWriter(&again, got.Header)
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range got.Records {
		if err := w2.WriteEvent(rec.Event, effs[i%3]); err != nil {
			t.Fatal(err)
		}
	}
	if first := strings.SplitN(again.String(), "\n", 2)[0]; !strings.HasPrefix(first, `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"src","parallelism":4,"coordinator":"fallback"}`) {
		t.Errorf("header line %s", first)
	}
}

// TestEncodeHeaderSpellsOutConfig pins the header layout: fixed key order,
// every config key present even at its default.
func TestEncodeHeaderSpellsOutConfig(t *testing.T) {
	b, err := EncodeHeader(Header{Job: fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 1}}}, Config: fsm.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format":"ckpt-history/v1","job":{"vertices":[{"id":"a","parallelism":1}],"edges":[]},` +
		`"config":{"interval_ms":0,"timeout_ms":600000,"min_pause_ms":0,"max_concurrent":1,"tolerable_failures":0,"retained":1,` +
		`"regional":{"enabled":false,"max_failure_ratio":0.3,"max_consecutive":2,"max_ref_age":0},"max_timeout_ms":0}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestEncodeErrors(t *testing.T) {
	h := testHeader()
	h.Config.TimeoutMs = 1
	if _, err := NewWriter(&bytes.Buffer{}, h); err == nil || !strings.Contains(err.Error(), "timeout_ms") {
		t.Errorf("NewWriter with an invalid config: %v", err)
	}
	h = testHeader()
	h.Job.Vertices = nil
	if _, err := NewWriter(&bytes.Buffer{}, h); err == nil {
		t.Error("NewWriter with no vertices: no error")
	}
	topo, _ := fsm.NewTopology(testHeader().Job)
	if _, err := EncodeEvent(topo, fsm.Event{Type: fsm.EvAck, Checkpoint: 1, Task: 999}, nil); err == nil {
		t.Error("EncodeEvent with an unknown subtask: no error")
	}
	if _, err := EncodeEvent(topo, fsm.Event{Type: 99}, nil); err == nil {
		t.Error("EncodeEvent with an unknown type: no error")
	}
}

// TestEncodeEffects pins the JSON of every effect type (HISTORY.md, Effects).
func TestEncodeEffects(t *testing.T) {
	topo, err := fsm.NewTopology(fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 4, Coordinator: fsm.CoordinatorFallback}, {ID: "sink", Parallelism: 4}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	all := fsm.TaskSet{{Lo: 0, Hi: 8}}
	refs := []fsm.RegionRef{{Region: 1, Checkpoint: 3}, {Region: 3, Checkpoint: 2}}
	cases := []struct {
		e    fsm.Effect
		want string
	}{
		{fsm.Effect{Type: fsm.EffTrigger, Checkpoint: 5, Kind: fsm.KindSavepoint, ForcedGlobal: true, Tasks: all, Deadline: 700},
			`{"type":"trigger","checkpoint":5,"kind":"savepoint","forced_global":true,"tasks":["src/0-3","sink/0-3"],"deadline":700}`},
		{fsm.Effect{Type: fsm.EffAbort, Checkpoint: 5, Reason: fsm.ReasonExpired, Counted: true, Message: "late"},
			`{"type":"abort","checkpoint":5,"reason":"expired","counted":true,"detail":"late","kind":"checkpoint"}`},
		{fsm.Effect{Type: fsm.EffCoordinatorFallback, Checkpoint: 5, Vertex: 0, Refs: refs},
			`{"type":"coordinator_fallback","checkpoint":5,"vertex":"src","refs":{"r1":3,"r3":2}}`},
		{fsm.Effect{Type: fsm.EffPersist, Checkpoint: 5, Mode: fsm.ModeRegional, Refs: refs, Consecutive: 2},
			`{"type":"persist","checkpoint":5,"kind":"checkpoint","mode":"regional","refs":{"r0":5,"r1":3,"r2":5,"r3":2},"consecutive":2}`},
		{fsm.Effect{Type: fsm.EffNotifyComplete, Checkpoint: 5, Tasks: fsm.TaskSet{{Lo: 0, Hi: 1}, {Lo: 2, Hi: 3}},
			RegionalInfo: []fsm.RefGroup{{Checkpoint: 2, Tasks: fsm.TaskSet{{Lo: 3, Hi: 4}, {Lo: 7, Hi: 8}}}, {Checkpoint: 3, Tasks: fsm.TaskSet{{Lo: 1, Hi: 2}}}}},
			`{"type":"notify_complete","checkpoint":5,"tasks":["src/0","src/2"],"regional_info":{"2":["src/3","sink/3"],"3":["src/1"]}}`},
		{fsm.Effect{Type: fsm.EffNotifyAborted, Checkpoint: 5, Tasks: all},
			`{"type":"notify_aborted","checkpoint":5,"tasks":["src/0-3","sink/0-3"],"latest_completed":null}`},
		{fsm.Effect{Type: fsm.EffNotifyAborted, Checkpoint: 5, LatestCompleted: 4},
			`{"type":"notify_aborted","checkpoint":5,"tasks":[],"latest_completed":4}`},
		{fsm.Effect{Type: fsm.EffRegionSkipped, Checkpoint: 5, Region: 2, Tasks: fsm.TaskSet{{Lo: 2, Hi: 3}, {Lo: 6, Hi: 7}}},
			`{"type":"region_skipped","checkpoint":5,"region":"r2","tasks":["src/2","sink/2"]}`},
		{fsm.Effect{Type: fsm.EffDiscard, Checkpoint: 5}, `{"type":"discard","checkpoint":5}`},
		{fsm.Effect{Type: fsm.EffDiscardLateState, Checkpoint: 5, Task: 6}, `{"type":"discard_late_state","checkpoint":5,"task":"sink/2"}`},
		{fsm.Effect{Type: fsm.EffFailJob, Reason: fsm.ReasonTolerableExceeded, Message: "x"},
			`{"type":"fail_job","reason":"tolerable_failures_exceeded","detail":"x"}`},
		{fsm.Effect{Type: fsm.EffFinishJob, Message: "done"}, `{"type":"finish_job","detail":"done"}`},
		{fsm.Effect{Type: fsm.EffPersistOverrides, Request: 1, IntervalMs: 10, TimeoutMs: 20},
			`{"type":"persist_overrides","request":1,"interval_ms":10,"timeout_ms":20}`},
		{fsm.Effect{Type: fsm.EffConfigApplied, Request: 1, IntervalMs: 10, TimeoutMs: 20},
			`{"type":"config_applied","request":1,"interval_ms":10,"timeout_ms":20}`},
		{fsm.Effect{Type: fsm.EffConfigRejected, Request: 2, Error: "no"}, `{"type":"config_rejected","request":2,"error":"no"}`},
		{fsm.Effect{Type: fsm.EffWarn, Code: "ref_drift", Message: "m", Checkpoint: 7}, `{"type":"warn","code":"ref_drift","message":"m","checkpoint":7}`},
		{fsm.Effect{Type: fsm.EffWarn, Code: "regional_disabled", Message: "m"}, `{"type":"warn","code":"regional_disabled","message":"m"}`},
		{fsm.Effect{Type: fsm.EffCompleted, Checkpoint: 5, Kind: fsm.KindStopWithSavepoint},
			`{"type":"completed","checkpoint":5,"kind":"stop_with_savepoint","mode":"global","refs":{"r0":5,"r1":5,"r2":5,"r3":5},"consecutive":0}`},
		{fsm.Effect{Type: fsm.EffTriggerFailed, Reason: fsm.ReasonMinPause, Message: "soon"},
			`{"type":"trigger_failed","kind":"checkpoint","reason":"min_pause","detail":"soon"}`},
		// Malformed effects (never produced by the core) must not panic.
		{fsm.Effect{Type: fsm.EffTrigger, Tasks: fsm.TaskSet{{Lo: 6, Hi: 20}}},
			`{"type":"trigger","checkpoint":0,"kind":"checkpoint","forced_global":false,"tasks":["#6-#19"],"deadline":0}`},
		{fsm.Effect{Type: fsm.EffCoordinatorFallback, Vertex: 9}, `{"type":"coordinator_fallback","checkpoint":0,"vertex":"#9","refs":{}}`},
		{fsm.Effect{Type: 200}, `{"type":"unknown"}`},
	}
	for _, c := range cases {
		got := EncodeEffect(topo, c.e)
		if string(got) != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.e.Type, got, c.want)
		}
		if !json.Valid(got) {
			t.Errorf("%s: invalid JSON %s", c.e.Type, got)
		}
	}
}

func TestAppendString(t *testing.T) {
	in := "a\"b\\c\n\r\t\x01\x7f<>&é\u2028\xff"
	got := string(appendString(nil, in))
	var back string
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if want := strings.Replace(in, "\xff", "\uFFFD", 1); back != want {
		t.Errorf("round trip %q, want %q", back, want)
	}
	if !strings.Contains(got, "<>&") {
		t.Errorf("%s: <, > and & should stay as they are", got)
	}
}
