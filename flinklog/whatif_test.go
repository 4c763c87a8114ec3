package flinklog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

func whatIfFixture(t *testing.T, name string, opt Options, wo WhatIfOptions) *WhatIfReport {
	t.Helper()
	im, _ := importFixture(t, name, opt)
	rep, err := WhatIf(im.WhatIfInput(), wo)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Violations) > 0 {
		t.Fatalf("violations: %q", rep.Violations)
	}
	return rep
}

// rowsText renders rows compactly: "logID:recorded>regional[refs]".
func rowsText(rep *WhatIfReport) string {
	var out []string
	for _, r := range rep.Rows {
		var refs []string
		for _, ref := range r.Refs {
			s := fmt.Sprintf("%s->%d", ref.Region, ref.Checkpoint)
			if ref.Assumed {
				s += "*"
			}
			refs = append(refs, s)
		}
		out = append(out, fmt.Sprintf("%d:%s>%s[%s]", r.LogID, r.Recorded, r.Regional, strings.Join(refs, " ")))
	}
	return strings.Join(out, ", ")
}

func TestWhatIfFixtures(t *testing.T) {
	ratio := func(r float64) WhatIfOptions {
		o := DefaultWhatIfOptions()
		o.MaxFailureRatio = r
		return o
	}
	forward := DefaultOptions()
	forward.Edges = EdgesForward
	cases := []struct {
		name   string
		fix    string
		opt    Options
		wo     WhatIfOptions
		rows   string
		totals string // failed saved refused extra maxRefAge
		jobs   string // recorded / regional
		why    string // a row's why contains this
	}{
		{name: "decline saved and the job survives", fix: "log4j1-1.10-decline.log", opt: DefaultOptions(), wo: DefaultWhatIfOptions(),
			rows:   "5:aborted (declined)>completed (regional)[r2->4]",
			totals: "1 1 0 0 1", jobs: "failed (tolerable_failures_exceeded) / running"},
		{name: "one of three regions is over the default ratio", fix: "logback-1.10-two-jobs.log", opt: DefaultOptions(), wo: DefaultWhatIfOptions(),
			rows:   "3:aborted (async_exception)>aborted (async_exception)[]",
			totals: "1 0 0 0 0", jobs: "running / running", why: "R22b: 1 of 3 regions failed, ratio 0.333 > max_failure_ratio 0.3"},
		{name: "a higher ratio saves it", fix: "logback-1.10-two-jobs.log", opt: DefaultOptions(), wo: ratio(0.34),
			rows: "3:aborted (async_exception)>completed (regional)[r1->2]", totals: "1 1 0 0 1"},
		{name: "expiries name no region", fix: "log4j2-1.12-expired-tolerable.log", opt: Options{Tolerable: -1, AssumeRegions: 4}, wo: DefaultWhatIfOptions(),
			rows: "2:aborted (expired)>aborted (expired)[], 3:aborted (expired)>aborted (expired)[], 4:aborted (expired)>aborted (expired)[], " +
				"0:refused (coordinator_suspend)>refused (coordinator_suspend)[]",
			totals: "3 0 1 0 0", jobs: "failed (tolerable_failures_exceeded) / failed (tolerable_failures_exceeded)"},
		{name: "single region: nothing to save", fix: "log4j1-1.9-notready.log", opt: DefaultOptions(), wo: ratio(1),
			rows: "66:aborted (task_not_ready)>aborted (task_not_ready)[]", totals: "1 0 0 0 0"},
		{name: "failover, not-ready and declined checkpoints saved with forward edges", fix: "log4j2-1.17-region-failover.log", opt: forward, wo: ratio(0.5),
			rows: "2:aborted (region_failover)>completed (regional)[r1->1], 4:aborted (task_not_ready)>completed (regional)[r0->3], " +
				"5:aborted (declined)>completed (regional)[r0->3]",
			totals: "3 3 0 0 2"},
		{name: "the default ratio refuses one of two regions", fix: "log4j2-1.17-region-failover.log", opt: forward, wo: DefaultWhatIfOptions(),
			totals: "3 0 0 0 0", why: "R22b: 1 of 2 regions failed"},
		{name: "a refused trigger becomes a regional checkpoint", fix: "log4j2-1.15-trigger-failed.log", opt: DefaultOptions(), wo: ratio(0.5),
			rows: "0:refused (not_all_running)>completed (regional)[r1->1], 2:aborted (async_exception)>completed (regional)[r1->1], " +
				"3:aborted (expired)>aborted (expired)[]",
			totals: "2 1 1 1 2"},
		{name: "max_ref_age bounds the drift", fix: "log4j2-1.15-trigger-failed.log", opt: DefaultOptions(),
			wo:   WhatIfOptions{MaxFailureRatio: 0.5, MaxConsecutive: 2, MaxRefAge: 1},
			rows: "0:refused (not_all_running)>completed (regional)[r1->1], 2:aborted (async_exception)>aborted (async_exception)[], 3:aborted (expired)>aborted (expired)[]",
			why:  "R22f"},
		{name: "a regional completion relying on the assumed prior checkpoint is marked", fix: "log4j1-1.10-decline.log",
			opt: DefaultOptions(), wo: DefaultWhatIfOptions(), totals: "1 1 0 0 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := whatIfFixture(t, c.fix, c.opt, c.wo)
			if c.rows != "" {
				if got := rowsText(rep); got != c.rows {
					t.Errorf("rows:\n got %s\nwant %s", got, c.rows)
				}
			}
			tt := rep.Totals
			if got := fmt.Sprint(tt.Failed, tt.Saved, tt.Refused, tt.Extra, tt.MaxRefAge); c.totals != "" && got != c.totals {
				t.Errorf("totals (failed saved refused extra max_ref_age): %s, want %s", got, c.totals)
			}
			if got := tt.RecordedJob + " / " + tt.RegionalJob; c.jobs != "" && got != c.jobs {
				t.Errorf("jobs: %s, want %s", got, c.jobs)
			}
			if c.why != "" {
				found := false
				for _, r := range rep.Rows {
					found = found || strings.Contains(r.Why, c.why)
				}
				if !found {
					t.Errorf("no row says %q: %+v", c.why, rep.Rows)
				}
			}
			if tt.Lost != 0 {
				t.Errorf("regional mode lost %d completions", tt.Lost)
			}
		})
	}
}

func TestWhatIfAssumedPrior(t *testing.T) {
	// Checkpoint 4 is assumed before the log: a failure of 5, the first logged
	// checkpoint, can only fall back to it, and the answer says so.
	var kept []string
	for i, l := range strings.Split(readFixture(t, "log4j1-1.10-decline.log"), "\n") {
		if i < 3 || i > 6 {
			kept = append(kept, l) // drop checkpoints 3 and 4
		}
	}
	log := strings.Join(kept, "\n")
	im, _ := importBytes(t, "prior.log", []byte(log), DefaultOptions())
	rep, err := WhatIf(im.WhatIfInput(), DefaultWhatIfOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsText(rep); !strings.HasPrefix(got, "5:aborted (declined)>completed (regional)[r2->4*]") {
		t.Errorf("rows %s", got)
	}
	if !containsAny(rep.Notes, "assumed before the log") {
		t.Errorf("notes %q", rep.Notes)
	}
	opt := DefaultOptions()
	opt.NoPrior = true
	im, _ = importBytes(t, "prior.log", []byte(log), opt)
	if rep, _ = WhatIf(im.WhatIfInput(), DefaultWhatIfOptions()); rep.Totals.Saved != 0 || !strings.Contains(rep.Rows[0].Why, "R22d") {
		t.Errorf("without the prior: %+v", rep.Rows)
	}
}

func TestWhatIfFromHistoryFileMatchesLog(t *testing.T) {
	opt := DefaultOptions()
	opt.Edges = EdgesForward
	im, _ := importFixture(t, "log4j2-1.17-region-failover.log", opt)
	var buf bytes.Buffer
	if err := im.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	h, err := history.Decode(&buf, "h.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	in := WhatIfInput{Source: "h.jsonl", Header: h.Header}
	for _, r := range h.Records {
		in.Events = append(in.Events, r.Event)
	}
	wo := DefaultWhatIfOptions()
	wo.MaxFailureRatio = 0.5
	fromFile, err := WhatIf(in, wo)
	if err != nil {
		t.Fatal(err)
	}
	fromLog, err := WhatIf(im.WhatIfInput(), wo)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile.Totals != fromLog.Totals {
		t.Errorf("history file %+v, log %+v", fromFile.Totals, fromLog.Totals)
	}
	if fromFile.Topology.Known != "from the history header" || fromFile.Rows[0].LogID != 0 {
		t.Errorf("a history file has no log ids: %+v", fromFile.Rows[0])
	}
}

func TestWhatIfRejectsBadConfig(t *testing.T) {
	im, _ := importFixture(t, "log4j1-1.9-notready.log", DefaultOptions())
	for _, wo := range []WhatIfOptions{{MaxFailureRatio: 1.5, MaxConsecutive: 2}, {MaxFailureRatio: 0.3, MaxConsecutive: -1},
		{MaxFailureRatio: 0.3, MaxRefAge: -2}} {
		if _, err := WhatIf(im.WhatIfInput(), wo); err == nil {
			t.Errorf("%+v accepted", wo)
		}
	}
	in := im.WhatIfInput()
	in.Header.Job = fsm.JobSpec{}
	if _, err := WhatIf(in, DefaultWhatIfOptions()); err == nil {
		t.Error("an empty job accepted")
	}
}

func TestWhatIfTopologyAdvice(t *testing.T) {
	for fix, want := range map[string]string{
		"log4j2-1.12-expired-tolerable.log": "--assume-regions N",
		"logback-1.10-two-jobs.log":         "Only the vertices named in exception text",
		"log4j2-1.17-region-failover.log":   "--edges forward",
		"log4j1-1.9-notready.log":           "nothing can be saved",
	} {
		rep := whatIfFixture(t, fix, DefaultOptions(), DefaultWhatIfOptions())
		if !strings.Contains(rep.Topology.Advice, want) {
			t.Errorf("%s: advice %q lacks %q", fix, rep.Topology.Advice, want)
		}
		var text bytes.Buffer
		if err := rep.WriteText(&text); err != nil || !strings.Contains(text.String(), want) {
			t.Errorf("%s: the table does not carry the advice:\n%s", fix, text.String())
		}
	}
}
