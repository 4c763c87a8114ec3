package fuzz

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/invariants"
)

// Memoized transitions (issue 17). A node is a (core state, checkers' memory,
// remaining budget) triple, but the three parts repeat across nodes: the
// regional 2×1 model has 21.6 k nodes over 4 k core states (time-relative
// keys) and a few hundred checker memories. So each part is interned once and
// the explorer keeps only the interned entries:
//
//   - core states by their time-relative key (fsm's AppendKeyRelabeled with
//     the state's own clock as time base): states that differ only by a shift
//     of the clock share one entry, whose representative is the first one
//     met; a core step (core entry, move) is computed once on it: the
//     successor's core entry and the shift dt between the reached state and
//     that entry's representative (or the panic / refusal); its event and
//     effects are not kept (coreTrans);
//   - checkers' memories by their exact key (checkers.appendKey), always in
//     the time of the core entry they are paired with: a checker step
//     (checker entry, core step) is computed once, its memory first shifted
//     by -dt into the time of the reached entry's representative
//     (invariants.Timing.Shift) and then stepped on that representative with
//     the event and effects shifted alike; it yields the successor's checker
//     entry and the violations;
//   - (core entry, checker entry) pairs as canonical pairs (memo.pair): the
//     entries themselves without symmetry, the canonical pair key once per
//     pair of entries with it; a node is a canonical pair and a budget.
//
// Two core states with equal keys accept the same events and answer them with
// the same effects and equal-keyed successors (fsm/key.go, TestKeyDecidesBehaviour);
// with time-relative keys, a state shifted by d answers the event shifted by d
// with effects and a successor shifted by d (the core compares times only with
// each other and with durations, the premise of the time-relative node keys).
// Two checkers with equal keys report the same violations for every
// continuation (invariants/clone.go), and the checks too compare times only
// with each other. So a step computed on an entry's representative holds for
// every state or checker with its key, and the exploration's counts and
// verdicts are those of stepping each node's own values. Each node keeps its
// shift from its representative (node.shift), so its path is read back in
// the path's own times (TestMemoPathsAreAbsolute), and a violation's message
// is recomputed on its path (Model.replayDetail). A queue item is three small
// values.

// coreEntry is an interned core state: its representative is never stepped
// again (steps run on scratch copies), so it stays valid for the search.
// Its steps are kept by move: moves[j].t is the step of moves[j] once computed
// (a patch's event depends on the budget too: those are kept in patches).
type coreEntry struct {
	s       *fsm.State
	key     Key        // the hash of s's time-relative key
	before  before     // what the rule checks need of this state as a step's "before"
	moves   []moveSlot // the events that may be tried from it, with their steps
	mu      sync.Mutex
	patches map[int64]*coreTrans // by request id
	pairs   []rawPair            // the canonical pairs of the checker memories met with it, under mu
	pair0   [2]rawPair           // pairs' first storage: most core states meet one or two memories
}

// moveSlot is a move and its step once computed: one array, so expanding a
// node reads its moves and their steps from the same cache lines.
type moveSlot struct {
	move
	t atomic.Pointer[coreTrans]
}

// rawPair links a checker memory met with a core entry to their canonical pair.
type rawPair struct {
	chk *chkEntry
	p   *pairEntry
}

// pairEntry is a canonical (core state, checkers) pair: every node whose core
// state and checkers' memory have its canonical key (under the symmetries, in
// times relative to the state's clock) is one of its nodes. A node is a pair
// and a remaining budget, so the nodes kept of a pair are its budgets: merge
// appends to them between depths, while no worker reads them, and the workers
// only read them while a depth expands.
type pairEntry struct {
	coreKey Key    // the canonical key of its core state (distinct core states are counted by it)
	hash    uint64 // a well-mixed number of its own, for hash tables (emittedSet)
	n       int    // the number of budgets kept: the first inlinePairs inline, the rest in more
	inline  [inlinePairs]packedBudget
	more    []packedBudget
}

// inlinePairs: a pair has about four nodes in the pinned models.
const inlinePairs = 4

// has reports whether a node of this pair with budget b was kept.
func (p *pairEntry) has(b packedBudget) bool {
	for i := range min(p.n, inlinePairs) {
		if p.inline[i] == b {
			return true
		}
	}
	for i := range p.more {
		if p.more[i] == b {
			return true
		}
	}
	return false
}

// add keeps budget b (the caller knows it is new).
func (p *pairEntry) add(b packedBudget) {
	if p.n < inlinePairs {
		p.inline[p.n] = b
	} else {
		if p.more == nil {
			p.more = make([]packedBudget, 0, 2*inlinePairs)
		}
		p.more = append(p.more, b)
	}
	p.n++
}

// chkEntry is an interned checkers' memory (never stepped: steps run on clones).
type chkEntry struct {
	chk *checkers
}

// coreTrans is one memoized core step, and the checker steps computed over
// it so far (a handful: one per checker memory that reached its state).
type coreTrans struct {
	// The step's event is move `move` of from (with request id req for a
	// patch), built again when needed (event) rather than kept: 128 bytes
	// per step saved.
	from *coreEntry
	move int32
	req  int64
	to   *coreEntry
	// dt is the reached state's clock minus to's representative's: the two
	// have equal time-relative keys, and the step reached to.s shifted by dt.
	// The checkers judge the step in to's time: on to.s, with the event and
	// its effects shifted by -dt (memoBuf.effects).
	dt   int64
	fail *Counterexample // a panic or refusal (without its path), else nil
	// The checker steps over this core step: most core steps have one or
	// two, kept inline without an allocation and read without a lock (most
	// checker steps are found, not made). A link is written under mu and then
	// published by storing the new count, so a reader that loads n sees the
	// links before it complete; links past the inline ones are in more.
	mu     sync.Mutex
	n      atomic.Int32
	inline [inlineChks]chkLink
	more   []*chkLink
}

const inlineChks = 2

type chkLink struct {
	from *chkEntry
	r    chkTrans
}

// chkTrans is one memoized checker step, with the canonical pair it leads to.
type chkTrans struct {
	to   *chkEntry
	fail *Counterexample // the violations of the step (without its path), else nil
	pair *pairEntry
}

const memoShards = 64

// shardedMap is a map split into locked shards, so that workers rarely wait
// for each other; shard picks a key's shard.
type shardedMap[K comparable, V any] struct {
	shards [memoShards]struct {
		mu sync.Mutex
		m  map[K]V
		_  [48]byte // keep shards on separate cache lines (mutex 8 + map 8 + 48 = 64 bytes)
	}
}

func (sm *shardedMap[K, V]) get(shard uint64, k K) (V, bool) {
	s := &sm.shards[shard%memoShards]
	s.mu.Lock()
	v, ok := s.m[k]
	s.mu.Unlock()
	return v, ok
}

// putIfAbsent stores v unless the key has a value already; it returns the
// value stored.
func (sm *shardedMap[K, V]) putIfAbsent(shard uint64, k K, v V) V {
	s := &sm.shards[shard%memoShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.m[k]; ok {
		return old
	}
	if s.m == nil {
		s.m = map[K]V{}
	}
	s.m[k] = v
	return v
}

// memo holds the interned entries and memoized steps of one exploration.
type memo struct {
	m     *Model
	opt   *Options
	syms  []fsm.Relabel
	cores shardedMap[Key, *coreEntry]
	chks  shardedMap[Key, *chkEntry]
	canon shardedMap[Key, *pairEntry] // by canonical pair key, with symmetry only
	pairN atomic.Uint64               // pairs made, for their hashes
}

func newMemo(m *Model, opt *Options, syms []fsm.Relabel) *memo {
	return &memo{m: m, opt: opt, syms: syms}
}

// memoBuf is one worker's scratch space: key buffers, and the checkers each
// checker step runs on before the memory it reaches is interned (most steps
// reach a memory already interned, and then nothing is kept).
type memoBuf struct {
	kb      keyBuf
	enc     []byte
	scratch *checkers
	state   *fsm.State    // the core steps' scratch state
	moves   []move        // scratch for a new core entry's moves
	kinds   []pendingKind // the arena of the entries' before lists
	trans   []coreTrans   // the slab core steps are cut from (newTrans)
	pairs   []pairEntry   // the slab pairs are cut from
	emitted emittedSet    // the nodes this worker made candidates of in this depth
	// last is the core step whose effects, in to's time, are in lastEffs:
	// the step this worker computed last, or recomputed (effects).
	last     *coreTrans
	lastEffs []fsm.Effect
}

// before takes what the rule checks need of s as a step's "before"
// (snapshotBefore), its pending list cut from the worker's arena.
func (mb *memoBuf) before(s *fsm.State) before {
	n := s.NumPending()
	if cap(mb.kinds)-len(mb.kinds) < n {
		mb.kinds = make([]pendingKind, 0, max(1024, n))
	}
	b := snapshotBeforeInto(s, mb.kinds[len(mb.kinds):len(mb.kinds):len(mb.kinds)+n])
	mb.kinds = mb.kinds[:len(mb.kinds)+n]
	return b
}

// scratchOf sets the worker's scratch state to a copy of s and returns it.
func (mb *memoBuf) scratchOf(s *fsm.State) *fsm.State {
	if mb.state == nil {
		mb.state = s.Clone()
	} else {
		s.CloneInto(mb.state)
	}
	return mb.state
}

// event is the step's event, in from's representative's time.
func (t *coreTrans) event(m *Model) fsm.Event {
	return m.event(&t.from.moves[t.move].move, t.from.s.Now(), t.req)
}

// effects returns the effects of step t shifted into to's time, for a checker
// step. The memo keeps no effects (280 bytes each, about two per step): the
// first checker step of a core step follows it at once on the same worker,
// and the few later ones (another checker memory reaching the same core
// step) compute the step again, which is deterministic.
func (mb *memoBuf) effects(t *coreTrans, m *Model) []fsm.Effect {
	if mb.last == t {
		return mb.lastEffs
	}
	effs, _ := m.stepCore(mb.scratchOf(t.from.s), t.event(m))
	mb.keep(t, effs)
	return mb.lastEffs
}

// keep copies the effects of step t (the scratch state's Step reuses its
// buffer) into lastEffs, shifted by -t.dt.
func (mb *memoBuf) keep(t *coreTrans, effs []fsm.Effect) {
	mb.last, mb.lastEffs = t, append(mb.lastEffs[:0], effs...)
	if t.dt == 0 {
		return
	}
	for i := range mb.lastEffs {
		e := &mb.lastEffs[i]
		e.At -= t.dt
		if e.Type == fsm.EffTrigger {
			e.Deadline -= t.dt
		}
	}
}

// newTrans returns a zeroed core step from the worker's slab: memoized steps
// live as long as the search, so they are allocated 256 at a time.
func (mb *memoBuf) newTrans() *coreTrans {
	if len(mb.trans) == cap(mb.trans) {
		mb.trans = make([]coreTrans, 0, 256)
	}
	mb.trans = mb.trans[:len(mb.trans)+1]
	return &mb.trans[len(mb.trans)-1]
}

func (mb *memoBuf) checkers(from *checkers) *checkers {
	if mb.scratch == nil {
		mb.scratch = &checkers{inv: new(invariants.Checker), tim: new(invariants.Timing)}
	}
	from.inv.CloneInto(mb.scratch.inv)
	from.tim.CloneInto(mb.scratch.tim)
	mb.scratch.rules = from.rules
	return mb.scratch
}

// internCore returns the entry of s's time-relative key; a new entry keeps a
// clone of s, so s may be scratch space.
func (mm *memo) internCore(s *fsm.State, mb *memoBuf) *coreEntry {
	rl := fsm.Relabel{TimeBase: s.Now()}
	mb.enc = s.AppendKeyRelabeled(mb.enc[:0], &rl)
	k := Hash128(mb.enc)
	if e, ok := mm.cores.get(k[0], k); ok {
		return e
	}
	s = s.Clone()
	mb.moves = mm.m.appendMoves(mb.moves[:0], s.Topology(), s)
	moves := make([]moveSlot, len(mb.moves))
	for j := range mb.moves {
		moves[j].move = mb.moves[j]
	}
	return mm.cores.putIfAbsent(k[0], k, &coreEntry{s: s, key: k,
		before: mb.before(s), moves: moves})
}

// internChk returns the entry of c's memory; a new entry keeps a clone of c,
// so c may be scratch space.
func (mm *memo) internChk(c *checkers, mb *memoBuf) *chkEntry {
	mb.enc = c.appendKey(mb.enc[:0], nil)
	k := Hash128(mb.enc)
	if e, ok := mm.chks.get(k[0], k); ok {
		return e
	}
	return mm.chks.putIfAbsent(k[0], k, &chkEntry{chk: c.clone()})
}

// step returns the core step of move j from entry from; req is a patch's
// request id (allows).
func (mm *memo) step(from *coreEntry, j int, req int64, mb *memoBuf) *coreTrans {
	mv := &from.moves[j].move
	patch := mv.spend == bPatches
	if patch {
		from.mu.Lock()
		t := from.patches[req]
		from.mu.Unlock()
		if t != nil {
			return t
		}
	} else if t := from.moves[j].t.Load(); t != nil {
		return t
	}
	t := mb.newTrans()
	t.from, t.move, t.req = from, int32(j), req
	// The step runs on the worker's scratch state: a clone is kept only when
	// the state reached is new (internCore).
	effs, fail := mm.m.stepCore(mb.scratchOf(from.s), t.event(mm.m))
	t.fail = fail
	if t.fail == nil {
		t.to = mm.internCore(mb.state, mb)
		t.dt = mb.state.Now() - t.to.s.Now()
		mb.keep(t, effs)
	}
	if !patch {
		if from.moves[j].t.CompareAndSwap(nil, t) {
			return t
		}
		return from.moves[j].t.Load() // another worker's equal step
	}
	from.mu.Lock()
	defer from.mu.Unlock()
	if old := from.patches[req]; old != nil {
		return old
	}
	if from.patches == nil {
		from.patches = map[int64]*coreTrans{}
	}
	from.patches[req] = t
	return t
}

// check returns the checker step of chk over the core step t from entry from.
func (mm *memo) check(chk *chkEntry, from *coreEntry, t *coreTrans, mb *memoBuf) *chkTrans {
	if r := t.lookup(chk); r != nil {
		return r
	}
	c := mb.checkers(chk.chk)
	c.tim.Shift(-t.dt) // into the time of to's representative
	ev := t.event(mm.m)
	ev.At -= t.dt
	r := chkTrans{fail: mm.m.checkStep(c, ev, mb.effects(t, mm.m), t.to.s, &from.before, mm.opt)}
	if r.fail == nil {
		r.to = mm.internChk(c, mb)
		r.pair = mm.pair(t.to, r.to, mb)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.n.Load()
	for i := 0; i < int(min(n, inlineChks)); i++ {
		if l := &t.inline[i]; l.from == chk {
			return &l.r // another worker's equal step
		}
	}
	if old := t.lookupMore(chk); old != nil {
		return old
	}
	var l *chkLink
	if n < inlineChks {
		l = &t.inline[n]
	} else {
		l = new(chkLink)
		t.more = append(t.more, l)
	}
	l.from, l.r = chk, r
	t.n.Store(n + 1) // publishes the link
	return &l.r
}

func (t *coreTrans) lookup(chk *chkEntry) *chkTrans {
	n := t.n.Load()
	for i := 0; i < int(min(n, inlineChks)); i++ {
		if l := &t.inline[i]; l.from == chk {
			return &l.r
		}
	}
	if n <= inlineChks {
		return nil
	}
	// Rare: a core step reached with more than two checker memories.
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lookupMore(chk)
}

// lookupMore finds a link past the inline ones; the caller holds mu.
func (t *coreTrans) lookupMore(chk *chkEntry) *chkTrans {
	for _, l := range t.more {
		if l.from == chk {
			return &l.r
		}
	}
	return nil
}

// pair returns the canonical pair of a (core, checkers) pair of entries.
//
// Without symmetry the entries are the canonical pair: a core entry stands
// for every state with its time-relative key, and a checker entry paired with
// it holds a memory in the time of that entry's representative, so two nodes
// have equal canonical pair keys (the core key followed by the checkers' key
// relative to the state's clock) exactly when they have the same two entries
// (TestReductionIsExact checks the counts against a plain search). With
// symmetry the canonical key (keyBuf.pairKey) is computed once per pair of
// entries, and pairs of entries in one orbit share one canonical pair.
func (mm *memo) pair(core *coreEntry, chk *chkEntry, mb *memoBuf) *pairEntry {
	core.mu.Lock()
	for _, r := range core.pairs {
		if r.chk == chk {
			core.mu.Unlock()
			return r.p
		}
	}
	core.mu.Unlock()
	if len(mb.pairs) == cap(mb.pairs) {
		mb.pairs = make([]pairEntry, 0, 256) // pairs live as long as the search
	}
	mb.pairs = mb.pairs[:len(mb.pairs)+1]
	p := &mb.pairs[len(mb.pairs)-1]
	p.hash = mm.pairN.Add(1) * 0x9e3779b97f4a7c15
	if len(mm.syms) == 1 && mm.syms[0].Identity() {
		p.coreKey = core.key
	} else {
		var key Key
		key, p.coreKey = mb.kb.pairKey(core.s, chk.chk, mm.syms)
		p = mm.canon.putIfAbsent(key[0], key, p)
	}
	core.mu.Lock()
	defer core.mu.Unlock()
	for _, r := range core.pairs {
		if r.chk == chk {
			return r.p // another worker's equal pair
		}
	}
	if core.pairs == nil {
		core.pairs = core.pair0[:0]
	}
	core.pairs = append(core.pairs, rawPair{chk, p})
	return p
}

// stepCore applies one event to the core; a panic or a refusal becomes a
// counterexample (without its path).
func (m *Model) stepCore(s *fsm.State, ev fsm.Event) (effs []fsm.Effect, cx *Counterexample) {
	defer func() {
		if p := recover(); p != nil {
			effs, cx = nil, &Counterexample{Model: m, Invariant: Panic, Detail: fmt.Sprint(p)}
		}
	}()
	effs, err := s.Step(ev)
	if err != nil {
		return nil, &Counterexample{Model: m, Invariant: "refused", Detail: err.Error()}
	}
	return effs, nil
}

// checkStep runs the checkers on one accepted step (the state after it is s,
// before it b); the violations not ignored, or a panic of a checker, become a
// counterexample (without its path).
func (m *Model) checkStep(chk *checkers, ev fsm.Event, effs []fsm.Effect, s *fsm.State, b *before, opt *Options) (cx *Counterexample) {
	defer func() {
		if p := recover(); p != nil {
			cx = &Counterexample{Model: m, Invariant: Panic, Detail: fmt.Sprint(p)}
		}
	}()
	var msgs []string
	name := ""
	for _, v := range chk.step(ev, effs, s, b) {
		if opt.Ignore != nil && opt.Ignore(ev, v, s) {
			continue
		}
		if name == "" {
			name = v.Invariant
		}
		msgs = append(msgs, v.Error())
	}
	if name != "" {
		return &Counterexample{Model: m, Invariant: name, Detail: strings.Join(msgs, "\n")}
	}
	return nil
}
