package flinkapi

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"runtime"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// stepper drives a core and feeds every step to a tracker, as the driver does.
type stepper struct {
	t  *testing.T
	s  *fsm.State
	tr *Tracker
}

func newStepper(t *testing.T, spec fsm.JobSpec, cfg fsm.Config, opts TrackerOptions) *stepper {
	t.Helper()
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fsm.New(topo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &stepper{t: t, s: s, tr: NewTracker(topo, opts)}
}

func (st *stepper) step(ev fsm.Event) []fsm.Effect {
	st.t.Helper()
	effs, err := st.s.Step(ev)
	if err != nil {
		st.t.Fatalf("%s: %v", fsm.DescribeEvent(st.s.Topology(), ev), err)
	}
	st.tr.Observe(ev, effs)
	return effs
}

// subset reports the first place where want (a recorded Flink response) has a
// value that got lacks or differs from; "" when got contains all of want.
func subset(want, got any, path string) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %v", path, got)
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				return path + "." + k + ": missing"
			}
			if d := subset(wv, gv, path+"."+k); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return fmt.Sprintf("%s: want %d elements, got %v", path, len(w), got)
		}
		for i := range w {
			if d := subset(w[i], g[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
				return d
			}
		}
		return ""
	}
	if !reflect.DeepEqual(want, got) {
		return fmt.Sprintf("%s: want %v, got %v", path, want, got)
	}
	return ""
}

func asJSONValue(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTrackerReproducesRecordedFlinkStatistics replays what the recorded Flink
// response 03 describes — a one-subtask job, checkpoints triggered at the
// recorded times, acknowledged with the recorded state size after 413 and 238
// ms — and checks that every field of Flink's response comes out with Flink's
// value: counts, the summary's min/max/avg (avg is Flink's integer division:
// 325), the latest completed checkpoint and the newest-first history.
func TestTrackerReproducesRecordedFlinkStatistics(t *testing.T) {
	var want any
	if err := json.Unmarshal(recorded(t, "03-izualzhy-Bigdata-Systems-ParseJsonSample-checkpoints-2-completed.json"), &want); err != nil {
		t.Fatal(err)
	}
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 0 // triggered at the recorded times
	// The recording does not say how many checkpoints the job retained; it
	// shows checkpoint 1 not discarded after checkpoint 2, so at least 2.
	cfg.Retained = 2
	st := newStepper(t, fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "ParseJson", Parallelism: 1}}}, cfg,
		TrackerOptions{ExternalPath: func(_ fsm.Kind, id int64) string {
			return fmt.Sprintf("oss://zyb-flinktest.oss-cn-beijing.aliyuncs.com/flink/checkpoints/cola_zhangying14_checkpoint_on_oss/ff7c7bd965ca1ec6bcfd407ad6836ad0/chk-%d", id)
		}})
	st.step(fsm.Event{At: 1691052280000, Type: fsm.EvStart})
	for _, c := range []struct{ trigger, ack int64 }{{1691052280654, 1691052281067}, {1691052340653, 1691052340891}} {
		effs := st.step(fsm.Event{At: c.trigger, Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		id := effs[len(effs)-1].Checkpoint
		st.step(fsm.Event{At: c.ack, Type: fsm.EvAck, Checkpoint: id, Task: 0, StateSize: 1050285})
		st.step(fsm.Event{At: c.ack + 5, Type: fsm.EvPersisted, Checkpoint: id})
	}
	got := asJSONValue(t, st.tr.Statistics())
	if d := subset(want, got, "$"); d != "" {
		t.Fatalf("%s\ngot %v", d, got)
	}
}

// TestTrackerHistoryAndDetails: the history keeps the latest HistorySize
// checkpoints newest first, in progress, failed and completed, each with its
// "@class"; details and subtask details exist exactly for those.
func TestTrackerHistoryAndDetails(t *testing.T) {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 100
	cfg.TolerableFailures = 100
	st := newStepper(t, fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Edges: []fsm.EdgeSpec{{From: "src", To: "sink"}}}, cfg, TrackerOptions{})
	st.step(fsm.Event{At: 0, Type: fsm.EvStart})
	at := int64(0)
	for i := int64(1); i <= 12; i++ {
		at = i * 100
		st.step(fsm.Event{At: at, Type: fsm.EvTick})
		if i%4 == 0 {
			st.step(fsm.Event{At: at + 10, Type: fsm.EvDecline, Checkpoint: i, Task: 1})
			continue
		}
		for task := fsm.TaskID(0); task < 4; task++ {
			st.step(fsm.Event{At: at + 10 + int64(task), Type: fsm.EvAck, Checkpoint: i, Task: task,
				StateSize: 100 * (int64(task) + 1), CheckpointedSize: 10})
		}
		st.step(fsm.Event{At: at + 20, Type: fsm.EvPersisted, Checkpoint: i})
	}
	st.step(fsm.Event{At: 1300, Type: fsm.EvTick}) // checkpoint 13 stays in progress
	st.step(fsm.Event{At: 1305, Type: fsm.EvAck, Checkpoint: 13, Task: 2, StateSize: 7})
	s := st.tr.Statistics()
	if s.Counts != (Counts{Total: 13, InProgress: 1, Completed: 9, Failed: 3}) {
		t.Fatalf("counts %+v", s.Counts)
	}
	if len(s.History) != HistorySize {
		t.Fatalf("history of %d", len(s.History))
	}
	for i, h := range s.History {
		wantID := int64(13 - i)
		wantClass := ClassCompleted
		switch {
		case wantID == 13:
			wantClass = ClassInProgress
		case wantID%4 == 0:
			wantClass = ClassFailed
		}
		if h.ID != wantID || h.Class != wantClass || len(h.Tasks) != 0 {
			t.Fatalf("history[%d] = id %d %s tasks %d, want id %d %s", i, h.ID, h.Class, len(h.Tasks), wantID, wantClass)
		}
	}
	if l := s.Latest.Completed; l == nil || l.ID != 11 || l.StateSize != 1000 || l.CheckpointedSize.Get() != 40 ||
		l.EndToEndDuration != 13 || l.NumAcknowledgedSubtasks != 4 || l.NumSubtasks != 4 {
		t.Fatalf("latest completed %+v", l)
	}
	if f := s.Latest.Failed; f == nil || f.ID != 12 || f.FailureTimestamp.Get() != 1210 || f.EndToEndDuration != 10 ||
		f.Reason.Get() != "declined" {
		t.Fatalf("latest failed %+v", f)
	}
	if sum := s.Summary.StateSize; sum.Min != 1000 || sum.Max != 1000 || sum.Avg != 1000 || float64(sum.P99.Get()) != 1000 {
		t.Fatalf("state size summary %+v", sum)
	}
	if _, ok := st.tr.Details(3); ok {
		t.Fatal("details of a checkpoint that left the history")
	}
	d, ok := st.tr.Details(13)
	if !ok || d.Class != ClassInProgress || d.NumAcknowledgedSubtasks != 1 || d.LatestAckTimestamp != 1305 || len(d.Tasks) != 2 {
		t.Fatalf("details of 13: %+v", d)
	}
	sink := d.Tasks[VertexIDs(st.s.Topology())[1]]
	if sink.NumSubtasks != 2 || sink.NumAcknowledgedSubtasks != 1 || sink.StateSize != 7 || sink.EndToEndDuration != 5 {
		t.Fatalf("sink of 13: %+v", sink)
	}
	sd, err := st.tr.SubtaskDetails(11, 1)
	if err != nil || len(sd.Subtasks) != 2 || sd.Subtasks[1].StateSize.Get() != 400 || sd.Subtasks[1].Class != SubtaskClassCompleted ||
		sd.Summary.StateSize.Min != 300 || sd.Summary.StateSize.Max != 400 || float64(sd.Summary.StateSize.P50.Get()) != 350 {
		t.Fatalf("subtasks of sink in 11: %+v %v", sd, err)
	}
	if sd, err := st.tr.SubtaskDetails(13, 0); err != nil || sd.Subtasks[0].Class != SubtaskClassPending || sd.Subtasks[0].Status != SubtaskStatusPending {
		t.Fatalf("subtasks of src in 13: %+v %v", sd, err)
	}
}

// TestPercentileIsFlinks pins the estimation to commons-math's LEGACY one.
func TestPercentileIsFlinks(t *testing.T) {
	ten := []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		vals []int64
		p    float64
		want float64
	}{
		{ten, 50, 5.5}, {ten, 90, 9.9}, {ten, 99, 10}, {ten, 5, 1}, {[]int64{7}, 99.9, 7},
		{[]int64{238, 413}, 50, 325.5}, {[]int64{238, 413}, 90, 413},
	} {
		if got := percentile(c.vals, c.p); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("p%v of %v = %v, want %v", c.p, c.vals, got, c.want)
		}
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("a percentile of nothing must be NaN")
	}
	b, _ := json.Marshal(StatsSummary{P50: Some(Percentile(math.NaN()))})
	if string(b) != `{"min":0,"max":0,"avg":0,"p50":"NaN"}` {
		t.Errorf("NaN written as %s", b)
	}
}

// TestRegionalCompletionDropsFallenBackAcks: a region that falls back does not
// count as acknowledged in the completed checkpoint (its acks were dropped,
// R18), so the per-vertex sums agree with the core's totals.
func TestRegionalCompletionDropsFallenBackAcks(t *testing.T) {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 100
	cfg.Regional.Enabled = true
	cfg.Regional.MaxFailureRatio = 0.5
	st := newStepper(t, fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2, Coordinator: fsm.CoordinatorFallback},
		{ID: "sink", Parallelism: 2}}, Edges: []fsm.EdgeSpec{{From: "src", To: "sink"}}}, cfg, TrackerOptions{})
	st.step(fsm.Event{At: 0, Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1}})
	st.step(fsm.Event{At: 100, Type: fsm.EvTick})
	for _, task := range []fsm.TaskID{0, 1, 2} {
		st.step(fsm.Event{At: 110, Type: fsm.EvAck, Checkpoint: 2, Task: task, StateSize: 10})
	}
	st.step(fsm.Event{At: 120, Type: fsm.EvDecline, Checkpoint: 2, Task: 3})
	st.step(fsm.Event{At: 130, Type: fsm.EvPersisted, Checkpoint: 2})
	d, ok := st.tr.Details(2)
	if !ok || d.Class != ClassCompleted || d.StateSize != 20 || d.NumAcknowledgedSubtasks != 2 ||
		d.Mode.Get() != "regional" || d.Refs.Get()["r1"] != 1 || d.Refs.Get()["r0"] != 2 {
		t.Fatalf("details %+v", d)
	}
	var sum int64
	for _, task := range d.Tasks {
		sum += task.StateSize
	}
	if sum != d.StateSize {
		t.Fatalf("vertex sums %d, checkpoint %d", sum, d.StateSize)
	}
	g := st.tr.Gauges()
	if g.RegionalCompletions != 1 || g.LastMaxRefAge != 1 || g.LastCompletedID != 2 || g.LastFullSize != 20 ||
		g.LastRestoreTimestamp != 0 {
		t.Fatalf("gauges %+v", g)
	}
}

// TestTrackerReusesSubtaskArrays: once checkpoints leave the history, a new
// checkpoint's per-subtask array is the array of one that left (cleared), not
// a fresh allocation of 32 bytes a subtask (issue 19: at 100,000 subtasks the
// fresh array cost the event loop milliseconds per trigger).
func TestTrackerReusesSubtaskArrays(t *testing.T) {
	const n = 10_000
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 0
	st := newStepper(t, fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: n}}}, cfg, TrackerOptions{})
	st.step(fsm.Event{At: 0, Type: fsm.EvStart})
	var worst uint64
	for i := int64(1); i <= HistorySize+5; i++ {
		effs, err := st.s.Step(fsm.Event{At: i, Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		if err != nil {
			t.Fatal(err)
		}
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		st.tr.Observe(fsm.Event{At: i, Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint}, effs)
		runtime.ReadMemStats(&m1)
		if i > HistorySize+1 {
			worst = max(worst, m1.TotalAlloc-m0.TotalAlloc)
		}
		st.step(fsm.Event{At: i, Type: fsm.EvAck, Checkpoint: i, Task: fsm.TaskID(i)})
		for task := fsm.TaskID(0); task < n; task++ {
			if task != fsm.TaskID(i) {
				st.step(fsm.Event{At: i, Type: fsm.EvAck, Checkpoint: i, Task: task})
			}
		}
		st.step(fsm.Event{At: i, Type: fsm.EvPersisted, Checkpoint: i})
	}
	if worst > n*32/10 {
		t.Fatalf("a trigger after the history filled allocated %d bytes: the %d-subtask array is not reused", worst, n)
	}
	if d, ok := st.tr.Details(HistorySize + 5); !ok || d.NumAcknowledgedSubtasks != n {
		t.Fatalf("details of the last checkpoint on a reused array: %+v", d)
	}
}
