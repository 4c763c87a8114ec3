package fuzz

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// Model is a bounded model for Explore: a small job, its configuration, the
// start event, and a budget of the events a path may contain.
type Model struct {
	Name   string
	Job    fsm.JobSpec
	Config fsm.Config
	Start  fsm.Event
	Budget Budget
	// Patch is the config_patch applied when Budget.Patches allows (its Request
	// is replaced by a fresh id); config_persisted then follows for every
	// accepted patch without a budget of its own.
	Patch fsm.Event
}

// Budget bounds how many events of each kind one path may contain. Acks of
// waiting subtasks, persisted for the persisting checkpoint, task_running for
// restarting subtasks and config_persisted for accepted patches have no budget:
// they are bounded by the events that make them possible.
type Budget struct {
	Checkpoints     int // manual checkpoint triggers
	Savepoints      int // manual savepoint triggers
	Declines        int // declines (reason declined) of a pending checkpoint
	TaskFailures    int // task_failed of a running subtask
	TaskFinishes    int // task_finished of a running subtask
	PersistFailures int // persist_failed of the persisting checkpoint
	Recovers        int // coordinator failovers
	Patches         int // Model.Patch
	Advances        int // ticks at the core's NextDeadline: the only way time moves
}

// Limits bounds an exploration and asks for progress output.
type Limits struct {
	// MaxStates stops the search after this many distinct nodes (0: no bound);
	// the result is then not Complete.
	MaxStates int
	// Progress, when set, receives a line per finished depth and at most every
	// ProgressEvery (default 5s): depth, nodes, frontier, nodes per second.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Ignore, when set, drops violations it returns true for (a known issue
	// already reported to its owners).
	Ignore func(fsm.Event, invariants.Violation, *fsm.State) bool
	// Views, when set, also counts distinct Fingerprints, so that a test can
	// tell whether fsm's exported views capture every state the core has.
	Views bool
}

// Result is the outcome of an exploration.
type Result struct {
	// Nodes is the number of distinct explored nodes: core state, invariant
	// checker history and remaining budget (see Explore).
	Nodes int
	// CoreStates is the number of distinct core states (DeepKey) among them.
	CoreStates int
	// ViewStates is the number of distinct Fingerprints (with Limits.Views).
	ViewStates int
	// ViewGaps lists, for pairs of core states with equal Fingerprints, the
	// State fields that told them apart (with Limits.Views), sorted.
	ViewGaps    []string
	Transitions int
	Depth       int  // the deepest explored path
	Complete    bool // every path within the budget was explored
	Violation   *Counterexample
	Elapsed     time.Duration
}

// Counterexample is a shortest path from the start to a violation.
type Counterexample struct {
	Model     *Model
	Invariant string // invariant name, or "panic" / "refused" for a core failure
	Detail    string
	Events    []fsm.Event // the start event first
}

// WriteHistory writes the counterexample as a ckpt-history/v1 file that
// cmd/replay reproduces.
func (c *Counterexample) WriteHistory(w io.Writer) error {
	fmt.Fprintf(w, "// Explore(%s): %s after %d events\n// %s\n", c.Model.Name, c.Invariant, len(c.Events),
		strings.ReplaceAll(c.Detail, "\n", "\n// "))
	hw, err := history.NewWriter(w, history.Header{Format: history.Format, Job: c.Model.Job, Config: c.Model.Config})
	if err != nil {
		return err
	}
	for _, ev := range c.Events {
		if err := hw.WriteEvent(ev, nil); err != nil {
			return err
		}
	}
	return nil
}

// node is one explored node. Only nodes of the frontier keep their core state;
// every node keeps its parent link, so that a path can be replayed.
type node struct {
	parent *node
	ev     fsm.Event
	budget Budget
	depth  int
	state  *fsm.State // nil once expanded
}

func (n *node) path() []fsm.Event {
	var evs []fsm.Event
	for ; n != nil; n = n.parent {
		evs = append(evs, n.ev)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// Explore visits, breadth first, every state reachable from the model's start
// by every interleaving of the events its budget allows, checks every invariant
// (invariants.Checker) after every step, and returns the first violation found
// — on a shortest path, since the search goes by depth.
//
// Deduplication. Two paths meet in one node when they reach the same core state
// (DeepKey: every field, which Fingerprint's views do not all show), the same
// invariant-checker history and the same remaining budget. The checker's history
// is part of the node because it decides future verdicts: two paths to one core
// state may differ in what was already discarded or notified. The Checker has no
// Clone, so the explorer rebuilds it by replaying the path from the start for each
// successor (a path is at most a few dozen events) and keys it by a reflective
// digest of its fields.
//
// Symmetry reduction: a decline is tried from the first waiting subtask of each
// region (every subtask of a region declines alike, R17, R18) and a task failure
// from the first running subtask of each region (the whole region fails over,
// R19); acks, finishes and restarts are tried for every subtask.
func Explore(m Model, lim Limits) Result {
	start := time.Now()
	res := Result{Complete: true}
	topo, err := fsm.NewTopology(m.Job)
	if err != nil {
		res.Violation = &Counterexample{Model: &m, Invariant: "refused", Detail: "job: " + err.Error()}
		return res
	}
	root := &node{ev: m.Start, budget: m.Budget}
	s, err := fsm.New(topo, m.Config)
	if err != nil {
		res.Violation = &Counterexample{Model: &m, Invariant: "refused", Detail: "config: " + err.Error()}
		return res
	}
	chk := invariants.New(topo, m.Config)
	if v := m.stepChecked(s, chk, m.Start, lim); v != nil {
		v.Events = []fsm.Event{m.Start}
		res.Violation = v
		return res
	}
	root.state = s
	seen := map[Key]bool{nodeKey(DeepKey(s), chk, root.budget): true}
	cores := map[Key]bool{DeepKey(s): true}
	views := map[string]*fsm.State{} // Fingerprint -> the first core state with it
	gaps := map[string]bool{}        // State fields that told apart equal Fingerprints
	noteViews := func(s *fsm.State, k Key) {
		if !lim.Views {
			return
		}
		f := Fingerprint(s)
		other, ok := views[f]
		if !ok {
			views[f] = s.Clone()
			return
		}
		if DeepKey(other) != k {
			for _, name := range fieldDiff(other, s) {
				gaps[name] = true
			}
		}
	}
	noteViews(s, DeepKey(s))

	every := lim.ProgressEvery
	if every == 0 {
		every = 5 * time.Second
	}
	lastReport := start
	report := func(depth, frontier int) {
		el := time.Since(start)
		fmt.Fprintf(lim.Progress, "explore %s: depth %d, %d nodes (%d core states), frontier %d, %.0f nodes/s\n",
			m.Name, depth, len(seen), len(cores), frontier, float64(len(seen))/max(el.Seconds(), 1e-9))
	}

	frontier := []*node{root}
	for len(frontier) > 0 {
		var next []*node
		for _, n := range frontier {
			for _, ev := range m.successors(topo, n) {
				res.Transitions++
				child := &node{parent: n, ev: ev.ev, budget: ev.budget, depth: n.depth + 1}
				cs, cchk, v := m.replay(topo, child, lim)
				if v != nil {
					v.Events = child.path()
					res.Violation = v
					res.Nodes, res.CoreStates, res.Depth = len(seen), len(cores), child.depth
					res.Elapsed = time.Since(start)
					return res
				}
				dk := DeepKey(cs)
				k := nodeKey(dk, cchk, child.budget)
				if seen[k] {
					continue
				}
				seen[k] = true
				if !cores[dk] {
					noteViews(cs, dk)
				}
				cores[dk] = true
				child.state = cs
				next = append(next, child)
				res.Depth = max(res.Depth, child.depth)
				if lim.MaxStates > 0 && len(seen) >= lim.MaxStates {
					res.Complete = false
					next = nil
					break
				}
			}
			n.state = nil
			if !res.Complete {
				break
			}
			if lim.Progress != nil && time.Since(lastReport) >= every {
				lastReport = time.Now()
				report(n.depth+1, len(next))
			}
		}
		if lim.Progress != nil && len(next) > 0 {
			report(next[0].depth, len(next))
		}
		frontier = next
	}
	res.Nodes, res.CoreStates, res.ViewStates = len(seen), len(cores), len(views)
	for name := range gaps {
		res.ViewGaps = append(res.ViewGaps, name)
	}
	sort.Strings(res.ViewGaps)
	res.Elapsed = time.Since(start)
	return res
}

// replay rebuilds a node's core state and checker from the start and checks
// the node's own step (the last one).
func (m *Model) replay(topo *fsm.Topology, n *node, lim Limits) (*fsm.State, *invariants.Checker, *Counterexample) {
	s, err := fsm.New(topo, m.Config)
	if err != nil {
		panic(err) // the root was built from the same model
	}
	chk := invariants.New(topo, m.Config)
	evs := n.path()
	for i, ev := range evs {
		if i < len(evs)-1 {
			effs, err := s.Step(ev)
			if err != nil {
				panic(fmt.Sprintf("fuzz: replaying an explored path: %v", err))
			}
			chk.Step(ev, effs, s)
			continue
		}
		if v := m.stepChecked(s, chk, ev, lim); v != nil {
			return nil, nil, v
		}
	}
	return s, chk, nil
}

// stepChecked applies one event and checks it; a panic, a refusal or a
// violation becomes a counterexample (without its path, which the caller adds).
func (m *Model) stepChecked(s *fsm.State, chk *invariants.Checker, ev fsm.Event, lim Limits) (cx *Counterexample) {
	defer func() {
		if p := recover(); p != nil {
			cx = &Counterexample{Model: m, Invariant: "panic", Detail: fmt.Sprint(p)}
		}
	}()
	effs, err := s.Step(ev)
	if err != nil {
		return &Counterexample{Model: m, Invariant: "refused", Detail: err.Error()}
	}
	var msgs []string
	name := ""
	for _, v := range chk.Step(ev, effs, s) {
		if lim.Ignore != nil && lim.Ignore(ev, v, s) {
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

// nodeKey digests a node: the core state, the checker's history (every field
// but the per-step output, the topology and the constant configuration) and
// the remaining budget.
func nodeKey(core Key, chk *invariants.Checker, b Budget) Key {
	h := fnv.New128a()
	h.Write(core[:])
	c := digest(chk, "out", "topo", "cfg")
	h.Write(c[:])
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, [9]int64{int64(b.Checkpoints), int64(b.Savepoints),
		int64(b.Declines), int64(b.TaskFailures), int64(b.TaskFinishes), int64(b.PersistFailures),
		int64(b.Recovers), int64(b.Patches), int64(b.Advances)})
	h.Write(buf.Bytes())
	var out Key
	copy(out[:], h.Sum(nil))
	return out
}

type successor struct {
	ev     fsm.Event
	budget Budget
}

// successors lists the events tried from a node, in a fixed order.
func (m *Model) successors(topo *fsm.Topology, n *node) []successor {
	s, b := n.state, n.budget
	now := s.Now()
	var out []successor
	add := func(ev fsm.Event, nb Budget) {
		if ev.At == 0 {
			ev.At = now
		}
		out = append(out, successor{ev, nb})
	}
	if b.Checkpoints > 0 {
		nb := b
		nb.Checkpoints--
		add(fsm.Event{Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint}, nb)
	}
	if b.Savepoints > 0 {
		nb := b
		nb.Savepoints--
		add(fsm.Event{Type: fsm.EvTrigger, Kind: fsm.KindSavepoint}, nb)
	}
	tasks := topo.NumSubtasks()
	for _, p := range s.Pending() {
		if p.Persisting {
			add(fsm.Event{Type: fsm.EvPersisted, Checkpoint: p.ID}, b)
			if b.PersistFailures > 0 {
				nb := b
				nb.PersistFailures--
				add(fsm.Event{Type: fsm.EvPersistFailed, Checkpoint: p.ID}, nb)
			}
			continue
		}
		declined := map[int]bool{}
		for id := fsm.TaskID(0); int(id) < tasks; id++ {
			r := topo.RegionOf(id)
			if !p.Triggered(id) || p.Acked(id) || p.RegionFailed(r) || s.TaskFinished(id) {
				continue
			}
			add(fsm.Event{Type: fsm.EvAck, Checkpoint: p.ID, Task: id}, b)
			if b.Declines > 0 && !declined[r] {
				declined[r] = true
				nb := b
				nb.Declines--
				add(fsm.Event{Type: fsm.EvDecline, Checkpoint: p.ID, Task: id}, nb)
			}
		}
	}
	failed := map[int]bool{}
	for id := fsm.TaskID(0); int(id) < tasks; id++ {
		switch {
		case s.TaskRunning(id):
			if r := topo.RegionOf(id); b.TaskFailures > 0 && !failed[r] {
				failed[r] = true
				nb := b
				nb.TaskFailures--
				add(fsm.Event{Type: fsm.EvTaskFailed, Task: id}, nb)
			}
			if b.TaskFinishes > 0 {
				nb := b
				nb.TaskFinishes--
				add(fsm.Event{Type: fsm.EvTaskFinished, Task: id}, nb)
			}
		case !s.TaskFinished(id):
			add(fsm.Event{Type: fsm.EvTaskRunning, Task: id}, b)
		}
	}
	if b.Recovers > 0 {
		nb := b
		nb.Recovers--
		add(fsm.Event{Type: fsm.EvRecover}, nb)
	}
	if b.Patches > 0 {
		nb := b
		nb.Patches--
		ev := m.Patch
		ev.Type, ev.At = fsm.EvConfigPatch, now
		ev.Request = int64(m.Budget.Patches - b.Patches + 1)
		add(ev, nb)
	}
	for _, req := range s.PendingPatches() {
		add(fsm.Event{Type: fsm.EvConfigPersisted, Request: req}, b)
	}
	if due, ok := s.NextDeadline(); ok && b.Advances > 0 {
		nb := b
		nb.Advances--
		add(fsm.Event{Type: fsm.EvTick, At: max(due, now)}, nb)
	}
	return out
}
