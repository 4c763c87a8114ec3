package fuzz

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/invariants"
)

// fullCheckers are the explorer's checkers without Forget: the memory of the
// whole history.
type fullCheckers struct {
	inv   *invariants.Checker
	tim   *invariants.Timing
	rules ruleChecker
}

func (c *fullCheckers) step(ev fsm.Event, effs []fsm.Effect, s *fsm.State, b *before) []invariants.Violation {
	vs := c.inv.Step(ev, effs, s)
	vs = append(vs, c.tim.Step(ev, effs, s)...)
	return append(vs, c.rules.step(ev, effs, s, b)...)
}

func violationNames(vs []invariants.Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Invariant+": "+v.Detail)
	}
	return out
}

// TestForgetKeepsVerdicts proves the checker-memory reduction the explorer's
// nodes rely on (invariants.Checker.Forget, Timing.Forget): on every path of
// every pinned model (breadth first, deduplicated on the core state, both
// memories and the budget), the checkers with forgetting report exactly the
// violations of the checkers that remember the whole history, at every step.
// Two nodes whose reduced memories have equal keys therefore report the same
// violations on every continuation, as their full memories would: merging
// them loses no verdict. And at every node, a step that acts on an id the
// reduced memory has forgotten (completes, aborts or discards it again) is
// reported at least under every name the full memory reports it.
func TestForgetKeepsVerdicts(t *testing.T) {
	for _, m := range append(Models(TierCI), Models(TierTLC)...) {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			topo, err := fsm.NewTopology(m.Job)
			if err != nil {
				t.Fatal(err)
			}
			type entry struct {
				s    *fsm.State
				red  *checkers
				full *fullCheckers
				b    packedBudget
			}
			s, _ := fsm.New(topo, m.Config)
			red := newCheckers(topo, m.Config)
			full := &fullCheckers{invariants.New(topo, m.Config), invariants.NewTiming(topo, m.Config), ruleChecker{cfg: m.Config}}
			b0 := snapshotBefore(s)
			effs, err := s.Step(m.Start)
			if err != nil {
				t.Fatal(err)
			}
			red.step(m.Start, effs, s, &b0)
			full.step(m.Start, effs, s, &b0)
			key := func(e entry) string {
				k := e.s.AppendKey(nil)
				k = e.red.appendKey(k, nil)
				k = e.full.inv.AppendKey(k, nil)
				k = e.full.tim.AppendKey(k, nil)
				k = e.full.rules.appendKey(k)
				return string(k) + fmt.Sprint(e.b)
			}
			seen := map[string]bool{}
			frontier := []entry{{s, red, full, mustPack(t, m.Budget)}}
			steps, forgotten, probes := 0, 0, 0
			for len(frontier) > 0 && len(seen) < 6000 {
				var next []entry
				for _, e := range frontier {
					forgotten += probeForgotten(t, topo, e.s, e.red, e.full, &probes)
					for _, sc := range m.successors(topo, e.s, e.b) {
						ns := e.s.Clone()
						b := snapshotBefore(ns)
						effs, err := ns.Step(sc.ev)
						if err != nil {
							continue
						}
						nr, nf := e.red.clone(), &fullCheckers{e.full.inv.Clone(), e.full.tim.Clone(), e.full.rules}
						vr, vf := violationNames(nr.step(sc.ev, effs, ns, &b)), violationNames(nf.step(sc.ev, effs, ns, &b))
						steps++
						if !slices.Equal(vr, vf) {
							t.Fatalf("after %s the reduced memory reports %q, the full one %q", fsm.DescribeEvent(topo, sc.ev), vr, vf)
						}
						ne := entry{ns, nr, nf, sc.budget}
						if k := key(ne); !seen[k] {
							seen[k] = true
							next = append(next, ne)
						}
					}
				}
				frontier = next
			}
			if forgotten == 0 {
				t.Fatal("no memory was ever reduced: the property was not exercised")
			}
			t.Logf("%d steps compared over %d nodes; %d forgotten ids probed with %d bad steps", steps, len(seen), forgotten, probes)
		})
	}
}

// probeForgotten steps clones of both memories with effects that act on each
// id the reduced memory has forgotten — its completion, abort and discard —
// and checks that the reduced memory reports each under every name the full
// one does. It returns the number of forgotten ids.
func probeForgotten(t *testing.T, topo *fsm.Topology, s *fsm.State, red *checkers, full *fullCheckers, probes *int) int {
	t.Helper()
	n := 0
	for id := int64(1); id < s.NextID(); id++ {
		if !red.inv.Forgotten(id) {
			continue
		}
		n++
		at := s.Now()
		for _, bad := range []struct {
			ev  fsm.Event
			eff fsm.Effect
		}{
			{fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: id},
				fsm.Effect{Type: fsm.EffCompleted, Checkpoint: id, Kind: fsm.KindCheckpoint, Mode: fsm.ModeGlobal}},
			{fsm.Event{At: at, Type: fsm.EvTick}, fsm.Effect{Type: fsm.EffAbort, Checkpoint: id, Reason: fsm.ReasonExpired}},
			{fsm.Event{At: at, Type: fsm.EvTick}, fsm.Effect{Type: fsm.EffDiscard, Checkpoint: id}},
		} {
			*probes++
			r, f := red.inv.Clone(), full.inv.Clone()
			have := map[string]bool{}
			for _, v := range r.Step(bad.ev, []fsm.Effect{bad.eff}, s) {
				have[v.Invariant] = true
			}
			for _, v := range f.Step(bad.ev, []fsm.Effect{bad.eff}, s) {
				if !have[v.Invariant] {
					t.Fatalf("%s of forgotten id %d: the full memory reports %s (%s), the reduced one does not",
						bad.eff.Type, id, v.Invariant, v.Detail)
				}
			}
		}
	}
	return n
}
