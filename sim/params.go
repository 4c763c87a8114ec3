package sim

import (
	"fmt"
	"math"

	"github.com/ckptcore/ckptcore/fsm"
)

// Delay is a sampled delay in milliseconds: Min plus an exponentially
// distributed part with mean Mean. The exponential tail is what makes large jobs
// slow: the last of n answers comes about Mean·ln(n) after the first.
type Delay struct {
	Min  int64
	Mean float64
}

// Params is one simulated run. Every field is data, so a run is reproducible
// from its Params alone.
type Params struct {
	Seed       uint64     // seeds the PCG every random choice comes from
	Shape      Shape      // the job
	Config     fsm.Config // the core's configuration
	DurationMs int64      // simulated time; the run stops at the first event after it
	// Restore, when not nil, starts the job from a snapshot (the start event's
	// restore, R41). Regional checkpoints need a completed checkpoint to fall
	// back to (R22d); without a restore the first one must complete globally,
	// which a large job with declines may never manage.
	Restore *fsm.Restore

	Ack          Delay      // trigger → an answer (ack, decline or failure)
	DeclineProb  float64    // per triggered subtask and checkpoint
	DeclineAs    fsm.Reason // the reason declines carry ("" = declined, counted)
	FailProb     float64    // per triggered subtask and checkpoint: the subtask fails instead of answering
	Restart      Delay      // a failed region's subtasks run again after this
	Persist      Delay      // persist → persisted
	PersistFail  float64    // probability that a metadata write fails
	JobRestartMs int64      // fail_job → the job runs again (a recover event) after this
	// AckStateBytes and AckCheckpointedBytes are the sizes every ack reports
	// (its state_size and checkpointed_size, bytes); 0 reports none. They draw
	// nothing from the random source, so a seed gives the same run either way.
	AckStateBytes        int64
	AckCheckpointedBytes int64
	// RecordEffects writes each event's effects into the history too, so that
	// replay compares them (HISTORY.md); it makes the file several times larger.
	RecordEffects bool
}

// DefaultParams returns a run of the experiments' job with n regions: a
// checkpoint every second for 200 s, answers after 20 ms + Exp(30 ms), no
// declines or failures. Tolerable failures are unbounded so that the success
// rate measures checkpoints, not job restarts; set Config.TolerableFailures to
// see Flink's job-failure accounting at work.
func DefaultParams(n int) Params {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 1000
	cfg.TimeoutMs = 10000
	cfg.TolerableFailures = math.MaxInt32
	cfg.Regional.Enabled = true
	return Params{
		Seed:         1,
		Shape:        ParallelShape(n),
		Config:       cfg,
		DurationMs:   200_000,
		Ack:          Delay{Min: 20, Mean: 30},
		Restart:      Delay{Min: 2000, Mean: 1000},
		Persist:      Delay{Min: 10, Mean: 10},
		JobRestartMs: 5000,
	}
}

func (p *Params) validate() error {
	if err := p.Shape.validate(); err != nil {
		return err
	}
	if err := p.Config.Validate(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	prob := func(name string, v float64) error {
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("sim: %s %v, must be in [0, 1]", name, v)
		}
		return nil
	}
	delay := func(name string, d Delay) error {
		if d.Min < 0 || !(d.Mean >= 0 && d.Mean < 1e12) {
			return fmt.Errorf("sim: %s delay {%d, %v}: min and mean must be >= 0", name, d.Min, d.Mean)
		}
		return nil
	}
	for _, err := range []error{
		prob("decline probability", p.DeclineProb), prob("failure probability", p.FailProb),
		prob("persist failure probability", p.PersistFail),
		prob("decline plus failure probability", p.DeclineProb+p.FailProb),
		delay("ack", p.Ack), delay("restart", p.Restart), delay("persist", p.Persist),
	} {
		if err != nil {
			return err
		}
	}
	switch {
	case p.DurationMs < 0:
		return fmt.Errorf("sim: duration %d ms, must be >= 0", p.DurationMs)
	case p.JobRestartMs < 0:
		return fmt.Errorf("sim: job restart %d ms, must be >= 0", p.JobRestartMs)
	case p.Restore != nil && (p.Restore.Checkpoint < 1 || p.Restore.Checkpoint > 1<<30):
		return fmt.Errorf("sim: restore checkpoint %d, must be in [1, 2^30]", p.Restore.Checkpoint)
	case p.AckStateBytes < 0 || p.AckStateBytes > fsm.MaxSafeInt:
		return fmt.Errorf("sim: ack state size %d bytes, must be in [0, 2^53)", p.AckStateBytes)
	case p.AckCheckpointedBytes < 0 || p.AckCheckpointedBytes > fsm.MaxSafeInt:
		return fmt.Errorf("sim: ack checkpointed size %d bytes, must be in [0, 2^53)", p.AckCheckpointedBytes)
	case p.DeclineAs != "" && !fsm.ValidDeclineReason(p.DeclineAs):
		return fmt.Errorf("sim: %q is not a decline reason", p.DeclineAs)
	}
	return nil
}
