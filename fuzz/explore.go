package fuzz

import (
	"fmt"
	"io"
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

// Unbounded, as the budget of a fault (Declines, TaskFailures,
// PersistFailures, Recovers), lets that fault happen any number of times on a
// path, as TLC's spec does: the search stays finite because the ids
// (Checkpoints, Savepoints, StopSavepoints) and time (Advances) are bounded
// and a repeated fault leads back to states already seen.
const Unbounded = -1

// Budget bounds how many events of each kind one path may contain. Acks of
// waiting subtasks, persisted for the persisting checkpoint, task_running for
// restarting subtasks and config_persisted for accepted patches have no budget:
// they are bounded by the events that make them possible.
type Budget struct {
	Checkpoints     int // manual checkpoint triggers
	Savepoints      int // manual savepoint triggers
	StopSavepoints  int // stop-with-savepoint triggers (R24)
	Declines        int // declines (reason declined) of a pending checkpoint
	TaskFailures    int // task_failed of a running subtask
	TaskFinishes    int // task_finished of a running subtask
	PersistFailures int // persist_failed of the persisting checkpoint
	Recovers        int // coordinator failovers
	Patches         int // Model.Patch
	// Advances bounds the ticks. Time is abstracted to the instants at which
	// something is due: a tick goes to the core's NextDeadline (the earliest
	// expiration or periodic trigger), never anywhere in between, and state
	// keys measure times from the state's own clock, so two paths that reach
	// the same situation at different absolute times meet.
	Advances int
}

// Options bounds an exploration and chooses how it runs. The zero value
// explores completely on every CPU, without symmetry reduction.
type Options struct {
	// Workers is the number of goroutines expanding states (0: GOMAXPROCS).
	// Counts and counterexamples do not depend on it.
	Workers int
	// Symmetry canonicalizes each node under the job's symmetries
	// (fsm.Topology.Symmetries): regions of one shape are interchangeable.
	Symmetry bool
	// MaxStates stops the search after this many distinct nodes (0: no bound);
	// the result is then not Complete.
	MaxStates int
	// Progress, when set, receives a line at most every ProgressEvery (default
	// 5s) and per finished depth: nodes, states/s, queue depth and an ETA.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Ignore, when set, drops violations it returns true for (a known issue
	// already reported to its owners). The explorer computes a step once for
	// every state that equals it up to a shift of the clock, so the event and
	// state it is given may be the path's shifted by a constant: it must not
	// judge by absolute times.
	Ignore func(fsm.Event, invariants.Violation, *fsm.State) bool
	// Minimize shrinks a counterexample with delta debugging (Minimize) into
	// Counterexample.Minimized.
	Minimize bool
}

// Result is the outcome of an exploration.
type Result struct {
	// Nodes is the number of distinct explored nodes: core state, invariant
	// checker history and remaining budget (see Explore).
	Nodes int
	// CoreStates is the number of distinct core states (fsm's AppendKey,
	// canonicalized like the nodes) among them.
	CoreStates  int
	Transitions int  // successors tried
	Depth       int  // the deepest explored path, in events after the start
	Complete    bool // every path within the budget was explored
	Violation   *Counterexample
	Elapsed     time.Duration
	Workers     int
	// Group is the number of symmetries the nodes were canonicalized under
	// (1 without Options.Symmetry).
	Group int
}

// Counterexample is a shortest path from the start to a violation.
type Counterexample struct {
	Model     *Model
	Invariant string // invariant name, or "panic" / "refused" for a core failure
	Detail    string
	Events    []fsm.Event // the start event first
	// Minimized is Events shrunk by delta debugging (with Options.Minimize and
	// an invariant or panic to keep): every event left is needed.
	Minimized []fsm.Event
}

// WriteHistory writes the counterexample as a ckpt-history/v1 file: the
// minimized events when there are some, else the shortest path. ReplayChecked
// (`ckpt explore --replay FILE`) reproduces every counterexample; `ckpt replay`
// reproduces those of the §10 invariants, and those of R24 through the claim
// line written after the last event (HISTORY.md, Claims), which states what
// the rule requires of the job there.
func (c *Counterexample) WriteHistory(w io.Writer) error {
	evs, what := c.Events, "shortest path"
	if len(c.Minimized) > 0 {
		evs, what = c.Minimized, fmt.Sprintf("minimized from a shortest path of %d events", len(c.Events))
	}
	fmt.Fprintf(w, "// Explore(%s): %s after %d events (%s)\n// %s\n", c.Model.Name, c.Invariant, len(evs), what,
		strings.ReplaceAll(c.Detail, "\n", "\n// "))
	hw, err := history.NewWriter(w, history.Header{Format: history.Format, Job: c.Model.Job, Config: c.Model.Config})
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if err := hw.WriteEvent(ev, nil); err != nil {
			return err
		}
	}
	if claim := c.claim(); claim != "" {
		// The header is line 1 and the events follow: the last event's line.
		_, err = fmt.Fprintf(w, "//claim log line %d: %s -- %s (ckpt explore)\n", len(evs)+1, claim, c.Invariant)
	}
	return err
}

// claim is what the violated rule says of the state after the last event,
// as a claim line's WHAT, when the claim grammar can say it.
func (c *Counterexample) claim() string {
	if c.Invariant != RuleStopWithSavepoint {
		return ""
	}
	if strings.Contains(c.Detail, " completed ") {
		return "job finished"
	}
	return "job failed"
}

// ReplayChecked replays a history through the core and every checker the
// explorer runs (the §10 invariants, the time rules and the rule properties
// of explore_rules.go) and returns the first failure as a counterexample
// (nil if none): the replay of an explorer counterexample file.
func ReplayChecked(h *history.History) (*Counterexample, error) {
	if len(h.Records) == 0 || h.Records[0].Event.Type != fsm.EvStart {
		return nil, fmt.Errorf("explore: %s: the history does not begin with a start event", h.File)
	}
	topo := h.Topology
	if topo == nil {
		t, err := fsm.NewTopology(h.Header.Job)
		if err != nil {
			return nil, fmt.Errorf("explore: %s: %w", h.File, err)
		}
		topo = t
	}
	s, err := fsm.New(topo, h.Header.Config)
	if err != nil {
		return nil, fmt.Errorf("explore: %s: %w", h.File, err)
	}
	m := &Model{Name: h.File, Job: h.Header.Job, Config: h.Header.Config}
	chk := newCheckers(topo, h.Header.Config)
	var evs []fsm.Event
	for _, r := range h.Records {
		evs = append(evs, r.Event)
		if cx := m.stepChecked(s, chk, r.Event, &Options{}); cx != nil {
			cx.Events = evs
			cx.Detail = fmt.Sprintf("%s:%d: %s", h.File, r.Line, cx.Detail)
			return cx, nil
		}
	}
	return nil, nil
}

// minimize fills Minimized by delta debugging over the events (the start
// kept): the smallest sub-history it finds whose replay through the core and
// both checkers still fails the same way.
func (c *Counterexample) minimize(topo *fsm.Topology) {
	if c.Invariant == "refused" {
		return
	}
	h := &history.History{Header: history.Header{Format: history.Format, Job: c.Model.Job, Config: c.Model.Config},
		Topology: topo}
	for i, ev := range c.Events {
		h.Records = append(h.Records, history.Record{Line: i + 2, Event: ev})
	}
	m, err := minimize(h, c.Invariant, func(topo *fsm.Topology, cfg fsm.Config, evs []fsm.Event) bool {
		return failsChecked(topo, cfg, evs, c.Invariant)
	})
	if err != nil {
		return // the violation needed the exploration's own filter (Options.Ignore)
	}
	for _, r := range m.Records {
		c.Minimized = append(c.Minimized, r.Event)
	}
}

// failsChecked replays evs (start first) through a fresh core and both
// checkers and reports whether the named invariant or rule breaks (or the
// core panics, for Panic).
func failsChecked(topo *fsm.Topology, cfg fsm.Config, evs []fsm.Event, name string) (failed bool) {
	defer func() {
		if p := recover(); p != nil {
			failed = name == Panic
		}
	}()
	s, err := fsm.New(topo, cfg)
	if err != nil {
		return false
	}
	chk := newCheckers(topo, cfg)
	for _, ev := range evs {
		b := snapshotBefore(s)
		effs, err := s.Step(ev)
		if err != nil {
			return false
		}
		for _, v := range chk.step(ev, effs, s, &b) {
			if v.Invariant == name {
				return true
			}
		}
	}
	return false
}

// checkers are the two checkers run after every step: the §10 invariants
// (invariants.Checker) and the time rules R10, R11/R62 (invariants.Timing).
type checkers struct {
	inv   *invariants.Checker
	tim   *invariants.Timing
	rules ruleChecker
}

func newCheckers(topo *fsm.Topology, cfg fsm.Config) *checkers {
	return &checkers{invariants.New(topo, cfg), invariants.NewTiming(topo, cfg), ruleChecker{cfg: cfg}}
}

func (c *checkers) clone() *checkers { return &checkers{c.inv.Clone(), c.tim.Clone(), c.rules} }

func (c *checkers) appendKey(b []byte, rl *fsm.Relabel) []byte {
	return c.rules.appendKey(c.tim.AppendKey(c.inv.AppendKey(b, rl), rl))
}

// step runs the three checkers on one accepted step.
func (c *checkers) step(ev fsm.Event, effs []fsm.Effect, s *fsm.State, b *before) []invariants.Violation {
	vs := c.inv.Step(ev, effs, s)
	vs = append(vs, c.tim.Step(ev, effs, s)...)
	vs = append(vs, c.rules.step(ev, effs, s, b)...)
	c.inv.Forget(s)
	c.tim.Forget(s)
	return vs
}

// stepChecked applies one event and checks it; a panic, a refusal or a
// violation becomes a counterexample (without its path, which the caller adds).
func (m *Model) stepChecked(s *fsm.State, chk *checkers, ev fsm.Event, opt *Options) *Counterexample {
	b := snapshotBefore(s)
	effs, cx := m.stepCore(s, ev)
	if cx != nil {
		return cx
	}
	return m.checkStep(chk, ev, effs, s, &b, opt)
}

// replayDetail recomputes a counterexample's detail on its own path: the
// memoized step that found it may have run on a time-shifted image of the
// path's state (explore_memo.go), so the times in its message may be shifted.
func (m *Model) replayDetail(cx *Counterexample, opt *Options) {
	topo, err := fsm.NewTopology(m.Job)
	if err != nil || len(cx.Events) == 0 {
		return
	}
	s, err := fsm.New(topo, m.Config)
	if err != nil {
		return
	}
	chk := newCheckers(topo, m.Config)
	for i, ev := range cx.Events {
		if v := m.stepChecked(s, chk, ev, opt); v != nil {
			if i == len(cx.Events)-1 && v.Invariant == cx.Invariant {
				cx.Detail = v.Detail
			}
			return
		}
	}
}
