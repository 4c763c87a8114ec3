package history_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// flinkChecks asserts, in Go, the key assertion of each Flink test that
// testdata/golden/flink/ ports, so that a blind -rewrite of the .golden files
// cannot make a wrong behaviour pass. Each check is over the replay summary (and,
// where the summary does not show it, the trace) and fails if the rule it cites
// were removed from the core. The key is the history's file name without .jsonl.
var flinkChecks = map[string]func(c *fc){
	// --- CheckpointCoordinatorTest ---

	// R17, R30: the first decline aborts; counted; tolerable 0 fails the job once.
	"CheckpointCoordinatorTest-testTriggerAndDeclineCheckpointSimple": func(c *fc) {
		c.aborted(ab(1, "declined", true))
		c.completed()
		c.job("failed", "tolerable_failures_exceeded")
		c.traceCount("-> fail_job", 1)
		c.traceCount("-> notify_aborted", 1) // R16: later declines change nothing
	},
	// R17: the abort keeps the decline's sub-type; R30: async_exception is counted.
	"CheckpointCoordinatorTest-testTriggerAndDeclineAsyncCheckpointFailureSimple": func(c *fc) {
		c.aborted(ab(1, "async_exception", true))
		c.job("failed", "tolerable_failures_exceeded")
	},
	// R17: only the declined checkpoint ends, notified once; the second stays pending.
	"CheckpointCoordinatorTest-testTriggerAndDeclineCheckpointComplex": func(c *fc) {
		c.triggered(1, 2)
		c.aborted(ab(1, "declined", true))
		c.completed()
		c.traceCount("-> notify_aborted 1 ", 1)
		c.job("running", "")
	},
	// R20, R23, R26, R40: completion after persist, notified; the second replaces the first.
	"CheckpointCoordinatorTest-testTriggerAndConfirmSimpleCheckpoint": func(c *fc) {
		c.completed(1, 2)
		c.traceHas("-> notify_complete 1 tasks=[v1/0 v2/0]")
		c.traceHas("-> notify_complete 2 tasks=[v1/0 v2/0]")
		c.traceCount("-> persist 1 ", 1) // R16: the duplicate ack did not complete it
		c.retained(2)
		c.discarded(1)
	},
	// R20, R40: two concurrent checkpoints complete in order; retained 2 keeps both.
	"CheckpointCoordinatorTest-testMultipleConcurrentCheckpoints": func(c *fc) {
		c.completed(1, 2)
		c.retained(1, 2)
		c.discarded()
		c.aborted()
	},
	// R23: completing 2 subsumes pending 1 (not counted); R16: its late ack is discarded.
	"CheckpointCoordinatorTest-testSuccessfulCheckpointSubsumesUnsuccessful": func(c *fc) {
		c.completed(2)
		c.aborted(ab(1, "subsumed", false))
		c.retained(2)
		c.traceHas("-> discard_late_state 1 v3/0")
	},
	// R10, R17: the deadline aborts (expired, counted); nothing completes or is notified complete.
	"CheckpointCoordinatorTest-testCheckpointTimeoutIsolated": func(c *fc) {
		c.aborted(ab(1, "expired", true))
		c.completed()
		c.retained()
		c.traceLacks("notify_complete")
		c.traceHas("deadline 1010 passed")
		c.job("running", "")
	},
	// R17, R30: an expiry with tolerable 0 fails the job.
	"CheckpointCoordinatorTest-testExpiredCheckpointExceedsTolerableFailureNumber": func(c *fc) {
		c.aborted(ab(1, "expired", true))
		c.job("failed", "tolerable_failures_exceeded")
	},
	// R16: an ack for an unknown checkpoint only discards its state.
	"CheckpointCoordinatorTest-testHandleMessagesForNonExistingCheckpoints": func(c *fc) {
		c.traceHas("-> discard_late_state 7 v1/0")
		c.triggered(1)
		c.completed(1)
		c.aborted()
	},
	// R16: a duplicate ack discards nothing; the late ack after the decline is discarded.
	"CheckpointCoordinatorTest-testStateCleanupForLateOrUnknownMessages": func(c *fc) {
		c.aborted(ab(1, "declined", true))
		c.traceCount("-> discard_late_state", 1)
		c.traceHas("-> discard_late_state 1 v2/0")
	},
	// R12: with max_concurrent 1 the third periodic request waits: 2 triggered only.
	"CheckpointCoordinatorTest-testMaxConcurrentAttempts1": func(c *fc) {
		c.triggered(1, 2)
		c.triggeredAt(2, 20)
		c.completed(1)
	},
	// R12: with max_concurrent 2, 3 triggered; the request at 40 waits.
	"CheckpointCoordinatorTest-testMaxConcurrentAttempts2": func(c *fc) {
		c.triggered(1, 2, 3)
		c.triggeredAt(3, 30)
		c.completed(1)
		c.aborted() // 1 completing does not subsume the higher 2
	},
	// R23 + R12: completing 2 subsumes 1; the waiting periodic request runs at once (3 at 46).
	"CheckpointCoordinatorTest-testMaxConcurrentAttemptsWithSubsumption": func(c *fc) {
		c.triggered(1, 2, 3, 4)
		c.aborted(ab(1, "subsumed", false))
		c.triggeredAt(3, 46)
		c.triggeredAt(4, 50)
	},
	// R24: a completed savepoint is not retained.
	"CheckpointCoordinatorTest-testTriggerAndConfirmSimpleSavepoint": func(c *fc) {
		c.completed(1)
		c.completedKinds("savepoint")
		c.retained()
		c.aborted()
	},
	// R23: checkpoints subsume lower checkpoints, never savepoints; savepoints subsume nothing.
	"CheckpointCoordinatorTest-testSavepointsAreNotSubsumed": func(c *fc) {
		c.completed(3, 5, 1, 6)
		c.completedKinds("checkpoint", "savepoint", "savepoint", "checkpoint")
		c.aborted(ab(2, "subsumed", false), ab(4, "subsumed", false))
		c.traceHas("-> abort 4 reason=subsumed counted=false (subsumed by checkpoint 6)")
		c.retained(6)
		c.discarded(3)
	},
	// R12: five savepoints run concurrently despite max_concurrent 1; any completion order.
	"CheckpointCoordinatorTest-testConcurrentSavepoints": func(c *fc) {
		c.triggered(1, 2, 3, 4, 5)
		for id := int64(1); id <= 5; id++ {
			c.triggeredAt(id, 10)
		}
		c.completed(5, 4, 3, 2, 1)
		c.retained()
	},
	// R12: savepoints ignore min_pause (and max_concurrent).
	"CheckpointCoordinatorTest-testMinDelayBetweenSavepoints": func(c *fc) {
		c.triggered(1, 2, 3)
		c.triggeredAt(2, 20)
		c.triggeredAt(3, 21)
		c.triggerFailures()
	},
	// R13, R14: not_all_running uses no id; the next checkpoint is 1.
	"CheckpointCoordinatorTest-testCheckpointAbortsIfTriggerTasksAreNotExecuted": func(c *fc) {
		c.triggerFailures(tf(10, "not_all_running"))
		c.triggered(1)
		c.triggeredAt(1, 30)
		c.job("running", "")
	},
	// R13, R15, R20: finished subtasks are neither triggered nor waited for.
	"CheckpointCoordinatorTest-testCheckpointTriggeredAfterSomeTasksFinishedIfAllowed": func(c *fc) {
		c.traceHas("-> trigger 1 checkpoint deadline=600010 tasks=[v1/2 v2/0 v2/2]")
		c.completed(1)
		c.triggerFailures()
	},
	// R20: a subtask that finishes while the checkpoint is pending is not waited for
	// (differs from Flink, which aborts: see the history's comment).
	"CheckpointCoordinatorTest-testTasksFinishDuringTriggering": func(c *fc) {
		c.completed(1)
		c.aborted()
		c.traceHas("-> notify_complete 1 tasks=[v2/0]")
	},
	// R11, R13: the periodic request while the task is down fails without an id.
	"CheckpointCoordinatorTest-testPeriodicSchedulingWithInactiveTasks": func(c *fc) {
		c.triggerFailures(tf(10, "not_all_running"))
		c.triggered(1)
		c.triggeredAt(1, 20)
	},
	// R24: a failed stop-with-savepoint fails the job, not counted.
	"CheckpointCoordinatorTest-jobFailsIfInFlightSynchronousSavepointIsDiscarded": func(c *fc) {
		c.aborted(ab(1, "declined", false))
		c.job("failed", "stop_with_savepoint_failed")
		c.traceCount("-> fail_job", 1)
	},
	// R12: the savepoint does not wait; after the decline the queued checkpoints still wait.
	"CheckpointCoordinatorTest-testSavepointScheduledInUnalignedMode": func(c *fc) {
		c.triggered(1, 2)
		c.triggeredAt(2, 20)
		c.aborted(ab(1, "declined", true))
		c.completed()
	},
	// R26: notify_aborted carries the latest completed id.
	"CheckpointCoordinatorTest-testReportLatestCompletedCheckpointIdWithAbort": func(c *fc) {
		c.completed(1)
		c.aborted(ab(2, "declined", true))
		c.traceHas("-> notify_aborted 2 latest_completed=1 tasks=[v1/0]")
	},
	// R23: a failed metadata write aborts with finalize_failed (counted per SEMANTICS).
	"CheckpointCoordinatorTest-testCompleteCheckpointFailureWithExternallyInducedSource": func(c *fc) {
		c.aborted(ab(1, "finalize_failed", true))
		c.completed()
		c.retained()
	},

	// --- CheckpointCoordinatorTriggeringTest ---

	// R11: grid triggers with increasing ids; a time jump makes one request, then the grid.
	"CheckpointCoordinatorTriggeringTest-testPeriodicTriggering": func(c *fc) {
		c.triggered(1, 2, 3, 4, 5, 6, 7)
		for id := int64(1); id <= 5; id++ {
			c.triggeredAt(id, 10*id)
		}
		c.triggeredAt(6, 60)
		c.triggeredAt(7, 100)
	},
	// R11, R12: period max(12, 50); the request within min_pause is dropped and moved.
	"CheckpointCoordinatorTriggeringTest-testMinTimeBetweenCheckpointsInterval": func(c *fc) {
		c.triggeredAt(1, 50)
		c.triggerFailures(tf(100, "min_pause"))
		c.triggered(1, 2)
		c.triggeredAt(2, 110)
	},
	// R14, R41, R50: ids continue across failovers; pending ends recovered, not counted.
	"CheckpointCoordinatorTriggeringTest-testTriggeringFullSnapshotAfterJobmasterFailover": func(c *fc) {
		c.triggered(2, 3, 4)
		c.aborted(ab(3, "recovered", false))
		c.traceLacks("notify_aborted 3")
		c.completed(2, 4)
		c.discarded(2) // never 1: the no_claim snapshot
		c.job("running", "")
	},
	// R14, R41: next id = restored + 1; a no_claim snapshot is never discarded.
	"CheckpointCoordinatorTriggeringTest-testTriggeringFullCheckpoints": func(c *fc) {
		c.triggered(2, 3)
		c.completedKinds("savepoint", "checkpoint")
		c.retained(3)
		c.discarded()
	},
	// R41: a claimed snapshot is discarded once it leaves the store.
	"CheckpointCoordinatorTriggeringTest-testTriggeringFullCheckpoints-claim": func(c *fc) {
		c.triggered(2, 3)
		c.retained(3)
		c.discarded(1)
	},

	// --- CheckpointRequestDeciderTest ---

	// R12: a savepoint starts while max_concurrent checkpoints are pending; a checkpoint waits.
	"CheckpointRequestDeciderTest-testForce": func(c *fc) {
		c.triggered(1, 2, 3)
		c.triggeredAt(2, 20)
		c.triggeredAt(3, 51)
	},
	// R12: the waiting periodic request runs when the pending checkpoint ends (abort).
	"CheckpointRequestDeciderTest-testEnqueueOnTooManyPending": func(c *fc) {
		c.triggered(1, 2)
		c.triggeredAt(2, 250)
		c.aborted(ab(1, "declined", true))
	},
	// R12: periodic dropped within min_pause (moved to 205); manual runs at once; not counted.
	"CheckpointRequestDeciderTest-testCheckpointTiming": func(c *fc) {
		c.triggerFailures(tf(200, "min_pause"))
		c.triggeredAt(2, 201)
		c.triggeredAt(3, 205)
		c.job("running", "")
	},

	// --- CheckpointFailureManagerTest and CheckpointFailureManager ---

	// R30: a failure below the last success is ignored: 2 counted, not 3.
	"CheckpointFailureManagerTest-testIgnoresPastCheckpoints": func(c *fc) {
		c.completed(3)
		c.aborted(ab(1, "expired", true), ab(2, "declined", false), ab(4, "expired", true), ab(5, "expired", true))
		c.job("running", "")
	},
	// R17, R30: region_failover not counted; the third counted failure exceeds 2.
	"CheckpointFailureManagerTest-testContinuousFailure": func(c *fc) {
		c.aborted(ab(1, "declined", true), ab(2, "declined", true), ab(3, "region_failover", false), ab(4, "declined", true))
		c.job("failed", "tolerable_failures_exceeded")
	},
	// R30: a success resets the count.
	"CheckpointFailureManagerTest-testBreakContinuousFailure": func(c *fc) {
		c.aborted(ab(1, "async_exception", true), ab(2, "declined", true), ab(3, "region_failover", false), ab(5, "expired", true))
		c.completed(4)
		c.job("running", "")
	},
	// R30: not-counted reasons never fail the job; each counted one does (4 times).
	"CheckpointFailureManagerTest-testTotalCountValue": func(c *fc) {
		c.aborted(ab(1, "task_not_ready", false), ab(2, "task_closing", false),
			ab(3, "on_cancellation_barrier", false), ab(4, "subsumed", false),
			ab(5, "input_end_of_stream", false), ab(6, "region_failover", false),
			ab(7, "declined", true), ab(8, "async_exception", true), ab(9, "expired", true),
			ab(10, "finalize_failed", true))
		c.triggerFailures(tf(62, "not_all_running"))
		c.traceCount("-> fail_job", 4)
	},
	// R16, R30: a repeated report for an ended checkpoint is not counted again.
	"CheckpointFailureManagerTest-testIgnoreOneCheckpointRepeatedlyCountMultiTimes": func(c *fc) {
		c.aborted(ab(1, "declined", true), ab(2, "declined", true), ab(3, "region_failover", false))
		c.job("running", "")
	},
	// R30: savepoint job-level failures are not counted, task-level ones are.
	"CheckpointFailureManager-handleCheckpointException-savepoints": func(c *fc) {
		c.aborted(ab(1, "expired", false), ab(2, "finalize_failed", false), ab(3, "declined", true))
		c.job("failed", "tolerable_failures_exceeded")
	},

	// --- SchedulerBase#stopWithSavepoint ---

	// R24: the scheduler stops first: the queued request fails, pending 1 ends with
	// coordinator_suspend (not counted, tasks told); R16: its late ack is discarded,
	// its late decline not counted (tolerable 0, the job finishes normally); R11: no
	// periodic request while the stop-with-savepoint runs.
	"SchedulerBase-stopWithSavepoint-stopsCheckpointScheduler": func(c *fc) {
		c.triggered(1, 2)
		c.triggerFailures(tf(130, "coordinator_suspend"))
		c.aborted(ab(1, "coordinator_suspend", false))
		c.traceHas("-> notify_aborted 1 latest_completed=0 tasks=[v1/0 v2/0]")
		c.traceHas("-> discard_late_state 1 v2/0")
		c.completed(2)
		c.traceCount("-> fail_job", 0)
		c.job("finished", "")
		c.retained()
	},
	// R24: a checkpoint persisting when the stop-with-savepoint is triggered ends too
	// and never completes, even when its persisted confirmation arrives.
	"SchedulerBase-stopWithSavepoint-persistingCheckpointNeverCompletes": func(c *fc) {
		c.triggered(1, 2, 3)
		c.aborted(ab(1, "coordinator_suspend", false), ab(2, "coordinator_suspend", false))
		c.completed(3)
		c.completedKinds("stop_with_savepoint")
		c.traceHas("-> discard_late_state 2 v1/0")
		c.job("finished", "")
		c.retained()
		c.discarded()
	},

	// --- StopWithSavepointTerminationHandlerImplTest ---

	// R24: any failed stop-with-savepoint fails the job (differs from Flink for an
	// expiry: see the history's comment); R11: no periodic checkpoint while it runs.
	"StopWithSavepointTerminationHandlerImplTest-testSavepointCreationFailureWithoutExecutionTermination": func(c *fc) {
		c.triggered(1, 2)
		c.aborted(ab(2, "expired", false))
		c.job("failed", "stop_with_savepoint_failed")
	},

	// --- DefaultCompletedCheckpointStoreTest, CheckpointsCleanerTest ---

	// R40: retained 1: each completion discards the previous one, once.
	"DefaultCompletedCheckpointStoreTest-testAddCheckpointMoreThanMaxRetained": func(c *fc) {
		c.completed(1, 2, 3, 4)
		c.discarded(1, 2, 3)
		c.retained(4)
		c.traceCount("-> discard ", 3)
	},
	// R40: retained 3 keeps all three.
	"DefaultCompletedCheckpointStoreTest-testNotSubsumedIfNotNeeded": func(c *fc) {
		c.retained(1, 2, 3)
		c.discarded()
	},
	// R24, R40: savepoints never push the last checkpoint out of the store.
	"DefaultCompletedCheckpointStoreTest-testAtLeastOneCheckpointRetained": func(c *fc) {
		c.completedKinds("checkpoint", "checkpoint", "savepoint", "savepoint", "savepoint")
		c.retained(2)
		c.discarded(1)
	},
	// R24: triggering the stop-with-savepoint ends pending checkpoint 3 (coordinator
	// suspend, not counted); the completed stop-with-savepoint finishes the job and
	// does not enter the store.
	"DefaultCompletedCheckpointStoreTest-testSubsumeAfterStoppingWithSavepoint": func(c *fc) {
		c.completed(1, 2, 4)
		c.aborted(ab(3, "coordinator_suspend", false))
		c.traceHas("-> abort 3 reason=coordinator_suspend counted=false (a stop-with-savepoint stops")
		c.job("finished", "")
		c.retained(1)
	},
	// R40, R21: a referenced checkpoint is not discarded until unreferenced, then once.
	"CheckpointsCleanerTest-testNotCleanCheckpointInUse": func(c *fc) {
		c.completed(1, 2, 3)
		if len(c.sum.Completed) == 3 {
			c.equal("refs of 2", []int64(c.sum.Completed[1].Refs), []int64{2, 1})
		}
		c.discarded(1, 2)
		c.retained(3)
		if i, j := strings.Index(c.trace, "persisted 3"), strings.Index(c.trace, "-> discard 1"); j >= 0 && j < i {
			c.errorf("checkpoint 1 was discarded before checkpoint 3 completed, while 2 referenced it")
		}
	},
}

// fc is one Flink check: it collects mismatches against one replay.
type fc struct {
	sum   history.Summary
	trace string
	errs  []string
}

func (c *fc) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *fc) equal(what string, got, want any) {
	if !reflect.DeepEqual(got, want) {
		c.errorf("%s = %v, want %v", what, got, want)
	}
}

// ab builds an expected abort.
func ab(id int64, reason string, counted bool) history.Aborted {
	return history.Aborted{ID: id, Reason: reason, Counted: counted}
}

// aborted: exactly these aborts, in order.
func (c *fc) aborted(want ...history.Aborted) {
	c.equal("aborted", append([]history.Aborted{}, c.sum.Aborted...), append([]history.Aborted{}, want...))
}

// completed: exactly these completed ids, in order.
func (c *fc) completed(ids ...int64) {
	got := []int64{}
	for _, x := range c.sum.Completed {
		got = append(got, x.ID)
	}
	c.equal("completed ids", got, append([]int64{}, ids...))
}

// completedKinds: the kinds of the completions, in order.
func (c *fc) completedKinds(kinds ...string) {
	got := []string{}
	for _, x := range c.sum.Completed {
		got = append(got, x.Kind)
	}
	c.equal("completed kinds", got, append([]string{}, kinds...))
}

// triggered: exactly these triggered ids, in order.
func (c *fc) triggered(ids ...int64) {
	got := []int64{}
	for _, x := range c.sum.Triggered {
		got = append(got, x.ID)
	}
	c.equal("triggered ids", got, append([]int64{}, ids...))
}

// triggeredAt: the trigger time of checkpoint id.
func (c *fc) triggeredAt(id, at int64) {
	for _, x := range c.sum.Triggered {
		if x.ID == id {
			c.equal(fmt.Sprintf("trigger time of %d", id), x.At, at)
			return
		}
	}
	c.errorf("checkpoint %d was never triggered", id)
}

// triggerFailures: exactly these request failures (time, reason), in order.
func (c *fc) triggerFailures(want ...history.TriggerFailure) {
	c.equal("trigger_failures", append([]history.TriggerFailure{}, c.sum.TriggerFailures...),
		append([]history.TriggerFailure{}, want...))
}

func tf(at int64, reason string) history.TriggerFailure {
	return history.TriggerFailure{At: at, Reason: reason}
}

func (c *fc) discarded(ids ...int64) {
	c.equal("discarded", append([]int64{}, c.sum.Discarded...), append([]int64{}, ids...))
}

func (c *fc) retained(ids ...int64) {
	c.equal("retained", append([]int64{}, c.sum.Retained...), append([]int64{}, ids...))
}

// job: the final job status and, for a failed job, the reason ("" for none).
func (c *fc) job(status, reason string) {
	c.equal("job", c.sum.Job, status)
	got := ""
	if c.sum.FailReason != nil {
		got = *c.sum.FailReason
	}
	c.equal("fail_reason", got, reason)
}

// traceHas: the trace has a line containing s.
func (c *fc) traceHas(s string) {
	if !strings.Contains(c.trace, s) {
		c.errorf("the trace has no line containing %q", s)
	}
}

// traceLacks: no line of the trace contains s.
func (c *fc) traceLacks(s string) {
	if strings.Contains(c.trace, s) {
		c.errorf("the trace has a line containing %q", s)
	}
}

// traceCount: exactly n lines of the trace contain s.
func (c *fc) traceCount(s string, n int) {
	got := 0
	for _, l := range strings.Split(c.trace, "\n") {
		if strings.Contains(l, s) {
			got++
		}
	}
	if got != n {
		c.errorf("%d trace lines contain %q, want %d", got, s, n)
	}
}

// TestGoldenFlink replays every history in testdata/golden/flink/ and applies
// its Go check; every history must have one and every check a history.
func TestGoldenFlink(t *testing.T) {
	paths, err := filepath.Glob("testdata/golden/flink/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			check, ok := flinkChecks[name]
			if !ok {
				t.Fatalf("no entry in flinkChecks for %s: assert the Flink test's key assertion in Go", path)
			}
			run := replayGolden(t, path)
			c := &fc{sum: run.result.Summary, trace: string(run.output)}
			check(c)
			for _, e := range c.errs {
				t.Errorf("%s: %s", path, e)
			}
		})
	}
	for name := range flinkChecks {
		if !seen[name] {
			t.Errorf("flinkChecks has %s but testdata/golden/flink/%s.jsonl does not exist", name, name)
		}
	}
}
