package driver

import (
	"github.com/ckptcore/ckptcore/driver/flinkapi"
	"github.com/ckptcore/ckptcore/fsm"
)

// configJSON is GET .../checkpoints/config and the PATCH answer: Flink's
// CheckpointConfigInfo with the FLIP-571 and FLIP-600 extras.
type configJSON = flinkapi.CheckpointConfig

// checkpointsJSON is GET .../checkpoints: Flink's CheckpointingStatistics.
type checkpointsJSON = flinkapi.CheckpointingStatistics

// configBody renders the configuration in force. Fields Flink reports about the
// tasks' side (state backend, unaligned checkpoints, changelog) are Flink's
// defaults: the coordinator neither knows nor decides them.
func configBody(st Status) configJSON {
	c := configJSON{
		Mode:                                     "exactly_once",
		Interval:                                 flinkInterval(st.Effective.IntervalMs),
		Timeout:                                  st.Effective.TimeoutMs,
		MinPause:                                 st.Base.MinPauseMs,
		MaxConcurrent:                            int64(st.Base.MaxConcurrent),
		Externalization:                          flinkapi.Externalization{Enabled: true, DeleteOnCancellation: false},
		StateBackend:                             "HashMapStateBackend",
		CheckpointStorage:                        flinkapi.Some(st.Storage),
		TolerableFailedCheckpoints:               st.Base.TolerableFailures,
		AlignedCheckpointTimeout:                 flinkapi.Some(int64(0)),
		CheckpointsAfterTasksFinish:              flinkapi.Some(true),
		StateChangelogEnabled:                    flinkapi.Some(false),
		ChangelogPeriodicMaterializationInterval: flinkapi.Some(int64(600000)),
		ChangelogStorage:                         flinkapi.Some("memory"),

		OverridesActive:    flinkapi.Some(st.Effective.OverridesActive),
		PendingOverrides:   flinkapi.Some(st.PendingPatches),
		ConfiguredInterval: flinkapi.Some(st.Base.IntervalMs),
		ConfiguredTimeout:  flinkapi.Some(st.Base.TimeoutMs),
		MaxTimeout:         flinkapi.Some(st.Base.MaxTimeoutMs),

		RegionalEnabled:         flinkapi.Some(st.Base.Regional.Enabled),
		RegionalActive:          flinkapi.Some(st.RegionalMode),
		RegionalMaxFailureRatio: flinkapi.Some(st.Base.Regional.MaxFailureRatio),
		RegionalMaxConsecutive:  flinkapi.Some(st.Base.Regional.MaxConsecutive),
		RegionalMaxRefAge:       flinkapi.Some(st.Base.Regional.MaxRefAge),
		RegionalConsecutive:     flinkapi.Some(st.Consecutive),
	}
	refs, age := map[string]int64{}, int64(0)
	if l := st.LatestCompleted; l != nil {
		for r := 0; r < st.Regions; r++ {
			ref := l.RefOf(r)
			refs[fsm.RegionName(r)] = ref
			age = max(age, l.ID-ref)
		}
	}
	c.RegionalRefs, c.RegionalRefAge = flinkapi.Some(refs), flinkapi.Some(age)
	return c
}
