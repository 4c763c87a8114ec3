package flinklog

import (
	"fmt"
	"io"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// WhatIfOptions is the regional configuration a job is re-decided under.
type WhatIfOptions struct {
	MaxFailureRatio float64 // regional.max_failure_ratio
	MaxConsecutive  int     // regional.max_consecutive
	MaxRefAge       int64   // regional.max_ref_age, 0 = no bound
}

// DefaultWhatIfOptions are SEMANTICS §2's defaults.
func DefaultWhatIfOptions() WhatIfOptions {
	d := fsm.DefaultConfig().Regional
	return WhatIfOptions{MaxFailureRatio: d.MaxFailureRatio, MaxConsecutive: d.MaxConsecutive, MaxRefAge: d.MaxRefAge}
}

// WhatIfOptionsFor are the options a history is re-decided under by default:
// its own regional configuration when it already has one (so that the answer
// on a regional recording is the recording itself), else the defaults.
func WhatIfOptionsFor(h history.Header) WhatIfOptions {
	if r := h.Config.Regional; r.Enabled {
		return WhatIfOptions{MaxFailureRatio: r.MaxFailureRatio, MaxConsecutive: r.MaxConsecutive, MaxRefAge: r.MaxRefAge}
	}
	return DefaultWhatIfOptions()
}

// WhatIfInput is a history to re-decide, with what the import knows about it.
type WhatIfInput struct {
	Source       string
	Job          string
	Header       history.Header
	Events       []fsm.Event
	LogID        func(int64) int64 // the log's id of a recorded checkpoint; nil for a history file
	Topology     *Topology         // how the job was reconstructed; nil for a history file
	AssumedPrior int64             // the restore the import assumed, 0 if none
	// First is the resume (ckpt-history/v1.1) or snapshot (v1.3) record the
	// history starts from, as a flight file after a restart or a rotation
	// does; nil when it starts with a start event (Events[0]). Both runs
	// start from it (whatif_start.go); Events are the events after it.
	First *history.Record
}

// Ref is one failed region's fallback: the checkpoint whose state it would use.
type Ref struct {
	Region     string `json:"region"`
	Checkpoint int64  `json:"checkpoint"`
	LogID      int64  `json:"log_id,omitempty"`
	Assumed    bool   `json:"assumed,omitempty"` // the checkpoint the import assumed before the log
}

// WhatIfRow is one checkpoint that failed as recorded, and its regional fate.
type WhatIfRow struct {
	ID         int64  `json:"id"` // as recorded; 0 for a request that got no id
	LogID      int64  `json:"log_id,omitempty"`
	Kind       string `json:"kind"`
	Recorded   string `json:"recorded"` // aborted (reason) or refused (reason)
	Cause      string `json:"cause"`    // the subtask and region it is attributed to, or why none
	RegionalID int64  `json:"regional_id,omitempty"`
	Regional   string `json:"regional"` // completed (regional|global), aborted (reason), not triggered, pending
	Refs       []Ref  `json:"refs"`
	Saved      bool   `json:"saved"`
	Why        string `json:"why,omitempty"`
}

// WhatIfTotals sums the rows up.
type WhatIfTotals struct {
	Failed        int    `json:"failed"`       // recorded checkpoints that did not complete (subsumed ones aside)
	Saved         int    `json:"saved"`        // of those, completed regionally (or globally)
	Refused       int    `json:"refused"`      // recorded requests that got no id
	Extra         int    `json:"extra"`        // of those, triggered and completed under regional mode
	Unrequested   int    `json:"unrequested"`  // regional completions of requests the recording never made
	Lost          int    `json:"lost"`         // recorded completions that regional mode did not complete
	MaxRefAge     int64  `json:"max_ref_age"`  // largest id − referenced id of any regional completion
	RecordedJob   string `json:"recorded_job"` // the job's end as recorded
	RegionalJob   string `json:"regional_job"` // and under regional mode
	Completed     int    `json:"completed"`    // completions as recorded
	CompletedAlt  int    `json:"completed_regional"`
	RegionalModes int    `json:"regional_completions"` // completions that used older state for some region
}

// WhatIfReport is the answer, as JSON (ckpt-whatif/v1) or a table.
type WhatIfReport struct {
	Format     string       `json:"format"`
	Source     string       `json:"source"`
	Job        string       `json:"job,omitempty"`
	Regional   regionalJSON `json:"regional"`
	Topology   whatIfTopo   `json:"topology"`
	Rows       []WhatIfRow  `json:"checkpoints"`
	Totals     WhatIfTotals `json:"totals"`
	Notes      []string     `json:"notes"`
	Violations []string     `json:"violations"`

	header history.Header  // the regional run, for WriteRegionalHistory
	first  *history.Record // its resume or snapshot record, nil if it starts with a start event
	events []fsm.Event
}

// WriteRegionalHistory writes the regional run as a history (synthesized acks
// and persists included), so that `replay` can show or re-check it.
func (rep *WhatIfReport) WriteRegionalHistory(w io.Writer) error {
	hw, err := history.NewWriter(w, rep.header)
	if err != nil {
		return err
	}
	if rep.first != nil {
		if err := hw.WriteRecord(*rep.first); err != nil {
			return err
		}
	}
	for _, ev := range rep.events {
		if err := hw.WriteEvent(ev, nil); err != nil {
			return err
		}
	}
	return nil
}

type regionalJSON struct {
	Enabled         bool    `json:"enabled"`
	MaxFailureRatio float64 `json:"max_failure_ratio"`
	MaxConsecutive  int     `json:"max_consecutive"`
	MaxRefAge       int64   `json:"max_ref_age"`
}

type whatIfTopo struct {
	Subtasks               int    `json:"subtasks"`
	Regions                int    `json:"regions"`
	Known                  string `json:"known"`
	Edges                  string `json:"edges"`
	EmbarrassinglyParallel bool   `json:"embarrassingly_parallel"`
	WhyNot                 string `json:"why_not,omitempty"`
	Advice                 string `json:"advice,omitempty"`
}

// outcome is what one core decided for one checkpoint.
type outcome struct {
	kind      fsm.Kind
	completed bool
	mode      fsm.Mode
	refs      []fsm.RegionRef
	reason    fsm.Reason
	message   string
	event     int // index of the event in whose step it ended
	ended     bool
	persist   bool // the core asked for its metadata to be written
}

// attempt is one trigger or trigger_failed effect of a run: a checkpoint
// request (a trigger event's, a queued one's or the periodic schedule's) that
// got an id or was refused, at the step of event `step`.
type attempt struct {
	step    int
	trigger bool
	id      int64 // trigger: the checkpoint's id
	kind    fsm.Kind
	reason  fsm.Reason // trigger_failed
	message string
	peer    int // the other run's attempt it is paired with, -1 if none
}

// ackAt is an ack a run received, at the step of event `step`.
type ackAt struct {
	step int
	task fsm.TaskID
}

// run is one core replaying the history, with its decisions per checkpoint and
// every request it triggered or refused, so that two runs whose ids diverge can
// still be compared attempt by attempt.
type run struct {
	st       *fsm.State
	chk      *invariants.Checker
	attempts []attempt
	out      map[int64]*outcome
	acks     map[int64][]ackAt // recorded acks per checkpoint, for a late pairing
	endedAt  map[int][]int64   // event index -> checkpoints that ended in its step
	persist  []int64           // persist effects not yet looked at
	viol     []string
	cur      int
	events   []fsm.Event // every event stepped, synthesized ones included
}

func newRun(topo *fsm.Topology, cfg fsm.Config) (*run, error) {
	st, err := fsm.New(topo, cfg)
	if err != nil {
		return nil, err
	}
	return &run{st: st, chk: invariants.New(topo, cfg), out: map[int64]*outcome{}, acks: map[int64][]ackAt{},
		endedAt: map[int][]int64{}}, nil
}

// step applies one event and records the decisions.
func (r *run) step(ev fsm.Event) ([]fsm.Effect, error) {
	effs, err := r.st.Step(ev)
	if err != nil {
		return nil, err
	}
	r.events = append(r.events, ev)
	for _, v := range r.chk.Step(ev, effs, r.st) {
		r.viol = append(r.viol, fmt.Sprintf("event %d (%s): %v", r.cur+1, fsm.DescribeEvent(r.st.Topology(), ev), v))
	}
	if ev.Type == fsm.EvAck {
		r.acks[ev.Checkpoint] = append(r.acks[ev.Checkpoint], ackAt{r.cur, ev.Task})
	}
	for _, f := range effs {
		switch f.Type {
		case fsm.EffTrigger:
			r.attempts = append(r.attempts, attempt{step: r.cur, trigger: true, id: f.Checkpoint, kind: f.Kind, peer: -1})
			r.out[f.Checkpoint] = &outcome{kind: f.Kind}
		case fsm.EffTriggerFailed:
			r.attempts = append(r.attempts, attempt{step: r.cur, kind: f.Kind, reason: f.Reason, message: f.Message, peer: -1})
		case fsm.EffPersist:
			r.persist = append(r.persist, f.Checkpoint)
			if o := r.out[f.Checkpoint]; o != nil {
				o.persist = true
			}
		case fsm.EffCompleted:
			if o := r.out[f.Checkpoint]; o != nil {
				o.completed, o.ended, o.mode, o.event = true, true, f.Mode, r.cur
				o.refs = append([]fsm.RegionRef(nil), f.Refs...)
				r.endedAt[r.cur] = append(r.endedAt[r.cur], f.Checkpoint)
			}
		case fsm.EffAbort:
			if o := r.out[f.Checkpoint]; o != nil {
				o.ended, o.reason, o.message, o.event = true, f.Reason, f.Message, r.cur
				r.endedAt[r.cur] = append(r.endedAt[r.cur], f.Checkpoint)
			}
		}
	}
	return effs, nil
}

// pendingAt reports whether checkpoint id had not ended before event step.
func (r *run) pendingAt(id int64, step int) bool {
	o := r.out[id]
	return o != nil && (!o.ended || o.event >= step)
}

func (r *run) pending(id int64) (fsm.PendingInfo, bool) {
	for _, p := range r.st.Pending() {
		if p.ID == id {
			return p, true
		}
	}
	return fsm.PendingInfo{}, false
}

// WhatIf re-decides a history with regional checkpoints on. The recorded run
// and the regional run step through the same events in lockstep. Every
// checkpoint the regional run triggers is paired with the recorded attempt of
// the same step and kind (or, when the regional run triggers later, with the
// oldest recorded checkpoint still pending), and the recorded subtask behaviour
// (acks, declines, persists) is re-driven onto the regional id. On top of that
// (doc.go): when a recorded checkpoint ends because one subtask declined or
// failed, every other subtask the regional run still waits for acks at that
// moment; a checkpoint the recording has no counterpart for is acked at once by
// the healthy subtasks; a regional completion the recording lacks is persisted
// at once; and events about checkpoints the regional run has already ended are
// skipped.
func WhatIf(in WhatIfInput, opt WhatIfOptions) (*WhatIfReport, error) {
	topo, err := fsm.NewTopology(in.Header.Job)
	if err != nil {
		return nil, err
	}
	base := in.Header.Config
	alt := base
	alt.Regional = fsm.RegionalConfig{Enabled: true, MaxFailureRatio: opt.MaxFailureRatio,
		MaxConsecutive: opt.MaxConsecutive, MaxRefAge: opt.MaxRefAge}
	if err := alt.Validate(); err != nil {
		return nil, err
	}
	rec, _, err := newRunFrom(topo, base, in.First)
	if err != nil {
		return nil, err
	}
	reg, regFirst, err := newRunFrom(topo, alt, in.First)
	if err != nil {
		return nil, fmt.Errorf("regional run: %w", err)
	}
	w := &whatIf{in: in, topo: topo, rec: rec, reg: reg, regOf: map[int64]int64{}, recOf: map[int64]int64{}}
	w.adoptPending()
	if err := w.replay(); err != nil {
		return nil, err
	}
	rep := w.report(opt)
	rep.header = history.Header{Format: history.Format, Job: in.Header.Job, Config: alt}
	if regFirst != nil {
		rep.header.Format, rep.first = formatOf(regFirst), regFirst
	}
	rep.events = reg.events
	return rep, nil
}

type whatIf struct {
	in       WhatIfInput
	topo     *fsm.Topology
	rec, reg *run
	regOf    map[int64]int64 // recorded id -> regional id
	recOf    map[int64]int64 // regional id -> recorded id
	recNext  int             // the first recorded attempt not yet looked at by pair
	regNext  int             // the first regional attempt not yet paired
	open     []int           // recorded triggers of earlier steps that no regional one took yet
	extra    []int           // regional trigger attempts with no recorded counterpart
	skipped  int
	notes    []string
}

func (w *whatIf) replay() error {
	// The recorded run goes first, whole: the regional run needs to know how
	// each checkpoint ends as recorded (did it complete later?).
	for i, ev := range w.in.Events {
		w.rec.cur = i
		if _, err := w.rec.step(ev); err != nil {
			return fmt.Errorf("event %d (%s): %w", i+1, fsm.DescribeEvent(w.topo, ev), err)
		}
	}
	var burst []int64 // recorded checkpoints a failover burst aborted
	for i, ev := range w.in.Events {
		w.reg.cur = i
		ev, ok := w.translate(ev)
		if !ok {
			w.skipped++
			w.endStep(i)
			continue
		}
		if _, err := w.reg.step(ev); err != nil {
			return fmt.Errorf("regional run: event %d (%s): %w", i+1, fsm.DescribeEvent(w.topo, ev), err)
		}
		if err := w.pair(i, ev.At); err != nil {
			return err
		}
		// A whole-job restart is one task_failed per region at the same time:
		// it blames every region, so attribution waits for the burst's end.
		burst = append(burst, w.attributable(i, ev)...)
		next := i + 1
		if ev.Type == fsm.EvTaskFailed && next < len(w.in.Events) && w.in.Events[next].Type == fsm.EvTaskFailed &&
			w.in.Events[next].At == ev.At {
			w.endStep(i)
			continue
		}
		for _, id := range burst {
			if gid, ok := w.regOf[id]; ok {
				w.ackRest(gid, ev.At)
			}
		}
		burst = burst[:0]
		if err := w.persistRegional(ev.At); err != nil {
			return err
		}
		if err := w.pair(i, ev.At); err != nil {
			return err
		}
		w.endStep(i)
	}
	return nil
}

// sameRequest says whether two attempts can stand for the same request: a
// checkpoint (forced global or not), a savepoint or a stop-with-savepoint.
func sameRequest(a, b *attempt) bool { return a.kind == b.kind }

// pair pairs the regional run's new attempts of step i with the recorded ones:
// first with a recorded attempt of the same step (both runs saw the same
// event), else a regional trigger takes the oldest recorded checkpoint that was
// triggered earlier and is still pending (the regional run was held back by
// max_concurrent or min_pause), else it has no recorded counterpart and the
// healthy subtasks ack it at once (R13 lets regional mode trigger while regions
// restart; the recording holds no answer to a checkpoint it never made).
func (w *whatIf) pair(i int, at int64) error {
	for w.regNext < len(w.reg.attempts) {
		gk := w.regNext
		w.regNext++
		g := &w.reg.attempts[gk]
		rk := w.sameStep(i, g)
		if rk < 0 && g.trigger {
			rk = w.takeOpen(i, g)
		}
		if rk >= 0 {
			r := &w.rec.attempts[rk]
			r.peer, g.peer = gk, rk
			if r.trigger && g.trigger {
				w.regOf[r.id], w.recOf[g.id] = g.id, r.id
				if r.step < i {
					w.replayAcks(r.id, g.id, i, at)
					if err := w.persistRegional(at); err != nil {
						return err
					}
				}
				continue
			}
		}
		if g.trigger {
			if rk < 0 {
				w.extra = append(w.extra, gk)
			}
			w.ackRest(g.id, at)
			if err := w.persistRegional(at); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameStep returns the first recorded attempt of step i of g's kind that is
// not paired yet, or -1.
func (w *whatIf) sameStep(i int, g *attempt) int {
	for k := w.recNext; k < len(w.rec.attempts) && w.rec.attempts[k].step <= i; k++ {
		r := &w.rec.attempts[k]
		if r.step == i && r.peer < 0 && sameRequest(r, g) {
			return k
		}
	}
	return -1
}

// takeOpen returns the oldest recorded trigger of an earlier step, of g's
// kind, still pending as recorded at step i, and removes it from the open
// list; -1 if there is none.
func (w *whatIf) takeOpen(i int, g *attempt) int {
	for j, k := range w.open {
		r := &w.rec.attempts[k]
		if sameRequest(r, g) && w.rec.pendingAt(r.id, i) {
			w.open = append(w.open[:j:j], w.open[j+1:]...)
			return k
		}
	}
	return -1
}

// endStep closes step i: the recorded triggers of the step no regional attempt
// took stay open for a later regional trigger; open ones whose recorded
// checkpoint has ended can no longer be taken.
func (w *whatIf) endStep(i int) {
	for w.recNext < len(w.rec.attempts) && w.rec.attempts[w.recNext].step <= i {
		r := &w.rec.attempts[w.recNext]
		if r.trigger && r.peer < 0 {
			w.open = append(w.open, w.recNext)
		}
		w.recNext++
	}
	kept := w.open[:0]
	for _, k := range w.open {
		if w.rec.pendingAt(w.rec.attempts[k].id, i+1) {
			kept = append(kept, k)
		}
	}
	w.open = kept
}

// replayAcks gives regional checkpoint gid the acks recorded checkpoint rid
// received before step i, when the two were paired late.
func (w *whatIf) replayAcks(rid, gid int64, i int, at int64) {
	for _, a := range w.rec.acks[rid] {
		if a.step >= i {
			break
		}
		p, ok := w.reg.pending(gid)
		if !ok || p.Persisting || !p.Triggered(a.task) || p.Acked(a.task) {
			continue
		}
		if _, err := w.reg.step(fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: gid, Task: a.task}); err != nil {
			w.notes = append(w.notes, "internal: "+err.Error())
			return
		}
	}
}

// translate maps a recorded event to the regional run: checkpoint ids through
// the pairing. An event about a recorded checkpoint no regional one stands for
// is skipped; every other one is stepped, even when the regional run has
// ended that checkpoint or was told already (a synthesized ack): the core
// answers a late ack with discard_late_state and ignores the rest, as it did
// in the recording.
func (w *whatIf) translate(ev fsm.Event) (fsm.Event, bool) {
	switch ev.Type {
	case fsm.EvAck, fsm.EvDecline, fsm.EvPersisted, fsm.EvPersistFailed:
	default:
		return ev, true
	}
	id, ok := w.regOf[ev.Checkpoint]
	ev.Checkpoint = id
	return ev, ok
}

// attributable returns the recorded checkpoints event i ended because one
// subtask declined or failed: their failure belongs to that subtask's region.
func (w *whatIf) attributable(i int, ev fsm.Event) []int64 {
	if ev.Type != fsm.EvDecline && ev.Type != fsm.EvTaskFailed {
		return nil
	}
	var ids []int64
	for _, id := range w.rec.endedAt[i] {
		o := w.rec.out[id]
		if !o.completed && (fsm.ValidDeclineReason(o.reason) || o.reason == fsm.ReasonRegionFailover) {
			ids = append(ids, id)
		}
	}
	return ids
}

// ackRest acks a regional checkpoint from every running subtask of a healthy
// region that it still waits for.
func (w *whatIf) ackRest(id, at int64) {
	p, ok := w.reg.pending(id)
	if !ok || p.Persisting {
		return
	}
	var acks []fsm.TaskID
	for i := 0; i < w.topo.NumSubtasks(); i++ {
		t := fsm.TaskID(i)
		if p.Triggered(t) && !p.Acked(t) && w.reg.st.TaskRunning(t) && !p.RegionFailed(w.topo.RegionOf(t)) {
			acks = append(acks, t)
		}
	}
	for _, t := range acks {
		if _, err := w.reg.step(fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: id, Task: t}); err != nil {
			w.notes = append(w.notes, "internal: "+err.Error())
			return
		}
		if err := w.persistRegional(at); err != nil {
			w.notes = append(w.notes, "internal: "+err.Error())
			return
		}
	}
}

// persistRegional confirms the metadata of a regional-run checkpoint whose
// recorded counterpart never had its metadata written (the recording has no
// persisted or persist_failed event to come for it): the write is assumed to
// succeed.
func (w *whatIf) persistRegional(at int64) error {
	for len(w.reg.persist) > 0 {
		id := w.reg.persist[0]
		w.reg.persist = w.reg.persist[1:]
		if rid, ok := w.recOf[id]; ok {
			if o := w.rec.out[rid]; o.persist && (!o.ended || o.event > w.reg.cur) {
				continue // the recording's own persisted (or persist_failed) event will come
			}
		}
		if _, err := w.reg.step(fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: id}); err != nil {
			return err
		}
	}
	return nil
}
