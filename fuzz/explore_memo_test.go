package fuzz

import (
	"bytes"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestMemoPathsAreAbsolute: the memo shares steps between states that differ
// by a shift of the clock, and a node's path is read back from the memoized
// events plus each node's shift. For every node of a breadth-first search over
// the memo (each model's first few thousand nodes), replaying its path from
// the start reaches a state whose clock is the node's representative's plus
// its shift and whose time-relative key is the representative's.
func TestMemoPathsAreAbsolute(t *testing.T) {
	for _, m := range append(Models(TierCI), Models(TierTLC)...) {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			topo, _ := fsm.NewTopology(m.Job)
			s, _ := fsm.New(topo, m.Config)
			chk := newCheckers(topo, m.Config)
			opt := &Options{Ignore: ignoreKnownIssues}
			if cx := m.stepChecked(s, chk, m.Start, opt); cx != nil {
				t.Fatal(cx.Detail)
			}
			mm := newMemo(&m, opt, []fsm.Relabel{{}})
			codec, _ := m.Budget.codec()
			var mb memoBuf
			root := item{n: &node{}, core: mm.internCore(s, &mb), chk: mm.internChk(chk, &mb), budget: mustPack(t, m.Budget)}
			seen := map[nodeID]bool{}
			frontier := []item{root}
			shifted := 0
			for len(frontier) > 0 && len(seen) < 3000 {
				var next []item
				for _, it := range frontier {
					for j := range it.core.moves {
						budget, req, ok := codec.allows(&it.core.moves[j].move, it.budget, m.Budget.Patches)
						if !ok {
							continue
						}
						ct := mm.step(it.core, j, req, &mb)
						if ct.fail != nil {
							continue
						}
						r := mm.check(it.chk, it.core, ct, &mb)
						if r.fail != nil {
							continue
						}
						k := nodeID{r.pair, budget}
						if seen[k] {
							continue
						}
						seen[k] = true
						n := &node{parent: it.n, t: ct, depth: it.n.depth + 1, shift: it.n.shift + ct.dt}
						if n.shift != 0 {
							shifted++
						}
						checkPath(t, &m, topo, n, ct.to.s)
						next = append(next, item{n: n, core: ct.to, chk: r.to, budget: budget})
					}
				}
				frontier = next
			}
			if shifted == 0 {
				t.Fatal("no node's path was shifted from its representative: the property was not exercised")
			}
			t.Logf("%d nodes, %d on paths shifted from their representative", len(seen), shifted)
		})
	}
}

// nodeID is a node as the explorer tells nodes apart: its canonical pair and
// its budget.
type nodeID struct {
	p *pairEntry
	b packedBudget
}

func checkPath(t *testing.T, m *Model, topo *fsm.Topology, n *node, rep *fsm.State) {
	t.Helper()
	s, _ := fsm.New(topo, m.Config)
	for _, ev := range n.path(m) {
		if _, err := s.Step(ev); err != nil {
			t.Fatalf("the path does not replay: %s: %v", fsm.DescribeEvent(topo, ev), err)
		}
	}
	if s.Now() != rep.Now()+n.shift {
		t.Fatalf("replayed clock %d, representative %d + shift %d", s.Now(), rep.Now(), n.shift)
	}
	a, b := fsm.Relabel{TimeBase: s.Now()}, fsm.Relabel{TimeBase: rep.Now()}
	if !bytes.Equal(s.AppendKeyRelabeled(nil, &a), rep.AppendKeyRelabeled(nil, &b)) {
		t.Fatalf("the replayed state is not the representative shifted:\n%s\n%s", Fingerprint(s), Fingerprint(rep))
	}
}
