package driver

import "github.com/ckptcore/ckptcore/fsm"

// configJSON is GET .../checkpoints/config and the PATCH answer.
type configJSON struct {
	Interval                   int64 `json:"interval"`
	Timeout                    int64 `json:"timeout"`
	MinPause                   int64 `json:"min_pause"`
	MaxConcurrent              int   `json:"max_concurrent"`
	TolerableFailedCheckpoints int   `json:"tolerable_failed_checkpoints"`
	OverridesActive            bool  `json:"overridesActive"`
	PendingPatches             int   `json:"pendingPatches"`
	MaxTimeout                 int64 `json:"maxTimeout"` // 0 = no bound
	DefaultInterval            int64 `json:"defaultInterval"`
	DefaultTimeout             int64 `json:"defaultTimeout"`
	RegionalEnabled            bool  `json:"regionalEnabled"` // configured
	RegionalActive             bool  `json:"regionalActive"`  // configured and the job qualifies (R4)
}

func configBody(st Status) configJSON {
	return configJSON{
		Interval: st.Effective.IntervalMs, Timeout: st.Effective.TimeoutMs,
		MinPause: st.Base.MinPauseMs, MaxConcurrent: st.Base.MaxConcurrent,
		TolerableFailedCheckpoints: st.Base.TolerableFailures,
		OverridesActive:            st.Effective.OverridesActive, PendingPatches: st.PendingPatches,
		MaxTimeout: st.Base.MaxTimeoutMs, DefaultInterval: st.Base.IntervalMs, DefaultTimeout: st.Base.TimeoutMs,
		RegionalEnabled: st.Base.Regional.Enabled, RegionalActive: st.RegionalMode,
	}
}

// checkpointsJSON is GET .../checkpoints: Flink's checkpoint statistics
// (counts, latest) with FLIP-600's mode, refs and consecutive count.
type checkpointsJSON struct {
	Counts   countsJSON    `json:"counts"`
	Latest   latestJSON    `json:"latest"`
	Retained []int64       `json:"retained"`
	Pending  []pendingJSON `json:"pending"`
}

type countsJSON struct {
	Restored   int `json:"restored"`
	Total      int `json:"total"`
	InProgress int `json:"in_progress"`
	Completed  int `json:"completed"`
	Failed     int `json:"failed"`
}

type latestJSON struct {
	Completed *completedJSON `json:"completed"`
	Savepoint *completedJSON `json:"savepoint"`
	Failed    *failedJSON    `json:"failed"`
	Restored  *restoredJSON  `json:"restored"`
}

type completedJSON struct {
	ID               int64            `json:"id"`
	Status           string           `json:"status"`
	IsSavepoint      bool             `json:"is_savepoint"`
	CheckpointType   string           `json:"checkpoint_type"`
	Kind             string           `json:"kind"`
	Mode             string           `json:"mode"`
	Refs             map[string]int64 `json:"refs"`
	Consecutive      int              `json:"consecutive"`
	TriggerTimestamp int64            `json:"trigger_timestamp,omitempty"`
	EndToEndDuration int64            `json:"end_to_end_duration,omitempty"` // trigger to completion, ms
	StateSize        int64            `json:"state_size"`                    // bytes, the acks' total
	CheckpointedSize int64            `json:"checkpointed_size"`
}

type failedJSON struct {
	ID               int64  `json:"id"`
	Status           string `json:"status"`
	IsSavepoint      bool   `json:"is_savepoint"`
	CheckpointType   string `json:"checkpoint_type"`
	TriggerTimestamp int64  `json:"trigger_timestamp,omitempty"`
	FailureTimestamp int64  `json:"failure_timestamp"`
	FailureMessage   string `json:"failure_message"`
	Reason           string `json:"reason"`
	Counted          bool   `json:"counted"`
}

type restoredJSON struct {
	ID               int64 `json:"id"`
	RestoreTimestamp int64 `json:"restore_timestamp"`
	IsSavepoint      bool  `json:"is_savepoint"`
}

type pendingJSON struct {
	ID               int64  `json:"id"`
	Status           string `json:"status"`
	CheckpointType   string `json:"checkpoint_type"`
	TriggerTimestamp int64  `json:"trigger_timestamp"`
	Deadline         int64  `json:"deadline"`
}

// checkpointType is Flink's spelling of a kind in checkpoint statistics.
func checkpointType(k fsm.Kind) string {
	switch k {
	case fsm.KindSavepoint:
		return "SAVEPOINT"
	case fsm.KindStopWithSavepoint:
		return "SYNC_SAVEPOINT"
	}
	return "CHECKPOINT"
}

func checkpointsBody(st Status, regions int) checkpointsJSON {
	b := checkpointsJSON{
		Counts: countsJSON{Restored: st.Counts.Restored, Total: st.Counts.Total, InProgress: st.Counts.InProgress,
			Completed: st.Counts.Completed, Failed: st.Counts.Failed},
		Retained: st.Retained,
		Pending:  []pendingJSON{},
	}
	if b.Retained == nil {
		b.Retained = []int64{}
	}
	for _, p := range st.Pending {
		status := "IN_PROGRESS"
		if p.Persisting {
			status = "PERSISTING"
		}
		b.Pending = append(b.Pending, pendingJSON{ID: p.ID, Status: status, CheckpointType: checkpointType(p.Kind),
			TriggerTimestamp: p.TriggerAt, Deadline: p.Deadline})
	}
	completed := func(c *CompletedCheckpoint) *completedJSON {
		if c == nil {
			return nil
		}
		refs := make(map[string]int64, regions)
		for r := 0; r < regions; r++ {
			refs[fsm.RegionName(r)] = c.RefOf(r)
		}
		cj := &completedJSON{ID: c.ID, Status: "COMPLETED", IsSavepoint: c.Kind.IsSavepoint(),
			CheckpointType: checkpointType(c.Kind), Kind: c.Kind.String(), Mode: c.Mode.String(), Refs: refs,
			Consecutive: c.Consecutive, TriggerTimestamp: c.TriggerAt,
			StateSize: c.StateSize, CheckpointedSize: c.CheckpointedSize}
		if c.TriggerAt > 0 && c.CompletedAt > 0 {
			cj.EndToEndDuration = c.CompletedAt - c.TriggerAt
		}
		return cj
	}
	b.Latest.Completed = completed(st.LatestCompleted)
	b.Latest.Savepoint = completed(st.LatestSavepoint)
	if f := st.LatestFailed; f != nil {
		b.Latest.Failed = &failedJSON{ID: f.ID, Status: "FAILED", IsSavepoint: f.Kind.IsSavepoint(),
			CheckpointType: checkpointType(f.Kind), TriggerTimestamp: f.TriggerAt, FailureTimestamp: f.FailedAt,
			FailureMessage: failureMessage(f), Reason: string(f.Reason), Counted: f.Counted}
	}
	if r := st.Restored; r != nil {
		b.Latest.Restored = &restoredJSON{ID: r.ID, RestoreTimestamp: r.RestoredAt}
	}
	return b
}

func failureMessage(f *FailedCheckpoint) string {
	if f.Message == "" {
		return string(f.Reason)
	}
	return string(f.Reason) + ": " + f.Message
}
