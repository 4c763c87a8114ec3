package fuzz

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// walk is a plain breadth-first search over (state, checker, budget) without
// symmetry or time reduction, deduplicated on the exact encodings; visit sees
// every new node and every node that meets an earlier one (first is then the
// earlier node's state).
func walk(t *testing.T, m Model, limit int, visit func(s, first *fsm.State, chk *checkers, b packedBudget)) {
	t.Helper()
	topo, err := fsm.NewTopology(m.Job)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := fsm.New(topo, m.Config)
	chk := newCheckers(topo, m.Config)
	if cx := m.stepChecked(s, chk, m.Start, &Options{}); cx != nil {
		t.Fatal(cx.Detail)
	}
	type entry struct {
		s   *fsm.State
		chk *checkers
		b   packedBudget
	}
	exact := func(e entry) string {
		k := e.s.AppendKey(nil)
		k = e.chk.appendKey(k, nil)
		return string(k) + fmt.Sprint(e.b)
	}
	seen := map[string]*fsm.State{}
	frontier := []entry{{s, chk, mustPack(t, m.Budget)}}
	seen[exact(frontier[0])] = s
	visit(s, nil, chk, frontier[0].b)
	for len(frontier) > 0 && len(seen) < limit {
		var next []entry
		for _, e := range frontier {
			for _, sc := range m.successors(topo, e.s, e.b) {
				cs, cchk := e.s.Clone(), e.chk.clone()
				if cx := m.stepChecked(cs, cchk, sc.ev, &Options{Ignore: ignoreKnownIssues}); cx != nil && cx.Invariant == "refused" {
					continue
				}
				ne := entry{cs, cchk, sc.budget}
				k := exact(ne)
				if first, ok := seen[k]; ok {
					visit(cs, first, cchk, sc.budget)
					continue
				}
				seen[k] = cs
				visit(cs, nil, cchk, sc.budget)
				next = append(next, ne)
			}
		}
		frontier = next
	}
}

// successor is a move the budget allows, as the tests' own searches take it:
// its event and the budget left after it.
type successor struct {
	ev     fsm.Event
	budget packedBudget
}

// successors lists the events tried from a state with the remaining budget b,
// in the explorer's order.
func (m *Model) successors(topo *fsm.Topology, s *fsm.State, b packedBudget) []successor {
	var out []successor
	c, err := m.Budget.codec()
	if err != nil {
		panic(err) // the tests' models are valid
	}
	for _, mv := range m.moves(topo, s) {
		if nb, req, ok := c.allows(&mv, b, m.Budget.Patches); ok {
			out = append(out, successor{m.event(&mv, s.Now(), req), nb})
		}
	}
	return out
}

// mustPack packs a model's budget for the tests' own searches.
func mustPack(t *testing.T, b Budget) packedBudget {
	t.Helper()
	c, err := b.codec()
	if err != nil {
		t.Fatal(err)
	}
	return c.pack(b)
}

// nodeKey is a node's canonical key in the tests' plain searches: a hash of
// its canonical pair key (keyBuf.pairKey) and its budget.
func nodeKey(pair Key, b packedBudget) Key {
	buf := binary.LittleEndian.AppendUint64(nil, pair[0])
	buf = binary.LittleEndian.AppendUint64(buf, pair[1])
	return Hash128(binary.LittleEndian.AppendUint64(buf, uint64(b)))
}

// TestEqualKeysBehaveAlike: whenever two paths of a model reach states with
// equal keys (fsm's AppendKey), both states answer every next event of the
// model alike: the same error, the same effects, and again equal keys. By
// induction over the events, equal keys mean equal futures in the model; this
// is what lets the explorer keep one state per key.
func TestEqualKeysBehaveAlike(t *testing.T) {
	for _, m := range ciModels() {
		t.Run(m.Name, func(t *testing.T) {
			topo, _ := fsm.NewTopology(m.Job)
			meetings := 0
			walk(t, m, 4000, func(s, first *fsm.State, _ *checkers, b packedBudget) {
				if first == nil || s == first {
					return
				}
				if !s.Equal(first) {
					return // the checker or the budget told the nodes apart
				}
				meetings++
				for _, sc := range m.successors(topo, first, b) {
					a, c := first.Clone(), s.Clone()
					ea, erra := a.Step(sc.ev)
					ec, errc := c.Step(sc.ev)
					if fmt.Sprint(erra) != fmt.Sprint(errc) || describe(topo, ea) != describe(topo, ec) || !a.Equal(c) {
						t.Fatalf("two states with equal keys answer %s differently:\n%s (%v)\n%s (%v)",
							fsm.DescribeEvent(topo, sc.ev), describe(topo, ea), erra, describe(topo, ec), errc)
					}
				}
			})
			if meetings == 0 {
				t.Fatal("no two paths met in one state: the property was not exercised")
			}
			t.Logf("%d meetings checked", meetings)
		})
	}
}

func describe(topo *fsm.Topology, effs []fsm.Effect) string {
	var b strings.Builder
	for _, e := range effs {
		b.WriteString(fsm.DescribeEffect(topo, e))
		b.WriteByte('\n')
	}
	return b.String()
}

// TestReductionIsExact: the explorer's node count with time shifting and
// symmetry equals the number of distinct canonical keys among the nodes of a
// plain search without either, so the reduction merges only nodes the
// canonical form says are alike and loses none; with symmetry the count is
// smaller.
func TestReductionIsExact(t *testing.T) {
	m := ciModels()[1] // regional-2x1: two interchangeable regions
	topo, _ := fsm.NewTopology(m.Job)
	syms := topo.Symmetries(0)
	canon := map[Key]bool{}
	var kb keyBuf
	walk(t, m, 1<<30, func(s, first *fsm.State, chk *checkers, b packedBudget) {
		if first == nil {
			k, _ := kb.pairKey(s, chk, syms)
			canon[nodeKey(k, b)] = true
		}
	})
	res := Explore(m, Options{Symmetry: true, Workers: 2, Ignore: ignoreKnownIssues})
	if res.Violation != nil || !res.Complete {
		t.Fatalf("exploration: %+v", res.Violation)
	}
	if res.Nodes != len(canon) {
		t.Fatalf("explorer with symmetry: %d nodes; the plain search reaches %d canonical classes", res.Nodes, len(canon))
	}
	plain := Explore(m, Options{Workers: 1, Ignore: ignoreKnownIssues})
	if plain.Nodes <= res.Nodes {
		t.Fatalf("symmetry reduced nothing: %d nodes with, %d without", res.Nodes, plain.Nodes)
	}
	t.Logf("%s: %d nodes without symmetry, %d with (factor %.2f, group %d)", m.Name, plain.Nodes, res.Nodes,
		float64(plain.Nodes)/float64(res.Nodes), res.Group)
}

// TestWorkersAgree: counts do not depend on the number of workers.
func TestWorkersAgree(t *testing.T) {
	m := ciModels()[0]
	one := Explore(m, Options{Workers: 1, Ignore: ignoreKnownIssues})
	for _, w := range []int{2, 3} {
		r := Explore(m, Options{Workers: w, Ignore: ignoreKnownIssues})
		if r.Nodes != one.Nodes || r.CoreStates != one.CoreStates || r.Transitions != one.Transitions || r.Depth != one.Depth {
			t.Fatalf("%d workers: %d/%d/%d/%d, one worker %d/%d/%d/%d", w, r.Nodes, r.CoreStates, r.Transitions, r.Depth,
				one.Nodes, one.CoreStates, one.Transitions, one.Depth)
		}
	}
}
