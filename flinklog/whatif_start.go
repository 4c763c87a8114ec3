package flinklog

import (
	"fmt"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// What-if on a history that starts from a resume or snapshot record (a flight
// file written after a restart, ckpt-history/v1.1, or after a rotation, v1.3):
// both runs start from the same state, each under its own configuration
// (docs/DECISIONS.md#whatif-flight-files).

// newRunFrom is newRun starting from the history's first record: a fresh core
// when there is none (the start event is Events[0]); fsm.Resume under cfg for
// a resume record, as replay resumes (R50: retention and the consecutive
// count are recomputed under cfg); for a snapshot record, the snapshot's core
// under cfg (fsm.State.WithConfig: its pending checkpoints keep the path they
// were triggered on). The checker starts as replay's does (Resume, Adopt);
// what it finds at the record is reported as a violation of the record. It
// returns the record as the run's own history starts (nil for a fresh core).
func newRunFrom(topo *fsm.Topology, cfg fsm.Config, first *history.Record) (*run, *history.Record, error) {
	if first == nil {
		r, err := newRun(topo, cfg)
		return r, nil, err
	}
	r := &run{chk: invariants.New(topo, cfg), out: map[int64]*outcome{}, acks: map[int64][]ackAt{},
		endedAt: map[int][]int64{}}
	var vs []invariants.Violation
	var start history.Record
	var what string
	switch {
	case first.Resume != nil:
		what = "resume record"
		st, effs, err := fsm.Resume(topo, cfg, *first.Resume, first.Event.At)
		if err != nil {
			return nil, nil, fmt.Errorf("the %s (line %d): %w", what, first.Line, err)
		}
		r.st = st
		vs = r.chk.Resume(first.Event.At, *first.Resume, effs, st)
		d := *first.Resume
		start = history.Record{Line: first.Line, Event: fsm.Event{At: first.Event.At}, Resume: &d}
	case first.Snapshot != nil:
		what = "snapshot record"
		st := first.Snapshot.Clone()
		if st.Config() != cfg {
			var err error
			if st, err = first.Snapshot.WithConfig(cfg); err != nil {
				return nil, nil, fmt.Errorf("the %s (line %d) under the changed configuration: %w", what, first.Line, err)
			}
		}
		r.st = st
		vs = r.chk.Adopt(st)
		start = history.Record{Line: first.Line, Event: fsm.Event{At: st.Now()}, Snapshot: st.Clone()}
	default:
		return nil, nil, fmt.Errorf("line %d: the first record is neither a resume nor a snapshot record", first.Line)
	}
	for _, v := range vs {
		r.viol = append(r.viol, fmt.Sprintf("the %s (line %d): %v", what, first.Line, v))
	}
	return r, &start, nil
}

// formatOf is the header format a history starting with rec needs.
func formatOf(rec *history.Record) string {
	if rec.Snapshot != nil {
		return history.FormatSnapshot
	}
	return history.FormatResume
}

// adoptPending pairs the checkpoints pending in the state both runs start from
// (a snapshot record's): the same id in both, each recorded as an attempt of
// no step (-1), so that the recorded events about them reach the regional run
// and their ends are reported like those of checkpoints triggered later.
func (w *whatIf) adoptPending() {
	var kept []string
	for _, p := range w.rec.st.Pending() {
		if !p.RegionalPath {
			kept = append(kept, fmt.Sprint(p.ID))
		}
		rk, gk := len(w.rec.attempts), len(w.reg.attempts)
		w.rec.attempts = append(w.rec.attempts, attempt{step: -1, trigger: true, id: p.ID, kind: p.Kind, peer: gk})
		w.reg.attempts = append(w.reg.attempts, attempt{step: -1, trigger: true, id: p.ID, kind: p.Kind, peer: rk})
		w.rec.out[p.ID] = &outcome{kind: p.Kind, persist: p.Persisting}
		w.reg.out[p.ID] = &outcome{kind: p.Kind, persist: p.Persisting}
		w.regOf[p.ID], w.recOf[p.ID] = p.ID, p.ID
	}
	w.regNext = len(w.reg.attempts)
	if len(kept) > 0 {
		w.notes = append(w.notes, fmt.Sprintf("pending in the snapshot record on the global path: checkpoint %s; each keeps that path (R17: "+
			"the path is decided at the trigger), the regional configuration decides the checkpoints triggered after the snapshot",
			strings.Join(kept, ", ")))
	}
}
