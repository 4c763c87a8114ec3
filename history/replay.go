package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/invariants"
)

// Options controls a replay.
type Options struct {
	// Check evaluates every invariant of SEMANTICS §10 after every step.
	Check bool
	// Trace, when not nil, receives the readable trace: one line per event with
	// its effects and violations under it, then a closing summary.
	Trace io.Writer
	// CountsOnly leaves the summary's lists (triggered, completed, aborted,
	// trigger failures, discarded) empty and only counts them (Result.Counts),
	// so that a replay's memory does not grow with the history. The trace
	// needs only the counts.
	CountsOnly bool
	// Observe, when not nil, is called after every step with the event and the
	// core's effects (valid only during the call): renderers such as the HTML
	// timeline collect what they show from it while the replay checks.
	Observe func(ev fsm.Event, effs []fsm.Effect)
	// MaxListed, when positive, caps each list of the summary (and the
	// violations) at its first MaxListed entries, so that the summary's memory
	// is bounded whatever the history's length; Summary.Truncated then gives
	// every list's full count (HISTORY.md, "Summary"). 0: no cap.
	MaxListed int
}

// Result is the outcome of a replay that read the whole history. Invariant
// violations are in Summary.Violations.
type Result struct {
	Summary Summary
	// Divergence is the first event whose recorded effects differ from the
	// recomputed ones; nil if none did (or none were recorded).
	Divergence *Divergence
	// Claims are the //claim lines the core's decisions contradict, every
	// one of them (claims.go); Checked counts the claims checked.
	Claims  []ClaimFailure
	Checked int
	// Counts are the lengths of the summary's lists, also with CountsOnly.
	Counts Counts
}

// Counts are how many checkpoints were triggered, completed, aborted and
// discarded, and how many requests failed without an id.
type Counts struct {
	Triggered, Completed, Aborted, TriggerFailures, Discarded int
}

// OK reports whether every invariant held, no recorded effect diverged and
// every claim held.
func (r *Result) OK() bool {
	return len(r.Summary.Violations) == 0 && r.Divergence == nil && len(r.Claims) == 0
}

// stepChecker is what Replay needs of an invariant checker. The core has no
// known violation to replay, so tests substitute a checker that reports one.
type stepChecker interface {
	Step(ev fsm.Event, effs []fsm.Effect, s *fsm.State) []invariants.Violation
	Resume(at int64, d fsm.Durable, effs []fsm.Effect, s *fsm.State) []invariants.Violation
	Adopt(s *fsm.State) []invariants.Violation
}

var newChecker = func(t *fsm.Topology, cfg fsm.Config) stepChecker { return invariants.New(t, cfg) }

// Replay steps the decision core through every record of h. An event the core
// refuses (time going backwards, an event before start, …) is invalid input: the
// error is an *Error for that record's line and no Result is returned.
// Violations and a divergence do not stop the replay: the summary covers the
// whole history.
func Replay(h *History, opt Options) (*Result, error) {
	topo := h.Topology
	if topo == nil {
		t, err := fsm.NewTopology(h.Header.Job)
		if err != nil {
			return nil, at(h.File, h.HeaderLine, topologyError(err))
		}
		topo = t
	}
	r, err := newReplayer(h.File, h.HeaderLine, h.Header, topo, opt)
	if err != nil {
		return nil, err
	}
	defer r.flush()
	r.claims.add(h.Claims)
	for _, rec := range h.Records {
		if err := r.step(rec); err != nil {
			return nil, err
		}
	}
	return r.finish(), nil
}

// ReplayReader is Replay on a history read one event at a time (NewReader):
// its memory is the core's state, one line and the summary — with
// Options.CountsOnly, the summary's counts only — whatever the input's size.
// A decoding error stops it like an event the core refuses.
func ReplayReader(d *Reader, opt Options) (*Result, error) {
	r, err := newReplayer(d.File(), d.HeaderLine(), d.Header(), d.Topology(), opt)
	if err != nil {
		return nil, err
	}
	defer r.flush()
	for {
		rec, err := d.Next()
		// Claims before this event hold after the ones before it: check them
		// on the state as it is now.
		r.claims.add(d.TakeClaims())
		r.checkClaims(r.steps)
		if err == io.EOF {
			return r.finish(), nil
		}
		if err != nil {
			return nil, err
		}
		if err := r.step(rec); err != nil {
			return nil, err
		}
	}
}

// replayer is one replay in progress: the core, the checkers, the trace and
// the summary so far.
type replayer struct {
	file    string
	topo    *fsm.Topology
	cfg     fsm.Config
	s       *fsm.State
	checker stepChecker
	claims  *claimChecker
	tw      *traceWriter
	sum     *summarizer
	res     *Result
	check   bool
	steps   int
	observe func(ev fsm.Event, effs []fsm.Effect)
}

func newReplayer(file string, headerLine int, hdr Header, topo *fsm.Topology, opt Options) (*replayer, error) {
	s, err := fsm.New(topo, hdr.Config)
	if err != nil {
		return nil, at(file, headerLine, configError(err))
	}
	r := &replayer{file: file, topo: topo, cfg: hdr.Config, s: s, sum: newSummarizer(topo, opt.CountsOnly, opt.MaxListed), res: &Result{},
		check: opt.Check, claims: newClaimChecker(file), observe: opt.Observe}
	if opt.Check {
		r.checker = newChecker(topo, hdr.Config)
	}
	if opt.Trace != nil {
		r.tw = &traceWriter{w: bufio.NewWriter(opt.Trace), topo: topo}
	}
	return r, nil
}

func (r *replayer) flush() {
	if r.tw != nil {
		r.tw.w.Flush()
	}
}

// checkClaims checks the claims that follow the first n events.
func (r *replayer) checkClaims(n int) {
	failed := r.claims.checkUpTo(n, r.s)
	r.res.Claims = append(r.res.Claims, failed...)
	if r.tw != nil {
		r.tw.claims(failed)
	}
}

func (r *replayer) step(rec Record) error {
	topo, res := r.topo, r.res
	if r.steps == 0 {
		r.checkClaims(0) // claims about the initial state
	}
	var effs []fsm.Effect
	var err error
	switch {
	case rec.Resume != nil:
		effs, err = r.resume(rec)
	case rec.Snapshot != nil:
		// The history continues from this core (HISTORY.md, "Snapshot"):
		// nothing happens at the record itself.
		r.s = rec.Snapshot.Clone()
	default:
		effs, err = r.s.Step(rec.Event)
	}
	if err != nil {
		return stepError(r.file, rec.Line, err)
	}
	r.steps++
	// The description is rendered only when something needs it: on a clean
	// replay without a trace it would be most of the replay's cost.
	desc := ""
	if r.tw != nil || rec.HasRecorded && res.Divergence == nil {
		desc = describeRecord(topo, rec)
	}
	r.sum.step(effs)
	if r.observe != nil {
		r.observe(rec.Event, effs)
	}
	var vs []invariants.Violation
	if r.checker != nil {
		switch {
		case rec.Resume != nil:
			vs = r.checker.Resume(rec.Event.At, *rec.Resume, effs, r.s)
		case rec.Snapshot != nil:
			vs = r.checker.Adopt(r.s)
		default:
			vs = r.checker.Step(rec.Event, effs, r.s)
		}
		if len(vs) > 0 && desc == "" {
			desc = describeRecord(topo, rec)
		}
		for _, v := range vs {
			r.sum.violation(Violation{Invariant: v.Invariant, Line: rec.Line, Event: desc, Detail: v.Detail})
		}
	}
	var div *Divergence
	if rec.HasRecorded && res.Divergence == nil {
		div = diverge(r.file, topo, rec, desc, effs)
		res.Divergence = div
	}
	if r.tw != nil {
		r.tw.step(rec.Line, rec.Event.At, desc, effs, vs, div)
	}
	r.claims.observe(effs)
	r.checkClaims(r.steps)
	return nil
}

// resume builds the core from a resume record's durable state (fsm.Resume,
// R50): the history's first record, so the core has seen nothing yet. Its
// effects are the discards Resume decides (R40).
func (r *replayer) resume(rec Record) ([]fsm.Effect, error) {
	s, effs, err := fsm.Resume(r.topo, r.cfg, *rec.Resume, rec.Event.At)
	if err != nil {
		return nil, err
	}
	r.s = s
	return effs, nil
}

// describeRecord is DescribeEvent, or for a resume or snapshot record the
// state it starts from.
func describeRecord(t *fsm.Topology, rec Record) string {
	if s := rec.Snapshot; s != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "@%d snapshot next_id=%d job=%s", s.Now(), s.NextID(), s.Job())
		s.EachPending(func(p fsm.PendingInfo) bool {
			fmt.Fprintf(&b, " pending=%d", p.ID)
			return true
		})
		for _, k := range s.Known() {
			fmt.Fprintf(&b, " %d(%s", k.ID, k.Mode)
			for _, ref := range k.Refs {
				fmt.Fprintf(&b, " %s->%d", fsm.RegionName(ref.Region), ref.Checkpoint)
			}
			b.WriteString(")")
		}
		if e := s.Effective(); e.OverridesActive {
			fmt.Fprintf(&b, " overrides=%d/%d", e.IntervalMs, e.TimeoutMs)
		}
		return b.String()
	}
	if d := rec.Resume; d != nil {
		var b strings.Builder
		fmt.Fprintf(&b, "@%d resume next_id=%d", rec.Event.At, d.NextID)
		for _, k := range d.Known {
			fmt.Fprintf(&b, " %d(%s", k.ID, k.Mode)
			for _, ref := range k.Refs {
				fmt.Fprintf(&b, " %s->%d", fsm.RegionName(ref.Region), ref.Checkpoint)
			}
			b.WriteString(")")
		}
		if e := d.Overrides; e != nil {
			fmt.Fprintf(&b, " overrides=%d/%d", e.IntervalMs, e.TimeoutMs)
		}
		return b.String()
	}
	return fsm.DescribeEvent(t, rec.Event)
}

func (r *replayer) finish() *Result {
	r.res.Summary, r.res.Counts = r.sum.finish(r.s)
	r.res.Checked = r.claims.checked
	if r.tw != nil {
		r.tw.summary(&r.res.Summary, r.res.Counts, r.check)
		if r.res.Checked > 0 {
			fmt.Fprintf(r.tw.w, "-- claims: %d checked, %d contradicted by the core\n", r.res.Checked, len(r.res.Claims))
		}
	}
	return r.res
}

// stepError places an error of the core on the record's line, keeping the field
// fsm names.
func stepError(file string, line int, err error) *Error {
	var ee *fsm.EventError
	if errors.As(err, &ee) {
		return &Error{File: file, Line: line, Field: ee.Field, Reason: ee.Reason}
	}
	return &Error{File: file, Line: line, Reason: err.Error()}
}

// diverge compares a record's recorded effects with the recomputed ones.
func diverge(file string, topo *fsm.Topology, rec Record, desc string, effs []fsm.Effect) *Divergence {
	got := make([]json.RawMessage, len(effs))
	for i, e := range effs {
		got[i] = EncodeEffect(topo, e)
	}
	idx, field, ok := compareEffects(rec.Recorded, got)
	if ok {
		return nil
	}
	d := &Divergence{File: file, Line: rec.Line, Event: desc, Index: idx, Field: field}
	for _, r := range rec.Recorded {
		d.Recorded = append(d.Recorded, string(r))
	}
	for _, r := range got {
		d.Recomputed = append(d.Recomputed, string(r))
	}
	return d
}
