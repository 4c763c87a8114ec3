package fuzz

import (
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
	"pgregory.net/rapid"
)

// genJob draws a small job: 1–3 vertices of parallelism 1–3, each with no
// coordinator, a plain one or one that supports region fallback, and edges only
// from earlier to later vertices (a DAG), of either pattern and any exchange.
func genJob(t *rapid.T) fsm.JobSpec {
	if rapid.IntRange(0, 2).Draw(t, "parallel_pipelines?") == 0 {
		return genPipelines(t)
	}
	names := []string{"a", "b", "c"}
	n := rapid.IntRange(1, 3).Draw(t, "vertices")
	var spec fsm.JobSpec
	for i := 0; i < n; i++ {
		spec.Vertices = append(spec.Vertices, fsm.VertexSpec{
			ID:          names[i],
			Parallelism: rapid.IntRange(1, 3).Draw(t, "parallelism"),
			Coordinator: rapid.SampledFrom([]fsm.CoordinatorKind{fsm.CoordinatorNone, fsm.CoordinatorPlain,
				fsm.CoordinatorFallback, fsm.CoordinatorFallback}).Draw(t, "coordinator"),
		})
	}
	for to := 1; to < n; to++ {
		for from := 0; from < to; from++ {
			if !rapid.Bool().Draw(t, fmt.Sprintf("edge_%s_%s", names[from], names[to])) {
				continue
			}
			spec.Edges = append(spec.Edges, fsm.EdgeSpec{From: names[from], To: names[to],
				Pattern: rapid.SampledFrom([]fsm.Pattern{fsm.Pointwise, fsm.AllToAll}).Draw(t, "pattern"),
				// Pipelined twice as often: regional mode needs pipelined regions.
				Exchange: rapid.SampledFrom([]fsm.Exchange{fsm.Pipelined, fsm.Pipelined, fsm.Blocking,
					fsm.Hybrid}).Draw(t, "exchange"),
			})
		}
	}
	return spec
}

// genPipelines draws the shape regional checkpoints are for (R4): parallel
// pipelines src(p) -> sink(p), pointwise and pipelined, p regions of one
// source and one sink subtask each, with coordinators that mostly fall back.
func genPipelines(t *rapid.T) fsm.JobSpec {
	p := rapid.IntRange(2, 3).Draw(t, "pipelines")
	coord := func(label string) fsm.CoordinatorKind {
		return rapid.SampledFrom([]fsm.CoordinatorKind{fsm.CoordinatorNone, fsm.CoordinatorFallback,
			fsm.CoordinatorFallback, fsm.CoordinatorPlain}).Draw(t, label)
	}
	spec := fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: p, Coordinator: coord("src_coordinator")}}}
	if rapid.IntRange(0, 3).Draw(t, "with_sink?") > 0 {
		spec.Vertices = append(spec.Vertices, fsm.VertexSpec{ID: "sink", Parallelism: p, Coordinator: coord("sink_coordinator")})
		spec.Edges = []fsm.EdgeSpec{{From: "src", To: "sink", Pattern: fsm.Pointwise, Exchange: fsm.Pipelined}}
	}
	return spec
}

// genConfig draws a valid configuration with small times, so that deadlines
// and periodic requests come due within a few events. periodic = false keeps
// interval_ms at 0 (the differential model's scope).
func genConfig(t *rapid.T, periodic bool) fsm.Config {
	cfg := fsm.DefaultConfig()
	if periodic && rapid.Bool().Draw(t, "periodic") {
		cfg.IntervalMs = rapid.Int64Range(fsm.MinIntervalMs, 2000).Draw(t, "interval_ms")
	}
	cfg.TimeoutMs = rapid.Int64Range(fsm.MinTimeoutMs, 3000).Draw(t, "timeout_ms")
	cfg.MinPauseMs = rapid.SampledFrom([]int64{0, 0, 50, 500}).Draw(t, "min_pause_ms")
	cfg.MaxConcurrent = rapid.IntRange(1, 3).Draw(t, "max_concurrent")
	cfg.TolerableFailures = rapid.IntRange(0, 3).Draw(t, "tolerable_failures")
	cfg.Retained = rapid.IntRange(1, 3).Draw(t, "retained")
	cfg.Regional.Enabled = rapid.IntRange(0, 3).Draw(t, "regional") > 0 // mostly on
	// Ratios and counts that let the regional path pass more often than not:
	// the interesting histories (fallback refs, tier 1 and 2) start there.
	cfg.Regional.MaxFailureRatio = rapid.SampledFrom([]float64{0, 0.3, 0.5, 0.5, 1, 1}).Draw(t, "max_failure_ratio")
	cfg.Regional.MaxConsecutive = rapid.SampledFrom([]int{0, 1, 1, 2, 2, 3}).Draw(t, "max_consecutive")
	cfg.Regional.MaxRefAge = rapid.Int64Range(0, 4).Draw(t, "max_ref_age")
	cfg.MaxTimeoutMs = rapid.SampledFrom([]int64{0, 0, cfg.TimeoutMs, 2 * cfg.TimeoutMs}).Draw(t, "max_timeout_ms")
	return cfg
}

// genStart draws the start event: sometimes an initial delay, sometimes a
// restore (claim or no_claim) whose regions may reference older checkpoints.
func genStart(t *rapid.T, topo *fsm.Topology) fsm.Event {
	// Jobs start at 0 or later: a start time that is not 0 shows up in every
	// due time (R10, R11).
	ev := fsm.Event{At: rapid.SampledFrom([]int64{0, 0, 7, 1000, 123456}).Draw(t, "start_at"), Type: fsm.EvStart}
	if rapid.IntRange(0, 3).Draw(t, "initial_delay?") == 0 {
		ev.HasInitialDelay = true
		ev.InitialDelayMs = rapid.Int64Range(0, 2000).Draw(t, "initial_delay_ms")
	}
	// Half the jobs restore a snapshot: the regional path needs a completed
	// checkpoint to fall back to (R22d), and restores exercise R41.
	if rapid.Bool().Draw(t, "restore?") {
		id := rapid.Int64Range(1, 5).Draw(t, "restore.checkpoint")
		if rapid.IntRange(0, 9).Draw(t, "restore_near_bound?") == 0 {
			// A few ids below 2^53 - 1: the next triggers exhaust them (R14).
			id = fsm.MaxSafeInt - rapid.Int64Range(1, 3).Draw(t, "ids_left")
		}
		r := &fsm.Restore{Checkpoint: id,
			Mode: rapid.SampledFrom([]fsm.RestoreMode{fsm.Claim, fsm.NoClaim}).Draw(t, "restore.mode")}
		for reg := 0; reg < topo.NumRegions(); reg++ {
			if rapid.Bool().Draw(t, "restore.ref?") {
				r.Refs = append(r.Refs, fsm.RegionRef{Region: reg,
					Checkpoint: max(1, r.Checkpoint-rapid.Int64Range(0, 4).Draw(t, "restore.ref_age"))})
			}
		}
		ev.Restore = r
	}
	return ev
}
