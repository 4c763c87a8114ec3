package fuzz

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// Panic is the name Minimize accepts, besides the invariants of SEMANTICS §10,
// for a history whose replay makes the core panic.
const Panic = "panic"

// Minimize shrinks a failing history by delta debugging (Zeller's ddmin) over
// its events: it keeps the header and the first record — the start event, or
// the resume (ckpt-history/v1.1) or snapshot (v1.3) record a flight file
// written after a restart or a rotation starts with — and returns a history
// whose replay still breaks the named invariant (or panics, for Panic), such
// that removing any single further event would make it pass. Recorded effects
// are dropped: they would no longer match. The input is not modified.
//
// Removing events keeps a history valid: time still never goes backwards and
// every subtask still exists; an event the core refuses (a second start cannot
// arise) counts as not reproducing the failure.
func Minimize(h *history.History, invariant string) (*history.History, error) {
	if invariant != Panic && !slices.Contains(invariants.All, invariant) {
		return nil, fmt.Errorf("fuzz: minimize: unknown invariant %q (want one of %s or %q)",
			invariant, strings.Join(invariants.All, ", "), Panic)
	}
	return minimizeFrom(h, invariant, func(topo *fsm.Topology, cfg fsm.Config, first history.Record, evs []fsm.Event) bool {
		return failsFrom(topo, cfg, first, evs, invariant)
	})
}

// minimize is Minimize for any predicate over the events, start included, of
// a history that begins with a start event; what names the failure in errors.
func minimize(h *history.History, what string, fails func(*fsm.Topology, fsm.Config, []fsm.Event) bool) (*history.History, error) {
	if len(h.Records) == 0 || h.Records[0].Event.Type != fsm.EvStart {
		return nil, errors.New("fuzz: minimize: the history does not begin with a start event")
	}
	return minimizeFrom(h, what, func(topo *fsm.Topology, cfg fsm.Config, first history.Record, evs []fsm.Event) bool {
		return fails(topo, cfg, append([]fsm.Event{first.Event}, evs...))
	})
}

// minimizeFrom is Minimize for any predicate over the first record (a start
// event, a resume or a snapshot record) and the events after it, which ddmin
// shrinks; the first record is kept as it is.
func minimizeFrom(h *history.History, what string, fails func(*fsm.Topology, fsm.Config, history.Record, []fsm.Event) bool) (*history.History, error) {
	if len(h.Records) == 0 || h.Records[0].Event.Type != fsm.EvStart && h.Records[0].Resume == nil && h.Records[0].Snapshot == nil {
		return nil, errors.New("fuzz: minimize: the history begins with neither a start event nor a resume or snapshot record")
	}
	topo := h.Topology
	if topo == nil {
		t, err := fsm.NewTopology(h.Header.Job)
		if err != nil {
			return nil, fmt.Errorf("fuzz: minimize: %w", err)
		}
		topo = t
	}
	first := h.Records[0]
	first.Recorded, first.HasRecorded = nil, false // dropped like every recorded effect
	events := make([]fsm.Event, 0, len(h.Records)-1)
	for _, r := range h.Records[1:] {
		events = append(events, r.Event)
	}
	test := func(evs []fsm.Event) bool {
		return fails(topo, h.Header.Config, first, evs)
	}
	if !test(events) {
		return nil, fmt.Errorf("fuzz: minimize: replaying %s does not break %s", h.File, what)
	}
	events = ddmin(events, test)

	first.Line = 2
	out := &history.History{File: h.File, HeaderLine: 1, Header: h.Header, Topology: topo, Records: []history.Record{first}}
	for i, ev := range events {
		out.Records = append(out.Records, history.Record{Line: i + 3, Event: ev})
	}
	return out, nil
}

// ddmin returns a 1-minimal sub-sequence of evs for which fails holds, given
// that it holds for evs: test each of n chunks, then each complement, and
// refine the split when neither reduces.
func ddmin(evs []fsm.Event, fails func([]fsm.Event) bool) []fsm.Event {
	n := 2
outer:
	for len(evs) >= 2 {
		chunks := split(evs, n)
		for _, c := range chunks {
			if fails(c) {
				evs, n = c, 2
				continue outer
			}
		}
		if n > 2 { // with two chunks the complements are the chunks themselves
			for i := range chunks {
				if c := complement(chunks, i); fails(c) {
					evs, n = c, max(n-1, 2)
					continue outer
				}
			}
		}
		if n >= len(evs) {
			break
		}
		n = min(2*n, len(evs))
	}
	if len(evs) == 1 && fails(nil) {
		return nil
	}
	return evs
}

// split cuts evs into n nearly equal consecutive chunks.
func split(evs []fsm.Event, n int) [][]fsm.Event {
	var out [][]fsm.Event
	for i := 0; i < n; i++ {
		lo, hi := i*len(evs)/n, (i+1)*len(evs)/n
		if lo < hi {
			out = append(out, evs[lo:hi:hi])
		}
	}
	return out
}

func complement(chunks [][]fsm.Event, skip int) []fsm.Event {
	var out []fsm.Event
	for i, c := range chunks {
		if i != skip {
			out = append(out, c...)
		}
	}
	return out
}

// failsFrom replays first and evs through a core and checker built as replay
// builds them and reports whether the invariant breaks (or the core panics,
// for Panic).
func failsFrom(topo *fsm.Topology, cfg fsm.Config, first history.Record, evs []fsm.Event, invariant string) (failed bool) {
	defer func() {
		if p := recover(); p != nil {
			failed = invariant == Panic
		}
	}()
	s, chk, vs, err := startCore(topo, cfg, first)
	if err != nil {
		return false
	}
	for _, v := range vs {
		if v.Invariant == invariant {
			return true
		}
	}
	for _, ev := range evs {
		effs, err := s.Step(ev)
		if err != nil {
			return false
		}
		for _, v := range chk.Step(ev, effs, s) {
			if v.Invariant == invariant {
				return true
			}
		}
	}
	return false
}

// WriteHistory writes h in its header's format, with comment (if any) as
// leading // lines and without recorded effects (a resume or snapshot record
// first, as such): the form Minimize returns and `ckpt replay` reads.
func WriteHistory(w io.Writer, h *history.History, comment string) error {
	if comment != "" {
		if _, err := io.WriteString(w, "// "+strings.ReplaceAll(strings.TrimRight(comment, "\n"), "\n", "\n// ")+"\n"); err != nil {
			return err
		}
	}
	hw, err := history.NewWriter(w, h.Header)
	if err != nil {
		return err
	}
	for _, r := range h.Records {
		if err := hw.WriteRecord(r); err != nil {
			return err
		}
	}
	return nil
}

// startCore builds the core and checker a history's first record starts, as
// replay does: a fresh core stepped through the start event, fsm.Resume for a
// resume record (R50), a clone of a snapshot record's core. It returns the
// violations the checker finds at that record.
func startCore(topo *fsm.Topology, cfg fsm.Config, first history.Record) (*fsm.State, *invariants.Checker, []invariants.Violation, error) {
	chk := invariants.New(topo, cfg)
	switch {
	case first.Resume != nil:
		s, effs, err := fsm.Resume(topo, cfg, *first.Resume, first.Event.At)
		if err != nil {
			return nil, nil, nil, err
		}
		return s, chk, chk.Resume(first.Event.At, *first.Resume, effs, s), nil
	case first.Snapshot != nil:
		s := first.Snapshot.Clone()
		return s, chk, chk.Adopt(s), nil
	}
	s, err := fsm.New(topo, cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	effs, err := s.Step(first.Event)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, chk, chk.Step(first.Event, effs, s), nil
}
