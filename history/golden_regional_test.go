package history_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// regionalChecks asserts, in Go, the key facts of every FLIP-600 golden history in
// testdata/golden/regional/, so that a blind -rewrite of the .golden files cannot
// make a wrong behaviour pass. Each check reads the replay summary and the effects
// the core returned for each event, and fails if the rule it cites were removed
// from the core. The key is the history's file name without .jsonl.
var regionalChecks = map[string]func(c *rgCheck){
	// R24 + R25: the stop-with-savepoint ends the forced-global 3 with
	// coordinator_suspend (not counted); as any abort of a forced checkpoint it
	// resets the counter (tier 2); 3's late ack is discarded (R16).
	"R24-stopWithSavepointEndsForcedCheckpoint": func(c *rgCheck) {
		c.triggered(1, 2, 3, 4)
		c.forced(3)
		c.aborts(rgAb(3, "coordinator_suspend", false))
		c.lateDiscards("3 src/1")
		c.completed(1, 2, 4)
		c.persistConsecutive(4, 0)
		c.finalConsecutive(0)
		c.finalForcing(false)
		c.retained(2)
		c.job("finished", "")
	},
	// R25: 2, triggered before the sources finished, completes globally after they
	// did and does not end the forcing; 3, the first one triggered after, does.
	"R25-checkpointBeforeSourcesFinishedCannotEndForcing": func(c *rgCheck) {
		c.completed(1, 2, 3)
		c.modes("global", "global", "global")
		c.forced(3)
		c.triggerTasks(3, "sink/0 sink/1")
		c.triggered(1, 2, 3, 4)
		c.finalForcing(false)
	},
	// R25: the tier-2 reset of 3 (forced by tier 1 before the sources finished)
	// resets the counter but keeps the sources' forcing: 4 is forced; 4's abort
	// ends it: 5 is not.
	"R25-tier2ResetBeforeSourcesFinishedKeepsForcing": func(c *rgCheck) {
		c.triggered(1, 2, 3, 4, 5)
		c.forced(3, 4)
		c.aborts(rgAb(3, "declined", true), rgAb(4, "declined", true))
		c.finalConsecutive(0)
		c.finalForcing(false)
	},
	// --- R4: regional.enabled on a job that does not qualify ---

	// R4: a cross-region blocking edge -> warn once at start, then global only (R17).
	"R4-crossRegionBlockingEdge": func(c *rgCheck) {
		c.warnCount(fsm.WarnRegionalDisabled, 1)
		c.stepHas(fsm.EvStart, 0, fsm.EffWarn)
		c.aborts(rgAb(2, "declined", true), rgAb(3, "region_failover", false))
		c.modes("global")
		c.triggerFailures("not_all_running")
	},
	// R4: a single region -> warn, decline aborts at once, deadline expires.
	"R4-singleRegion": func(c *rgCheck) {
		c.warnCount(fsm.WarnRegionalDisabled, 1)
		c.warnHas(fsm.WarnRegionalDisabled, "single pipelined region")
		c.aborts(rgAb(2, "declined", true), rgAb(3, "expired", true))
		c.forced()
	},
	// R4: a blocking edge inside one region does not disqualify the job.
	"R4-blockingEdgeInsideRegion": func(c *rgCheck) {
		c.warnCount(fsm.WarnRegionalDisabled, 0)
		c.completedAs(2, "regional", 2, 1)
	},

	// --- R13: triggering while regions restart ---

	// R13: allowed when R22 would pass; the restarting region starts failed.
	"R13-triggerWhileRegionRestartsAllowed": func(c *rgCheck) {
		c.triggered(1, 2, 3)
		c.triggerFailures()
		c.triggerTasks(2, "src/0 src/1 src/2 sink/0 sink/1 sink/2")
		c.completedAs(2, "regional", 2, 2, 2, 1)
		c.skippedWith(3, "2/r3")
	},
	// R13: refused with not_all_running (R22d, R22b, forced, savepoint), no id used.
	"R13-triggerWhileRegionRestartsNotAllRunning": func(c *rgCheck) {
		c.triggered(1, 2)
		c.triggerFailures("not_all_running", "not_all_running", "not_all_running", "not_all_running")
		c.triggerFailedMsg(0, "R22d")
		c.triggerFailedMsg(1, "R22b")
		c.completedAs(2, "regional", 2, 2, 2, 1)
		c.finalForcing(true)
	},

	// --- R18: deferred decisions ---

	// R18: a decline fails the whole region and drops its acks; completes without it.
	"R18-declineFailsWholeRegionDropsAcks": func(c *rgCheck) {
		c.lateDiscards("2 sink/0")
		c.completedAs(2, "regional", 1, 2)
		c.notified(2, "src/1 sink/1")
		c.aborts()
	},
	// R18: abort as soon as R22 cannot pass, with the first cause.
	"R18-abortAsSoonAsCertainWithFirstCause": func(c *rgCheck) {
		c.aborts(rgAb(2, "task_not_ready", false))
		c.abortedOn(2, fsm.EvTaskFailed, "sink/1")
		c.completed(1)
	},
	// R18: the deadline fails silent regions: completes, then expires, then first cause.
	"R18-deadlineFailsSilentRegions": func(c *rgCheck) {
		c.completedAs(2, "regional", 2, 2, 2, 1)
		c.stepHas(fsm.EvTick, 0, fsm.EffPersist)
		c.aborts(rgAb(3, "expired", true), rgAb(4, "declined", true))
	},

	// --- R19: lineage ---

	// R19: a failed-over region's acks are dropped; its re-acks are discarded.
	"R19-failedOverRegionAcksDropped": func(c *rgCheck) {
		c.completedAs(2, "regional", 2, 1)
		c.lateDiscards("2 src/1", "2 sink/1")
		c.notified(2, "src/0 sink/0")
		c.skippedWith(3, "2/r1")
	},
	// R19: failover of a region holding its own state while persisting aborts.
	"R19-failoverWhilePersisting": func(c *rgCheck) {
		c.aborts(rgAb(2, "region_failover", false))
		c.completed(1, 3)
		c.completedAs(3, "regional", 3, 1)
	},

	// --- R21: resolved references ---

	"R21-refsResolvedNeverChained": func(c *rgCheck) {
		c.completedAs(2, "regional", 2, 1)
		c.completedAs(3, "regional", 3, 1)
		c.completedAs(4, "regional", 3, 4)
		c.persistConsecutive(2, 1)
		c.persistConsecutive(3, 2)
		c.persistConsecutive(4, 3)
		c.discarded(2, 1)
	},

	// --- R22: the regional path gate ---

	// R22a: savepoints are global; a failed stop-with-savepoint fails the job.
	"R22a-savepointsAlwaysGlobal": func(c *rgCheck) {
		c.aborts(rgAb(3, "region_failover", false), rgAb(5, "declined", false))
		c.completedAs(4, "global", 4, 4)
		c.retained(2)
		c.job("failed", "stop_with_savepoint_failed")
		c.finalConsecutive(1)
	},
	"R22b-failureRatio": func(c *rgCheck) {
		c.completedAs(2, "regional", 1, 1, 2, 2)
		c.aborts(rgAb(3, "task_closing", false))
		c.abortMsg(3, "R22b")
	},
	"R22b-ratioCountsUnfinishedRegionsOnly": func(c *rgCheck) {
		c.completedAs(2, "regional", 1, 2, 2, 2)
		c.aborts(rgAb(3, "declined", true))
		c.abortMsg(3, "1 of 3 regions")
		c.triggerTasks(3, "src/0 src/1 src/2 sink/0 sink/1 sink/2")
	},
	"R22c-forcedGlobal": func(c *rgCheck) {
		c.forced(4)
		c.completedAs(2, "regional", 2, 1)
		c.aborts(rgAb(3, "declined", true), rgAb(4, "declined", true))
		c.abortMsg(3, "R22c")
		c.finalConsecutive(0)
		c.finalForcing(false)
	},
	"R22d-noFallbackCheckpoint": func(c *rgCheck) {
		c.aborts(rgAb(1, "declined", true))
		c.abortMsg(1, "R22d")
		c.completedAs(3, "regional", 3, 2)
	},
	"R22e-coordinatorWithoutFallback": func(c *rgCheck) {
		c.completedAs(2, "regional", 2, 1, 2)
		c.fallbacks(2, "b{r1->1}")
		c.completedAs(3, "regional", 3, 3, 2)
		c.fallbacks(3)
		c.aborts(rgAb(4, "declined", true))
		c.abortMsg(4, "R22e")
	},
	"R22f-maxRefAge": func(c *rgCheck) {
		c.completedAs(3, "regional", 3, 1)
		c.triggerFailures("not_all_running")
		c.triggerFailedMsg(0, "R22f")
		c.aborts(rgAb(4, "declined", true))
		c.abortMsg(4, "R22f")
		c.completedAs(6, "regional", 6, 5)
		c.maxRefAge(2)
	},
	// R22: the first failing step decides: d before e, b before e, e before f, then f.
	"R22-gateOrder": func(c *rgCheck) {
		c.aborts(rgAb(1, "declined", true), rgAb(3, "declined", true), rgAb(4, "declined", true),
			rgAb(5, "declined", true))
		c.abortMsg(1, "R22d")
		c.abortMsg(3, "R22b")
		c.abortMsg(4, "R22e")
		c.abortMsg(5, "R22f")
	},

	// --- R23: effect order, persist failures ---

	"R23-effectOrderAtRegionalCompletion": func(c *rgCheck) {
		c.sealTypes(5, fsm.EffCoordinatorFallback, fsm.EffPersist)
		c.stepTypes(fsm.EvPersisted, 5, fsm.EffCompleted, fsm.EffAbort, fsm.EffNotifyAborted,
			fsm.EffNotifyComplete, fsm.EffDiscard)
		c.aborts(rgAb(4, "subsumed", false))
		c.completed(1, 2, 5, 3)
		c.completedAs(5, "regional", 5, 2)
		c.discarded(1)
	},
	"R23-persistFailedAbortsFinalizeFailed": func(c *rgCheck) {
		c.aborts(rgAb(2, "finalize_failed", true), rgAb(3, "finalize_failed", true))
		c.completed(1)
		c.job("failed", "tolerable_failures_exceeded")
		c.finalConsecutive(0)
		c.stepTypes(fsm.EvPersisted, 2)
	},

	// --- R25: the two-tier counter ---

	"R25-tier1ForcingAfterMaxConsecutive": func(c *rgCheck) {
		c.forced(4)
		c.modes("global", "regional", "regional", "global", "regional")
		c.persistConsecutive(3, 2)
		c.persistConsecutive(5, 1)
	},
	"R18-failoverReachesReadyBeforeSlotHandedOn": func(c *rgCheck) {
		c.aborts(rgAb(2, "region_failover", false))
		c.persistConsecutive(3, 1)
		c.pendingAtEnd(3)
	},
	"R50-recoverDoesNotSealReady": func(c *rgCheck) {
		c.aborts(rgAb(1, "recovered", false), rgAb(2, "recovered", false))
		for _, e := range c.effects(fsm.EffPersist) {
			if e.Checkpoint == 2 {
				c.errorf("checkpoint 2 was asked to persist during the recovery that drops it")
			}
		}
	},
	"R25-regionalCompletionSubsumesForced": func(c *rgCheck) {
		c.forced(3, 4)
		c.aborts(rgAb(4, "task_not_ready", false), rgAb(3, "subsumed", false))
		c.persistConsecutive(5, 1)
		c.finalConsecutive(1)
	},
	"R25-tier2ThenSourcesFinishedForcesAgain": func(c *rgCheck) {
		c.forced(1)
		c.aborts(rgAb(1, "expired", true))
		c.job("finished", "")
	},
	"R25-tier2ResetOnAnyAbortReason": func(c *rgCheck) {
		c.forced(3, 5, 7, 9, 11, 12)
		c.aborts(rgAb(3, "declined", true), rgAb(5, "expired", true), rgAb(7, "region_failover", false),
			rgAb(9, "finalize_failed", true), rgAb(11, "subsumed", false))
		c.modes("global", "regional", "regional", "regional", "regional", "regional", "global")
		c.warnCount(fsm.WarnRefDrift, 4)
		c.finalConsecutive(0)
	},
	"R25-allSourcesFinishedForcesGlobal": func(c *rgCheck) {
		c.forced(3)
		c.triggerTasks(3, "sink/0 sink/1")
		c.completedAs(3, "global", 3, 3)
		c.triggered(1, 2, 3, 4)
	},
	"R25-allSourcesFinishedForcedAbortResets": func(c *rgCheck) {
		c.forced(3)
		c.aborts(rgAb(3, "declined", true))
		c.completedAs(4, "regional", 4, 1)
	},

	// --- R26: notifications ---

	"R26-notifyCompleteAndRegionSkipped": func(c *rgCheck) {
		c.notified(2, "src/0 src/2 sink/0 sink/2")
		c.regionalInfo(2, "1:src/1 src/3 sink/1 sink/3")
		c.skippedWith(3, "2/r1")
		c.notified(3, "src/0 src/1 sink/0 sink/1")
		c.regionalInfo(3, "1:src/3 sink/3", "2:src/2 sink/2")
		c.skippedWith(4, "2/r3", "3/r2", "3/r3")
		c.skippedWith(5)
		c.notified(4, "src/0 src/1 src/2 src/3 sink/0 sink/1 sink/2 sink/3")
	},

	// --- R40, R41: retention and restore modes ---

	"R40-referencedCheckpointOutlivesStore": func(c *rgCheck) {
		c.discarded(2, 3, 1, 4)
		c.retained(5, 6)
	},
	"R41-noClaimSnapshotReferenced": func(c *rgCheck) {
		c.warnCount(fsm.WarnNoClaimReferenced, 2)
		c.warnCount(fsm.WarnNoClaimReleased, 1)
		c.discarded(11, 12)
		c.completedAs(14, "regional", 14, 13)
	},
	"R41-claimSnapshotDiscardedWhenUnreferenced": func(c *rgCheck) {
		c.completedAs(11, "regional", 10, 11)
		c.discarded(7, 10, 11)
		c.warnCount(fsm.WarnNoClaimReferenced, 0)
	},

	// --- R50: coordinator recovery ---

	"R50-recoverReadsConsecutiveFromMetadata": func(c *rgCheck) {
		c.aborts(rgAb(4, "recovered", false))
		c.stepTypes(fsm.EvRecover, 0, fsm.EffAbort)
		c.persistConsecutive(5, 3)
		c.forced(6)
		c.triggered(1, 2, 3, 4, 5, 6, 7)
		c.finalForcing(false)
	},

	// --- SEMANTICS §11: drift ---

	"S11-refDriftWarnings": func(c *rgCheck) {
		c.warnCount(fsm.WarnRefDrift, 2)
		c.warnOn(fsm.WarnRefDrift, 4, 6)
		c.maxRefAge(5)
		c.completedAs(6, "regional", 6, 1)
	},
	"S11-maxRefAgeBoundsDrift": func(c *rgCheck) {
		c.maxRefAge(3)
		c.warnOn(fsm.WarnRefDrift, 4)
		c.aborts(rgAb(3, "declined", true), rgAb(5, "declined", true), rgAb(6, "declined", true),
			rgAb(7, "declined", true))
		c.abortMsg(6, "R22f")
		c.completedAs(8, "global", 8, 8)
	},

	// --- apache/flink#28963 RegionalCheckpointDeferredAbortTest ---

	"RegionalCheckpointDeferredAbortTest-regionalEnabledSingleDeclineDoesNotImmediatelyAbort": func(c *rgCheck) {
		c.aborts()
		c.completed(1)
		c.pendingAtEnd(2)
	},
	"RegionalCheckpointDeferredAbortTest-singleDeclineAbortsAtOnceWhenOutcomeCertain": func(c *rgCheck) {
		c.aborts(rgAb(2, "declined", true))
		c.abortedOn(2, fsm.EvDecline, "src/0")
		c.lateDiscards("2 src/1")
	},
	"RegionalCheckpointDeferredAbortTest-regionalEnabledAllTasksRespondTriggersEvaluation": func(c *rgCheck) {
		c.completedAs(2, "regional", 1, 2)
		c.notified(2, "src/1 sink/1")
		c.regionalInfo(2, "1:src/0 sink/0")
	},
	"RegionalCheckpointDeferredAbortTest-regionalDisabledDeclineImmediatelyAborts": func(c *rgCheck) {
		c.aborts(rgAb(2, "declined", true))
		c.completed(1)
	},
	"RegionalCheckpointDeferredAbortTest-savepointDeclineImmediatelyAbortsRegardlessOfRegionalSetting": func(c *rgCheck) {
		c.aborts(rgAb(2, "declined", true))
		c.completedAs(3, "global", 3, 3)
		c.retained(1)
	},
	"RegionalCheckpointDeferredAbortTest-regionalEnabledDeclineThenDeclineTriggersEvaluation": func(c *rgCheck) {
		c.aborts(rgAb(2, "async_exception", true))
		c.abortedOn(2, fsm.EvDecline, "sink/1")
	},

	// --- apache/flink#28963 RegionalCheckpointSuccessPathTest ---

	"RegionalCheckpointSuccessPathTest-regionalCheckpointCompletesWithStateMerge": func(c *rgCheck) {
		c.completedAs(2, "regional", 2, 1)
		c.persistConsecutive(2, 1)
	},
	"RegionalCheckpointSuccessPathTest-failedRegionWithoutHistoricalSubtaskStateStillCompletes": func(c *rgCheck) {
		c.completedAs(6, "regional", 6, 3)
		c.discarded(5)
		c.retained(6)
	},
	"RegionalCheckpointSuccessPathTest-consecutiveCounterIncrementsThenResetsOnGlobalCheckpoint": func(c *rgCheck) {
		c.persistConsecutive(2, 1)
		c.persistConsecutive(3, 2)
		c.persistConsecutive(4, 0)
		c.completedAs(3, "regional", 3, 1)
		c.finalConsecutive(0)
	},
	"RegionalCheckpointSuccessPathTest-coordinatorFallbackStateWrittenAndNotified": func(c *rgCheck) {
		c.fallbacks(2, "sink{r1->1}")
		c.sealTypes(2, fsm.EffCoordinatorFallback, fsm.EffPersist)
		c.notified(2, "source/0")
		c.skippedWith(3, "2/r1")
	},
	"RegionalCheckpointSuccessPathTest-unsupportedCoordinatorAbortsRegionalCheckpoint": func(c *rgCheck) {
		c.aborts(rgAb(2, "declined", true))
		c.abortMsg(2, "R22e")
		c.fallbacks(2)
		c.completed()
	},

	// --- apache/flink#28964 RegionalCheckpointTimeoutTest ---

	"RegionalCheckpointTimeoutTest-timeoutTriggersRegionalCheckpointPathWhenEnabled": func(c *rgCheck) {
		c.aborts()
		c.completedAs(2, "regional", 2, 1)
		c.stepHas(fsm.EvTick, 0, fsm.EffPersist)
		c.lateDiscards("2 sink/0")
	},
	"RegionalCheckpointTimeoutTest-timeoutFollowsOriginalPathWhenDisabled": func(c *rgCheck) {
		c.aborts(rgAb(2, "expired", true))
		c.completed()
	},
	"RegionalCheckpointTimeoutTest-timeoutDuringForcedGlobalTriggersTier2Reset": func(c *rgCheck) {
		c.forced(3)
		c.aborts(rgAb(3, "expired", true))
		c.triggered(2, 3, 4)
		c.finalConsecutive(0)
		c.finalForcing(false)
	},

	// --- apache/flink#28963 RegionalCheckpointConsecutiveLimitTest ---

	"RegionalCheckpointConsecutiveLimitTest-consecutiveRegionalCheckpointsWithinLimit": func(c *rgCheck) {
		c.completedAs(2, "regional", 2, 1)
		c.forced()
		c.finalConsecutive(1)
	},
	"RegionalCheckpointConsecutiveLimitTest-forcedAbortWhenLimitIsZero": func(c *rgCheck) {
		c.forced(2, 3)
		c.aborts(rgAb(2, "declined", true))
		c.stepTypes(fsm.EvDecline, 2, fsm.EffAbort, fsm.EffNotifyAborted)
		c.finalConsecutive(0)
	},
	"RegionalCheckpointConsecutiveLimitTest-countResetAfterGlobalCheckpoint": func(c *rgCheck) {
		c.completedAs(1, "global", 1, 1)
		c.retained(1)
		c.finalConsecutive(0)
	},
	"RegionalCheckpointConsecutiveLimitTest-limitConfigDeterminesPassOrBlock": func(c *rgCheck) {
		c.forced(3)
		c.aborts(rgAb(3, "declined", true))
		c.modes("regional", "regional")
		c.warnOn(fsm.WarnRefDrift, 4)
	},

	// --- apache/flink#28963 RegionalCheckpointCleanerTest ---

	"RegionalCheckpointCleanerTest-referencedCheckpointNotCleaned": func(c *rgCheck) {
		c.retained(2)
		c.discarded()
		c.known(1, 2)
	},
	"RegionalCheckpointCleanerTest-transitiveReferenceProtection": func(c *rgCheck) {
		c.completedAs(3, "regional", 2, 1, 3)
		c.discarded()
		c.known(1, 2, 3)
	},
	"RegionalCheckpointCleanerTest-referenceChainBrokenAfterGlobalCheckpoint": func(c *rgCheck) {
		c.completedAs(3, "regional", 2, 1, 3)
		c.discarded(1, 2, 3)
		c.retained(4)
		c.known(4)
	},
	"RegionalCheckpointCleanerTest-checkpointWithoutRefFieldIsTreatedAsGlobal": func(c *rgCheck) {
		c.discarded(1, 2)
		c.retained(3)
	},
	"RegionalCheckpointCleanerTest-refToExternalCheckpoint": func(c *rgCheck) {
		c.completedAs(102, "regional", 102, 50, 102)
		c.discarded(101, 50, 102)
		c.maxRefAge(52)
		c.warnOn(fsm.WarnRefDrift, 102)
	},
}

// TestGoldenRegional runs the check of every regional golden history, and requires
// one for each, so that a new scenario cannot slip in with only a golden file.
func TestGoldenRegional(t *testing.T) { runChecked(t, "regional", regionalChecks) }

// specChecks assert the rules of testdata/golden/spec/: SEMANTICS rules outside
// Flink's tests and FLIP-600.
var specChecks = map[string]func(c *rgCheck){
	// R14: no id above 2^53-1; later requests of every kind fail with ids_exhausted,
	// also after a coordinator failover (R50).
	"R14-idsExhaustedAfterRestoreNearBound": func(c *rgCheck) {
		c.triggered(9007199254740990, 9007199254740991)
		c.completed(9007199254740990, 9007199254740991)
		c.triggerFailures("ids_exhausted", "ids_exhausted", "ids_exhausted")
		c.triggerFailedMsg(0, "last id below 2^53")
		c.equal("next id", c.state.NextID(), int64(fsm.MaxSafeInt+1))
		c.job("running", "")
	},
	// R60: a request id is used once: reuse after acceptance, after application and
	// after a rejection is rejected, as is an unused id below the last one.
	"R60-requestIdUsedOnce": func(c *rgCheck) {
		var got []string
		for _, e := range c.effects(fsm.EffConfigRejected) {
			got = append(got, fmt.Sprint(e.Request))
		}
		c.equal("rejected requests", got, []string{"1", "1", "2", "2", "4"})
		var applied []string
		for _, e := range c.effects(fsm.EffConfigApplied) {
			applied = append(applied, fmt.Sprintf("%d:%d/%d", e.Request, e.IntervalMs, e.TimeoutMs))
		}
		c.equal("applied", applied, []string{"1:500/600000", "5:800/600000", "6:800/4000"})
		c.equal("effective", c.state.Effective(), fsm.EffectiveConfig{IntervalMs: 800, TimeoutMs: 4000, OverridesActive: true})
	},
}

// TestGoldenSpec runs the check of every spec golden history.
func TestGoldenSpec(t *testing.T) { runChecked(t, "spec", specChecks) }

// runChecked replays every history of testdata/golden/<set>/ and runs its check;
// every history must have a check and every check a history.
func runChecked(t *testing.T, set string, checks map[string]func(c *rgCheck)) {
	paths, err := filepath.Glob("testdata/golden/" + set + "/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no %s golden histories", set)
	}
	seen := map[string]bool{}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			check, ok := checks[name]
			if !ok {
				t.Fatalf("%s has no check", path)
			}
			c := runRegional(t, path)
			if len(c.sum.Violations) > 0 {
				t.Errorf("violations: %+v", c.sum.Violations)
			}
			check(c)
			for _, e := range c.errs {
				t.Error(e)
			}
		})
	}
	for name := range checks {
		if !seen[name] {
			t.Errorf("the %s check %q has no history", set, name)
		}
	}
}

// rgStep is one replayed event with the effects the core returned for it.
type rgStep struct {
	ev   fsm.Event
	effs []fsm.Effect
}

// rgCheck is one regional check: the replay summary, every step's effects, the
// final state, and the mismatches found so far.
type rgCheck struct {
	topo  *fsm.Topology
	sum   history.Summary
	steps []rgStep
	state *fsm.State
	errs  []string
}

// runRegional replays a history twice: through history.Replay with every
// invariant checked (the summary), and step by step through the core to keep each
// step's effects.
func runRegional(t *testing.T, path string) *rgCheck {
	t.Helper()
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	res, err := history.Replay(h, history.Options{Check: true})
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		t.Fatal(err)
	}
	c := &rgCheck{topo: h.Topology, sum: res.Summary, state: s}
	for _, rec := range h.Records {
		effs, err := s.Step(rec.Event)
		if err != nil {
			t.Fatalf("line %d: %v", rec.Line, err)
		}
		c.steps = append(c.steps, rgStep{rec.Event, append([]fsm.Effect(nil), effs...)})
	}
	return c
}

func (c *rgCheck) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *rgCheck) equal(what string, got, want any) {
	if !reflect.DeepEqual(got, want) {
		c.errorf("%s = %v, want %v", what, got, want)
	}
}

func rgAb(id int64, reason string, counted bool) history.Aborted {
	return history.Aborted{ID: id, Reason: reason, Counted: counted}
}

// names renders a task set as space-separated subtask names in id order.
func (c *rgCheck) names(ts fsm.TaskSet) string {
	var out []string
	ts.All(func(id fsm.TaskID) bool {
		out = append(out, c.topo.TaskName(id))
		return true
	})
	return strings.Join(out, " ")
}

// effects returns every effect of type typ, in order.
func (c *rgCheck) effects(typ fsm.EffectType) []fsm.Effect {
	var out []fsm.Effect
	for _, st := range c.steps {
		for _, e := range st.effs {
			if e.Type == typ {
				out = append(out, e)
			}
		}
	}
	return out
}

// step finds the first step for an event of type typ about checkpoint id (0: any).
func (c *rgCheck) step(typ fsm.EventType, id int64) (rgStep, bool) {
	for _, st := range c.steps {
		if st.ev.Type == typ && (id == 0 || st.ev.Checkpoint == id) {
			return st, true
		}
	}
	c.errorf("no %s event for checkpoint %d", typ, id)
	return rgStep{}, false
}

// stepTypes: the step of the first such event emits exactly these effect types, in order.
func (c *rgCheck) stepTypes(typ fsm.EventType, id int64, want ...fsm.EffectType) {
	if st, ok := c.step(typ, id); ok {
		got := []fsm.EffectType{}
		for _, e := range st.effs {
			got = append(got, e.Type)
		}
		c.equal(fmt.Sprintf("effects of %s %d", typ, id), got, append([]fsm.EffectType{}, want...))
	}
}

// sealTypes: the step that emits the persist of id emits exactly these effect
// types, in order (R23: coordinator fallbacks before the persist).
func (c *rgCheck) sealTypes(id int64, want ...fsm.EffectType) {
	for _, st := range c.steps {
		for _, e := range st.effs {
			if e.Type == fsm.EffPersist && e.Checkpoint == id {
				got := []fsm.EffectType{}
				for _, e := range st.effs {
					got = append(got, e.Type)
				}
				c.equal(fmt.Sprintf("effects sealing %d", id), got, append([]fsm.EffectType{}, want...))
				return
			}
		}
	}
	c.errorf("checkpoint %d was not persisted", id)
}

// abortedOn: id was aborted in the step of an event of type typ from task.
func (c *rgCheck) abortedOn(id int64, typ fsm.EventType, task string) {
	for _, st := range c.steps {
		for _, e := range st.effs {
			if e.Type == fsm.EffAbort && e.Checkpoint == id {
				got := fmt.Sprintf("%s %s", st.ev.Type, c.topo.TaskName(st.ev.Task))
				c.equal(fmt.Sprintf("event aborting %d", id), got, fmt.Sprintf("%s %s", typ, task))
				return
			}
		}
	}
	c.errorf("checkpoint %d was not aborted", id)
}

// stepHas: the step of the first such event emits an effect of type eff.
func (c *rgCheck) stepHas(typ fsm.EventType, id int64, eff fsm.EffectType) {
	if st, ok := c.step(typ, id); ok {
		for _, e := range st.effs {
			if e.Type == eff {
				return
			}
		}
		c.errorf("the %s %d step emits no %s", typ, id, eff)
	}
}

// completion returns the summary's completion of id.
func (c *rgCheck) completion(id int64) (history.Completed, bool) {
	for _, x := range c.sum.Completed {
		if x.ID == id {
			return x, true
		}
	}
	c.errorf("checkpoint %d did not complete", id)
	return history.Completed{}, false
}

// completedAs: id completed with this mode and, per region r0, r1, …, these refs.
func (c *rgCheck) completedAs(id int64, mode string, refs ...int64) {
	if x, ok := c.completion(id); ok {
		c.equal(fmt.Sprintf("mode of %d", id), x.Mode, mode)
		c.equal(fmt.Sprintf("refs of %d", id), []int64(x.Refs), refs)
	}
}

// completed: exactly these completions, in order.
func (c *rgCheck) completed(ids ...int64) {
	got := []int64{}
	for _, x := range c.sum.Completed {
		got = append(got, x.ID)
	}
	c.equal("completed", got, append([]int64{}, ids...))
}

// modes: the modes of every completion, in order.
func (c *rgCheck) modes(want ...string) {
	got := []string{}
	for _, x := range c.sum.Completed {
		got = append(got, x.Mode)
	}
	c.equal("completion modes", got, append([]string{}, want...))
}

// aborts: exactly these aborts, in order.
func (c *rgCheck) aborts(want ...history.Aborted) {
	c.equal("aborted", append([]history.Aborted{}, c.sum.Aborted...), append([]history.Aborted{}, want...))
}

// abortMsg: the abort of id explains itself with sub (e.g. the R22 step).
func (c *rgCheck) abortMsg(id int64, sub string) {
	for _, e := range c.effects(fsm.EffAbort) {
		if e.Checkpoint == id {
			if !strings.Contains(e.Message, sub) {
				c.errorf("abort %d: message %q lacks %q", id, e.Message, sub)
			}
			return
		}
	}
	c.errorf("checkpoint %d was not aborted", id)
}

// triggered: exactly these ids got a trigger, in order.
func (c *rgCheck) triggered(ids ...int64) {
	got := []int64{}
	for _, x := range c.sum.Triggered {
		got = append(got, x.ID)
	}
	c.equal("triggered", got, append([]int64{}, ids...))
}

// forced: exactly these triggered ids were forced global.
func (c *rgCheck) forced(ids ...int64) {
	got := []int64{}
	for _, x := range c.sum.Triggered {
		if x.ForcedGlobal {
			got = append(got, x.ID)
		}
	}
	c.equal("forced_global", got, append([]int64{}, ids...))
}

// triggerTasks: the trigger of id reached exactly these subtasks.
func (c *rgCheck) triggerTasks(id int64, want string) {
	for _, e := range c.effects(fsm.EffTrigger) {
		if e.Checkpoint == id {
			c.equal(fmt.Sprintf("tasks of trigger %d", id), c.names(e.Tasks), want)
			return
		}
	}
	c.errorf("checkpoint %d was not triggered", id)
}

// triggerFailures: exactly these requests failed without an id, in order.
func (c *rgCheck) triggerFailures(reasons ...string) {
	got := []string{}
	for _, x := range c.sum.TriggerFailures {
		got = append(got, x.Reason)
	}
	c.equal("trigger_failures", got, append([]string{}, reasons...))
}

// triggerFailedMsg: the i-th failed request explains itself with sub.
func (c *rgCheck) triggerFailedMsg(i int, sub string) {
	fs := c.effects(fsm.EffTriggerFailed)
	if i >= len(fs) {
		c.errorf("no trigger failure #%d", i)
		return
	}
	if !strings.Contains(fs[i].Message, sub) {
		c.errorf("trigger failure #%d: message %q lacks %q", i, fs[i].Message, sub)
	}
}

// discarded / retained: the summary's lists, in order.
func (c *rgCheck) discarded(ids ...int64) {
	c.equal("discarded", append([]int64{}, c.sum.Discarded...), append([]int64{}, ids...))
}

func (c *rgCheck) retained(ids ...int64) {
	c.equal("retained", append([]int64{}, c.sum.Retained...), append([]int64{}, ids...))
}

// known: the completed checkpoints the job keeps at the end (retained or referenced).
func (c *rgCheck) known(ids ...int64) {
	got := []int64{}
	for _, k := range c.state.Known() {
		got = append(got, k.ID)
	}
	c.equal("known", got, append([]int64{}, ids...))
}

func (c *rgCheck) maxRefAge(n int64) { c.equal("max_ref_age", c.sum.MaxRefAge, n) }

func (c *rgCheck) job(status, reason string) {
	c.equal("job", c.sum.Job, status)
	got := ""
	if c.sum.FailReason != nil {
		got = *c.sum.FailReason
	}
	c.equal("fail_reason", got, reason)
}

// persistConsecutive: the metadata persisted for id records this consecutive count.
func (c *rgCheck) persistConsecutive(id int64, n int) {
	for _, e := range c.effects(fsm.EffPersist) {
		if e.Checkpoint == id {
			c.equal(fmt.Sprintf("consecutive in %d's metadata", id), e.Consecutive, n)
			return
		}
	}
	c.errorf("checkpoint %d was not persisted", id)
}

func (c *rgCheck) finalConsecutive(n int) { c.equal("final consecutive", c.state.Consecutive(), n) }
func (c *rgCheck) finalForcing(b bool)    { c.equal("final forcing", c.state.Forcing(), b) }

// pendingAtEnd: exactly these checkpoints are still pending at the end.
func (c *rgCheck) pendingAtEnd(ids ...int64) {
	got := []int64{}
	for _, p := range c.state.Pending() {
		got = append(got, p.ID)
	}
	c.equal("pending at end", got, append([]int64{}, ids...))
}

// warnCount: exactly n warnings with this code.
func (c *rgCheck) warnCount(code string, n int) {
	got := 0
	for _, e := range c.effects(fsm.EffWarn) {
		if e.Code == code {
			got++
		}
	}
	c.equal("warnings "+code, got, n)
}

// warnHas: some warning with this code says sub.
func (c *rgCheck) warnHas(code, sub string) {
	for _, e := range c.effects(fsm.EffWarn) {
		if e.Code == code && strings.Contains(e.Message, sub) {
			return
		}
	}
	c.errorf("no %s warning saying %q", code, sub)
}

// warnOn: the warnings with this code are about exactly these checkpoints.
func (c *rgCheck) warnOn(code string, ids ...int64) {
	got := []int64{}
	for _, e := range c.effects(fsm.EffWarn) {
		if e.Code == code {
			got = append(got, e.Checkpoint)
		}
	}
	c.equal("checkpoints warned "+code, got, append([]int64{}, ids...))
}

// notified: notify_complete of id went to exactly these subtasks.
func (c *rgCheck) notified(id int64, tasks string) {
	for _, e := range c.effects(fsm.EffNotifyComplete) {
		if e.Checkpoint == id {
			c.equal(fmt.Sprintf("notify_complete %d", id), c.names(e.Tasks), tasks)
			return
		}
	}
	c.errorf("checkpoint %d was not notified complete", id)
}

// regionalInfo: notify_complete of id carries these "ref:tasks" groups, in order.
func (c *rgCheck) regionalInfo(id int64, groups ...string) {
	for _, e := range c.effects(fsm.EffNotifyComplete) {
		if e.Checkpoint == id {
			got := []string{}
			for _, g := range e.RegionalInfo {
				got = append(got, fmt.Sprintf("%d:%s", g.Checkpoint, c.names(g.Tasks)))
			}
			c.equal(fmt.Sprintf("regional_info of %d", id), got, append([]string{}, groups...))
			return
		}
	}
	c.errorf("checkpoint %d was not notified complete", id)
}

// skippedWith: the step that triggers id delivers exactly these region_skipped
// notices ("checkpoint/region"), before the trigger.
func (c *rgCheck) skippedWith(id int64, want ...string) {
	for _, st := range c.steps {
		got := []string{}
		for _, e := range st.effs {
			switch {
			case e.Type == fsm.EffRegionSkipped:
				got = append(got, fmt.Sprintf("%d/%s", e.Checkpoint, fsm.RegionName(e.Region)))
			case e.Type == fsm.EffTrigger && e.Checkpoint == id:
				c.equal(fmt.Sprintf("region_skipped with trigger %d", id), got, append([]string{}, want...))
				return
			}
		}
	}
	c.errorf("checkpoint %d was not triggered", id)
}

// lateDiscards: exactly these discard_late_state effects ("checkpoint task"), in order.
func (c *rgCheck) lateDiscards(want ...string) {
	got := []string{}
	for _, e := range c.effects(fsm.EffDiscardLateState) {
		got = append(got, fmt.Sprintf("%d %s", e.Checkpoint, c.topo.TaskName(e.Task)))
	}
	c.equal("discard_late_state", got, append([]string{}, want...))
}

// fallbacks: the coordinator_fallback effects of id ("vertex{refs}"), in order.
func (c *rgCheck) fallbacks(id int64, want ...string) {
	got := []string{}
	for _, e := range c.effects(fsm.EffCoordinatorFallback) {
		if e.Checkpoint == id {
			var refs []string
			for _, r := range e.Refs {
				refs = append(refs, fmt.Sprintf("%s->%d", fsm.RegionName(r.Region), r.Checkpoint))
			}
			got = append(got, c.topo.Vertices()[e.Vertex].ID+"{"+strings.Join(refs, " ")+"}")
		}
	}
	c.equal(fmt.Sprintf("coordinator_fallback of %d", id), got, append([]string{}, want...))
}
