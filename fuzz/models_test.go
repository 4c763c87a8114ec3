package fuzz

import "github.com/ckptcore/ckptcore/fsm"

// The bounded models the explorer runs. Each is small enough to explore
// completely in CI; largeModels are for `make explore`.

// twoRegions is one vertex of parallelism 2 without edges: two regions of one
// subtask each, the smallest job that qualifies for regional mode (R4).
func twoRegions(coord fsm.CoordinatorKind) fsm.JobSpec {
	return fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2, Coordinator: coord}}}
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

// patchTimeout halves the timeout: deadlines move at once (R61).
var patchTimeout = fsm.Event{Type: fsm.EvConfigPatch, HasTimeout: true, TimeoutMs: 50}

// ciModels are explored completely by TestExplore; their node counts are pinned.
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
			Name: "regional-2x1",
			Job:  twoRegions(fsm.CoordinatorFallback),
			Config: baseConfig(func(c *fsm.Config) {
				c.Regional.Enabled, c.Regional.MaxFailureRatio, c.Regional.MaxConsecutive = true, 0.5, 1
			}),
			Start:  fsm.Event{Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1, Mode: fsm.Claim}},
			Budget: Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, Recovers: 1, Patches: 1, Advances: 1},
			Patch:  patchTimeout,
		},
		{
			Name: "regional-finish-2x1",
			Job:  twoRegions(fsm.CoordinatorFallback),
			Config: baseConfig(func(c *fsm.Config) {
				c.Regional.Enabled, c.Regional.MaxFailureRatio, c.Regional.MaxConsecutive = true, 0.5, 2
				c.MaxConcurrent, c.Retained = 2, 2
			}),
			Start:  fsm.Event{Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1, Mode: fsm.NoClaim}},
			Budget: Budget{Checkpoints: 2, Savepoints: 1, Declines: 1, TaskFinishes: 1, Advances: 1},
		},
	}
}

// largeModels are explored by TestExploreLarge (CKPT_EXPLORE_LARGE=1).
func largeModels() []Model {
	return []Model{
		{
			Name: "regional-2x2",
			Job:  pipeline2x2(),
			Config: baseConfig(func(c *fsm.Config) {
				c.Regional.Enabled, c.Regional.MaxFailureRatio, c.Regional.MaxConsecutive = true, 0.5, 1
				c.MaxConcurrent, c.TolerableFailures = 2, 1
			}),
			Start: fsm.Event{Type: fsm.EvStart},
			Budget: Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, Recovers: 1, Patches: 1,
				PersistFailures: 1, Advances: 2},
			Patch: patchTimeout,
		},
		{
			Name: "regional-3x1",
			Job:  fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 3, Coordinator: fsm.CoordinatorFallback}}},
			Config: baseConfig(func(c *fsm.Config) {
				c.Regional.Enabled, c.Regional.MaxFailureRatio, c.Regional.MaxConsecutive = true, 0.5, 1
				c.MaxConcurrent = 2
			}),
			Start: fsm.Event{Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1, Mode: fsm.Claim}},
			Budget: Budget{Checkpoints: 3, Declines: 1, TaskFailures: 1, Recovers: 1, Patches: 1,
				TaskFinishes: 1, Advances: 2},
			Patch: patchTimeout,
		},
	}
}
