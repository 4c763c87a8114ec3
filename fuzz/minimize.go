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
// its events: it keeps the header and the start event and returns a history
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
	return minimize(h, invariant, func(topo *fsm.Topology, cfg fsm.Config, evs []fsm.Event) bool {
		return failsWith(topo, cfg, evs, invariant)
	})
}

// minimize is Minimize for any predicate over the events, start included;
// what names the failure in errors.
func minimize(h *history.History, what string, fails func(*fsm.Topology, fsm.Config, []fsm.Event) bool) (*history.History, error) {
	if len(h.Records) == 0 || h.Records[0].Event.Type != fsm.EvStart {
		return nil, errors.New("fuzz: minimize: the history does not begin with a start event")
	}
	topo := h.Topology
	if topo == nil {
		t, err := fsm.NewTopology(h.Header.Job)
		if err != nil {
			return nil, fmt.Errorf("fuzz: minimize: %w", err)
		}
		topo = t
	}
	start := h.Records[0].Event
	events := make([]fsm.Event, 0, len(h.Records)-1)
	for _, r := range h.Records[1:] {
		events = append(events, r.Event)
	}
	test := func(evs []fsm.Event) bool {
		return fails(topo, h.Header.Config, append([]fsm.Event{start}, evs...))
	}
	if !test(events) {
		return nil, fmt.Errorf("fuzz: minimize: replaying %s does not break %s", h.File, what)
	}
	events = ddmin(events, test)

	out := &history.History{File: h.File, HeaderLine: 1, Header: h.Header, Topology: topo}
	for i, ev := range append([]fsm.Event{start}, events...) {
		out.Records = append(out.Records, history.Record{Line: i + 2, Event: ev})
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

// failsWith replays evs (start first) through a fresh core and checker and
// reports whether the invariant breaks (or the core panics, for Panic).
func failsWith(topo *fsm.Topology, cfg fsm.Config, evs []fsm.Event, invariant string) (failed bool) {
	defer func() {
		if p := recover(); p != nil {
			failed = invariant == Panic
		}
	}()
	s, err := fsm.New(topo, cfg)
	if err != nil {
		return false
	}
	chk := invariants.New(topo, cfg)
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

// WriteHistory writes h as a ckpt-history/v1 file, with comment (if any) as
// leading // lines and without recorded effects: the form Minimize returns and
// `ckpt replay` reads.
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
		if err := hw.WriteEvent(r.Event, nil); err != nil {
			return err
		}
	}
	return nil
}
