package fuzz

import (
	"fmt"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// The bounded models the explorer runs. Tier "ci" is explored completely by
// TestExplore with pinned counts (fuzz/explore_test.go); tier "large" by
// `make explore`. Together the CI models cover every rule family issue 17
// names: stop-with-savepoint (R24), periodic triggers and the decider (R11,
// R12), max_concurrent 2, plain coordinators (R22e), max_ref_age (R22f),
// config patches (R60–R63), recover (R50) and finishing sources (R25).

// ModelTier names a set of models.
type ModelTier string

// Model tiers.
const (
	TierCI    ModelTier = "ci"
	TierLarge ModelTier = "large"
	// TierTLC is the model `make explore-vs-tlc` runs here and in TLC
	// (tla/MCExploreCompare.cfg).
	TierTLC ModelTier = "tlc"
)

// Models returns the models of a tier, in a fixed order.
func Models(tier ModelTier) []Model {
	switch tier {
	case TierCI:
		return ciModels()
	case TierLarge:
		return largeModels()
	case TierTLC:
		return tlcModels()
	}
	return nil
}

// ModelByName finds a model of any tier by name.
func ModelByName(name string) (Model, error) {
	var names []string
	for _, tier := range []ModelTier{TierCI, TierLarge, TierTLC} {
		for _, m := range Models(tier) {
			if m.Name == name {
				return m, nil
			}
			names = append(names, m.Name)
		}
	}
	return Model{}, fmt.Errorf("explore: no model %q (models: %s)", name, strings.Join(names, ", "))
}

// twoRegions is one vertex of parallelism 2 without edges: two regions of one
// subtask each, the smallest job that qualifies for regional mode (R4).
func twoRegions(coord fsm.CoordinatorKind) fsm.JobSpec {
	return fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2, Coordinator: coord}}}
}

// threeRegions is one vertex of parallelism 3: three interchangeable regions.
func threeRegions() fsm.JobSpec {
	return fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 3, Coordinator: fsm.CoordinatorFallback}}}
}

// mixedCoordinators is two one-subtask sources, one with a coordinator that
// supports region fallback and one with a plain coordinator (R22e): two
// regions of different shapes.
func mixedCoordinators() fsm.JobSpec {
	return fsm.JobSpec{Vertices: []fsm.VertexSpec{
		{ID: "f", Parallelism: 1, Coordinator: fsm.CoordinatorFallback},
		{ID: "p", Parallelism: 1, Coordinator: fsm.CoordinatorPlain}}}
}

// sourcesAndSink is a source feeding a sink plus a second, lone source: two
// regions, {a, b} and {c}. When both sources finish the sink still runs, so
// the job goes on with every source finished (R25's last sentence).
func sourcesAndSink() fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 1, Coordinator: fsm.CoordinatorFallback}, {ID: "b", Parallelism: 1},
			{ID: "c", Parallelism: 1, Coordinator: fsm.CoordinatorFallback}},
		Edges: []fsm.EdgeSpec{{From: "a", To: "b"}},
	}
}

// pipeline2x2 is src(2) -> sink(2), pointwise and pipelined: two regions of
// two subtasks, each with a source.
func pipeline2x2() fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2, Coordinator: fsm.CoordinatorFallback}, {ID: "sink", Parallelism: 2}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	}
}

func baseConfig(edit func(*fsm.Config)) fsm.Config {
	c := fsm.DefaultConfig()
	c.TimeoutMs = 100
	edit(&c)
	return c
}

func regional(c *fsm.Config, ratio float64, maxConsecutive int) {
	c.Regional.Enabled, c.Regional.MaxFailureRatio, c.Regional.MaxConsecutive = true, ratio, maxConsecutive
}

// patchTimeout halves the timeout: deadlines move at once (R61).
var patchTimeout = fsm.Event{Type: fsm.EvConfigPatch, HasTimeout: true, TimeoutMs: 50}

// patchBoth shortens the interval (R62) and the timeout (R61) in one patch.
var patchBoth = fsm.Event{Type: fsm.EvConfigPatch, HasInterval: true, IntervalMs: 60, HasTimeout: true, TimeoutMs: 50}

// periodic starts periodic triggering at once: interval 100, timeout 150,
// min_pause 20, first request at the start (initial delay 0 is refused, so 10).
func periodic(c *fsm.Config) {
	c.IntervalMs, c.TimeoutMs, c.MinPauseMs = 100, 150, 20
}

var restoreClaim = &fsm.Restore{Checkpoint: 1, Mode: fsm.Claim}

func ciModels() []Model {
	return []Model{
		{
			Name:   "global-2x1",
			Job:    twoRegions(fsm.CoordinatorNone),
			Config: baseConfig(func(c *fsm.Config) { c.MaxConcurrent = 2; c.TolerableFailures = 1 }),
			Start:  fsm.Event{Type: fsm.EvStart},
			Budget: Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, Recovers: 1, Patches: 1,
				PersistFailures: 1, Advances: 2},
			Patch: patchTimeout,
		},
		{
			Name:   "regional-2x1",
			Job:    twoRegions(fsm.CoordinatorFallback),
			Config: baseConfig(func(c *fsm.Config) { regional(c, 0.5, 1) }),
			Start:  fsm.Event{Type: fsm.EvStart, Restore: restoreClaim},
			Budget: Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, Recovers: 1, Patches: 1, Advances: 1},
			Patch:  patchTimeout,
		},
		{
			Name: "regional-finish-2x1",
			Job:  twoRegions(fsm.CoordinatorFallback),
			Config: baseConfig(func(c *fsm.Config) {
				regional(c, 0.5, 2)
				c.MaxConcurrent, c.Retained = 2, 2
			}),
			Start:  fsm.Event{Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1, Mode: fsm.NoClaim}},
			Budget: Budget{Checkpoints: 2, Savepoints: 1, Declines: 1, TaskFinishes: 1, Advances: 1},
		},
		{
			// Periodic triggers with the decider's queue (R11, R12), a
			// stop-with-savepoint (R24), finishing sources (R25), max_ref_age
			// (R22f), an interval-and-timeout patch (R61, R62) and recover.
			Name: "periodic-2x1",
			Job:  twoRegions(fsm.CoordinatorFallback),
			Config: baseConfig(func(c *fsm.Config) {
				periodic(c)
				regional(c, 0.5, 2)
				c.Regional.MaxRefAge = 1
			}),
			Start:  fsm.Event{Type: fsm.EvStart, Restore: restoreClaim, HasInitialDelay: true, InitialDelayMs: 10},
			Budget: Budget{StopSavepoints: 1, Declines: 1, TaskFinishes: 2, Recovers: 1, Patches: 1, Advances: 3},
			Patch:  patchBoth,
		},
		{
			// A plain coordinator next to a fallback one (R22e), max_concurrent
			// 2, a persist failure and a timeout patch.
			Name: "plain-2x1",
			Job:  mixedCoordinators(),
			Config: baseConfig(func(c *fsm.Config) {
				regional(c, 0.5, 1)
				c.MaxConcurrent, c.TolerableFailures = 2, 1
			}),
			Start: fsm.Event{Type: fsm.EvStart, Restore: restoreClaim},
			Budget: Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, PersistFailures: 1, Patches: 1,
				Advances: 1},
			Patch: patchTimeout,
		},
		{
			// Every source finishes while the sink runs on (R25: the next
			// checkpoint is forced global), with declines and a recover.
			Name: "sources-finish-3",
			Job:  sourcesAndSink(),
			Config: baseConfig(func(c *fsm.Config) {
				regional(c, 0.5, 2)
			}),
			Start:  fsm.Event{Type: fsm.EvStart, Restore: restoreClaim},
			Budget: Budget{Checkpoints: 2, Declines: 1, TaskFinishes: 2, Recovers: 1, Advances: 1},
		},
	}
}

func largeModels() []Model {
	return []Model{
		{
			Name: "regional-2x2",
			Job:  pipeline2x2(),
			Config: baseConfig(func(c *fsm.Config) {
				periodic(c)
				regional(c, 0.5, 1)
				c.MaxConcurrent, c.TolerableFailures, c.Regional.MaxRefAge = 2, 1, 2
			}),
			Start:  fsm.Event{Type: fsm.EvStart, Restore: restoreClaim, HasInitialDelay: true, InitialDelayMs: 10},
			Budget: Budget{StopSavepoints: 1, Declines: 1, TaskFinishes: 2, Recovers: 1, Patches: 1, Advances: 2},
			Patch:  patchBoth,
		},
		{
			Name: "regional-3x1",
			Job:  threeRegions(),
			Config: baseConfig(func(c *fsm.Config) {
				periodic(c)
				regional(c, 0.5, 1)
				c.MaxConcurrent, c.Regional.MaxRefAge = 2, 2
			}),
			Start: fsm.Event{Type: fsm.EvStart, Restore: restoreClaim, HasInitialDelay: true, InitialDelayMs: 10},
			Budget: Budget{StopSavepoints: 1, Declines: 1, TaskFailures: 1, TaskFinishes: 1, Recovers: 1, Patches: 1,
				Advances: 2},
			Patch: patchBoth,
		},
	}
}

// tlcModels is the model of tla/MCExploreCompare.cfg: two symmetric regions,
// a fresh start, ids 1..4 (four triggers), one checkpoint at a time, retained
// 1, max_consecutive 1, max_failure_ratio 1/2, tolerable 0, no patches. TLC
// bounds only the ids and lets faults repeat, and so does this model
// (Unbounded faults); time is bounded by three ticks to the next due instant.
func tlcModels() []Model {
	return []Model{{
		Name:   "tlc-2x1",
		Job:    twoRegions(fsm.CoordinatorFallback),
		Config: baseConfig(func(c *fsm.Config) { regional(c, 0.5, 1) }),
		Start:  fsm.Event{Type: fsm.EvStart},
		Budget: Budget{Checkpoints: 4, Declines: Unbounded, TaskFailures: Unbounded, PersistFailures: Unbounded,
			Recovers: Unbounded, Advances: 3},
	}}
}
