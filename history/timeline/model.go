// Package timeline draws a history as one self-contained HTML page: time runs
// across, one row per region (rows aggregate consecutive regions when there
// are many), each checkpoint a mark — completed globally, completed regionally
// with the checkpoint each fallen-back region references, aborted with its
// reason, forced global — configuration changes, recoveries and the job's end
// as vertical lines, region failovers as dots, details on hover and a summary
// beside it. The page has no external resource: inline SVG, CSS and a few lines
// of JavaScript.
//
// A Builder collects what the page shows from the core's steps, so the same
// code serves a replay (`ckpt replay -o html`) and a running driver.
package timeline

import (
	"sync"

	"github.com/ckptcore/ckptcore/fsm"
)

// status of a checkpoint on the timeline.
type status uint8

const (
	pending status = iota
	completed
	aborted
)

// checkpoint is one triggered checkpoint.
type checkpoint struct {
	id               int64
	kind             fsm.Kind
	forced           bool
	triggerAt, endAt int64
	status           status
	mode             fsm.Mode
	refs             []fsm.RegionRef // regions that fell back (R21)
	consecutive      int
	reason           fsm.Reason
	message          string
	counted          bool
	stateSize        int64
}

// lineKind is what a vertical line marks.
type lineKind uint8

const (
	lineConfig lineKind = iota
	lineRecover
	lineFailJob
	lineFinishJob
)

// vline is a vertical line: a configuration change, a coordinator recovery or
// the job's end.
type vline struct {
	at   int64
	kind lineKind
	text string
}

// failover is a region failover (task_failed).
type failover struct {
	at     int64
	region int
	task   fsm.TaskID
}

// Builder collects a timeline from the core's steps. It is safe for
// concurrent use: a driver steps it on its event loop while HTTP handlers
// render it.
type Builder struct {
	mu   sync.Mutex
	topo *fsm.Topology
	max  int // checkpoints kept for drawing; 0 = all

	started    bool
	start, now int64
	ckpts      []*checkpoint // trigger order
	byID       map[int64]*checkpoint
	lines      []vline
	failovers  []failover

	// The summary covers the whole history, also what max dropped.
	triggered, completedGlobal, completedRegional, forced, savepoints int
	aborted, triggerFailed                                            map[fsm.Reason]int
	maxRefAge                                                         int64
	warnings                                                          map[string]int
	job                                                               fsm.JobStatus
	failReason                                                        fsm.Reason
	interval, timeout                                                 int64
	overrides                                                         bool
	violations                                                        []string
}

// NewBuilder returns an empty timeline of a job with configuration cfg.
// maxCheckpoints bounds the checkpoints kept for drawing (the oldest go
// first; a running driver needs a bound); 0 keeps every one.
func NewBuilder(topo *fsm.Topology, cfg fsm.Config, maxCheckpoints int) *Builder {
	return &Builder{topo: topo, max: maxCheckpoints, byID: map[int64]*checkpoint{},
		aborted: map[fsm.Reason]int{}, triggerFailed: map[fsm.Reason]int{}, warnings: map[string]int{},
		interval: cfg.IntervalMs, timeout: cfg.TimeoutMs}
}

// Step records one step of the core: the event and its effects (valid only
// during the call).
func (b *Builder) Step(ev fsm.Event, effs []fsm.Effect) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started {
		b.started, b.start = true, ev.At
	}
	b.now = max(b.now, ev.At)
	switch ev.Type {
	case fsm.EvStart:
		b.job = fsm.JobRunning
	case fsm.EvTaskFailed:
		if b.topo.ValidTask(ev.Task) {
			b.failovers = append(b.failovers, failover{at: ev.At, region: b.topo.RegionOf(ev.Task), task: ev.Task})
		}
	case fsm.EvRecover:
		if b.job == fsm.JobFailed {
			b.job, b.failReason = fsm.JobRunning, ""
		}
		b.lines = append(b.lines, vline{at: ev.At, kind: lineRecover, text: "coordinator recovery (R50)"})
	}
	for i := range effs {
		b.effect(&effs[i])
	}
	b.trim()
}

func (b *Builder) effect(e *fsm.Effect) {
	switch e.Type {
	case fsm.EffTrigger:
		c := &checkpoint{id: e.Checkpoint, kind: e.Kind, forced: e.ForcedGlobal, triggerAt: e.At}
		b.ckpts = append(b.ckpts, c)
		b.byID[c.id] = c
		b.triggered++
		if e.ForcedGlobal {
			b.forced++
		}
	case fsm.EffCompleted:
		c := b.ended(e)
		c.status, c.mode, c.consecutive, c.stateSize = completed, e.Mode, e.Consecutive, e.StateSize
		for _, ref := range e.Refs {
			if ref.Checkpoint != e.Checkpoint {
				c.refs = append(c.refs, ref)
				b.maxRefAge = max(b.maxRefAge, e.Checkpoint-ref.Checkpoint)
			}
		}
		switch {
		case e.Kind.IsSavepoint():
			b.savepoints++
		case e.Mode == fsm.ModeRegional:
			b.completedRegional++
		default:
			b.completedGlobal++
		}
	case fsm.EffAbort:
		c := b.ended(e)
		c.status, c.reason, c.message, c.counted = aborted, e.Reason, e.Message, e.Counted
		b.aborted[e.Reason]++
	case fsm.EffTriggerFailed:
		b.triggerFailed[e.Reason]++
	case fsm.EffConfigApplied:
		b.interval, b.timeout, b.overrides = e.IntervalMs, e.TimeoutMs, true
		b.lines = append(b.lines, vline{at: e.At, kind: lineConfig,
			text: "configuration: interval " + ms(e.IntervalMs) + ", timeout " + ms(e.TimeoutMs) + " (FLIP-571)"})
	case fsm.EffFailJob:
		b.job, b.failReason = fsm.JobFailed, e.Reason
		b.lines = append(b.lines, vline{at: e.At, kind: lineFailJob, text: "job failed: " + string(e.Reason) + " (" + e.Message + ")"})
	case fsm.EffFinishJob:
		b.job = fsm.JobFinished
		b.lines = append(b.lines, vline{at: e.At, kind: lineFinishJob, text: "job finished: " + e.Message})
	case fsm.EffWarn:
		b.warnings[e.Code]++
	}
}

// ended returns the checkpoint an end effect is about; one triggered before
// the builder saw it gets a record of its own.
func (b *Builder) ended(e *fsm.Effect) *checkpoint {
	c := b.byID[e.Checkpoint]
	if c == nil {
		c = &checkpoint{id: e.Checkpoint, kind: e.Kind, triggerAt: e.At}
		b.ckpts = append(b.ckpts, c)
	}
	delete(b.byID, e.Checkpoint)
	c.endAt = e.At
	return c
}

// trim keeps at most max checkpoints, dropping the oldest ended ones and the
// lines and failovers before the oldest kept checkpoint.
// Lines and failovers are bounded too (max each, 4 max failovers), for a job
// that fails over or is patched without checkpointing.
func (b *Builder) trim() {
	if b.max <= 0 {
		return
	}
	if drop := len(b.ckpts) - b.max; drop > 0 {
		b.ckpts = append(b.ckpts[:0], b.ckpts[drop:]...)
		from := b.ckpts[0].triggerAt
		b.lines = dropBefore(b.lines, from, func(l vline) int64 { return l.at })
		b.failovers = dropBefore(b.failovers, from, func(f failover) int64 { return f.at })
	}
	if drop := len(b.lines) - b.max; drop > 0 {
		b.lines = append(b.lines[:0], b.lines[drop:]...)
	}
	if drop := len(b.failovers) - 4*b.max; drop > 0 {
		b.failovers = append(b.failovers[:0], b.failovers[drop:]...)
	}
}

func dropBefore[T any](s []T, from int64, at func(T) int64) []T {
	i := 0
	for i < len(s) && at(s[i]) < from {
		i++
	}
	return append(s[:0], s[i:]...)
}

// AddViolation records an invariant violation to show in the summary.
func (b *Builder) AddViolation(text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.violations = append(b.violations, text)
}

// ms renders a duration in milliseconds for people.
func ms(v int64) string {
	if v == 0 {
		return "off"
	}
	return formatMs(v)
}
