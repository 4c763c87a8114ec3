package fuzz

import (
	"bytes"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// node is one explored node: its parent link and the event that led to it,
// kept for every node so that a counterexample's path can be read back.
type node struct {
	parent *node
	t      *coreTrans // the memoized step that led here (nil at the start)
	depth  int32
	// shift is this node's clock minus its core entry's representative's:
	// the memo shares steps between states that differ by a shift of the
	// clock (explore_memo.go), so a memoized event, taken in the parent's
	// representative's time, happened shift later on this path.
	shift int64
}

func (n *node) path(m *Model) []fsm.Event {
	var evs []fsm.Event
	for ; n != nil; n = n.parent {
		ev := m.Start
		if n.parent != nil {
			ev = n.t.event(m)
			ev.At += n.parent.shift
		}
		evs = append(evs, ev)
	}
	slices.Reverse(evs)
	return evs
}

// item is a node of the queue: its interned core state, checkers' memory and
// its budget. Items are expanded from these values, never by replaying a path
// (issue 17), and a successor's parts are looked up in the memo (explore_memo.go).
type item struct {
	n      *node
	core   *coreEntry
	chk    *chkEntry
	budget packedBudget
}

// candidate is a successor found while expanding one depth: tag orders the
// candidates of a depth (parent position, successor position) so that the
// representative kept for a key, and so every count and counterexample, is
// the same for any number of workers. Its node is made only when merge keeps
// it (most candidates meet an earlier one of the same depth).
type candidate struct {
	tag    uint64
	parent *node
	t      *coreTrans // the core step: its event, reached entry and shift
	ct     *chkTrans  // the checker step: the memory reached and the canonical pair
	budget packedBudget
	part   uint32 // the pair's share of the dedupe (dedupe), with several workers
	// Set by dedupe (or by the one worker): drop, an earlier candidate of
	// this depth is the node; first, its pair's first node (its core state counts).
	drop, first bool
}

type found struct {
	tag uint64
	cx  *Counterexample
}

// Explore visits, breadth first, every state reachable from the model's start
// by every interleaving of the events its budget allows, checks every invariant
// (invariants.Checker) after every step, and returns the first violation found
// — on a shortest path, since the search goes by depth.
//
// Nodes. Two paths meet in one node when they reach equal core states (fsm's
// AppendKey), equal invariant-checker histories (Checker.AppendKey: the
// checker's memory decides future verdicts) and the same remaining budget.
// The (core, checkers) part is interned as a canonical pair (explore_memo.go:
// core states and memories by 128-bit hashes of their encodings — TLC keeps
// 64-bit fingerprints; at 10^8 entries a 128-bit collision has probability
// ~10^-23), and a node is its pair and its budget: the nodes kept of a pair
// are a short list of budgets on the pair, so a successor is looked up
// without hashing. With Options.Symmetry the encodings are taken under every
// symmetry of the job and the smallest is the key, so a node stands for its
// whole orbit.
//
// Expansion. The queue holds states, not paths: each item is an interned core
// state, an interned checkers' memory and a budget, and each core step and
// checker step is computed once and shared by every node that reaches it
// (explore_memo.go), so a successor costs at most one Step and one check. A
// depth's items are expanded by Options.Workers goroutines; the new nodes of
// the depth are then merged in a fixed order (candidate.tag).
//
// Event reduction: a decline is tried from the first waiting subtask of each
// region (every subtask of a region declines alike, R17, R18) and a task
// failure from the first running subtask of each region (the whole region
// fails over, R19); acks, finishes and restarts are tried for every subtask.
func Explore(m Model, opt Options) Result {
	start := time.Now()
	gc, restore := tuneGC() // explore_gc.go
	defer restore()
	res := Result{Complete: true, Workers: opt.Workers, Group: 1}
	if res.Workers <= 0 {
		res.Workers = runtime.GOMAXPROCS(0)
	}
	topo, err := fsm.NewTopology(m.Job)
	if err != nil {
		res.Violation = &Counterexample{Model: &m, Invariant: "refused", Detail: "job: " + err.Error()}
		return res
	}
	s, err := fsm.New(topo, m.Config)
	if err != nil {
		res.Violation = &Counterexample{Model: &m, Invariant: "refused", Detail: "config: " + err.Error()}
		return res
	}
	codec, err := m.Budget.codec()
	if err != nil {
		res.Violation = &Counterexample{Model: &m, Invariant: "refused", Detail: "model: " + err.Error()}
		return res
	}
	syms := []fsm.Relabel{{}}
	if opt.Symmetry {
		syms = topo.Symmetries(5040)
		res.Group = len(syms)
	}
	chk := newCheckers(topo, m.Config)
	root := &node{}
	if v := m.stepChecked(s, chk, m.Start, &opt); v != nil {
		v.Events = []fsm.Event{m.Start}
		res.Violation = v
		return res
	}
	e := &explorer{m: &m, codec: &codec, opt: &opt, topo: topo, memo: newMemo(&m, &opt, syms), prog: newProgress(m.Name, opt, start)}
	var mb memoBuf
	it := item{n: root, core: e.memo.internCore(s, &mb), chk: e.memo.internChk(chk, &mb), budget: codec.pack(m.Budget)}
	e.keep(e.memo.pair(it.core, it.chk, &mb), it.budget)
	frontier := []item{it}
	var spare []item // the frontier before: its storage holds the next one
	defer e.prog.stop()
	for len(frontier) > 0 {
		cands, trans, viol := e.expand(frontier, res.Workers)
		res.Transitions += trans
		if viol != nil {
			m.replayDetail(viol, &opt)
			res.Violation = viol
			res.Depth = len(viol.Events) - 1
			break
		}
		frontier, spare = e.merge(cands, spare, &res), frontier
		if len(frontier) > 0 {
			res.Depth = int(frontier[0].n.depth)
		}
		e.prog.depthDone(res.Depth, e.nodes, e.cores.Len(), len(frontier))
		gc.adjust()
		if !res.Complete {
			break
		}
	}
	res.Nodes, res.CoreStates = e.nodes, e.cores.Len()
	res.Elapsed = time.Since(start)
	if res.Violation != nil && opt.Minimize {
		res.Violation.minimize(topo)
	}
	return res
}

type explorer struct {
	m     *Model
	codec *budgetCodec
	opt   *Options
	topo  *fsm.Topology
	memo  *memo
	nodes int    // the nodes kept (each is a budget on its pair: pairEntry.add)
	cores keySet // the canonical keys of the core states of the nodes kept
	prog  *progress
	outs  [][]candidate // per worker, reused from depth to depth
	slab  []node        // the current slab of nodes merge makes
	bufs  []*memoBuf    // per worker: scratch space and the effects arena
}

// keep records a node: budget b on pair p (merge, between depths).
func (e *explorer) keep(p *pairEntry, b packedBudget) {
	if p.n == 0 {
		e.cores.Add(p.coreKey)
	}
	p.add(b)
	e.nodes++
}

// expand computes every successor of the frontier on workers goroutines. It
// returns the candidates not seen at earlier depths, one list per worker,
// each in tag order (a worker takes chunks of the frontier in order), and
// the violation with the smallest tag, if any.
func (e *explorer) expand(frontier []item, workers int) ([][]candidate, int, *Counterexample) {
	const chunk = 32
	var next atomic.Int64
	var best atomic.Uint64 // smallest violating tag + 1 (0: none)
	if len(e.outs) != workers {
		e.outs = make([][]candidate, workers)
		e.bufs = make([]*memoBuf, workers)
		for w := range e.bufs {
			e.bufs[w] = new(memoBuf)
		}
	}
	outs := e.outs
	for w := range outs {
		outs[w] = outs[w][:0] // the previous depth's candidates are merged
		e.bufs[w].emitted.reset()
	}
	viols := make([][]found, workers)
	trans := make([]int, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mb := e.bufs[w]
			patches := e.m.Budget.Patches
			// The worker's results live in locals while it runs: slots of
			// shared arrays written per transition would share cache lines
			// between workers.
			out, n := outs[w], 0
			var vs []found
			defer func() { outs[w], trans[w], viols[w] = out, n, vs }()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(frontier) {
					return
				}
				for i := lo; i < min(lo+chunk, len(frontier)); i++ {
					if b := best.Load(); b != 0 && uint64(i)<<32 > b-1 {
						return // every later candidate loses to the violation found
					}
					it := &frontier[i]
					for j := range it.core.moves {
						budget, req, ok := e.codec.allows(&it.core.moves[j].move, it.budget, patches)
						if !ok {
							continue
						}
						n++
						tag := uint64(i)<<32 | uint64(j)
						t := e.memo.step(it.core, j, req, mb)
						v := t.fail
						var ct *chkTrans
						if v == nil {
							ct = e.memo.check(it.chk, it.core, t, mb)
							v = ct.fail
						}
						if v != nil {
							cx := *v
							ev := t.event(e.m)
							ev.At += it.n.shift
							cx.Events = append(it.n.path(e.m), ev)
							vs = append(vs, found{tag, &cx})
							for b := best.Load(); b == 0 || tag+1 < b; b = best.Load() {
								if best.CompareAndSwap(b, tag+1) {
									break
								}
							}
							continue
						}
						p := ct.pair
						if p.has(budget) {
							continue // a node of an earlier depth (or, on one worker, of this one)
						}
						c := candidate{tag: tag, parent: it.n, t: t, ct: ct, budget: budget,
							part: uint32(p.hash>>32) % uint32(workers)}
						switch {
						case workers == 1:
							// One worker meets the depth's candidates in tag
							// order: the first of each node is the one kept,
							// so it is recorded on its pair at once.
							c.first = p.n == 0
							p.add(budget)
						case !mb.emitted.add(p, budget):
							continue // this worker's candidate already
						}
						out = append(out, c)
					}
					e.prog.expanded()
				}
			}
		}(w)
	}
	wg.Wait()
	var cx *Counterexample
	bestTag := ^uint64(0)
	total := 0
	for w := range viols {
		for _, f := range viols[w] {
			if f.tag < bestTag {
				bestTag, cx = f.tag, f.cx
			}
		}
		total += trans[w]
	}
	return outs, total, cx
}

// dedupe finds, with several workers, the depth's candidates of one node
// that another worker found too, and records each node on its pair: the
// pairs are shared out among the workers by their hash (candidate.part), so
// each pair is read and written by one goroutine, in tag order, and the
// first candidate of each node stays. What is left for merge, which runs on
// one goroutine, is putting the kept candidates in tag order.
func (e *explorer) dedupe(outs [][]candidate) {
	var wg sync.WaitGroup
	for k := range outs {
		wg.Add(1)
		go func(k uint32) {
			defer wg.Done()
			pos := make([]int, len(outs))
			for {
				w := -1
				for v := range outs {
					l := outs[v]
					for pos[v] < len(l) && l[pos[v]].part != k {
						pos[v]++
					}
					if pos[v] < len(l) && (w < 0 || l[pos[v]].tag < outs[w][pos[w]].tag) {
						w = v
					}
				}
				if w < 0 {
					return
				}
				c := &outs[w][pos[w]]
				pos[w]++
				p := c.ct.pair
				if p.has(c.budget) {
					c.drop = true
					continue
				}
				c.first = p.n == 0
				p.add(c.budget)
			}
		}(uint32(k))
	}
	wg.Wait()
}

// merge puts the depth's kept candidates in tag order (merging the workers'
// sorted lists; with several workers dedupe first finds which are kept, one
// worker has recorded them on their pairs as it went) and returns the new
// frontier, in buf's storage: the first candidate of each node, with its node.
func (e *explorer) merge(outs [][]candidate, buf []item, res *Result) []item {
	if len(outs) > 1 {
		e.dedupe(outs)
	}
	frontier := buf[:0]
	pos := make([]int, len(outs))
	for {
		w := -1
		for v := range outs {
			if pos[v] < len(outs[v]) && (w < 0 || outs[v][pos[v]].tag < outs[w][pos[w]].tag) {
				w = v
			}
		}
		if w < 0 {
			return frontier
		}
		c := &outs[w][pos[w]]
		pos[w]++
		if c.drop {
			continue
		}
		if c.first {
			e.cores.Add(c.ct.pair.coreKey)
		}
		e.nodes++
		if len(e.slab) == cap(e.slab) {
			e.slab = make([]node, 0, 4096) // nodes live as long as the search: one allocation per 4096
		}
		e.slab = append(e.slab, node{parent: c.parent, t: c.t, depth: c.parent.depth + 1, shift: c.parent.shift + c.t.dt})
		n := &e.slab[len(e.slab)-1]
		frontier = append(frontier, item{n: n, core: c.t.to, chk: c.ct.to, budget: c.budget})
		if e.opt.MaxStates > 0 && e.nodes >= e.opt.MaxStates {
			res.Complete = false
			return frontier
		}
	}
}

// keyBuf holds one worker's scratch buffers for node keys.
type keyBuf struct {
	state, full, best, bestCore []byte
}

// pairKey returns the canonical key of a (core state, checkers) pair and the
// key of its core state: under syms, the smallest encoding over the
// symmetries (the core key is the smallest core encoding), times measured from
// the state's own clock. A node is its pair key and its remaining budget.
func (kb *keyBuf) pairKey(s *fsm.State, chk *checkers, syms []fsm.Relabel) (Key, Key) {
	kb.best, kb.bestCore = kb.best[:0], kb.bestCore[:0]
	for i := range syms {
		rl := syms[i].WithTimeBase(s.Now())
		kb.state = s.AppendKeyRelabeled(kb.state[:0], &rl)
		kb.full = append(kb.full[:0], kb.state...)
		kb.full = chk.appendKey(kb.full, &rl)
		if i == 0 || bytes.Compare(kb.full, kb.best) < 0 {
			kb.best = append(kb.best[:0], kb.full...)
		}
		if i == 0 || bytes.Compare(kb.state, kb.bestCore) < 0 {
			kb.bestCore = append(kb.bestCore[:0], kb.state...)
		}
	}
	return Hash128(kb.best), Hash128(kb.bestCore)
}
