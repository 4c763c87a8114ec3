package linearizability

import (
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/anishathalye/porcupine"
)

const inf = math.MaxInt64

func i64(v int64) *int64 { return &v }

func patch(client int, call, ret int64, interval, timeout *int64, outcome Outcome) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret,
		Input:  ConfigInput{Op: ConfigPatch, IntervalMs: interval, TimeoutMs: timeout},
		Output: ConfigOutput{Outcome: outcome}}
}

func get(client int, call, ret int64, interval, timeout int64, active bool) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: ConfigInput{Op: ConfigGet},
		Output: ConfigOutput{Outcome: OutcomeOK, IntervalMs: interval, TimeoutMs: timeout, OverridesActive: active}}
}

var testBase = ConfigBase{IntervalMs: 1000, TimeoutMs: 600000, MaxTimeoutMs: 900000}

func TestConfigModel(t *testing.T) {
	cases := []struct {
		name  string
		legal bool
		ops   []porcupine.Operation
	}{
		{"defaults", true, []porcupine.Operation{get(0, 0, 1, 1000, 600000, false)}},
		{"patch both then read", true, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), i64(30000), OutcomeOK),
			get(1, 20, 30, 2000, 30000, true)}},
		{"a missing field keeps its value", true, []porcupine.Operation{
			patch(0, 0, 10, nil, i64(30000), OutcomeOK),
			get(1, 20, 30, 1000, 30000, true)}},
		{"concurrent read sees the old pair", true, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), i64(30000), OutcomeOK),
			get(1, 5, 8, 1000, 600000, false),
			get(1, 11, 12, 2000, 30000, true)}},
		{"concurrent read sees the new pair", true, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), i64(30000), OutcomeOK),
			get(1, 5, 8, 2000, 30000, true)}},
		{"concurrent patches in either order", true, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), nil, OutcomeOK),
			patch(1, 0, 10, i64(3000), i64(40000), OutcomeOK),
			get(2, 11, 12, 2000, 40000, true)}},
		{"rejected patch changes nothing", true, []porcupine.Operation{
			patch(0, 0, 10, i64(5), i64(30000), OutcomeRejected),
			patch(0, 11, 12, nil, i64(950000), OutcomeRejected), // above max_timeout_ms
			patch(0, 13, 14, nil, nil, OutcomeRejected),         // empty
			get(1, 20, 30, 1000, 600000, false)}},
		{"interval 0 stops periodic checkpoints and is valid", true, []porcupine.Operation{
			patch(0, 0, 10, i64(0), nil, OutcomeOK),
			get(1, 20, 30, 0, 600000, true)}},
		{"unknown patch takes effect late", true, []porcupine.Operation{
			patch(0, 0, inf, i64(2000), i64(30000), OutcomeUnknown),
			get(1, 20, 30, 1000, 600000, false),
			get(1, 40, 50, 2000, 30000, true),
			get(1, 60, 70, 2000, 30000, true)}},
		{"unknown patch never takes effect", true, []porcupine.Operation{
			patch(0, 0, inf, i64(2000), i64(30000), OutcomeUnknown),
			patch(1, 20, 30, nil, i64(40000), OutcomeOK),
			get(2, 40, 50, 1000, 40000, true)}},
		{"unknown patch carried by a later acknowledged one", true, []porcupine.Operation{
			patch(0, 0, inf, i64(2000), nil, OutcomeUnknown),
			patch(1, 20, 30, nil, i64(40000), OutcomeOK),
			get(2, 40, 50, 2000, 40000, true)}},
		{"unknown invalid patch never applies", true, []porcupine.Operation{
			patch(0, 0, inf, i64(2000), i64(3), OutcomeUnknown),
			get(1, 40, 50, 1000, 600000, false)}},

		{"torn read: new interval with old timeout", false, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), i64(30000), OutcomeOK),
			get(1, 5, 8, 2000, 600000, true)}},
		{"torn read: old interval with new timeout", false, []porcupine.Operation{
			patch(0, 0, inf, i64(2000), i64(30000), OutcomeUnknown),
			get(1, 5, 8, 1000, 30000, true)}},
		{"stale read after an acknowledged patch", false, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), i64(30000), OutcomeOK),
			get(1, 20, 30, 1000, 600000, false)}},
		{"stale read after an acknowledged patch another read saw", false, []porcupine.Operation{
			patch(0, 0, inf, i64(2000), i64(30000), OutcomeUnknown),
			get(1, 20, 30, 2000, 30000, true),
			get(1, 40, 50, 1000, 600000, false)}},
		{"overrides flag lost", false, []porcupine.Operation{
			patch(0, 0, 10, i64(1000), nil, OutcomeOK),
			get(1, 20, 30, 1000, 600000, false)}},
		{"a valid patch rejected", false, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), nil, OutcomeRejected)}},
		{"an invalid patch acknowledged", false, []porcupine.Operation{
			patch(0, 0, 10, i64(5), nil, OutcomeOK)}},
		{"a timeout above max_timeout_ms acknowledged", false, []porcupine.Operation{
			patch(0, 0, 10, nil, i64(900001), OutcomeOK)}},
		{"a value no patch wrote", false, []porcupine.Operation{
			patch(0, 0, 10, i64(2000), nil, OutcomeOK),
			get(1, 5, 30, 3000, 600000, true)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, _ := porcupine.CheckOperationsVerbose(ConfigModel(testBase), c.ops, 0)
			if want := map[bool]porcupine.CheckResult{true: porcupine.Ok, false: porcupine.Illegal}[c.legal]; res != want {
				t.Fatalf("got %s, want %s", res, want)
			}
		})
	}
}

func read(client int, call, ret int64, job string, latest int64, refs ...int64) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Call: call, Return: ret, Input: ProgressInput{Job: job},
		Output: ProgressOutput{Latest: latest, Refs: refs}}
}

func TestProgressModel(t *testing.T) {
	cases := []struct {
		name  string
		legal bool
		ops   []porcupine.Operation
	}{
		{"nothing completed", true, []porcupine.Operation{read(0, 0, 1, "j", 0)}},
		{"progress with regional refs", true, []porcupine.Operation{
			read(0, 0, 1, "j", 0),
			read(0, 2, 3, "j", 1, 1, 1),
			read(0, 4, 5, "j", 2, 2, 1), // r1 failed in 2: keeps 1
			read(0, 6, 7, "j", 2, 2, 1),
			read(0, 8, 9, "j", 5, 5, 1),    // r1 failed in 3, 4 and 5 too
			read(0, 10, 11, "j", 8, 7, 8)}, // r0 healthy in an unread 7, failed in 8
		},
		{"concurrent reads linearize in id order", true, []porcupine.Operation{
			read(0, 0, 10, "j", 3, 3, 3),
			read(1, 1, 9, "j", 2, 2, 2)}},
		{"jobs are independent", true, []porcupine.Operation{
			read(0, 0, 1, "a", 5, 5, 5),
			read(0, 2, 3, "b", 1, 1, 1)}},

		{"latest goes backwards", false, []porcupine.Operation{
			read(0, 0, 1, "j", 3, 3, 3),
			read(1, 2, 3, "j", 2, 2, 2)}},
		{"nothing completed after something was", false, []porcupine.Operation{
			read(0, 0, 1, "j", 1, 1, 1),
			read(1, 2, 3, "j", 0)}},
		{"a completed checkpoint's refs change", false, []porcupine.Operation{
			read(0, 0, 1, "j", 3, 3, 2),
			read(1, 2, 3, "j", 3, 3, 3)}},
		{"a ref moves back behind a healthy completion", false, []porcupine.Operation{
			read(0, 0, 1, "j", 2, 2, 2),
			read(1, 2, 3, "j", 3, 3, 1)}},
		{"a ref moves sideways to another old checkpoint", false, []porcupine.Operation{
			read(0, 0, 1, "j", 3, 3, 1),
			read(1, 2, 3, "j", 5, 5, 2)}},
		{"a ref beyond its own checkpoint", false, []porcupine.Operation{read(0, 0, 1, "j", 2, 2, 3)}},
		{"a ref to nothing", false, []porcupine.Operation{read(0, 0, 1, "j", 2, 2, 0)}},
		{"the number of regions changes", false, []porcupine.Operation{
			read(0, 0, 1, "j", 2, 2, 2),
			read(0, 2, 3, "j", 3, 3, 3, 3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, _ := porcupine.CheckOperationsVerbose(ProgressModel(), c.ops, 0)
			if want := map[bool]porcupine.CheckResult{true: porcupine.Ok, false: porcupine.Illegal}[c.legal]; res != want {
				t.Fatalf("got %s, want %s", res, want)
			}
		})
	}
}

func TestClientRecorderRefusesImpossibleHistories(t *testing.T) {
	r := NewClientRecorder()
	c := r.NewClient()
	call, err := r.Call(c, ConfigInput{Op: ConfigGet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Call(c, ConfigInput{Op: ConfigGet}); err == nil {
		t.Fatal("a client called twice without a return")
	}
	if err := r.Return(call, ConfigOutput{Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	if err := r.Return(call, ConfigOutput{Outcome: OutcomeOK}); err == nil {
		t.Fatal("an operation returned twice")
	}
	if err := r.end(&Call{client: c, input: ConfigInput{Op: ConfigGet}, call: 100}, ConfigOutput{}, 50); err == nil {
		t.Fatal("a return before its call")
	}
	call, _ = r.Call(c, ProgressInput{Job: "j"})
	if err := r.Return(call, ConfigOutput{}); err == nil {
		t.Fatal("a progress read returned a config output")
	}
	if _, err := r.History(testBase); err == nil {
		t.Fatal("History hid the impossibilities")
	}
}

// An unknown outcome ends at +∞ and moves the client to a fresh id; Settle
// gives it a finite return, after which a paused history can be cut.
func TestClientRecorderUnknownAndSettle(t *testing.T) {
	r := NewClientRecorder()
	c := r.NewClient()
	call, _ := r.Call(c, ConfigInput{Op: ConfigPatch, IntervalMs: i64(2000)})
	c2, err := r.Unknown(call, ConfigOutput{Outcome: OutcomeUnknown})
	if err != nil || c2 == c {
		t.Fatalf("client %d after unknown (was %d): %v", c2, c, err)
	}
	h, _ := r.History(testBase)
	if h.ConfigOps[0].Return != inf {
		t.Fatalf("%+v", h.ConfigOps)
	}
	settled := r.Now()
	r.Settle(settled)
	read := func(interval int64, active bool) {
		call, _ := r.Call(c2, ConfigInput{Op: ConfigGet})
		if err := r.Return(call, ConfigOutput{Outcome: OutcomeOK, IntervalMs: interval, TimeoutMs: 600000, OverridesActive: active}); err != nil {
			t.Fatal(err)
		}
	}
	read(1000, false) // the patch was lost in the restart
	read(1000, false)
	h, err = r.History(testBase)
	if err != nil {
		t.Fatal(err)
	}
	if h.ConfigOps[0].Return != settled {
		t.Fatalf("settled at %d: %+v", settled, h.ConfigOps)
	}
	if res := CheckClientHistory(h, 0); res.Config != porcupine.Ok || res.ConfigSegments != 2 {
		t.Fatal(res)
	}
	// Lost, the patch cannot come back after the restart.
	call, _ = r.Call(c2, ConfigInput{Op: ConfigGet})
	r.Return(call, ConfigOutput{Outcome: OutcomeOK, IntervalMs: 2000, TimeoutMs: 600000, OverridesActive: true})
	h, _ = r.History(testBase)
	if res := CheckClientHistory(h, 0); res.Config != porcupine.Illegal {
		t.Fatal(res)
	}
}

func TestClientHistoryFileRoundTrip(t *testing.T) {
	h := ClientHistory{Config: testBase, Faults: []Fault{{Start: 3, End: 9, Description: "restart"}},
		ConfigOps: []porcupine.Operation{
			patch(0, 0, inf, i64(2000), nil, OutcomeUnknown),
			patch(1, 1, 4, nil, i64(30000), OutcomeOK),
			get(2, 5, 6, 2000, 30000, true),
		},
		ProgressOps: []porcupine.Operation{read(3, 2, 7, "j", 4, 4, 3), read(3, 8, 9, "j", 0)},
	}
	h.ConfigOps[2].Metadata = "read in a PATCH answer"
	path := filepath.Join(t.TempDir(), "h.json")
	if err := WriteClientHistory(path, h); err != nil {
		t.Fatal(err)
	}
	got, err := ReadClientHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h, got) {
		t.Fatalf("round trip:\nwant %+v\ngot  %+v", h, got)
	}
	c := CheckClientHistory(got, 0)
	if c.Config != porcupine.Ok || c.Progress != porcupine.Illegal {
		t.Fatal(c)
	}
	paths, err := c.Keep(t.TempDir())
	if err != nil || len(paths) != 2 || filepath.Base(paths[1]) != "progress-1.html" {
		t.Fatal(paths, err)
	}
}
