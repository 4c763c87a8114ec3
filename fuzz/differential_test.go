package fuzz

// The differential check: the core against refmodel, a naive model written from
// SEMANTICS.md alone (see its package comment for its scope).
//
// What it covers. Jobs and configurations as the main property draws them,
// except interval_ms = 0 throughout (no periodic requests; config patches never
// turn them on), so time matters only through deadlines: expiry (R10, R17,
// R18) and re-deadlining by timeout patches (R61). Every other event type is
// drawn as in TestCore: manual triggers of every kind, acks and declines of
// pending or random ids, task failures, restarts and finishes, persist outcomes,
// valid and invalid patches, confirmations and coordinator recovery, and starts
// with claim or no_claim restores.
//
// What it compares, after every step: triggered ids with kind and forcing,
// reasons of requests that got no id, completions with mode and every region's
// reference, aborts with reason and whether counted (as a set per step: the
// order of aborts inside one step is not part of the rules compared), discards
// (likewise), acknowledged and refused patch requests, then the state: job
// status, retained ids, pending ids and which are persisting, next id,
// consecutive_regional, the failure count and the configuration in force.

import (
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz/refmodel"
	"pgregory.net/rapid"
)

// snapshot is the observable state compared after each step.
type snapshot struct {
	Job         string
	Retained    []int64
	Pending     []int64
	Persisting  []bool
	NextID      int64
	Consecutive int
	Failures    int
	Interval    int64
	Timeout     int64
	Overrides   bool
}

func (m *machine) snap() snapshot {
	s := snapshot{Job: m.s.Job().String(), Retained: m.s.Retained(), NextID: m.s.NextID(),
		Consecutive: m.s.Consecutive(), Failures: m.s.Failures()}
	for _, p := range m.s.Pending() {
		s.Pending = append(s.Pending, p.ID)
		s.Persisting = append(s.Persisting, p.Persisting)
	}
	e := m.s.Effective()
	s.Interval, s.Timeout, s.Overrides = e.IntervalMs, e.TimeoutMs, e.OverridesActive
	return s
}

func refSnap(r *refmodel.Model) snapshot {
	s := snapshot{Job: r.Job(), Retained: r.Retained(), NextID: r.NextID(), Consecutive: r.Consecutive(),
		Failures: r.Failures()}
	s.Pending, s.Persisting = r.Pending()
	s.Interval, s.Timeout, s.Overrides = r.Effective()
	return s
}

// coreOutcome reads the core's effects as the model's Outcome.
func coreOutcome(topo *fsm.Topology, effs []fsm.Effect) refmodel.Outcome {
	var o refmodel.Outcome
	for _, e := range effs {
		switch e.Type {
		case fsm.EffTrigger:
			o.Triggered = append(o.Triggered, refmodel.Triggered{ID: e.Checkpoint, Kind: e.Kind, Forced: e.ForcedGlobal})
		case fsm.EffTriggerFailed:
			o.TriggerFailed = append(o.TriggerFailed, string(e.Reason))
		case fsm.EffCompleted:
			refs := make([]int64, topo.NumRegions())
			for r := range refs {
				refs[r] = e.RefOf(r)
			}
			o.Completed = append(o.Completed, refmodel.Completed{ID: e.Checkpoint, Kind: e.Kind,
				Regional: e.Mode == fsm.ModeRegional, Refs: refs})
		case fsm.EffAbort:
			o.Aborted = append(o.Aborted, refmodel.Aborted{ID: e.Checkpoint, Reason: string(e.Reason), Counted: e.Counted})
		case fsm.EffDiscard:
			o.Discarded = append(o.Discarded, e.Checkpoint)
		case fsm.EffConfigApplied:
			o.PatchesApplied = append(o.PatchesApplied, e.Request)
		case fsm.EffConfigRejected:
			o.PatchesRefused = append(o.PatchesRefused, e.Request)
		}
	}
	return o
}

// canonical sorts the parts of an outcome whose order inside one step the
// comparison ignores.
func canonical(o refmodel.Outcome) refmodel.Outcome {
	o.Aborted = slices.Clone(o.Aborted)
	sort.Slice(o.Aborted, func(a, b int) bool { return o.Aborted[a].ID < o.Aborted[b].ID })
	o.Discarded = slices.Clone(o.Discarded)
	slices.Sort(o.Discarded)
	return o
}

// compare steps the model with the event the core just accepted and fails on
// the first difference.
func (m *machine) compare(t *rapid.T, ev fsm.Event, effs []fsm.Effect, before snapshot) {
	t.Helper()
	want, err := m.ref.Step(ev)
	if err != nil {
		m.fail(t, "harness", "refmodel: %v", err)
	}
	got := coreOutcome(m.topo, effs)
	if g, w := fmt.Sprintf("%+v", canonical(got)), fmt.Sprintf("%+v", canonical(want)); g != w {
		m.fail(t, "differential", "%s: outcomes differ\ncore:     %s\nrefmodel: %s\nbefore:   %+v",
			fsm.DescribeEvent(m.topo, ev), g, w, before)
	}
	if g, w := fmt.Sprintf("%+v", m.snap()), fmt.Sprintf("%+v", refSnap(m.ref)); g != w {
		m.fail(t, "differential", "%s: states differ\ncore:     %s\nrefmodel: %s", fsm.DescribeEvent(m.topo, ev), g, w)
	}
}

// TestDifferential compares the core with the reference model on every step of
// rapid-drawn histories within the model's scope.
func TestDifferential(t *testing.T) {
	runProperty(t, machineOptions{differential: true})
}

// TestDifferentialRegions compares the model's own reading of R2–R4 (every
// edge pair enumerated) with the core's topology on drawn jobs with larger
// parallelism, where pointwise arithmetic has more cases.
func TestDifferentialRegions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		spec := genJob(t)
		for i := range spec.Vertices {
			spec.Vertices[i].Parallelism = rapid.IntRange(1, 7).Draw(t, "parallelism")
		}
		topo, err := fsm.NewTopology(spec)
		if err != nil {
			t.Fatal(err)
		}
		cfg := fsm.DefaultConfig()
		cfg.Regional.Enabled = true
		ref, err := refmodel.New(spec, cfg, refmodel.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := fsm.New(topo, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if topo.NumRegions() != ref.Regions() || s.RegionalMode() != ref.RegionalMode() {
			t.Fatalf("core: %d regions, regional %t; refmodel: %d regions, regional %t",
				topo.NumRegions(), s.RegionalMode(), ref.Regions(), ref.RegionalMode())
		}
		for id := 0; id < topo.NumSubtasks(); id++ {
			if got, want := topo.RegionOf(fsm.TaskID(id)), ref.RegionOf(id); got != want {
				t.Fatalf("%s: core region r%d, refmodel r%d", topo.TaskName(fsm.TaskID(id)), got, want)
			}
		}
	})
}
