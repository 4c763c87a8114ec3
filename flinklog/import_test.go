package flinklog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// importFixture imports a fixture, writes the history, decodes it back and
// replays it with every invariant checked: an import must always produce a
// history the core replays cleanly.
func importFixture(t *testing.T, name string, opt Options) (*Import, *history.Result) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	im, res := importBytes(t, name, data, opt)
	return im, res
}

func importBytes(t *testing.T, name string, data []byte, opt Options) (*Import, *history.Result) {
	t.Helper()
	im, err := ImportLog(bytes.NewReader(data), name, opt)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	var buf bytes.Buffer
	if err := im.WriteHistory(&buf); err != nil {
		t.Fatalf("write history: %v", err)
	}
	h, err := history.Decode(bytes.NewReader(buf.Bytes()), name+".jsonl")
	if err != nil {
		t.Fatalf("decode the imported history: %v\n%s", err, buf.String())
	}
	res, err := history.Replay(h, history.Options{Check: true})
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, buf.String())
	}
	if len(res.Summary.Violations) > 0 || len(im.Violations) > 0 {
		t.Fatalf("invariants broken: replay %+v, import %v\n%s", res.Summary.Violations, im.Violations, buf.String())
	}
	if len(h.Records) != len(im.Events) {
		t.Fatalf("history has %d events, import %d", len(h.Records), len(im.Events))
	}
	checkClaimsMatchMismatches(t, im, res)
	// Every annotated line is in the history, as a comment saying why.
	if n := strings.Count(buf.String(), " (annotation: "); n != im.Stats.Annotated {
		t.Fatalf("%d annotation comments in the history, %d lines annotated", n, im.Stats.Annotated)
	}
	return im, res
}

// checkClaimsMatchMismatches: replaying the imported history reports a
// contradicted claim at exactly the log lines where the import found the core
// disagreeing with the log.
func checkClaimsMatchMismatches(t *testing.T, im *Import, res *history.Result) {
	t.Helper()
	want := map[int]bool{}
	for _, m := range im.Mismatches {
		want[m.Line] = true
	}
	got := map[int]bool{}
	for _, f := range res.Claims {
		got[f.Claim.LogLine] = true
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		var fs []string
		for _, f := range res.Claims {
			fs = append(fs, f.Error())
		}
		t.Errorf("replay contradicts claims of log lines %v, the import disagrees at %v\nreplay: %s\nimport: %+v",
			got, want, strings.Join(fs, "\n"), im.Mismatches)
	}
	if res.Checked != im.Stats.Claims {
		t.Errorf("replay checked %d claims, the import wrote %d", res.Checked, im.Stats.Claims)
	}
}

// expect is what a fixture must import to. Empty fields are not checked;
// lists are compared whole.
type expect struct {
	opt             Options
	job             string
	known           string
	regions         int
	start           string            // substring of Import.Start
	inferred        map[string]string // key -> value
	triggered       string            // ids as "1 2 3"
	completed       string            // "id kind mode, ..."
	aborted         string            // "id reason, ..."
	triggerFailures string            // "reason, ..."
	jobEnd          string            // "failed tolerable_failures_exceeded"
	mismatches      []string          // one substring per mismatch, in order
	notes           []string          // substrings some note contains
	unparsed        []int             // lines reported as not interpreted
	rows            string            // "logID:coreID:match, ..."
}

var fixtures = map[string]expect{
	"log4j2-1.12-expired-tolerable.log": {
		known: "unknown", regions: 1, start: "fresh",
		inferred:  map[string]string{"timeout_ms": "60000", "tolerable_failures": "2", "max_concurrent": "1"},
		triggered: "1 2 3 4", completed: "1 checkpoint global", aborted: "2 expired, 3 expired, 4 expired",
		triggerFailures: "coordinator_suspend", jobEnd: "failed tolerable_failures_exceeded",
		mismatches: []string{"triggered checkpoint 5"},
		notes:      []string{"out of timestamp order"},
		rows:       "1:1:yes, 2:2:yes, 3:3:yes, 4:4:yes, 5:0:unknown",
	},
	"log4j1-1.10-decline.log": {
		known: "complete", regions: 4, start: "assumed: the log's first checkpoint is 3",
		inferred:  map[string]string{"tolerable_failures": "0", "timeout_ms": "600000"},
		triggered: "3 4 5", completed: "3 checkpoint global, 4 checkpoint global", aborted: "5 declined",
		jobEnd: "failed tolerable_failures_exceeded", rows: "3:3:yes, 4:4:yes, 5:5:yes",
	},
	"log4j1-1.9-notready.log": {
		known: "complete", regions: 1, triggered: "65 66", completed: "65 checkpoint global", aborted: "66 task_not_ready",
		jobEnd: "running", notes: []string{"switched to FAILING (the excerpt does not show why)"},
		rows: "65:65:yes, 66:66:yes",
	},
	"logback-1.10-two-jobs.log": {
		job: "44ec04da13306281d7a8da2c808d5b71", known: "partial", regions: 3,
		inferred:  map[string]string{"tolerable_failures": "1"},
		triggered: "1 2 3 4", completed: "1 checkpoint global, 2 checkpoint global, 4 checkpoint global",
		aborted: "3 async_exception", jobEnd: "running",
		notes:    []string{"the log has 2 jobs", "9b1f3a5c7d2e4f6081a3c5e7092b4d6f (2)"},
		unparsed: []int{5, 20},
	},
	"log4j2-1.13-savepoint-restore.log": {
		known: "unknown", start: "restore 7 (no_claim): line 7: the job restored savepoint 7",
		triggered: "8 9 10 11 12",
		completed: "8 checkpoint global, 9 checkpoint global, 10 savepoint global, 11 checkpoint global, 12 stop_with_savepoint global",
		jobEnd:    "finished", inferred: map[string]string{"timeout_ms": "600000"},
	},
	"log4j2-1.15-trigger-failed.log": {
		known: "complete", regions: 2, start: "fresh",
		inferred:  map[string]string{"timeout_ms": "30000", "tolerable_failures": "2"},
		triggered: "1 2 3 4", completed: "1 checkpoint global, 4 checkpoint global",
		aborted: "2 async_exception, 3 expired", triggerFailures: "not_all_running", jobEnd: "running",
		mismatches: []string{"some tasks of job"},
		rows:       "1:1:yes, 2:2:yes, 3:3:yes, 4:4:yes",
	},
	// Two sources, one finishes: the other (named only by its coordinator)
	// keeps the job running, and checkpoints go on without the finished one.
	"log4j2-1.15-two-sources-one-finishes.log": {
		known: "partial", regions: 3, start: "fresh",
		triggered: "1 2 3", completed: "1 checkpoint global, 2 checkpoint global, 3 checkpoint global", jobEnd: "running",
		inferred: map[string]string{"interval_ms": "0"}, rows: "1:1:yes, 2:2:yes, 3:3:yes",
	},
	// A manual checkpoint (1.19+ REST): understood, and kept out of the
	// periodic interval's estimate (one pair of periodic triggers is left).
	"log4j2-1.19-manual-checkpoint.log": {
		known: "complete", regions: 2, start: "fresh",
		triggered: "1 2 3 4", completed: "1 checkpoint global, 2 checkpoint global, 3 checkpoint global, 4 checkpoint global",
		jobEnd: "running", rows: "1:1:yes, 2:2:yes, 3:3:yes, 4:4:yes",
	},
	"log4j2-1.17-region-failover.log": {
		known: "complete", regions: 1,
		triggered: "1 2 3 4 5 6", completed: "1 checkpoint global, 3 checkpoint global, 6 savepoint global",
		aborted: "2 region_failover, 4 task_not_ready, 5 declined", jobEnd: "running",
		inferred: map[string]string{"tolerable_failures": "1"},
		rows:     "1:1:yes, 2:2:unknown, 3:3:yes, 4:4:yes, 5:5:yes, 6:6:yes",
	},
}

func TestImportFixtures(t *testing.T) {
	for name, w := range fixtures {
		t.Run(name, func(t *testing.T) {
			opt := w.opt
			if opt == (Options{}) {
				opt = DefaultOptions()
			}
			im, res := importFixture(t, name, opt)
			s := res.Summary
			check := func(what, got, want string) {
				t.Helper()
				if want != "" && got != want {
					t.Errorf("%s: got %q, want %q", what, got, want)
				}
			}
			check("job", im.Job, w.job)
			check("topology", im.Topology.Known, w.known)
			if w.regions > 0 && im.Topology.Regions != w.regions {
				t.Errorf("regions: %d, want %d", im.Topology.Regions, w.regions)
			}
			if !strings.Contains(im.Start, w.start) {
				t.Errorf("start %q does not say %q", im.Start, w.start)
			}
			for k, v := range w.inferred {
				if got := inferred(im, k); got != v {
					t.Errorf("inferred %s = %q, want %q (%+v)", k, got, v, im.Inferred)
				}
			}
			var ids, comp, ab, tf []string
			for _, x := range s.Triggered {
				ids = append(ids, fmt.Sprint(x.ID))
			}
			for _, x := range s.Completed {
				comp = append(comp, fmt.Sprintf("%d %s %s", x.ID, x.Kind, x.Mode))
			}
			for _, x := range s.Aborted {
				ab = append(ab, fmt.Sprintf("%d %s", x.ID, x.Reason))
			}
			for _, x := range s.TriggerFailures {
				tf = append(tf, x.Reason)
			}
			check("triggered", strings.Join(ids, " "), w.triggered)
			check("completed", strings.Join(comp, ", "), w.completed)
			check("aborted", strings.Join(ab, ", "), w.aborted)
			check("trigger failures", strings.Join(tf, ", "), w.triggerFailures)
			end := s.Job
			if s.FailReason != nil {
				end += " " + *s.FailReason
			}
			check("job end", end, w.jobEnd)
			if len(im.Mismatches) != len(w.mismatches) {
				t.Errorf("mismatches: %+v, want %q", im.Mismatches, w.mismatches)
			}
			for i, m := range w.mismatches {
				if i < len(im.Mismatches) && !strings.Contains(im.Mismatches[i].Text+" "+im.Mismatches[i].Log, m) {
					t.Errorf("mismatch %d: %+v does not say %q", i, im.Mismatches[i], m)
				}
			}
			for _, n := range w.notes {
				if !containsAny(im.Notes, n) {
					t.Errorf("no note says %q: %q", n, im.Notes)
				}
			}
			var lines []int
			for _, u := range im.Unparsed {
				lines = append(lines, u.Line)
				if u.Why == "" || u.Text == "" {
					t.Errorf("unparsed line without text or reason: %+v", u)
				}
			}
			if fmt.Sprint(lines) != fmt.Sprint(w.unparsed) && !(len(lines) == 0 && w.unparsed == nil) {
				t.Errorf("not interpreted: lines %v, want %v (%+v)", lines, w.unparsed, im.Unparsed)
			}
			st := im.Stats
			if st.Understood+st.Annotated+st.NotUnderstood != st.CheckpointLines || st.NotUnderstood+st.Outside != len(w.unparsed) ||
				st.Outside != orphans(im) {
				t.Errorf("stats do not add up: %+v", st)
			}
			for _, j := range im.Jobs {
				if j.Job == im.Job && j.Lines != st.CheckpointLines {
					t.Errorf("the job list says %d checkpoint lines, the import counted %d", j.Lines, st.CheckpointLines)
				}
			}
			var rows []string
			for _, r := range im.Checkpoints {
				rows = append(rows, fmt.Sprintf("%d:%d:%s", r.LogID, r.ID, r.Match))
			}
			check("rows", strings.Join(rows, ", "), w.rows)
		})
	}
}

func inferred(im *Import, key string) string {
	v := ""
	for _, in := range im.Inferred {
		if in.Key == key && !strings.HasPrefix(in.How, "conflict") {
			v = in.Value
		}
	}
	return v
}

func containsAny(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// orphans counts reported lines that are not records of the job (stray text).
func orphans(im *Import) int {
	n := 0
	for _, u := range im.Unparsed {
		if strings.HasPrefix(u.Why, "not a log record") || strings.HasPrefix(u.Why, "timestamp on another clock") {
			n++
		}
	}
	return n
}

func TestImportOtherJobAndEdges(t *testing.T) {
	opt := DefaultOptions()
	opt.Job = "9B1F3A5C7D2E4F6081A3C5E7092B4D6F" // case does not matter
	im, res := importFixture(t, "logback-1.10-two-jobs.log", opt)
	if im.Job != "9b1f3a5c7d2e4f6081a3c5e7092b4d6f" || len(res.Summary.Completed) != 1 {
		t.Errorf("job %s, completed %+v", im.Job, res.Summary.Completed)
	}
	opt.Job = "00000000000000000000000000000000"
	if _, err := ImportLog(strings.NewReader(readFixture(t, "logback-1.10-two-jobs.log")), "x", opt); err == nil ||
		!strings.Contains(err.Error(), "44ec04da13306281d7a8da2c808d5b71 (10 checkpoint lines)") {
		t.Errorf("unknown -job: %v", err)
	}
	// The job list's counts are what importing each job with -job counts.
	for _, j := range im.Jobs {
		opt.Job = j.Job
		other, _ := importFixture(t, "logback-1.10-two-jobs.log", opt)
		if st := other.Stats; st.CheckpointLines != j.Lines || st.Understood+st.Annotated+st.NotUnderstood != j.Lines {
			t.Errorf("job %s: listed with %d checkpoint lines, -job imports %+v", j.Job, j.Lines, st)
		}
	}

	// The log cannot say that Source: in and Sink: out are joined forward;
	// -edges forward says so, and the failover evidence then agrees.
	opt = DefaultOptions()
	im, _ = importFixture(t, "log4j2-1.17-region-failover.log", opt)
	if !containsAny(im.Topology.Evidence, "no region of the assumed topology has that size") {
		t.Errorf("auto edges: evidence %q", im.Topology.Evidence)
	}
	opt.Edges = EdgesForward
	im, res = importFixture(t, "log4j2-1.17-region-failover.log", opt)
	if im.Topology.Regions != 2 || !containsAny(im.Topology.Evidence, "agrees") {
		t.Errorf("forward edges: %d regions, evidence %q", im.Topology.Regions, im.Topology.Evidence)
	}
	if got := fmt.Sprint(len(res.Summary.Completed), len(res.Summary.Aborted)); got != "3 3" {
		t.Errorf("forward edges: completed/aborted %s", got)
	}

	opt = DefaultOptions()
	opt.AssumeRegions = 3
	if _, err := ImportLog(strings.NewReader(readFixture(t, "log4j2-1.17-region-failover.log")), "x", opt); err == nil ||
		!strings.Contains(err.Error(), "has parallelism 2") {
		t.Errorf("-assume-regions 3 on a job of parallelism 2: %v", err)
	}
	opt.AssumeRegions = 4
	im, _ = importFixture(t, "log4j2-1.12-expired-tolerable.log", opt)
	if im.Topology.Regions != 4 || im.Topology.Known != "assumed" {
		t.Errorf("-assume-regions 4 on an unknown topology: %+v", im.Topology)
	}
}

func TestImportNoPriorAndFlags(t *testing.T) {
	opt := DefaultOptions()
	opt.NoPrior = true
	im, res := importFixture(t, "log4j1-1.10-decline.log", opt)
	if !strings.HasPrefix(im.Start, "fresh") || res.Summary.Triggered[0].ID != 1 {
		t.Errorf("start %q, first id %d", im.Start, res.Summary.Triggered[0].ID)
	}
	// Renumbered: log 3 is core 1, and the report says so.
	if r := im.Checkpoints[0]; r.LogID != 3 || r.ID != 1 || !strings.Contains(r.Note, "renumbered") || im.LogID(1) != 3 {
		t.Errorf("row %+v", r)
	}

	opt = DefaultOptions()
	opt.TimeoutMs, opt.Tolerable, opt.MaxConcurrent = 30000, 5, 2
	im, res = importFixture(t, "log4j2-1.12-expired-tolerable.log", opt)
	if c := im.Header.Config; c.TimeoutMs != 30000 || c.TolerableFailures != 5 || c.MaxConcurrent != 2 {
		t.Errorf("flags not applied: %+v", c)
	}
	// A 30 s timeout expires each checkpoint 30 s before the log does: the
	// core still agrees that they expired, and with 5 tolerable failures the
	// job survives, unlike in the log.
	if res.Summary.Job != "running" || len(im.Mismatches) != 1 || !strings.Contains(im.Mismatches[0].Log, tolerableText) {
		t.Errorf("job %s, mismatches %+v", res.Summary.Job, im.Mismatches)
	}
}

func TestImportErrors(t *testing.T) {
	for name, log := range map[string]string{
		"empty":       "",
		"no job":      "2021-08-18 18:28:40,502 INFO  com.example.App [] - hello\n",
		"binary junk": "\x00\x01\x02\xff\xfe\n\x00",
	} {
		if _, err := ImportLog(strings.NewReader(log), name, DefaultOptions()); err == nil || !strings.Contains(err.Error(), "no job id") {
			t.Errorf("%s: %v", name, err)
		}
	}
	opt := DefaultOptions()
	opt.Edges = "sideways"
	if _, err := ImportLog(strings.NewReader(readFixture(t, "log4j1-1.9-notready.log")), "x", opt); err == nil {
		t.Error("-edges sideways accepted")
	}
}

func readFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHistoryCommentsNameLogLines(t *testing.T) {
	im, _ := importFixture(t, "log4j1-1.10-decline.log", DefaultOptions())
	var buf bytes.Buffer
	if err := im.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	h := buf.String()
	for _, want := range []string{
		"// vertex Source:Kafka->Map->Sink:Kafka = Flink \"Source: Kafka -> Map -> Sink: Kafka\", parallelism 4",
		"// start: restore 2 (claim): assumed",
		"// log line 9: Decline checkpoint 5 by task 0cb03590fdf18027206ef628b3ef5863",
		"// declined by Source:Kafka->Map->Sink:Kafka/2 (named in the cause)",
		`{"at":238815,"type":"decline","checkpoint":5,"task":"Source:Kafka->Map->Sink:Kafka/2","reason":"declined"}`,
		"// 4 acks synthesized",
	} {
		if !strings.Contains(h, want) {
			t.Errorf("history lacks %q:\n%s", want, h)
		}
	}
}

// TestSourceCoordinatorAndManualLines: the SourceCoordinator's lines are
// understood and claimed, its sources are vertices, a manual trigger is marked
// on its checkpoint and not taken as the periodic rhythm.
func TestSourceCoordinatorAndManualLines(t *testing.T) {
	im, res := importFixture(t, "log4j2-1.15-two-sources-one-finishes.log", DefaultOptions())
	var names []string
	for _, v := range im.Topology.Vertices {
		names = append(names, fmt.Sprintf("%s/%d", v.Name, v.Parallelism))
	}
	if got := strings.Join(names, ", "); got != "Source: files -> Sink: print/1, Source: kafka/2" {
		t.Errorf("vertices %s", got)
	}
	if res.Summary.Job != "running" || res.Checked != im.Stats.Claims || len(res.Claims) != 0 {
		t.Errorf("job %s, %d claims checked, contradicted %v", res.Summary.Job, res.Checked, res.Claims)
	}
	var buf bytes.Buffer
	if err := im.WriteHistory(&buf); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"//claim log line 10: completed 1 -- source Source: kafka", "//claim log line 16: restored 2 -- source Source: kafka, subtask 1",
		"//claim log line 19: job running -- the job's status at the end of the log", `{"at":14900,"type":"task_finished","task":"Source:files->Sink:print/0"}`} {
		if !strings.Contains(buf.String(), c) {
			t.Errorf("the history lacks %q:\n%s", c, buf.String())
		}
	}
	if im.Stats.NotUnderstood != 0 || im.Stats.Annotated != 7 {
		t.Errorf("stats %+v", im.Stats)
	}

	im, _ = importFixture(t, "log4j2-1.19-manual-checkpoint.log", DefaultOptions())
	if r := im.Checkpoints[2]; !strings.Contains(r.KindHow, "a manual request (line 13)") || strings.Contains(im.Checkpoints[1].KindHow, "manual") {
		t.Errorf("kinds: %+v", im.Checkpoints)
	}
	if got := inferred(im, "interval_ms"); got != "0" || !containsAny([]string{im.Inferred[len(im.Inferred)-1].How}, "≈ 60000 ms (median of 1 trigger spacings)") {
		t.Errorf("interval: %+v", im.Inferred)
	}
}

// TestSourceNamedInAChainIsNoNewVertex: a source the coordinator names is the
// vertex whose chain holds it, with or without Flink's operator index.
func TestSourceNamedInAChainIsNoNewVertex(t *testing.T) {
	for _, task := range []string{"Source: kafka -> Map", "Map -> Source: kafka", "[1]:Source: kafka -> [2]:Map", "Source: kafka[1] -> Map[2]"} {
		vs := []Vertex{{Name: task, Parallelism: 2}}
		e := &entry{kind: kSourceCompleted, id: 1, detail: "Source: kafka", rec: &record{line: 3}}
		addSources([]*entry{e}, &vs)
		if len(vs) != 1 {
			t.Errorf("%q: %+v", task, vs)
		}
	}
	vs := []Vertex{{Name: "Source: files -> Sink: print", Parallelism: 1}}
	addSources([]*entry{{kind: kSourceReset, detail: "Source: kafka", task: taskRef{"Source: kafka", 3, 4}, rec: &record{line: 5}}}, &vs)
	if len(vs) != 2 || vs[1].Name != "Source: kafka" || vs[1].Parallelism != 4 {
		t.Errorf("a source no task names: %+v", vs)
	}
}

// TestTwoJobsTaskTransitions: in a log of two jobs, each task's transitions go
// to the job that started just before it was first named, so neither job gets
// the other's vertices or failures, and the counts stay those of -job.
func TestTwoJobsTaskTransitions(t *testing.T) {
	const fix = "log4j2-1.13-two-jobs-transitions.log"
	vertices := map[string]string{"a1a2a3a4a5a6a7a8a9a0b1b2b3b4b5b6": "Source: orders/2, Window -> Sink: out/2",
		"c1c2c3c4c5c6c7c8c9c0d1d2d3d4d5d6": "Source: audit -> Sink: log/1"}
	failed := map[string]int{"a1a2a3a4a5a6a7a8a9a0b1b2b3b4b5b6": 0, "c1c2c3c4c5c6c7c8c9c0d1d2d3d4d5d6": 1}
	for job, want := range vertices {
		opt := DefaultOptions()
		opt.Job = job
		im, res := importFixture(t, fix, opt)
		var names []string
		for _, v := range im.Topology.Vertices {
			names = append(names, fmt.Sprintf("%s/%d", v.Name, v.Parallelism))
		}
		if got := strings.Join(names, ", "); got != want {
			t.Errorf("job %s: vertices %s, want %s", job, got, want)
		}
		n := 0
		for _, ev := range im.Events {
			if ev.Type == fsm.EvTaskFailed {
				n++
			}
		}
		if n != failed[job] || len(res.Claims) != 0 || len(res.Summary.Completed) != 2 {
			t.Errorf("job %s: %d task failures (want %d), claims contradicted %v, completed %+v", job, n, failed[job], res.Claims, res.Summary.Completed)
		}
	}
}
