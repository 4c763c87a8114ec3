package flinkapi

import (
	"fmt"
	"sync"

	"github.com/ckptcore/ckptcore/fsm"
)

// HistorySize is Flink's default web.checkpoints.history: how many of the
// latest checkpoints GET .../checkpoints lists and the details endpoints know.
const HistorySize = 10

// TrackerOptions configures a Tracker; the zero value is Flink's defaults.
type TrackerOptions struct {
	HistorySize   int // 0 means HistorySize
	SummaryWindow int // 0 means SummaryWindow
	// ExternalPath names where a completed checkpoint's metadata lives (Flink's
	// external_path); nil leaves it null.
	ExternalPath func(kind fsm.Kind, id int64) string
}

// Tracker builds Flink's checkpoint statistics from the core's steps. Observe
// must be called with every step in order; the other methods may be called
// from any goroutine.
type Tracker struct {
	mu        sync.Mutex
	topo      *fsm.Topology
	vertexIDs []string
	opts      TrackerOptions

	counts   Counts
	pending  map[int64]*record // in progress
	history  []*record         // newest first, at most opts.HistorySize
	state    statsAccumulator
	ckpt     statsAccumulator
	duration statsAccumulator
	zero     statsAccumulator // processed_data, persisted_data: zero per completed checkpoint

	latestCompleted, latestSavepoint, latestFailed *record
	restored                                       *RestoredCheckpointStatistics

	regionalCompletions int64
	driftWarnings       int64

	// spare is the per-subtask array of a record that left the history, kept
	// for the next trigger: at 100,000 subtasks a fresh 3 MB array per
	// checkpoint cost the event loop milliseconds of page faults under load
	// (issue 19), while clearing a resident one costs about a tenth of that.
	spare []subtaskAck
}

// record is one checkpoint as the tracker sees it.
type record struct {
	id          int64
	kind        fsm.Kind
	forced      bool
	status      string
	triggerAt   int64
	deadline    int64
	latestAck   int64 // -1: no ack yet
	endAt       int64 // completion or failure time
	subtasks    []subtaskAck
	triggered   int
	acked       int
	state, ckpt int64 // completed: the core's totals (kept acks); else the acks' sum
	mode        fsm.Mode
	refs        []fsm.RegionRef
	consecutive int
	reason      fsm.Reason
	message     string
	counted     bool
	discarded   bool
}

type subtaskAck struct {
	at          int64
	state, ckpt int64
	acked       bool
}

// NewTracker returns an empty tracker for a job.
func NewTracker(topo *fsm.Topology, opts TrackerOptions) *Tracker {
	if opts.HistorySize <= 0 {
		opts.HistorySize = HistorySize
	}
	if opts.SummaryWindow <= 0 {
		opts.SummaryWindow = SummaryWindow
	}
	return &Tracker{topo: topo, vertexIDs: VertexIDs(topo), opts: opts, pending: map[int64]*record{},
		state: newAccumulator(opts.SummaryWindow), ckpt: newAccumulator(opts.SummaryWindow),
		duration: newAccumulator(opts.SummaryWindow), zero: newAccumulator(opts.SummaryWindow)}
}

// Topology returns the job the tracker follows.
func (t *Tracker) Topology() *fsm.Topology { return t.topo }

// Observe accounts for one step of the core: the event it applied and the
// effects it returned (valid only during the call).
func (t *Tracker) Observe(ev fsm.Event, effs []fsm.Effect) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev.Type {
	case fsm.EvStart:
		if r := ev.Restore; r != nil {
			t.restoredLocked(r.Checkpoint, ev.At)
		}
	case fsm.EvAck:
		t.ack(ev, effs)
	case fsm.EvRecover:
		// A coordinator failover restarts the job from its latest completed
		// checkpoint (R50), as a Flink restore does.
		if id := t.latestID(); id > 0 {
			t.restoredLocked(id, ev.At)
		}
	}
	for i := range effs {
		t.effect(&effs[i])
	}
}

// Restored records that the job (re)started from checkpoint id at time at: a
// driver that resumed from its store (R50) says so, as Flink reports a restore.
func (t *Tracker) Restored(id, at int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.restoredLocked(id, at)
}

func (t *Tracker) restoredLocked(id, at int64) {
	t.counts.Restored++
	r := &RestoredCheckpointStatistics{ID: id, RestoreTimestamp: at}
	if t.opts.ExternalPath != nil {
		r.ExternalPath = Some(t.opts.ExternalPath(fsm.KindCheckpoint, id))
	}
	t.restored = r
}

func (t *Tracker) latestID() int64 {
	if t.latestCompleted != nil {
		return t.latestCompleted.id
	}
	if t.restored != nil {
		return t.restored.ID
	}
	return 0
}

// ack records an acknowledgement the core kept: not a duplicate and not one it
// told the runtime to discard (R16).
func (t *Tracker) ack(ev fsm.Event, effs []fsm.Effect) {
	r := t.pending[ev.Checkpoint]
	if r == nil || !t.topo.ValidTask(ev.Task) {
		return
	}
	for i := range effs {
		if e := &effs[i]; e.Type == fsm.EffDiscardLateState && e.Checkpoint == ev.Checkpoint && e.Task == ev.Task {
			return
		}
	}
	s := &r.subtasks[ev.Task]
	if s.acked {
		return
	}
	s.acked, s.at, s.state, s.ckpt = true, ev.At, ev.StateSize, ev.CheckpointedSize
	r.acked++
	r.latestAck = max(r.latestAck, ev.At)
	r.state += ev.StateSize
	r.ckpt += ev.CheckpointedSize
}

func (t *Tracker) effect(e *fsm.Effect) {
	switch e.Type {
	case fsm.EffTrigger:
		r := &record{id: e.Checkpoint, kind: e.Kind, forced: e.ForcedGlobal, status: StatusInProgress,
			triggerAt: e.At, deadline: e.Deadline, latestAck: -1, subtasks: t.subtaskArray()}
		r.triggered = e.Tasks.Len() // no per-subtask write: 100,000 subtasks per trigger
		t.counts.Total++
		t.pending[r.id] = r
		t.remember(r)
	case fsm.EffCompleted:
		r := t.ended(e)
		r.status, r.endAt = StatusCompleted, e.At
		r.state, r.ckpt = e.StateSize, e.CheckpointedSize
		r.mode, r.refs, r.consecutive = e.Mode, append([]fsm.RegionRef(nil), e.Refs...), e.Consecutive
		t.dropFallenBack(r)
		t.counts.Completed++
		t.state.add(r.state)
		t.ckpt.add(r.ckpt)
		t.duration.add(max(r.endToEnd(), 0))
		t.zero.add(0)
		if e.Mode == fsm.ModeRegional {
			t.regionalCompletions++
		}
		if e.Kind == fsm.KindCheckpoint {
			t.latestCompleted = r
		} else {
			t.latestSavepoint = r
		}
	case fsm.EffAbort:
		r := t.ended(e)
		r.status, r.endAt = StatusFailed, e.At
		r.reason, r.message, r.counted = e.Reason, e.Message, e.Counted
		t.counts.Failed++
		t.latestFailed = r
	case fsm.EffTriggerFailed:
		// Flink counts a request that failed before it got a checkpoint as a
		// failed one (reportFailedCheckpointsWithoutInProgress), except those
		// its request decider drops (min pause, too many requests).
		if e.Reason != fsm.ReasonMinPause && e.Reason != fsm.ReasonTooManyRequests {
			t.counts.Total++
			t.counts.Failed++
		}
	case fsm.EffDiscard:
		for _, r := range t.history {
			if r.id == e.Checkpoint && r.status == StatusCompleted {
				r.discarded = true
			}
		}
	case fsm.EffWarn:
		if e.Code == fsm.WarnRefDrift {
			t.driftWarnings++
		}
	}
}

// ended takes a checkpoint out of the pending ones; one triggered before the
// tracker started (a continued flight) gets a record without acks.
func (t *Tracker) ended(e *fsm.Effect) *record {
	r := t.pending[e.Checkpoint]
	if r == nil {
		r = &record{id: e.Checkpoint, kind: e.Kind, triggerAt: e.At, latestAck: -1}
		t.remember(r)
	}
	delete(t.pending, e.Checkpoint)
	return r
}

// dropFallenBack forgets the acks of regions that a regional completion
// references at older state: the core dropped them with their region (R18).
func (t *Tracker) dropFallenBack(r *record) {
	if r.subtasks == nil {
		return
	}
	if len(r.refs) == 0 {
		return
	}
	for _, ref := range r.refs {
		for _, id := range t.topo.RegionTasks(ref.Region) {
			if s := &r.subtasks[id]; s.acked {
				s.acked = false
				r.acked--
			}
		}
	}
	r.latestAck = -1
	for i := range r.subtasks {
		if s := &r.subtasks[i]; s.acked {
			r.latestAck = max(r.latestAck, s.at)
		}
	}
}

// remember puts a new checkpoint at the head of the history.
func (t *Tracker) remember(r *record) {
	t.history = append(t.history, nil)
	copy(t.history[1:], t.history)
	t.history[0] = r
	if len(t.history) > t.opts.HistorySize {
		// The record leaves the history: no endpoint shows its subtasks any
		// more (the latest-* summaries do not), so unless it is still pending
		// (acks still go to it), its array serves the next trigger.
		if old := t.history[t.opts.HistorySize]; t.pending[old.id] != old && old.subtasks != nil {
			t.spare, old.subtasks = old.subtasks, nil
		}
		t.history[t.opts.HistorySize] = nil
		t.history = t.history[:t.opts.HistorySize]
	}
}

// subtaskArray returns a zeroed per-subtask array for a new checkpoint: the
// spare one if there is one.
func (t *Tracker) subtaskArray() []subtaskAck {
	n := t.topo.NumSubtasks()
	if cap(t.spare) >= n {
		a := t.spare[:n]
		t.spare = nil
		clear(a)
		return a
	}
	return make([]subtaskAck, n)
}

// endToEnd is Flink's end-to-end duration: until the failure for a failed
// checkpoint, else until the latest acknowledgement (-1 before the first).
func (r *record) endToEnd() int64 {
	if r.status == StatusFailed {
		return max(0, r.endAt-r.triggerAt)
	}
	if r.latestAck < 0 {
		return -1
	}
	return max(0, r.latestAck-r.triggerAt)
}

// CheckpointType is Flink's spelling of a kind in checkpoint statistics.
func CheckpointType(k fsm.Kind) string {
	switch k {
	case fsm.KindSavepoint:
		return "SAVEPOINT"
	case fsm.KindStopWithSavepoint:
		return "SYNC_SAVEPOINT"
	}
	return "CHECKPOINT"
}

// Statistics returns GET /jobs/:jobid/checkpoints.
func (t *Tracker) Statistics() CheckpointingStatistics {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.counts
	c.InProgress = int64(len(t.pending))
	s := CheckpointingStatistics{Counts: c, History: make([]CheckpointStatistics, 0, len(t.history))}
	s.Summary = CheckpointsSummary{
		CheckpointedSize:  Some(t.ckpt.summary()),
		StateSize:         t.state.summary(),
		EndToEndDuration:  t.duration.summary(),
		AlignmentBuffered: zeroSummary(),
		ProcessedData:     t.zero.summary(),
		PersistedData:     t.zero.summary(),
	}
	for _, r := range t.history {
		s.History = append(s.History, t.render(r, false))
	}
	if r := t.latestCompleted; r != nil {
		cs := t.render(r, false)
		s.Latest.Completed = &cs
	}
	if r := t.latestSavepoint; r != nil {
		cs := t.render(r, false)
		s.Latest.Savepoint = &cs
	}
	if r := t.latestFailed; r != nil {
		cs := t.render(r, false)
		s.Latest.Failed = &cs
	}
	if r := t.restored; r != nil {
		cp := *r
		s.Latest.Restored = &cp
	}
	return s
}

func (t *Tracker) find(id int64) *record {
	for _, r := range t.history {
		if r.id == id {
			return r
		}
	}
	return nil
}

// Details returns GET /jobs/:jobid/checkpoints/details/:checkpointid, with
// per-vertex statistics; false when the checkpoint is not in the history (as
// Flink, which keeps details of the last HistorySize only).
func (t *Tracker) Details(id int64) (CheckpointStatistics, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.find(id)
	if r == nil {
		return CheckpointStatistics{}, false
	}
	return t.render(r, true), true
}

// render turns a record into Flink's JSON; tasks only for the details.
func (t *Tracker) render(r *record, withTasks bool) CheckpointStatistics {
	c := CheckpointStatistics{ID: r.id, Status: r.status, IsSavepoint: r.kind.IsSavepoint(),
		TriggerTimestamp: r.triggerAt, LatestAckTimestamp: r.latestAck,
		CheckpointedSize: Some(r.ckpt), StateSize: r.state, EndToEndDuration: r.endToEnd(),
		NumSubtasks: t.topo.NumSubtasks(), NumAcknowledgedSubtasks: r.acked, CheckpointType: CheckpointType(r.kind),
		Tasks: map[string]TaskCheckpointStatistics{}, Kind: Some(r.kind.String())}
	if r.kind.IsSavepoint() {
		// The core makes savepoints in Flink's default format; for a
		// checkpoint Flink has none (its document types it as a plain string,
		// so the field is left out rather than null).
		c.SavepointFormat = Some("CANONICAL")
	}
	if withTasks && r.subtasks != nil {
		for v := range t.topo.Vertices() {
			c.Tasks[t.vertexIDs[v]] = t.taskStats(r, v)
		}
	}
	switch r.status {
	case StatusCompleted:
		c.Class = ClassCompleted
		if t.opts.ExternalPath != nil { // else unknown: left out
			c.ExternalPath = Some(t.opts.ExternalPath(r.kind, r.id))
		}
		c.Discarded = Some(r.discarded)
		refs := make(map[string]int64, t.topo.NumRegions())
		for reg := 0; reg < t.topo.NumRegions(); reg++ {
			refs[fsm.RegionName(reg)] = refOf(r.refs, r.id, reg)
		}
		c.Mode, c.Refs, c.Consecutive = Some(r.mode.String()), Some(refs), Some(r.consecutive)
	case StatusFailed:
		c.Class = ClassFailed
		c.FailureTimestamp = Some(r.endAt)
		msg := string(r.reason)
		if r.message != "" {
			msg += ": " + r.message
		}
		c.FailureMessage = Some(msg)
		c.Reason, c.Counted = Some(string(r.reason)), Some(r.counted)
	default:
		c.Class = ClassInProgress
		c.Deadline, c.ForcedGlobal = Some(r.deadline), Some(r.forced)
	}
	return c
}

func refOf(refs []fsm.RegionRef, self int64, region int) int64 {
	for _, ref := range refs {
		if ref.Region == region {
			return ref.Checkpoint
		}
	}
	return self
}

// taskStats sums a vertex's acknowledged subtasks.
func (t *Tracker) taskStats(r *record, v int) TaskCheckpointStatistics {
	vx := t.topo.Vertices()[v]
	ts := TaskCheckpointStatistics{ID: r.id, Status: r.status, LatestAckTimestamp: -1,
		NumSubtasks: vx.Parallelism, EndToEndDuration: -1}
	var ckpt int64
	for i := 0; i < vx.Parallelism; i++ {
		s := r.subtasks[vx.First+fsm.TaskID(i)]
		if !s.acked {
			continue
		}
		ts.NumAcknowledgedSubtasks++
		ts.LatestAckTimestamp = max(ts.LatestAckTimestamp, s.at)
		ts.StateSize += s.state
		ckpt += s.ckpt
	}
	ts.CheckpointedSize = Some(ckpt)
	if ts.LatestAckTimestamp >= 0 {
		ts.EndToEndDuration = max(0, ts.LatestAckTimestamp-r.triggerAt)
	}
	return ts
}

// SubtaskDetails returns GET
// /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid for vertex
// v (an index of the job's vertices).
func (t *Tracker) SubtaskDetails(id int64, v int) (TaskCheckpointStatisticsWithSubtaskDetails, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.find(id)
	if r == nil || r.subtasks == nil {
		return TaskCheckpointStatisticsWithSubtaskDetails{}, fmt.Errorf("could not find checkpointing statistics for checkpoint %d", id)
	}
	if v < 0 || v >= len(t.topo.Vertices()) {
		return TaskCheckpointStatisticsWithSubtaskDetails{}, fmt.Errorf("vertex %d: the job has %d vertices", v, len(t.topo.Vertices()))
	}
	vx := t.topo.Vertices()[v]
	d := TaskCheckpointStatisticsWithSubtaskDetails{TaskCheckpointStatistics: t.taskStats(r, v),
		Subtasks: make([]SubtaskCheckpointStatistics, 0, vx.Parallelism)}
	size, full, e2e, zero := newAccumulator(vx.Parallelism), newAccumulator(vx.Parallelism),
		newAccumulator(vx.Parallelism), newAccumulator(vx.Parallelism)
	for i := 0; i < vx.Parallelism; i++ {
		s := r.subtasks[vx.First+fsm.TaskID(i)]
		if !s.acked {
			d.Subtasks = append(d.Subtasks, SubtaskCheckpointStatistics{Class: SubtaskClassPending, Index: i,
				Status: SubtaskStatusPending})
			continue
		}
		dur := max(0, s.at-r.triggerAt)
		size.add(s.ckpt)
		full.add(s.state)
		e2e.add(dur)
		zero.add(0)
		d.Subtasks = append(d.Subtasks, SubtaskCheckpointStatistics{Class: SubtaskClassCompleted, Index: i,
			Status: SubtaskStatusAcked, AckTimestamp: Some(s.at), EndToEndDuration: Some(dur),
			CheckpointedSize: Some(s.ckpt), StateSize: Some(s.state),
			Checkpoint: Some(CheckpointDuration{}), Alignment: Some(CheckpointAlignment{}),
			StartDelay: Some(int64(0)), UnalignedCheckpoint: Some(false), Aborted: Some(false)})
	}
	z := zero.summary()
	d.Summary = TaskCheckpointSummary{CheckpointedSize: Some(size.summary()), StateSize: full.summary(),
		EndToEndDuration: e2e.summary(), CheckpointDuration: DurationSummary{Sync: z, Async: z},
		Alignment: AlignmentSummary{Buffered: z, Processed: z, Persisted: z, Duration: z}, StartDelay: z}
	return d, nil
}
