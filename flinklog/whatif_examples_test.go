package flinklog

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/sim"
)

var update = flag.Bool("update", false, "rewrite the what-if goldens in testdata/whatif")

func historyInput(t *testing.T, path string) WhatIfInput {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return decodedInput(t, filepath.Base(path), data)
}

func decodedInput(t testing.TB, name string, data []byte) WhatIfInput {
	t.Helper()
	h, err := history.Decode(bytes.NewReader(data), name)
	if err != nil {
		t.Fatal(err)
	}
	in := WhatIfInput{Source: name, Header: h.Header}
	for _, r := range h.Records {
		in.Events = append(in.Events, r.Event)
	}
	return in
}

// TestWhatIfExampleGoldens pins the answer on copies of examples/ and on two
// flight files ckptsim recorded (periodic triggers, effects on every line, late
// acks: the cases the request pairing alone got wrong): the global ones
// under the defaults and under a ratio that lets one of two regions fail, the
// regional ones under their own configuration.
func TestWhatIfExampleGoldens(t *testing.T) {
	files, _ := filepath.Glob("testdata/examples/*.jsonl")
	flights, _ := filepath.Glob("testdata/flight/*.jsonl")
	if len(files) == 0 || len(flights) == 0 {
		t.Fatal("no example copies or flight files")
	}
	files = append(files, flights...)
	for _, f := range files {
		in := historyInput(t, f)
		variants := map[string]WhatIfOptions{"": WhatIfOptionsFor(in.Header)}
		if !in.Header.Config.Regional.Enabled {
			o := DefaultWhatIfOptions()
			o.MaxFailureRatio = 0.5
			variants["-ratio0.5"] = o
		}
		for suffix, o := range variants {
			name := strings.TrimSuffix(filepath.Base(f), ".jsonl") + suffix
			t.Run(name, func(t *testing.T) {
				rep, err := WhatIf(in, o)
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := rep.WriteText(&got); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata/whatif", name+".txt")
				if *update {
					if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (go test -run TestWhatIfExampleGoldens -update writes it)", err)
				}
				if got.String() != string(want) {
					t.Errorf("what-if %s differs from %s:\n%s", f, golden, got.String())
				}
				if len(rep.Violations) > 0 || containsAny(rep.Notes, "internal") {
					t.Errorf("violations %q notes %q", rep.Violations, rep.Notes)
				}
			})
		}
	}
}

// TestWhatIfOnRegionalRecordingIsTheRecording: every example of the repository
// (read live, not the copies) and ckptsim's flight file that was recorded with
// regional checkpoints on,
// re-decided under its own configuration, is its own recording: the same
// events, nothing synthesized, the same fate for every checkpoint.
func TestWhatIfOnRegionalRecordingIsTheRecording(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.jsonl")
	if len(files) == 0 {
		t.Skip("no ../examples (the test runs in the repository)")
	}
	files = append(files, "testdata/flight/ckptsim-regional.jsonl")
	for _, f := range files {
		in := historyInput(t, f)
		rep, err := WhatIf(in, WhatIfOptionsFor(in.Header))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(rep.Violations) > 0 || containsAny(rep.Notes, "internal") {
			t.Errorf("%s: violations %q notes %q", f, rep.Violations, rep.Notes)
		}
		if !in.Header.Config.Regional.Enabled {
			continue
		}
		sameDecisions(t, f, in, rep)
	}
}

// sameDecisions checks that the regional run stepped exactly the recorded
// events and made exactly the recorded decisions.
func sameDecisions(t *testing.T, name string, in WhatIfInput, rep *WhatIfReport) {
	t.Helper()
	if len(rep.events) != len(in.Events) {
		t.Errorf("%s: the regional run stepped %d events, the recording has %d", name, len(rep.events), len(in.Events))
		return
	}
	for i := range in.Events {
		if !reflect.DeepEqual(rep.events[i], in.Events[i]) {
			t.Errorf("%s: event %d: the regional run stepped %+v, the recording has %+v", name, i+1, rep.events[i], in.Events[i])
			return
		}
	}
	tt := rep.Totals
	if tt.Completed != tt.CompletedAlt || tt.Lost != 0 || tt.Saved != 0 || tt.Extra != 0 || tt.RecordedJob != tt.RegionalJob {
		t.Errorf("%s: totals %+v", name, tt)
	}
	for _, r := range rep.Rows {
		if r.RegionalID != r.ID || r.Regional != r.Recorded && !(strings.HasPrefix(r.Recorded, "aborted") && r.Regional == r.Recorded) {
			t.Errorf("%s: row %+v", name, r)
		}
	}
	topo, err := fsm.NewTopology(in.Header.Job)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := fsm.New(topo, in.Header.Config)
	b, _ := fsm.New(topo, rep.header.Config)
	for i, ev := range in.Events {
		ea, erra := a.Step(ev)
		eb, errb := b.Step(ev)
		ea, eb = decisions(ea), decisions(eb)
		if fmt.Sprint(erra) != fmt.Sprint(errb) || !reflect.DeepEqual(ea, eb) {
			t.Errorf("%s: event %d (%s): recorded %v %v, regional %v %v", name, i+1, fsm.DescribeEvent(topo, ev), ea, erra, eb, errb)
			return
		}
	}
}

// TestWhatIfNoRegionFailsIsTheGlobalRun is the property: on a history where no
// region fails (simulated global jobs of several shapes and rhythms whose
// subtasks all ack in time, some metadata writes failing), the regional re-run
// steps the very same events and decides exactly what the global run did.
func TestWhatIfNoRegionFailsIsTheGlobalRun(t *testing.T) {
	for seed := uint64(1); seed <= 24; seed++ {
		p := sim.DefaultParams(int(1 + seed%4))
		p.Seed = seed
		p.DurationMs = 20_000
		p.Config.Regional.Enabled = false
		p.Config.IntervalMs = int64(200 + 150*(seed%5))
		p.Config.MaxConcurrent = int(1 + seed%3)
		p.Config.MinPauseMs = int64(100 * (seed % 3))
		p.Ack = sim.Delay{Min: 20, Mean: float64(10 + 40*(seed%4))}
		p.PersistFail = 0.1 * float64(seed%2)
		p.Shape.Depth = int(2 + seed%2)
		if err := p.Config.Validate(); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := sim.Run(p, &buf); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		in := decodedInput(t, fmt.Sprintf("sim-%d", seed), buf.Bytes())
		rep, err := WhatIf(in, DefaultWhatIfOptions())
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		for _, r := range rep.Rows {
			if r.Recorded == "aborted (expired)" {
				t.Fatalf("seed %d: an ack came late: the history is not one where no region fails", seed)
			}
		}
		if rep.Totals.Completed < 5 {
			t.Fatalf("seed %d: only %d completions: the property would be weak", seed, rep.Totals.Completed)
		}
		// The regional config differs only in regional.*; decisions must not.
		name := fmt.Sprintf("seed %d", seed)
		sameDecisions(t, name, in, rep)
	}
}

// decisions drops warnings (regional mode on a single-region job says it is
// off, R4): they are not decisions.
func decisions(effs []fsm.Effect) []fsm.Effect {
	var out []fsm.Effect
	for _, e := range effs {
		if e.Type != fsm.EffWarn {
			out = append(out, e)
		}
	}
	return out
}

// TestWhatIfWithFailuresLosesNothing re-decides simulated global jobs whose
// subtasks decline and fail now and then: both runs keep every invariant, the
// pairing never needs an internal fallback, and regional mode completes every
// checkpoint the recording completed (it sees the same acks) and more.
func TestWhatIfWithFailuresLosesNothing(t *testing.T) {
	saved := 0
	for seed := uint64(1); seed <= 12; seed++ {
		p := sim.DefaultParams(int(2 + seed%4))
		p.Seed = seed
		p.DurationMs = 30_000
		p.Config.Regional.Enabled = false
		p.Config.TolerableFailures = int(seed % 5)
		p.DeclineProb = 0.01
		p.FailProb = 0.005
		var buf bytes.Buffer
		if _, err := sim.Run(p, &buf); err != nil {
			t.Fatal(err)
		}
		in := decodedInput(t, fmt.Sprintf("sim-%d", seed), buf.Bytes())
		o := DefaultWhatIfOptions()
		o.MaxFailureRatio = 0.5
		rep, err := WhatIf(in, o)
		if err != nil {
			t.Fatal(err)
		}
		tt := rep.Totals
		if len(rep.Violations) > 0 || containsAny(rep.Notes, "internal") || tt.Lost > 0 || tt.CompletedAlt < tt.Completed {
			t.Errorf("seed %d: totals %+v violations %q notes %q", seed, tt, rep.Violations, rep.Notes)
		}
		saved += tt.Saved + tt.Extra
	}
	if saved == 0 {
		t.Error("no failed checkpoint was saved: the runs exercise nothing")
	}
}
