package fuzz

// The differential check: the core against refmodel, a naive model written from
// SEMANTICS.md alone (see its package comment for its scope: the whole spec).
//
// What it covers. Every job, configuration and event the state-machine
// property draws (machine_test.go), periodic checkpoints and interval patches
// included.
//
// What it compares, after every step: the whole effect stream, each effect
// with the fields HISTORY.md names for its type (refmodel.FromCore), grouped
// by type in the order each type's effects were emitted — aborts, their
// notices and discards as sets per step, since the order of several aborts
// inside one step is not part of the rules (the cross-type orders the rules do
// fix, such as coordinator_fallback before persist, are checked by the
// invariants) — then the state: job status, retained ids, pending ids and
// which are persisting, next id, consecutive_regional and forcing, the failure
// count, the configuration in force and the next due time (R10–R12).
// Differences are reported with go-cmp and name the rule of the first effect
// type or state field that differs.

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz/refmodel"
	"github.com/google/go-cmp/cmp"
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
	ForceNext   bool
	Failures    int
	Interval    int64
	Timeout     int64
	Overrides   bool
	Due         int64
	DueSet      bool
}

// snapshotRules names the rule behind each snapshot field, for messages.
var snapshotRules = map[string]string{"Job": "R24", "Retained": "R40", "Pending": "R18", "Persisting": "R23",
	"NextID": "R14", "Consecutive": "R25", "ForceNext": "R25", "Failures": "R30", "Interval": "R63",
	"Timeout": "R63", "Overrides": "R63", "Due": "R10", "DueSet": "R11"}

func (m *machine) snap() snapshot {
	s := snapshot{Job: m.s.Job().String(), Retained: m.s.Retained(), NextID: m.s.NextID(),
		Consecutive: m.s.Consecutive(), ForceNext: m.s.AllSourcesForcing(), Failures: m.s.Failures()}
	for _, p := range m.s.Pending() {
		s.Pending = append(s.Pending, p.ID)
		s.Persisting = append(s.Persisting, p.Persisting)
	}
	e := m.s.Effective()
	s.Interval, s.Timeout, s.Overrides = e.IntervalMs, e.TimeoutMs, e.OverridesActive
	if due, ok := m.s.NextDeadline(); ok {
		s.Due, s.DueSet = due, true
	}
	return s
}

func refSnap(r *refmodel.Model) snapshot {
	s := snapshot{Job: r.Job(), Retained: r.Retained(), NextID: r.NextID(), Consecutive: r.Consecutive(),
		ForceNext: r.ForceNext(), Failures: r.Failures()}
	s.Pending, s.Persisting = r.Pending()
	s.Interval, s.Timeout, s.Overrides = r.Effective()
	s.Due, s.DueSet = r.NextDue()
	return s
}

// effectOrder lists the effect types in the order differences are reported.
var effectOrder = []string{refmodel.EffTrigger, refmodel.EffTriggerFailed, refmodel.EffRegionSkipped,
	refmodel.EffDiscardLateState, refmodel.EffCoordinatorFallback, refmodel.EffPersist, refmodel.EffCompleted,
	refmodel.EffNotifyComplete, refmodel.EffAbort, refmodel.EffNotifyAborted, refmodel.EffDiscard,
	refmodel.EffWarn, refmodel.EffFailJob, refmodel.EffFinishJob, refmodel.EffPersistOverrides,
	refmodel.EffConfigApplied, refmodel.EffConfigRejected, refmodel.EffPersistIDCounter}

// grouped sorts one step's effects by type; aborts, their notices and
// discards are sorted by checkpoint (their order inside a step is free).
func grouped(effs []refmodel.Effect) map[string][]refmodel.Effect {
	g := map[string][]refmodel.Effect{}
	for _, e := range effs {
		g[e.Type] = append(g[e.Type], e)
	}
	for _, typ := range []string{refmodel.EffAbort, refmodel.EffNotifyAborted, refmodel.EffDiscard} {
		sort.SliceStable(g[typ], func(a, b int) bool { return g[typ][a].Checkpoint < g[typ][b].Checkpoint })
	}
	return g
}

func coreEffects(effs []fsm.Effect) []refmodel.Effect {
	out := make([]refmodel.Effect, len(effs))
	for i, e := range effs {
		out[i] = refmodel.FromCore(e)
	}
	return out
}

// diffStep compares one step of the core with the model's: it returns the
// rule of the first difference ("" if none) and a go-cmp diff (-core +model).
func diffStep(core []fsm.Effect, model []refmodel.Effect, got, want snapshot) (string, string) {
	g, w := grouped(coreEffects(core)), grouped(model)
	for _, typ := range effectOrder {
		if d := cmp.Diff(g[typ], w[typ]); d != "" {
			return refmodel.Rule(typ), fmt.Sprintf("%s effects differ (-core +refmodel):\n%s", typ, d)
		}
	}
	for typ := range g {
		if !slices.Contains(effectOrder, typ) {
			return "R10", fmt.Sprintf("the core emitted %d %s effects the comparison does not know", len(g[typ]), typ)
		}
	}
	if d := cmp.Diff(got, want); d != "" {
		rule, gv, wv := "R10", reflect.ValueOf(got), reflect.ValueOf(want)
		for i := 0; i < gv.NumField(); i++ {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				rule = snapshotRules[gv.Type().Field(i).Name]
				break
			}
		}
		return rule, "states differ (-core +refmodel):\n" + d
	}
	return "", ""
}

// compare steps the model with the event the core just accepted and fails on
// the first difference, naming its rule.
func (m *machine) compare(t *rapid.T, ev fsm.Event, effs []fsm.Effect, before snapshot) {
	t.Helper()
	want, err := m.ref.Step(ev)
	if err != nil {
		m.fail(t, "harness", "refmodel: %v", err)
	}
	if rule, d := diffStep(effs, want, m.snap(), refSnap(m.ref)); rule != "" {
		m.fail(t, "refmodel/"+rule, "%s: %s\nstate before: %+v", fsm.DescribeEvent(m.topo, ev), d, before)
	}
}

// TestDifferential compares the core with the reference model on every step of
// rapid-drawn histories.
//
// It runs differentialChecks histories of up to differentialSteps actions (many
// of them sequences: deep_test.go) and fails when the run misses one of the
// deep states of coverage_test.go; go test -v prints how often each was
// reached.
func TestDifferential(t *testing.T) {
	withRapid(t, differentialChecks, differentialSteps)
	cov := newCoverage()
	runProperty(t, machineOptions{differential: true, cov: cov})
	t.Log(cov)
	if miss := cov.missing(); len(miss) > 0 && cov.runs >= differentialChecks && !t.Failed() {
		t.Errorf("%d runs never reached %v: strengthen the generators (deep_test.go)", cov.runs, miss)
	}
}

// The CI size of TestDifferential (issue 12 §2: enough to reach every deep
// state on every run; README "How it is checked").
const (
	differentialChecks = 1500
	differentialSteps  = 80
)

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
		checkTopologyAgrees(t, spec, topo)
	})
}
