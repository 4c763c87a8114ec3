package sim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// Stats are the checkpoint statistics of a run.
type Stats struct {
	Regions  int   // regions of the job (R3)
	Subtasks int   // subtasks of the job
	Events   int64 // core steps (history lines after the header)
	Dropped  int64 // queued answers made moot by a restart or an ended checkpoint

	Triggered         int // checkpoints that got an id
	ForcedGlobal      int // of which forced global (R25)
	ForcedAborted     int // forced-global checkpoints that aborted (each resets the counter: tier 2)
	CompletedGlobal   int
	CompletedRegional int
	Aborted           map[fsm.Reason]int // by reason
	AbortedCounted    int                // aborts that counted against tolerable_failures (R30)
	TriggerFailed     map[fsm.Reason]int // requests that got no id, by reason
	PendingAtEnd      int                // still pending when the simulated time ran out

	TaskFailures int            // region failovers
	JobFailures  int            // fail_job effects (each followed by a job restart)
	LateAnswers  int            // discard_late_state effects
	Warnings     map[string]int // warn effects by code

	// Reference ages over every region of every completion: a region that uses
	// its own new state has age 0, one that falls back has age id − referenced id.
	RefAgeSum   int64
	RefAgeMax   int64
	StaleRefs   int64 // region references to an older checkpoint
	RegionSlots int64 // completions × regions: the denominator of the mean

	// Sizes the completed checkpoints reported (the totals of their kept acks'
	// sizes, from the completed effects): summed over completions, and the last.
	StateBytes            int64
	CheckpointedBytes     int64
	LastStateBytes        int64
	LastCheckpointedBytes int64

	SimTimeMs int64 // time of the last step
}

func newStats(t *fsm.Topology) Stats {
	return Stats{Regions: t.NumRegions(), Subtasks: t.NumSubtasks(), Aborted: map[fsm.Reason]int{},
		TriggerFailed: map[fsm.Reason]int{}, Warnings: map[string]int{}}
}

func (s *Stats) completed(e *fsm.Effect) {
	if e.Kind != fsm.KindCheckpoint {
		return // the simulator triggers no savepoints; stay correct if one is added
	}
	if e.Mode == fsm.ModeRegional {
		s.CompletedRegional++
	} else {
		s.CompletedGlobal++
	}
	s.RegionSlots += int64(s.Regions)
	s.StateBytes += e.StateSize
	s.CheckpointedBytes += e.CheckpointedSize
	s.LastStateBytes, s.LastCheckpointedBytes = e.StateSize, e.CheckpointedSize
	for _, ref := range e.Refs {
		age := e.Checkpoint - ref.Checkpoint
		s.RefAgeSum += age
		s.RefAgeMax = max(s.RefAgeMax, age)
		s.StaleRefs++
	}
}

func (s *Stats) aborted(e *fsm.Effect, forced bool) {
	s.Aborted[e.Reason]++
	if forced {
		s.ForcedAborted++
	}
	if e.Counted {
		s.AbortedCounted++
	}
}

// Completed returns the completed checkpoints, global and regional.
func (s *Stats) Completed() int { return s.CompletedGlobal + s.CompletedRegional }

// AbortedTotal returns the aborted checkpoints, every reason.
func (s *Stats) AbortedTotal() int {
	n := 0
	for _, c := range s.Aborted {
		n += c
	}
	return n
}

// SuccessRate returns completed / ended checkpoints: checkpoints still pending
// when the run ends are left out, since they have no outcome yet. It is 0 when
// no checkpoint ended.
func (s *Stats) SuccessRate() float64 {
	ended := s.Completed() + s.AbortedTotal()
	if ended == 0 {
		return 0
	}
	return float64(s.Completed()) / float64(ended)
}

// MeanRefAge returns the mean reference age over every region of every
// completion (0 for a run whose completions are all global).
func (s *Stats) MeanRefAge() float64 {
	if s.RegionSlots == 0 {
		return 0
	}
	return float64(s.RefAgeSum) / float64(s.RegionSlots)
}

// MeanStaleAge returns the mean age of the references that fall back to an
// older checkpoint: how far back a region that fell back goes, on average.
func (s *Stats) MeanStaleAge() float64 {
	if s.StaleRefs == 0 {
		return 0
	}
	return float64(s.RefAgeSum) / float64(s.StaleRefs)
}

// String renders the statistics as a short multi-line report.
func (s *Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "job: %d regions, %d subtasks; %d events, %d ms simulated\n",
		s.Regions, s.Subtasks, s.Events, s.SimTimeMs)
	fmt.Fprintf(&b, "checkpoints: %d triggered (%d forced global, %d of them aborted), %d completed (%d global, %d regional), %d aborted (%d counted), %d pending at end\n",
		s.Triggered, s.ForcedGlobal, s.ForcedAborted, s.Completed(), s.CompletedGlobal, s.CompletedRegional,
		s.AbortedTotal(), s.AbortedCounted, s.PendingAtEnd)
	fmt.Fprintf(&b, "success rate %.4f; reference age mean %.4g, mean of stale refs %.3g, max %d\n",
		s.SuccessRate(), s.MeanRefAge(), s.MeanStaleAge(), s.RefAgeMax)
	fmt.Fprintf(&b, "aborted by reason: %s\n", countsString(s.Aborted))
	fmt.Fprintf(&b, "trigger failures: %s\n", countsString(s.TriggerFailed))
	fmt.Fprintf(&b, "region failovers %d, job failures %d, late answers %d, dropped answers %d\n",
		s.TaskFailures, s.JobFailures, s.LateAnswers, s.Dropped)
	fmt.Fprintf(&b, "warnings: %s", countsString(s.Warnings))
	if s.StateBytes > 0 || s.CheckpointedBytes > 0 {
		fmt.Fprintf(&b, "\nsizes of completed checkpoints: state %d bytes in total, last %d; checkpointed %d in total, last %d",
			s.StateBytes, s.LastStateBytes, s.CheckpointedBytes, s.LastCheckpointedBytes)
	}
	return b.String()
}

// countsString renders a count map as "a=1 b=2" in key order, "none" if empty.
func countsString[K ~string](m map[K]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, string(k))
	}
	if len(keys) == 0 {
		return "none"
	}
	sort.Strings(keys)
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s=%d", k, m[K(k)])
	}
	return strings.Join(keys, " ")
}
