package flinklog

import (
	"fmt"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// run maps every entry, in time order (doc.go states the rules).
func (d *driver) run() {
	d.start()
	for _, e := range d.es {
		if d.used[e] {
			continue // consumed by the start event
		}
		d.cur = e
		if e.tolerable {
			d.checkTolerable(e)
		}
		switch e.kind {
		case kTrigger:
			d.trigger(e)
		case kCompleted:
			d.completed(e)
		case kDecline, kDeclined, kDiscard:
			d.decline(e)
		case kFailed:
			d.failed(e)
		case kExpired:
			d.expired(e)
		case kLate:
			d.late(e)
		case kAck:
			d.ack(e)
		case kTriggerFailed:
			d.triggerFailed(e)
		case kTaskState:
			d.taskState(e)
		case kDeploy:
			if id, ok := d.byTask(e.task); ok {
				d.learn(e, id)
			}
		case kJobState:
			d.jobState(e)
		case kGlobalFailure:
			if d.st.Job() == fsm.JobRunning {
				d.failAll("global failover: every region restarts")
			}
		case kRestore:
			d.restore(e)
		case kSourceCompleted, kSourceAborted, kSourceReset:
			d.sourceCoordinator(e)
		}
		if !d.used[e] && e.kind != kNone && isCheckpointLine(e) {
			d.annotate(e)
		}
		switch e.kind {
		case kCompleted, kExpired, kDecline, kDeclined, kFailed:
			d.claimOutcome(e)
		case kJobState:
			d.lastJobLine = e.rec.line
		}
		if e.tolerable && e.rec.at-d.lastTolClaim > 2000 {
			// One incident prints the message two or three times: one claim.
			d.lastTolClaim = e.rec.at
			d.claim("job failed -- %s", tolerableText)
			d.logJob = "FAILING" // until a job status line says otherwise
		}
	}
	d.cur = nil
	d.claimJobEnd()
}

// sourceCoordinator claims what a SourceCoordinator line says: the checkpoint
// it was told completed or aborted, the checkpoint a subtask is reset to (the
// one a restart restores). Its source is topology evidence (collectVertices).
func (d *driver) sourceCoordinator(e *entry) {
	id := d.claimID[e.id]
	if id == 0 {
		return // a checkpoint whose trigger the log does not show, or none (-1)
	}
	switch e.kind {
	case kSourceCompleted:
		d.claim("completed %d -- source %s", id, e.detail)
	case kSourceAborted:
		d.claim("aborted %d -- source %s", id, e.detail)
	case kSourceReset:
		d.claim("restored %d -- source %s, subtask %d", id, e.detail, e.task.index)
	}
}

// annotate writes a checkpoint line that became no event into the history as
// a comment, with why it needs none.
func (d *driver) annotate(e *entry) {
	i := len(d.im.Events)
	d.im.comments[i] = append(d.im.comments[i], fmt.Sprintf("// log line %d (annotation: %s): %s", e.rec.line, noEventWhy(e), clip(e.rec.msg)))
	d.annotated[e] = true
}

// noEventWhy says why an understood checkpoint line needs no event.
func noEventWhy(e *entry) string {
	switch e.kind {
	case kTaskState:
		if e.tm {
			return "a TaskManager's copy of the transition"
		}
		return "the core has the subtask in that state already"
	case kDecline, kDeclined, kDiscard, kFailed:
		return "the decline, expiry or failure it belongs to was mapped, or the core had ended the checkpoint"
	case kCompleted, kExpired:
		return "the core had ended the checkpoint, or never triggered it"
	case kAck, kLate:
		return "an ack the core does not wait for"
	case kTriggerFailed:
		return "a refusal of the periodic scheduler, or the job was not running: the history has no periodic requests"
	case kJobState:
		return "the core's job is in that state already"
	case kGlobalFailure:
		return "the job had failed already"
	case kFailoverCalc, kFailoverCount:
		return "failover detail: region sizes are checked against the topology"
	case kRestore:
		return "a restore, checked against the core's latest completed checkpoint"
	case kSavepointRequest:
		return "the request: the trigger line that follows carries its kind"
	case kStartSavepoint, kResetID:
		return "a restore before the first trigger, read for the start event"
	case kManualRequest:
		return "the manual request: the trigger line that follows carries it"
	case kSourceCompleted, kSourceAborted:
		return "the source coordinator told of the checkpoint's end (claimed)"
	case kSourceReset:
		return "the source coordinator resets a subtask to the restored checkpoint (claimed)"
	case kSourceRestore:
		return "the source coordinator restores its enumerator"
	}
	return "understood; nothing to decide"
}

// claimJobEnd writes what the log says of the job at its end: running unless
// it shows the job finishing (a job whose tasks did not all finish, with
// several sources of which one finished, is still running). A job failed or
// cancelled for reasons other than checkpoints is not claimed: the core does
// not model those.
func (d *driver) claimJobEnd() {
	line := d.lastJobLine
	if line == 0 && len(d.es) > 0 {
		line = d.es[len(d.es)-1].rec.line
	}
	if line == 0 {
		return
	}
	status := ""
	switch d.logJob {
	case "FINISHED":
		status = "finished"
	case "RUNNING", "RESTARTING", "CREATED", "INITIALIZING":
		status = "running"
	default:
		return
	}
	i := len(d.im.Events)
	d.im.comments[i] = append(d.im.comments[i], fmt.Sprintf("%slog line %d: job %s -- the job's status at the end of the log", history.ClaimPrefix, line, status))
	d.im.Stats.Claims++
}

// start emits the start event. A restore it carries comes from the log
// (restoring from a savepoint or checkpoint before the first trigger) or, when
// the log's first checkpoint id is N > 1, from the assumption that the log
// joined a running job whose checkpoint N-1 completed: ids then line up, and a
// regional what-if has the state a real job would have had to fall back to.
func (d *driver) start() {
	ev := fsm.Event{Type: fsm.EvStart}
	var restore, fromSavepoint, reset *entry
	for _, e := range d.es {
		if e.kind == kTrigger {
			break
		}
		switch e.kind {
		case kRestore:
			if restore == nil {
				restore = e
			}
		case kStartSavepoint:
			fromSavepoint = e
		case kResetID:
			reset = e
		}
	}
	var id int64
	mode := fsm.Claim
	how := ""
	switch {
	case restore != nil:
		id = restore.id
		if restore.detail == "Savepoint" || fromSavepoint != nil {
			mode = fsm.NoClaim
		}
		how = fmt.Sprintf("line %d: the job restored %s %d", restore.rec.line, strings.ToLower(restore.detail), id)
	case fromSavepoint != nil && fromSavepoint.id > 0:
		id, mode = fromSavepoint.id, fsm.NoClaim
		how = fmt.Sprintf("line %d: the job started from savepoint %d", fromSavepoint.rec.line, id)
	case reset != nil && reset.id > 1:
		id, mode = reset.id-1, fsm.NoClaim
		how = fmt.Sprintf("line %d: the checkpoint id was reset to %d after a restore", reset.rec.line, reset.id)
	}
	if fromSavepoint != nil {
		up := strings.ToUpper(fromSavepoint.detail)
		switch {
		case strings.Contains(up, "NO_CLAIM") || strings.Contains(up, "LEGACY"):
			mode = fsm.NoClaim
		case strings.Contains(up, "CLAIM"):
			mode = fsm.Claim
		}
		if id == 0 {
			d.note("line %d: the job started from savepoint %s, whose id the log does not show", fromSavepoint.rec.line, fromSavepoint.detail)
		}
	}
	if id > 0 && d.pp.firstID > 0 && id >= d.pp.firstID {
		d.note("%s, but the first logged checkpoint is %d: the restore is ignored", how, d.pp.firstID)
		id = 0
	}
	if id == 0 && d.pp.firstID > 1 && !d.opt.NoPrior {
		id, mode = d.pp.firstID-1, fsm.Claim
		how = fmt.Sprintf("assumed: the log's first checkpoint is %d, so it joined a running job; checkpoint %d is taken as completed before it (-no-prior turns this off)",
			d.pp.firstID, id)
	}
	if id > 0 {
		ev.Restore = &fsm.Restore{Checkpoint: id, Mode: mode}
		d.im.Start = fmt.Sprintf("restore %d (%s): %s", id, mode, how)
		d.im.startHow = how
		for _, e := range []*entry{restore, fromSavepoint, reset} {
			if e != nil {
				d.used[e] = true
			}
		}
	} else {
		d.im.Start = "fresh: every subtask running, no completed checkpoint"
	}
	d.emit(ev, "") // the header's comment block says what the start restores and why
}

func (d *driver) trigger(e *entry) {
	c := d.pp.ckpts[e.id]
	if c == nil || c.trig != e {
		d.note("line %d: checkpoint %d is triggered a second time (first at line %d): not mapped", e.rec.line, e.id, c.trig.rec.line)
		return
	}
	row := &CheckpointRow{LogID: e.id, Kind: c.kind.String(), KindHow: c.kindHow, Line: e.rec.line, Log: logOutcome(c)}
	if c.end != nil {
		row.LogLine = c.end.rec.line
	}
	d.rows[e.id], d.rowTrig[e.id] = row, e
	d.rowOrder = append(d.rowOrder, e.id)
	if d.lastLogID > 0 && e.id != d.lastLogID+1 {
		d.note("line %d: the log's ids go from %d to %d; ids it does not show were used by checkpoints or savepoints outside the log, so the core's ids differ from here on",
			e.rec.line, d.lastLogID, e.id)
	}
	d.lastLogID = e.id
	if d.st.Job() == fsm.JobRunning {
		d.syncRunning(e)
	}
	d.queue = append(d.queue, e.id)
	d.emit(fsm.Event{At: d.at(e), Type: fsm.EvTrigger, Kind: c.kind}, "")
	id := row.ID
	if id == 0 {
		id = d.lastCore + 1 // the id the core would have given it
	}
	d.claimID[e.id] = id
	if id != e.id {
		d.claim("triggered %d -- log id %d", id, e.id)
	} else {
		d.claim("triggered %d", id)
	}
	if row.ID == 0 && row.Core == "" {
		row.Core = "queued (max_concurrent)"
		d.mismatch(e, fmt.Sprintf("triggered checkpoint %d", e.id),
			fmt.Sprintf("queued the request: %d checkpoints pending, max_concurrent %d", len(d.st.Pending()), d.cfg.MaxConcurrent))
	}
}

// syncRunning applies the rule that Flink triggers a checkpoint only when every
// unfinished task runs: a subtask the core still has restarting (the log did
// not show it coming back) is marked running first.
func (d *driver) syncRunning(e *entry) {
	var back []string
	for i := 0; i < d.topo.NumSubtasks(); i++ {
		id := fsm.TaskID(i)
		if !d.st.TaskRunning(id) && !d.st.TaskFinished(id) {
			back = append(back, d.name(id))
		}
	}
	for i, n := range back {
		id, _ := d.topo.ParseTask(n)
		comment := ""
		if i == 0 {
			comment = fmt.Sprintf("%d subtasks running again: Flink triggered checkpoint %d, which it does only when every task runs", len(back), e.id)
		}
		d.logTask[id] = logRunning
		d.emit(fsm.Event{At: d.at(e), Type: fsm.EvTaskRunning, Task: id}, comment)
	}
}

func logOutcome(c *ckpt) string {
	switch c.outcome {
	case "declined":
		return "declined (" + string(c.reason) + ")"
	case "failed":
		return "failed (" + clip(c.failed) + ")"
	}
	return c.outcome
}

// triggeredRow returns the row of the checkpoint a log line ends (verb: how),
// when its trigger became a core checkpoint. Otherwise it says why and returns
// false: a note when the log shows no trigger, a mismatch on claim when the core
// refused the trigger.
func (d *driver) triggeredRow(e *entry, verb, claim string) (*CheckpointRow, bool) {
	row := d.rows[e.id]
	if row == nil {
		d.note("line %d: checkpoint %d %s, but the log does not show its trigger: not mapped", e.rec.line, e.id, verb)
		return nil, false
	}
	if row.ID == 0 {
		d.mismatch(e, claim, "never triggered it: "+row.Core)
		return nil, false
	}
	return row, true
}

// completed maps a completion: every subtask the core still waits for acks,
// then the metadata is persisted. JobManager logs print no acks (they are
// DEBUG), and a completed checkpoint means every subtask acknowledged.
func (d *driver) completed(e *entry) {
	claim := fmt.Sprintf("completed checkpoint %d", e.id)
	row, ok := d.triggeredRow(e, "completed", claim)
	if !ok {
		return
	}
	p, ok := d.pending(row.ID)
	if !ok {
		d.mismatch(e, claim, "had already ended it: "+row.Core)
		return
	}
	if !p.Persisting {
		var acks []fsm.TaskID
		for i := 0; i < d.topo.NumSubtasks(); i++ {
			id := fsm.TaskID(i)
			if p.Triggered(id) && !p.Acked(id) && !d.st.TaskFinished(id) && !p.RegionFailed(d.topo.RegionOf(id)) {
				acks = append(acks, id)
			}
		}
		for i, id := range acks {
			comment := ""
			if i == 0 {
				comment = fmt.Sprintf("%d acks synthesized: a completed checkpoint means every subtask acknowledged", len(acks))
			}
			d.emit(fsm.Event{At: d.at(e), Type: fsm.EvAck, Checkpoint: row.ID, Task: id}, comment)
		}
	}
	if !d.persist[row.ID] {
		d.mismatch(e, fmt.Sprintf("completed checkpoint %d", e.id), "did not start persisting it once every subtask acknowledged: "+row.Core)
		return
	}
	d.emit(fsm.Event{At: d.at(e), Type: fsm.EvPersisted, Checkpoint: row.ID}, "")
}

// decline maps the first failure line of a declined checkpoint to a decline
// event by the declining subtask. Which subtask: the attempt id if the log
// deployed it, else the task the cause names, else subtask 0 of the first
// vertex, reported.
func (d *driver) decline(e *entry) {
	row, c := d.rows[e.id], d.pp.ckpts[e.id]
	if row == nil || c == nil {
		d.note("line %d: checkpoint %d declined, but the log does not show its trigger: not mapped", e.rec.line, e.id)
		return
	}
	if row.ID == 0 || !d.isPending(row.ID) {
		if c.end == e {
			d.mismatch(e, fmt.Sprintf("declined checkpoint %d", e.id), "had no pending checkpoint for it: "+row.Core)
		}
		return // a later line about the same decline
	}
	task, who := d.declineTask(e, c)
	row.Note = addNote(row.Note, who)
	d.emit(fsm.Event{At: d.at(e), Type: fsm.EvDecline, Checkpoint: row.ID, Task: task, Reason: c.reason}, who)
}

func (d *driver) isPending(core int64) bool {
	p, ok := d.pending(core)
	return ok && !p.Persisting
}

func (d *driver) declineTask(e *entry, c *ckpt) (fsm.TaskID, string) {
	if id, ok := d.resolve(e); ok {
		return id, "declined by " + d.name(id)
	}
	if c.hasCauseTask {
		if id, ok := d.byTask(c.causeTask); ok {
			return id, fmt.Sprintf("declined by %s (named in the cause)", d.name(id))
		}
	}
	first := d.topo.Vertices()[0].First
	who := e.attempt
	if who == "" {
		who = "?"
	}
	return first, fmt.Sprintf("declined by task %s, which the log does not name: attributed to %s", who, d.name(first))
}

// failed maps a failure-manager line (1.15+) for a checkpoint the core still
// has pending: the cause says whether it expired or was declined.
func (d *driver) failed(e *entry) {
	row, c := d.rows[e.id], d.pp.ckpts[e.id]
	if row == nil || row.ID == 0 || !d.isPending(row.ID) {
		return // the decline or expiry line before it was mapped; this confirms it
	}
	switch r := failureReason(e.detail + "\n" + e.rec.text()); {
	case r == fsm.ReasonExpired:
		d.expired(e)
	case fsm.ValidDeclineReason(r):
		if c.outcome == "failed" {
			c.reason = r
		}
		d.decline(e)
	default:
		d.mismatch(e, fmt.Sprintf("checkpoint %d failed: %s", e.id, clip(e.detail)),
			"still has it pending: no event in the log explains the failure to the core")
	}
}

// expired lets time reach the log's expiry: the core expires the checkpoint by
// its own deadline (trigger + timeout), which the inferred timeout puts at or
// before the logged expiry.
func (d *driver) expired(e *entry) {
	claim := fmt.Sprintf("checkpoint %d expired", e.id)
	row, ok := d.triggeredRow(e, "expired", claim)
	if !ok {
		return
	}
	if !d.isPending(row.ID) {
		if !strings.Contains(row.Core, "expired") {
			d.mismatch(e, claim, "had already ended it: "+row.Core)
		}
		return
	}
	d.emit(fsm.Event{At: d.at(e), Type: fsm.EvTick}, "")
	if d.isPending(row.ID) {
		var deadline int64
		if p, ok := d.pending(row.ID); ok {
			deadline = p.Deadline
		}
		d.mismatch(e, claim,
			fmt.Sprintf("still has it pending: its deadline is %d ms after the start, the log's expiry %d", deadline, d.at(e)))
	}
}

// late maps a late acknowledgement of an expired checkpoint to an ack event,
// when the log names the subtask: the core answers discard_late_state.
func (d *driver) late(e *entry) {
	row := d.rows[e.id]
	if row == nil || row.ID == 0 {
		return
	}
	if d.isPending(row.ID) {
		d.mismatch(e, fmt.Sprintf("late message: checkpoint %d had expired", e.id), "still has it pending")
		return
	}
	if id, ok := d.resolve(e); ok {
		d.emit(fsm.Event{At: d.at(e), Type: fsm.EvAck, Checkpoint: row.ID, Task: id}, "a late ack: the core discards its state")
	}
}

// ack maps a DEBUG acknowledgement the core still waits for.
func (d *driver) ack(e *entry) {
	row := d.rows[e.id]
	if row == nil || row.ID == 0 {
		return
	}
	id, ok := d.resolve(e)
	p, pending := d.pending(row.ID)
	if ok && pending && !p.Persisting && p.Triggered(id) && !p.Acked(id) {
		d.emit(fsm.Event{At: d.at(e), Type: fsm.EvAck, Checkpoint: row.ID, Task: id}, "")
	}
}

// triggerFailed maps a request that got no id. Only "not all tasks running"
// concerns the core's preconditions (R13); refusals of the periodic scheduler
// (min pause, too many requests) have no counterpart, because the history has
// no periodic requests. The trigger event is emitted only if the core refuses
// it too: one it would accept would take an id the log never used.
func (d *driver) triggerFailed(e *entry) {
	t := strings.ToLower(e.detail)
	if !(strings.Contains(t, "not all required tasks") || strings.Contains(t, "not being executed") ||
		strings.Contains(t, "is not in state") || strings.Contains(t, "has been finished") || strings.Contains(t, "not running")) {
		return
	}
	if d.st.Job() != fsm.JobRunning {
		return
	}
	if id, ok := d.resolve(e); ok && d.st.TaskRunning(id) {
		d.logTask[id] = logDown
		d.emit(fsm.Event{At: d.at(e), Type: fsm.EvTaskFailed, Task: id},
			fmt.Sprintf("%s is not running per the log: task_failed is the core's only way to say so", d.name(id)))
	}
	ev := fsm.Event{At: d.at(e), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint}
	defer d.claim("refused -- %s", clip(e.detail))
	probe := d.st.Clone()
	effs, err := probe.Step(ev)
	if err != nil {
		return
	}
	for _, f := range effs {
		if f.Type == fsm.EffTrigger {
			d.mismatch(e, "a trigger failed: "+clip(e.detail),
				fmt.Sprintf("would trigger checkpoint %d: every unfinished subtask runs as far as the log shows (R13 ignores finished subtasks); no event emitted, so that ids stay aligned", f.Checkpoint))
			return
		}
	}
	d.queue = append(d.queue, 0)
	d.emit(ev, "a trigger the log shows failing: the core refuses it too")
}

// finish fills in what the rows say at the end and compares the outcomes.
func (d *driver) finish() {
	for _, l := range d.rowOrder {
		r := d.rows[l]
		if r.ID != 0 && !r.coreDone && d.isPendingAny(r.ID) {
			r.Core = "pending at the end"
		}
		r.Match = compare(r)
		d.im.Checkpoints = append(d.im.Checkpoints, *r)
	}
	d.im.Final = d.st.Job().String()
	if fr := d.st.FailReason(); fr != "" {
		d.im.Final += " (" + string(fr) + ")"
	}
}

func (d *driver) isPendingAny(core int64) bool {
	_, ok := d.pending(core)
	return ok
}

// compare says whether the core's outcome is the log's.
func compare(r *CheckpointRow) string {
	switch {
	case r.Log == "":
		return "unknown"
	case r.Log == "completed":
		return yesNo(strings.HasPrefix(r.Core, "completed"))
	case r.Log == "expired":
		return yesNo(r.Core == "aborted (expired)")
	case strings.HasPrefix(r.Log, "declined ("):
		return yesNo(r.Core == "aborted ("+strings.TrimPrefix(r.Log, "declined ("))
	}
	return yesNo(strings.HasPrefix(r.Core, "aborted"))
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
