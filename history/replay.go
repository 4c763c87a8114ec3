package history

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"

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
	s, err := fsm.New(topo, h.Header.Config)
	if err != nil {
		return nil, at(h.File, h.HeaderLine, configError(err))
	}
	var checker stepChecker
	if opt.Check {
		checker = newChecker(topo, h.Header.Config)
	}
	var tw *traceWriter
	if opt.Trace != nil {
		tw = &traceWriter{w: bufio.NewWriter(opt.Trace), topo: topo}
		defer tw.w.Flush()
	}
	sum := newSummarizer(topo)
	res := &Result{Checked: len(h.Claims)}
	claims := newClaimChecker(h.File, h.Claims)
	if claims != nil {
		res.Claims = append(res.Claims, claims.step(-1, nil, s)...)
	}
	for i, rec := range h.Records {
		effs, err := s.Step(rec.Event)
		if err != nil {
			return nil, stepError(h.File, rec.Line, err)
		}
		// The description is rendered only when something needs it: on a clean
		// replay without a trace it would be most of the replay's cost.
		desc := ""
		if tw != nil || rec.HasRecorded && res.Divergence == nil {
			desc = fsm.DescribeEvent(topo, rec.Event)
		}
		sum.step(effs)
		var vs []invariants.Violation
		if checker != nil {
			vs = checker.Step(rec.Event, effs, s)
			if len(vs) > 0 && desc == "" {
				desc = fsm.DescribeEvent(topo, rec.Event)
			}
			for _, v := range vs {
				sum.sum.Violations = append(sum.sum.Violations, Violation{Invariant: v.Invariant,
					Line: rec.Line, Event: desc, Detail: v.Detail})
			}
		}
		var div *Divergence
		if rec.HasRecorded && res.Divergence == nil {
			div = diverge(h.File, topo, rec, desc, effs)
			res.Divergence = div
		}
		if tw != nil {
			tw.step(rec.Line, rec.Event.At, desc, effs, vs, div)
		}
		if claims != nil {
			failed := claims.step(i, effs, s)
			res.Claims = append(res.Claims, failed...)
			if tw != nil {
				tw.claims(failed)
			}
		}
	}
	res.Summary = sum.finish(s)
	if tw != nil {
		tw.summary(&res.Summary, opt.Check)
		if res.Checked > 0 {
			fmt.Fprintf(tw.w, "-- claims: %d checked, %d contradicted by the core\n", res.Checked, len(res.Claims))
		}
	}
	return res, nil
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
