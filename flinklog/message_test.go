package flinklog

import (
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

const jid = "1cba827ad8a8d68521605157b77a6191"

func rec(msg string, cont ...string) *record {
	return &record{logger: "org.apache.flink.runtime.checkpoint.CheckpointCoordinator", msg: msg, cont: cont}
}

func TestInterpretMessages(t *testing.T) {
	cases := []struct {
		msg  string
		cont []string
		want entry
	}{
		{msg: "Triggering checkpoint 1 @ 1558107788056 for job " + jid + ".", // 1.9/1.10
			want: entry{kind: kTrigger, id: 1, ts: 1558107788056, ckKind: fsm.KindCheckpoint}},
		{msg: "Triggering checkpoint 3 (type=SAVEPOINT) @ 1591980437878 for job " + jid + ".", // 1.11-1.15
			want: entry{kind: kTrigger, id: 3, ts: 1591980437878, ckKind: fsm.KindSavepoint, typed: true}},
		{msg: "Triggering checkpoint 4 (type=SavepointType{name='Suspend Savepoint', postCheckpointAction=SUSPEND, formatType=CANONICAL}) @ 1 for job " + jid + ".",
			want: entry{kind: kTrigger, id: 4, ts: 1, ckKind: fsm.KindStopWithSavepoint, typed: true}},
		{msg: "Completed checkpoint 206 for job " + jid + " (28509 bytes, checkpointDuration=7 ms, finalizationTime=0 ms).",
			want: entry{kind: kCompleted, id: 206}},
		{msg: "Completed checkpoint 1 for job " + jid + " (374 bytes in 53 ms).", want: entry{kind: kCompleted, id: 1}},
		{msg: "Decline checkpoint 66 by task e65ff0e6f0ff8e14a1b53410aa8bb019 of job " + jid + ".",
			want: entry{kind: kDecline, id: 66, attempt: "e65ff0e6f0ff8e14a1b53410aa8bb019"}},
		{msg: "Decline checkpoint 1 by task 0cb03590fdf18027206ef628b3ef5863 of job " + jid + " at container_e27 @ host (dataPort=44778).",
			want: entry{kind: kDecline, id: 1, attempt: "0cb03590fdf18027206ef628b3ef5863"}},
		{msg: "Checkpoint 7 of job " + jid + " was declined.", want: entry{kind: kDeclined, id: 7}},
		{msg: "Discarding checkpoint 66 of job " + jid + ".", want: entry{kind: kDiscard, id: 66}},
		{msg: "Checkpoint 1 of job " + jid + " expired before completing.", want: entry{kind: kExpired, id: 1}},
		{msg: "Received late message for now expired checkpoint attempt 2 from task 8e8ad4a5e66753df9bacb838c4a8c195 of job " + jid + " at c @ (dataPort=1).",
			want: entry{kind: kLate, id: 2, attempt: "8e8ad4a5e66753df9bacb838c4a8c195"}},
		{msg: "Failed to trigger or complete checkpoint 3 for job " + jid + ". (1 consecutive failed attempts so far)",
			cont: []string{"org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint expired before completing."},
			want: entry{kind: kFailed, id: 3, count: 1, detail: "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint expired before completing."}},
		{msg: "Failed to trigger checkpoint for job " + jid + " since some tasks of job " + jid + " has been finished, abort the checkpoint Failure reason: Not all required tasks are currently running.",
			want: entry{kind: kTriggerFailed, detail: "some tasks of job " + jid + " has been finished, abort the checkpoint Failure reason: Not all required tasks are currently running."}},
		{msg: "Checkpoint triggering task Source: X (2/4) of job " + jid + " is not in state RUNNING but DEPLOYING instead. Aborting checkpoint.",
			want: entry{kind: kTriggerFailed, detail: "task in state RUNNING but DEPLOYING instead", task: taskRef{"Source: X", 1, 4}, hasTask: true}},
		{msg: "Restoring job " + jid + " from Checkpoint 2 @ 1681952175941 for " + jid + " located at <checkpoint-not-externally-addressable>.",
			want: entry{kind: kRestore, id: 2, ts: 1681952175941, detail: "Checkpoint"}},
		{msg: "Restoring job " + jid + " from latest valid checkpoint: Checkpoint 9 @ 5 for " + jid + ".",
			want: entry{kind: kRestore, id: 9, ts: 5, detail: "Checkpoint"}},
		{msg: "Starting job " + jid + " from savepoint s3://b/chk-17/ (allowNonRestoredState)",
			want: entry{kind: kStartSavepoint, id: 17, detail: "s3://b/chk-17/ (allowNonRestoredState)"}},
		{msg: "Reset the checkpoint ID of job " + jid + " to 2.", want: entry{kind: kResetID, id: 2}},
		{msg: "5 tasks should be restarted to recover the failed task 0a448493b4782967b150582570326227_1.",
			want: entry{kind: kFailoverCount, count: 5, detail: "0a448493b4782967b150582570326227_1"}},
		{msg: "2 tasks will be restarted to recover the failed task 9a1b2c3d4e5f60718293a4b5c6d7e8f9_bc764cd8ddf7a0cff126f51c16239658_1_0.",
			want: entry{kind: kFailoverCount, count: 2, detail: "9a1b2c3d4e5f60718293a4b5c6d7e8f9_bc764cd8ddf7a0cff126f51c16239658_1_0"}},
		{msg: "8 tasks will be restarted to recover from a global failure.", want: entry{kind: kGlobalFailure}},
		{msg: "Triggering a manual checkpoint for job " + jid + ".", want: entry{kind: kManualRequest}},
		{msg: "Marking checkpoint 5 as completed for source Source: kafka[1].", want: entry{kind: kSourceCompleted, id: 5, detail: "Source: kafka[1]"}},
		{msg: "Marking checkpoint 6 as aborted for source Source: kafka.", want: entry{kind: kSourceAborted, id: 6, detail: "Source: kafka"}},
		{msg: "Recovering subtask 3 to checkpoint 5 for source Source: kafka to checkpoint.",
			want: entry{kind: kSourceReset, id: 5, detail: "Source: kafka", task: taskRef{"Source: kafka", 3, 4}}},
		{msg: "Restoring SplitEnumerator of source Source: kafka from checkpoint.", want: entry{kind: kSourceRestore, detail: "Source: kafka"}},
		{msg: "Checkpoint storage is set to 'jobmanager'", want: entry{kind: kInfo}},
	}
	for _, c := range cases {
		e := interpret(rec(c.msg, c.cont...))
		w := c.want
		if e.kind != w.kind || e.id != w.id || e.ts != w.ts || e.ckKind != w.ckKind || e.typed != w.typed ||
			e.attempt != w.attempt || e.count != w.count || (w.detail != "" && e.detail != w.detail) ||
			e.hasTask != w.hasTask || e.task != w.task {
			t.Errorf("%q:\n got %+v\nwant %+v", c.msg, e, w)
		}
		if w.kind != kInfo && w.kind != kFailoverCount && w.kind != kGlobalFailure && w.kind < kSourceCompleted && e.job != jid {
			t.Errorf("%q: job %q", c.msg, e.job)
		}
	}
}

func TestInterpretTaskTransitions(t *testing.T) {
	jm := &record{logger: "org.apache.flink.runtime.executiongraph.ExecutionGraph",
		msg: "Flat Map (2/2) (c92d839a41f6cc8a2427cd537b5c1a0e) switched from RUNNING to FAILED on 97fc @ localhost (dataPort=-1)."}
	e := interpret(jm)
	if e.kind != kTaskState || e.tm || e.task != (taskRef{"Flat Map", 1, 2}) || e.from != "RUNNING" || e.to != "FAILED" ||
		e.attempt != "c92d839a41f6cc8a2427cd537b5c1a0e" || e.job != "" {
		t.Errorf("JobManager transition: %+v", e)
	}
	tm := &record{logger: "org.apache.flink.runtime.taskmanager.Task",
		msg: "Sink: Unnamed (1/2)#0 (a81c8e08a66111a3881d828220c0206b) switched from RUNNING to CANCELING."}
	if e := interpret(tm); e.kind != kTaskState || !e.tm || e.task != (taskRef{"Sink: Unnamed", 0, 2}) {
		t.Errorf("TaskManager transition: %+v", e)
	}
	job := &record{logger: "org.apache.flink.runtime.executiongraph.ExecutionGraph",
		msg: "Job Flink Streaming Job (" + jid + ") switched from state RUNNING to FAILING.", cont: []string{
			"org.apache.flink.util.FlinkRuntimeException: Exceeded checkpoint tolerable failure threshold."}}
	if e := interpret(job); e.kind != kJobState || e.job != jid || e.to != "FAILING" || !e.tolerable {
		t.Errorf("job transition: %+v", e)
	}
}

func TestSnapshotKind(t *testing.T) {
	for typ, want := range map[string]fsm.Kind{
		"": fsm.KindCheckpoint, "CHECKPOINT": fsm.KindCheckpoint, "FULL_CHECKPOINT": fsm.KindCheckpoint,
		"SAVEPOINT": fsm.KindSavepoint, "SYNC_SAVEPOINT": fsm.KindStopWithSavepoint,
		"SAVEPOINT_SUSPEND": fsm.KindStopWithSavepoint, "SAVEPOINT_TERMINATE": fsm.KindStopWithSavepoint,
		"CheckpointType{name='Full Checkpoint', sharingFilesStrategy=FORWARD}":                         fsm.KindCheckpoint,
		"SavepointType{name='Savepoint', postCheckpointAction=NONE, formatType=CANONICAL}":             fsm.KindSavepoint,
		"SavepointType{name='Terminate Savepoint', postCheckpointAction=TERMINATE, formatType=NATIVE}": fsm.KindStopWithSavepoint,
	} {
		if got, _ := snapshotKind(typ); got != want {
			t.Errorf("%q: %s, want %s", typ, got, want)
		}
	}
}

func TestDeclineReason(t *testing.T) {
	for text, want := range map[string]fsm.Reason{
		"CheckpointDeclineTaskNotReadyException: Task Source: Custom Source (1/1) was not running":      fsm.ReasonTaskNotReady,
		"Failure reason: Checkpoint was declined (tasks not ready)":                                     fsm.ReasonTaskNotReady,
		"Failure reason: Checkpoint was declined (task is closing)":                                     fsm.ReasonTaskClosing,
		"Task received cancellation from one of its inputs":                                             fsm.ReasonOnCancellation,
		"Checkpoint was canceled because a barrier from newer checkpoint was received.":                 fsm.ReasonDeclinedSubsumed,
		"Checkpoint was declined because one input stream is finished":                                  fsm.ReasonInputEndOfStream,
		"Could not materialize checkpoint 2 for operator AProcess (1/3).":                               fsm.ReasonAsyncException,
		"Could not complete snapshot 1 for operator X (7/12). Failure reason: Checkpoint was declined.": fsm.ReasonDeclined,
		"": fsm.ReasonDeclined,
	} {
		if got := declineReason(text); got != want {
			t.Errorf("%q: %s, want %s", text, got, want)
		}
	}
}

func TestFindTaskAndVertexID(t *testing.T) {
	for text, want := range map[string]taskRef{
		"Could not complete snapshot 1 for operator Source: A -> Map -> Sink: B (7/12). Failure":   {"Source: A -> Map -> Sink: B", 6, 12},
		"Could not materialize checkpoint 2 for operator AProcess -> (Sink: S, Sink: E) (1/3).":    {"AProcess -> (Sink: S, Sink: E)", 0, 3},
		"Task name with subtask : Sink: out (1/2)#0 Failure reason: Checkpoint was declined.":      {"Sink: out", 0, 2},
		"CheckpointDeclineTaskNotReadyException: Task Source: Custom Source (1/1) was not running": {"Source: Custom Source", 0, 1},
	} {
		if got, ok := findTask(text); !ok || got != want {
			t.Errorf("%q: %+v %v, want %+v", text, got, ok, want)
		}
	}
	if _, ok := findTask("operator X (3/2)"); ok {
		t.Error("an index above the parallelism was accepted")
	}
	for name, want := range map[string]string{
		"Source: Custom Source -> Map":  "Source:Custom_Source->Map",
		"Flat Map":                      "Flat_Map",
		"a/b\\c \"d\"\te":               "a_b_c_d_e",
		"   ":                           "vertex",
		strings.Repeat("Operator ", 20): "Operator_Operator_Operator_Operator_Ope~" + vertexID(strings.Repeat("Operator ", 20))[40:],
	} {
		got := vertexID(name)
		if got != want || strings.ContainsAny(got, "/ \t\n") {
			t.Errorf("vertexID(%q) = %q, want %q", name, got, want)
		}
	}
}
