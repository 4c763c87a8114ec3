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

// WhatIfInput is a history to re-decide, with what the import knows about it.
type WhatIfInput struct {
	Source       string
	Job          string
	Header       history.Header
	Events       []fsm.Event
	LogID        func(int64) int64 // the log's id of a recorded checkpoint; nil for a history file
	Topology     *Topology         // how the job was reconstructed; nil for a history file
	AssumedPrior int64             // the restore the import assumed, 0 if none
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

	header history.Header // the regional run, for WriteRegionalHistory
	events []fsm.Event
}

// WriteRegionalHistory writes the regional run as a history (synthesized acks
// and persists included), so that `replay` can show or re-check it.
func (rep *WhatIfReport) WriteRegionalHistory(w io.Writer) error {
	hw, err := history.NewWriter(w, rep.header)
	if err != nil {
		return err
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
}

// run is one core replaying the history, with its decisions per checkpoint and
// per trigger request (the k-th trigger event), so that two runs whose ids
// diverge can still be compared request by request.
type run struct {
	st      *fsm.State
	chk     *invariants.Checker
	queue   []int // request indexes waiting for an id
	idOf    map[int]int64
	refused map[int]fsm.Reason
	whyNot  map[int]string // request -> the core's message when it refused it
	out     map[int64]*outcome
	endedAt map[int][]int64 // event index -> checkpoints that ended in its step
	persist []int64         // persist effects not yet looked at
	viol    []string
	cur     int
	events  []fsm.Event // every event stepped, synthesized ones included
}

func newRun(topo *fsm.Topology, cfg fsm.Config) (*run, error) {
	st, err := fsm.New(topo, cfg)
	if err != nil {
		return nil, err
	}
	return &run{st: st, chk: invariants.New(topo, cfg), idOf: map[int]int64{}, refused: map[int]fsm.Reason{}, whyNot: map[int]string{},
		out: map[int64]*outcome{}, endedAt: map[int][]int64{}}, nil
}

// step applies one event and records the decisions; request is the trigger
// request index for a trigger event, else -1.
func (r *run) step(ev fsm.Event, request int) ([]fsm.Effect, error) {
	if request >= 0 {
		r.queue = append(r.queue, request)
	}
	effs, err := r.st.Step(ev)
	if err != nil {
		return nil, err
	}
	r.events = append(r.events, ev)
	for _, v := range r.chk.Step(ev, effs, r.st) {
		r.viol = append(r.viol, fmt.Sprintf("event %d (%s): %v", r.cur+1, fsm.DescribeEvent(r.st.Topology(), ev), v))
	}
	pop := func() (int, bool) {
		if len(r.queue) == 0 {
			return 0, false
		}
		k := r.queue[0]
		r.queue = r.queue[1:]
		return k, true
	}
	for _, f := range effs {
		switch f.Type {
		case fsm.EffTrigger:
			if k, ok := pop(); ok {
				r.idOf[k] = f.Checkpoint
			}
			r.out[f.Checkpoint] = &outcome{kind: f.Kind}
		case fsm.EffTriggerFailed:
			if k, ok := pop(); ok {
				r.refused[k], r.whyNot[k] = f.Reason, f.Message
			}
		case fsm.EffPersist:
			r.persist = append(r.persist, f.Checkpoint)
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
		case fsm.EffFailJob, fsm.EffFinishJob:
			for _, k := range r.queue {
				r.refused[k] = "dropped" // the core drops waiting requests
			}
			r.queue = nil
		}
	}
	return effs, nil
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
// and the regional run step through the same events in lockstep, with these
// changes to the regional one (doc.go): when a recorded checkpoint ends because
// one subtask declined or failed, every other subtask the regional run still
// waits for acks at that moment; a regional completion the recording lacks is
// persisted at once; and events about checkpoints the regional run has already
// ended are skipped.
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
	rec, err := newRun(topo, base)
	if err != nil {
		return nil, err
	}
	reg, err := newRun(topo, alt)
	if err != nil {
		return nil, err
	}
	w := &whatIf{in: in, topo: topo, rec: rec, reg: reg, regOf: map[int64]int64{}, recOf: map[int64]int64{}}
	if err := w.replay(); err != nil {
		return nil, err
	}
	rep := w.report(opt)
	rep.header = history.Header{Format: history.Format, Job: in.Header.Job, Config: alt}
	rep.events = reg.events
	return rep, nil
}

type whatIf struct {
	in       WhatIfInput
	topo     *fsm.Topology
	rec, reg *run
	regOf    map[int64]int64 // recorded id -> regional id
	recOf    map[int64]int64 // regional id -> recorded id
	requests []int           // event index of each trigger request
	linked   int             // requests paired so far
	skipped  int
	notes    []string
}

func (w *whatIf) replay() error {
	// The recorded run goes first, whole: the regional run needs to know how
	// each checkpoint ends as recorded (did it complete later?).
	k := 0
	for i, ev := range w.in.Events {
		w.rec.cur = i
		req := -1
		if ev.Type == fsm.EvTrigger {
			req = k
			w.requests = append(w.requests, i)
			k++
		}
		if _, err := w.rec.step(ev, req); err != nil {
			return fmt.Errorf("event %d (%s): %w", i+1, fsm.DescribeEvent(w.topo, ev), err)
		}
	}
	k = 0
	var burst []int64 // recorded checkpoints a failover burst aborted
	for i, ev := range w.in.Events {
		w.reg.cur = i
		req := -1
		if ev.Type == fsm.EvTrigger {
			req = k
			k++
		}
		ev, ok := w.translate(ev)
		if !ok {
			w.skipped++
			continue
		}
		if _, err := w.reg.step(ev, req); err != nil {
			return fmt.Errorf("regional run: event %d (%s): %w", i+1, fsm.DescribeEvent(w.topo, ev), err)
		}
		w.link(ev.At)
		// A whole-job restart is one task_failed per region at the same time:
		// it blames every region, so attribution waits for the burst's end.
		burst = append(burst, w.attributable(i, ev)...)
		next := i + 1
		if ev.Type == fsm.EvTaskFailed && next < len(w.in.Events) && w.in.Events[next].Type == fsm.EvTaskFailed &&
			w.in.Events[next].At == ev.At {
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
	}
	return nil
}

// translate maps a recorded event to the regional run: checkpoint ids through
// the request they came from; events about a checkpoint the regional run has
// no use for are skipped.
func (w *whatIf) translate(ev fsm.Event) (fsm.Event, bool) {
	switch ev.Type {
	case fsm.EvAck, fsm.EvDecline, fsm.EvPersisted, fsm.EvPersistFailed:
	default:
		return ev, true
	}
	id, ok := w.regOf[ev.Checkpoint]
	if !ok {
		return ev, false
	}
	ev.Checkpoint = id
	p, pending := w.reg.pending(id)
	switch ev.Type {
	case fsm.EvAck:
		// An ack the regional run no longer waits for was synthesized earlier.
		return ev, pending && !p.Persisting && p.Triggered(ev.Task) && !p.Acked(ev.Task)
	case fsm.EvDecline:
		return ev, pending && !p.Persisting
	default:
		return ev, pending && p.Persisting
	}
}

// link pairs the recorded and regional ids of the trigger requests both runs
// have decided (requests are decided in order: a queued one gets its id in a
// later step, a dropped one is refused).
func (w *whatIf) link(at int64) {
	for w.linked < len(w.requests) {
		k := w.linked
		gid, gok := w.reg.idOf[k]
		_, grefused := w.reg.refused[k]
		if !gok && !grefused {
			return
		}
		w.linked++
		rid, rok := w.rec.idOf[k]
		switch {
		case gok && rok:
			w.regOf[rid], w.recOf[gid] = gid, rid
		case gok:
			// The recording refused it and regional mode triggered it (R13: it
			// may trigger while regions restart). Nobody in the recording acks
			// it, so the healthy subtasks ack it at once, as for an attributed
			// failure.
			w.ackRest(gid, at)
		}
	}
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
		if _, err := w.reg.step(fsm.Event{At: at, Type: fsm.EvAck, Checkpoint: id, Task: t}, -1); err != nil {
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
// recorded counterpart never completed (the recording has no persisted event
// for it): the write is assumed to succeed.
func (w *whatIf) persistRegional(at int64) error {
	for len(w.reg.persist) > 0 {
		id := w.reg.persist[0]
		w.reg.persist = w.reg.persist[1:]
		if rid, ok := w.recOf[id]; ok && w.rec.out[rid].completed {
			continue // the recording's own persisted event will come
		}
		if _, err := w.reg.step(fsm.Event{At: at, Type: fsm.EvPersisted, Checkpoint: id}, -1); err != nil {
			return err
		}
	}
	return nil
}
