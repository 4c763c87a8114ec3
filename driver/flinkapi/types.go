package flinkapi

// The JSON shapes of Flink's REST API that the driver serves. Field names,
// types and order follow Flink 1.19's OpenAPI document and recorded Flink
// responses; fields older Flink versions lack are Opt, so a recorded response
// of any version round-trips. Extras for FLIP-600 and FLIP-571 are marked.

// CheckpointingStatistics is GET /jobs/:jobid/checkpoints.
type CheckpointingStatistics struct {
	Counts  Counts                 `json:"counts"`
	Summary CheckpointsSummary     `json:"summary"`
	Latest  LatestCheckpoints      `json:"latest"`
	History []CheckpointStatistics `json:"history"`
	// Retained is an extra: the ids in the completed store, ascending (R40).
	Retained Opt[[]int64] `json:"retained,omitzero"`
}

// Counts are Flink's checkpoint counts.
type Counts struct {
	Restored   int64 `json:"restored"`
	Total      int64 `json:"total"`
	InProgress int64 `json:"in_progress"`
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
}

// CheckpointsSummary summarizes the completed checkpoints (Flink's
// CheckpointStatisticsSummary).
type CheckpointsSummary struct {
	CheckpointedSize  Opt[StatsSummary] `json:"checkpointed_size,omitzero"` // Flink 1.15+
	StateSize         StatsSummary      `json:"state_size"`
	EndToEndDuration  StatsSummary      `json:"end_to_end_duration"`
	AlignmentBuffered StatsSummary      `json:"alignment_buffered"`
	ProcessedData     StatsSummary      `json:"processed_data"`
	PersistedData     StatsSummary      `json:"persisted_data"`
}

// StatsSummary is Flink's StatsSummaryDto: min, max and average over all
// values, percentiles over the last values (Flink 1.13+).
type StatsSummary struct {
	Min  int64           `json:"min"`
	Max  int64           `json:"max"`
	Avg  int64           `json:"avg"`
	P50  Opt[Percentile] `json:"p50,omitzero"`
	P90  Opt[Percentile] `json:"p90,omitzero"`
	P95  Opt[Percentile] `json:"p95,omitzero"`
	P99  Opt[Percentile] `json:"p99,omitzero"`
	P999 Opt[Percentile] `json:"p999,omitzero"`
}

// LatestCheckpoints are the latest checkpoints of each kind; null when none.
type LatestCheckpoints struct {
	Completed *CheckpointStatistics         `json:"completed"`
	Savepoint *CheckpointStatistics         `json:"savepoint"`
	Failed    *CheckpointStatistics         `json:"failed"`
	Restored  *RestoredCheckpointStatistics `json:"restored"`
}

// Classes of CheckpointStatistics ("@class").
const (
	ClassCompleted  = "completed"
	ClassFailed     = "failed"
	ClassInProgress = "in_progress"
)

// Statuses of a checkpoint (Flink's CheckpointStatsStatus).
const (
	StatusInProgress = "IN_PROGRESS"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
)

// CheckpointStatistics is one checkpoint: Flink's CompletedCheckpointStatistics,
// FailedCheckpointStatistics or PendingCheckpointStatistics, told apart by
// "@class" (as Flink's Jackson type info does). It is also GET
// /jobs/:jobid/checkpoints/details/:checkpointid.
type CheckpointStatistics struct {
	Class                   string      `json:"@class"`
	ID                      int64       `json:"id"`
	Status                  string      `json:"status"`
	IsSavepoint             bool        `json:"is_savepoint"`
	SavepointFormat         Opt[string] `json:"savepointFormat,omitzero"` // Flink 1.15+
	TriggerTimestamp        int64       `json:"trigger_timestamp"`
	LatestAckTimestamp      int64       `json:"latest_ack_timestamp"`
	CheckpointedSize        Opt[int64]  `json:"checkpointed_size,omitzero"` // Flink 1.15+
	StateSize               int64       `json:"state_size"`
	EndToEndDuration        int64       `json:"end_to_end_duration"`
	AlignmentBuffered       int64       `json:"alignment_buffered"`
	ProcessedData           int64       `json:"processed_data"`
	PersistedData           int64       `json:"persisted_data"`
	NumSubtasks             int         `json:"num_subtasks"`
	NumAcknowledgedSubtasks int         `json:"num_acknowledged_subtasks"`
	CheckpointType          string      `json:"checkpoint_type"`
	// Tasks maps a vertex id to its statistics; empty in the list (as Flink).
	Tasks map[string]TaskCheckpointStatistics `json:"tasks"`

	// completed
	ExternalPath Opt[string] `json:"external_path,omitzero"`
	Discarded    Opt[bool]   `json:"discarded,omitzero"`
	// failed
	FailureTimestamp Opt[int64]  `json:"failure_timestamp,omitzero"`
	FailureMessage   Opt[string] `json:"failure_message,omitzero"`

	// Extras (FLIP-600 and this coordinator), ignored by Flink's clients:
	// kind (checkpoint, savepoint, stop_with_savepoint); for a completed one
	// its mode, every region's referenced checkpoint and the consecutive
	// regional count (R21, R25); for a failed one the core's reason and
	// whether it counted against tolerable failures (R30); for one in progress
	// its deadline and whether it was forced global (R25).
	Kind         Opt[string]           `json:"kind,omitzero"`
	Mode         Opt[string]           `json:"mode,omitzero"`
	Refs         Opt[map[string]int64] `json:"refs,omitzero"`
	Consecutive  Opt[int]              `json:"consecutive,omitzero"`
	ForcedGlobal Opt[bool]             `json:"forced_global,omitzero"`
	Reason       Opt[string]           `json:"reason,omitzero"`
	Counted      Opt[bool]             `json:"counted,omitzero"`
	Deadline     Opt[int64]            `json:"deadline,omitzero"`
}

// TaskCheckpointStatistics is one vertex's part of a checkpoint.
type TaskCheckpointStatistics struct {
	ID                      int64      `json:"id"`
	Status                  string     `json:"status"`
	LatestAckTimestamp      int64      `json:"latest_ack_timestamp"`
	CheckpointedSize        Opt[int64] `json:"checkpointed_size,omitzero"`
	StateSize               int64      `json:"state_size"`
	EndToEndDuration        int64      `json:"end_to_end_duration"`
	AlignmentBuffered       int64      `json:"alignment_buffered"`
	ProcessedData           int64      `json:"processed_data"`
	PersistedData           int64      `json:"persisted_data"`
	NumSubtasks             int        `json:"num_subtasks"`
	NumAcknowledgedSubtasks int        `json:"num_acknowledged_subtasks"`
}

// TaskCheckpointStatisticsWithSubtaskDetails is GET
// /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid.
type TaskCheckpointStatisticsWithSubtaskDetails struct {
	TaskCheckpointStatistics
	Summary  TaskCheckpointSummary         `json:"summary"`
	Subtasks []SubtaskCheckpointStatistics `json:"subtasks"`
}

// TaskCheckpointSummary summarizes a vertex's acknowledged subtasks.
type TaskCheckpointSummary struct {
	CheckpointedSize   Opt[StatsSummary] `json:"checkpointed_size,omitzero"`
	StateSize          StatsSummary      `json:"state_size"`
	EndToEndDuration   StatsSummary      `json:"end_to_end_duration"`
	CheckpointDuration DurationSummary   `json:"checkpoint_duration"`
	Alignment          AlignmentSummary  `json:"alignment"`
	StartDelay         StatsSummary      `json:"start_delay"`
}

// DurationSummary is Flink's CheckpointDurationSummary.
type DurationSummary struct {
	Sync  StatsSummary `json:"sync"`
	Async StatsSummary `json:"async"`
}

// AlignmentSummary is Flink's CheckpointAlignmentSummary.
type AlignmentSummary struct {
	Buffered  StatsSummary `json:"buffered"`
	Processed StatsSummary `json:"processed"`
	Persisted StatsSummary `json:"persisted"`
	Duration  StatsSummary `json:"duration"`
}

// Subtask classes and statuses (Flink's SubtaskCheckpointStatistics).
const (
	SubtaskClassCompleted = "completed"
	SubtaskClassPending   = "pending"
	SubtaskStatusAcked    = "completed"
	SubtaskStatusPending  = "pending_or_failed"
)

// SubtaskCheckpointStatistics is one subtask's part of a checkpoint:
// "@class" completed (acknowledged) or pending (not, or its region failed).
type SubtaskCheckpointStatistics struct {
	Class  string `json:"@class"`
	Index  int    `json:"index"`
	Status string `json:"status"`

	// completed
	AckTimestamp        Opt[int64]               `json:"ack_timestamp,omitzero"`
	EndToEndDuration    Opt[int64]               `json:"end_to_end_duration,omitzero"`
	CheckpointedSize    Opt[int64]               `json:"checkpointed_size,omitzero"`
	StateSize           Opt[int64]               `json:"state_size,omitzero"`
	Checkpoint          Opt[CheckpointDuration]  `json:"checkpoint,omitzero"`
	Alignment           Opt[CheckpointAlignment] `json:"alignment,omitzero"`
	StartDelay          Opt[int64]               `json:"start_delay,omitzero"`
	UnalignedCheckpoint Opt[bool]                `json:"unaligned_checkpoint,omitzero"`
	Aborted             Opt[bool]                `json:"aborted,omitzero"`
}

// CheckpointDuration is a subtask's synchronous and asynchronous part (ms).
type CheckpointDuration struct {
	Sync  int64 `json:"sync"`
	Async int64 `json:"async"`
}

// CheckpointAlignment is a subtask's barrier alignment.
type CheckpointAlignment struct {
	Buffered  int64 `json:"buffered"`
	Processed int64 `json:"processed"`
	Persisted int64 `json:"persisted"`
	Duration  int64 `json:"duration"`
}

// RestoredCheckpointStatistics is the checkpoint the job last restored from.
type RestoredCheckpointStatistics struct {
	ID               int64       `json:"id"`
	RestoreTimestamp int64       `json:"restore_timestamp"`
	IsSavepoint      bool        `json:"is_savepoint"`
	ExternalPath     Opt[string] `json:"external_path,omitzero"`
}

// CheckpointConfig is GET /jobs/:jobid/checkpoints/config (Flink's
// CheckpointConfigInfo) with the FLIP-571 and FLIP-600 extras.
type CheckpointConfig struct {
	Mode                                     string          `json:"mode"`
	Interval                                 int64           `json:"interval"` // Long.MAX_VALUE: periodic checkpoints off
	Timeout                                  int64           `json:"timeout"`
	MinPause                                 int64           `json:"min_pause"`
	MaxConcurrent                            int64           `json:"max_concurrent"`
	Externalization                          Externalization `json:"externalization"`
	StateBackend                             string          `json:"state_backend"`
	CheckpointStorage                        Opt[string]     `json:"checkpoint_storage,omitzero"`
	UnalignedCheckpoints                     bool            `json:"unaligned_checkpoints"`
	TolerableFailedCheckpoints               int             `json:"tolerable_failed_checkpoints"`
	AlignedCheckpointTimeout                 Opt[int64]      `json:"aligned_checkpoint_timeout,omitzero"`
	CheckpointsAfterTasksFinish              Opt[bool]       `json:"checkpoints_after_tasks_finish,omitzero"`
	StateChangelogEnabled                    Opt[bool]       `json:"state_changelog_enabled,omitzero"`
	ChangelogPeriodicMaterializationInterval Opt[int64]      `json:"changelog_periodic_materialization_interval,omitzero"`
	ChangelogStorage                         Opt[string]     `json:"changelog_storage,omitzero"`

	// FLIP-571 extras: whether confirmed overrides are in force (R63), how
	// many accepted patches are not durable yet, the configured base values
	// and the timeout guardrail (0 = none).
	OverridesActive    Opt[bool]  `json:"overrides_active,omitzero"`
	PendingOverrides   Opt[int]   `json:"pending_overrides,omitzero"`
	ConfiguredInterval Opt[int64] `json:"configured_interval,omitzero"`
	ConfiguredTimeout  Opt[int64] `json:"configured_timeout,omitzero"`
	MaxTimeout         Opt[int64] `json:"max_timeout,omitzero"`
	// FLIP-600 extras: regional checkpoints configured and in force (R4), the
	// gate's bounds (R22, R25), the consecutive regional count now, every
	// region's referenced checkpoint in the latest completed one and their
	// largest age (0 = every region uses its own state).
	RegionalEnabled         Opt[bool]             `json:"regional_enabled,omitzero"`
	RegionalActive          Opt[bool]             `json:"regional_active,omitzero"`
	RegionalMaxFailureRatio Opt[float64]          `json:"regional_max_failure_ratio,omitzero"`
	RegionalMaxConsecutive  Opt[int]              `json:"regional_max_consecutive_failures,omitzero"`
	RegionalMaxRefAge       Opt[int64]            `json:"regional_max_ref_age,omitzero"`
	RegionalConsecutive     Opt[int]              `json:"regional_consecutive,omitzero"`
	RegionalRefs            Opt[map[string]int64] `json:"regional_refs,omitzero"`
	RegionalRefAge          Opt[int64]            `json:"regional_ref_age,omitzero"`
}

// Externalization is Flink's ExternalizedCheckpointInfo.
type Externalization struct {
	Enabled              bool `json:"enabled"`
	DeleteOnCancellation bool `json:"delete_on_cancellation"`
}

// TriggerResponse answers a POST that starts an asynchronous operation.
type TriggerResponse struct {
	RequestID string `json:"request-id"`
}

// Queue statuses of an asynchronous operation.
const (
	QueueInProgress = "IN_PROGRESS"
	QueueCompleted  = "COMPLETED"
)

// AsynchronousOperationResult is the status of a trigger (Flink's
// AsynchronousOperationResult with a CheckpointInfo or SavepointInfo).
type AsynchronousOperationResult struct {
	Status    QueueStatus       `json:"status"`
	Operation *OperationOutcome `json:"operation,omitempty"`
}

// QueueStatus is IN_PROGRESS or COMPLETED.
type QueueStatus struct {
	ID string `json:"id"`
}

// OperationOutcome is a finished operation: a checkpoint's id or a savepoint's
// location, or the failure (Flink spells it failureCause for checkpoints and
// failure-cause for savepoints).
type OperationOutcome struct {
	CheckpointID     Opt[int64]               `json:"checkpointId,omitzero"`
	Location         Opt[string]              `json:"location,omitzero"`
	FailureCause     Opt[SerializedThrowable] `json:"failureCause,omitzero"`
	SavepointFailure Opt[SerializedThrowable] `json:"failure-cause,omitzero"`
}

// SerializedThrowable is Flink's rendering of an exception. The coordinator
// has no Java exception to serialize, so "serialized-throwable" is absent.
type SerializedThrowable struct {
	Class      string `json:"class"`
	StackTrace string `json:"stack-trace"`
}

// CheckpointTriggerRequest is the body of POST /jobs/:jobid/checkpoints.
type CheckpointTriggerRequest struct {
	CheckpointType string `json:"checkpointType,omitempty"` // CONFIGURED, FULL, INCREMENTAL
	TriggerID      string `json:"triggerId,omitempty"`
}

// SavepointTriggerRequest is the body of POST /jobs/:jobid/savepoints.
type SavepointTriggerRequest struct {
	CancelJob       bool   `json:"cancel-job,omitempty"`
	FormatType      string `json:"formatType,omitempty"` // CANONICAL, NATIVE
	TargetDirectory string `json:"target-directory,omitempty"`
	TriggerID       string `json:"triggerId,omitempty"`
}

// StopWithSavepointRequest is the body of POST /jobs/:jobid/stop.
type StopWithSavepointRequest struct {
	Drain           bool   `json:"drain,omitempty"`
	FormatType      string `json:"formatType,omitempty"`
	TargetDirectory string `json:"targetDirectory,omitempty"`
	TriggerID       string `json:"triggerId,omitempty"`
}

// DashboardConfiguration is GET /config.
type DashboardConfiguration struct {
	RefreshInterval int64    `json:"refresh-interval"`
	TimezoneName    string   `json:"timezone-name"`
	TimezoneOffset  int      `json:"timezone-offset"`
	FlinkVersion    string   `json:"flink-version"`
	FlinkRevision   string   `json:"flink-revision"`
	Features        Features `json:"features"`
}

// Features are the web UI's switches.
type Features struct {
	WebSubmit  bool `json:"web-submit"`
	WebCancel  bool `json:"web-cancel"`
	WebRescale bool `json:"web-rescale"`
	WebHistory bool `json:"web-history"`
}

// MultipleJobsDetails is GET /jobs/overview.
type MultipleJobsDetails struct {
	Jobs []JobDetails `json:"jobs"`
}

// JobDetails is one job in the overview.
type JobDetails struct {
	JID              string         `json:"jid"`
	Name             string         `json:"name"`
	State            string         `json:"state"`
	StartTime        int64          `json:"start-time"`
	EndTime          int64          `json:"end-time"`
	Duration         int64          `json:"duration"`
	LastModification int64          `json:"last-modification"`
	Tasks            map[string]int `json:"tasks"`
}

// JobDetailsInfo is GET /jobs/:jobid.
type JobDetailsInfo struct {
	JID            string           `json:"jid"`
	Name           string           `json:"name"`
	IsStoppable    bool             `json:"isStoppable"`
	State          string           `json:"state"`
	JobType        string           `json:"job-type"`
	StartTime      int64            `json:"start-time"`
	EndTime        int64            `json:"end-time"`
	Duration       int64            `json:"duration"`
	MaxParallelism int64            `json:"maxParallelism"`
	Now            int64            `json:"now"`
	Timestamps     map[string]int64 `json:"timestamps"`
	Vertices       []JobVertex      `json:"vertices"`
	StatusCounts   map[string]int   `json:"status-counts"`
	Plan           JobPlan          `json:"plan"`
}

// JobVertex is a vertex of the job details.
type JobVertex struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	MaxParallelism int            `json:"maxParallelism"`
	Parallelism    int            `json:"parallelism"`
	Status         string         `json:"status"`
	StartTime      int64          `json:"start-time"`
	EndTime        int64          `json:"end-time"`
	Duration       int64          `json:"duration"`
	Tasks          map[string]int `json:"tasks"`
	Metrics        IOMetrics      `json:"metrics"`
}

// IOMetrics are a vertex's I/O counters; the coordinator sees no records, so
// they are zero and marked complete.
type IOMetrics struct {
	ReadBytes                    int64   `json:"read-bytes"`
	ReadBytesComplete            bool    `json:"read-bytes-complete"`
	WriteBytes                   int64   `json:"write-bytes"`
	WriteBytesComplete           bool    `json:"write-bytes-complete"`
	ReadRecords                  int64   `json:"read-records"`
	ReadRecordsComplete          bool    `json:"read-records-complete"`
	WriteRecords                 int64   `json:"write-records"`
	WriteRecordsComplete         bool    `json:"write-records-complete"`
	AccumulatedBackpressuredTime int64   `json:"accumulated-backpressured-time"`
	AccumulatedIdleTime          int64   `json:"accumulated-idle-time"`
	AccumulatedBusyTime          float64 `json:"accumulated-busy-time"`
}

// JobPlan is the job graph the web UI draws.
type JobPlan struct {
	JID   string     `json:"jid"`
	Name  string     `json:"name"`
	Type  string     `json:"type"`
	Nodes []PlanNode `json:"nodes"`
}

// PlanNode is a vertex of the plan.
type PlanNode struct {
	ID                  string         `json:"id"`
	Parallelism         int            `json:"parallelism"`
	Operator            string         `json:"operator"`
	OperatorStrategy    string         `json:"operator_strategy"`
	Description         string         `json:"description"`
	Inputs              []PlanInput    `json:"inputs,omitempty"`
	OptimizerProperties map[string]any `json:"optimizer_properties"`
}

// PlanInput is an edge of the plan.
type PlanInput struct {
	Num          int    `json:"num"`
	ID           string `json:"id"`
	ShipStrategy string `json:"ship_strategy"`
	Exchange     string `json:"exchange"`
}
