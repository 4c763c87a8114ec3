package fsm

// Reason is why a checkpoint was aborted or a request failed. The spellings are
// the history's; they follow Flink's CheckpointFailureReason.
type Reason string

// Reasons (R17, R18, R23, R30, R50).
const (
	ReasonDeclined             Reason = "declined"                // CHECKPOINT_DECLINED, counted
	ReasonAsyncException       Reason = "async_exception"         // CHECKPOINT_ASYNC_EXCEPTION, counted
	ReasonTaskNotReady         Reason = "task_not_ready"          // decline sub-type, not counted
	ReasonTaskClosing          Reason = "task_closing"            // decline sub-type, not counted
	ReasonOnCancellation       Reason = "on_cancellation_barrier" // decline sub-type, not counted
	ReasonDeclinedSubsumed     Reason = "subsumed"                // decline sub-type; also the subsumption abort
	ReasonInputEndOfStream     Reason = "input_end_of_stream"     // decline sub-type, not counted
	ReasonExpired              Reason = "expired"                 // CHECKPOINT_EXPIRED, counted
	ReasonFinalizeFailed       Reason = "finalize_failed"         // counted (SEMANTICS R23 wins over Flink here)
	ReasonSubsumed             Reason = "subsumed"                // CHECKPOINT_SUBSUMED, not counted
	ReasonRegionFailover       Reason = "region_failover"         // JOB_FAILOVER_REGION, not counted
	ReasonRecovered            Reason = "recovered"               // coordinator failover, not counted
	ReasonNotAllRunning        Reason = "not_all_running"         // NOT_ALL_REQUIRED_TASKS_RUNNING, no id
	ReasonTooManyRequests      Reason = "too_many_requests"       // TOO_MANY_CHECKPOINT_REQUESTS, no id
	ReasonMinPause             Reason = "min_pause"               // MINIMUM_TIME_BETWEEN_CHECKPOINTS, no id
	ReasonIDsExhausted         Reason = "ids_exhausted"           // every id up to 2^53-1 is used (R14), no id
	ReasonCoordinatorSuspend   Reason = "coordinator_suspend"     // the job failed; not counted
	ReasonCoordinatorShutdown  Reason = "coordinator_shutdown"    // the job finished; not counted
	ReasonTolerableExceeded    Reason = "tolerable_failures_exceeded"
	ReasonStopWithSavepointErr Reason = "stop_with_savepoint_failed"
)

// DeclineReasons are the reasons a decline event may carry (HISTORY.md).
var DeclineReasons = []Reason{ReasonDeclined, ReasonAsyncException, ReasonTaskNotReady,
	ReasonTaskClosing, ReasonOnCancellation, ReasonDeclinedSubsumed, ReasonInputEndOfStream}

// ValidDeclineReason reports whether r may appear in a decline event.
func ValidDeclineReason(r Reason) bool {
	for _, d := range DeclineReasons {
		if d == r {
			return true
		}
	}
	return false
}

// Counted reports whether a failure with this reason goes against the tolerable
// failure counter (R30, Flink's CheckpointFailureManager.checkFailureCounter).
func (r Reason) Counted() bool {
	switch r {
	case ReasonDeclined, ReasonAsyncException, ReasonExpired, ReasonFinalizeFailed:
		return true
	}
	return false
}

// jobLevel reports whether Flink sees the failure on the JobManager rather than
// in a task: job-level failures of savepoints are never counted (Flink's
// handleJobLevelCheckpointException), task-level ones are.
func (r Reason) jobLevel() bool {
	switch r {
	case ReasonExpired, ReasonFinalizeFailed:
		return true
	}
	return false
}
