package flinklog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// ckpt is what the log says about one checkpoint id, gathered before any event
// is made: the driver needs the cause of a decline that a later line prints
// (1.9/1.10 "Discarding checkpoint N" carries it), and the configuration is
// inferred from all of them.
type ckpt struct {
	logID   int64
	kind    fsm.Kind
	kindHow string // how the kind was decided
	trig    *entry
	outcome string // completed, declined, expired, failed; "" = the log does not say
	end     *entry
	failed  string // for outcome "failed": the failure text

	cause        string // decline cause: the decline line, "Discarding", failure-manager text
	reason       fsm.Reason
	causeTask    taskRef
	hasCauseTask bool

	silentEnd int64 // for overlap only: when it ended without a line (failover, subsumption)
	manual    bool  // a manual request (1.19+ REST) triggered it, not the periodic scheduler
}

// prepass walks the job's entries once to collect checkpoints and the evidence
// configuration is inferred from.
type prepass struct {
	ckpts      map[int64]*ckpt
	order      []*ckpt // by trigger time
	firstID    int64
	restartsAt []int64 // job failovers: periodic spacing across them says nothing
	tolerables []tolerableEvidence
	restarts   []restartEvidence
}

type tolerableEvidence struct {
	e       *entry
	counted int // counted failures since the last success, by Flink's rules, when the line came
}

// restartEvidence is "N tasks should be restarted to recover the failed task X":
// the size of X's pipelined region, the only topology fact a log prints.
type restartEvidence struct {
	e     *entry
	tasks int
}

func runPrepass(es []*entry) *prepass {
	pp := &prepass{ckpts: map[int64]*ckpt{}}
	var lastSavepointReq, lastManualReq *entry
	var lastTolerable int64 = -1 << 62
	endPending := func(at int64, below int64) {
		for _, c := range pp.order {
			if c.outcome == "" && c.silentEnd == 0 && c.logID < below {
				c.silentEnd = at
			}
		}
	}
	for _, e := range es {
		at := e.rec.at
		if e.tolerable && at-lastTolerable > 2000 {
			// One incident prints the message two or three times (JobMaster,
			// job state, exception); it is one piece of evidence.
			pp.tolerables = append(pp.tolerables, tolerableEvidence{e: e})
			lastTolerable = at
		}
		c := pp.ckpts[e.id]
		switch e.kind {
		case kSavepointRequest:
			lastSavepointReq = e
		case kManualRequest:
			lastManualReq = e
		case kTrigger:
			if c != nil {
				continue // a repeated id: the first trigger stands, the driver reports it
			}
			c = &ckpt{logID: e.id, trig: e, kind: e.ckKind}
			switch {
			case e.typed:
				c.kindHow = "type=" + e.typeText
			case lastSavepointReq != nil && at-lastSavepointReq.rec.at <= 10000:
				c.kind = savepointRequestKind(lastSavepointReq.detail)
				c.kindHow = fmt.Sprintf("untyped trigger %d ms after the JobMaster's %q request (line %d)",
					at-lastSavepointReq.rec.at, lastSavepointReq.detail, lastSavepointReq.rec.line)
				lastSavepointReq = nil
			default:
				c.kindHow = "untyped trigger line, no savepoint request before it: a checkpoint"
			}
			if lastManualReq != nil && !c.kind.IsSavepoint() && at-lastManualReq.rec.at <= 10000 {
				c.manual = true
				c.kindHow += fmt.Sprintf("; a manual request (line %d)", lastManualReq.rec.line)
				lastManualReq = nil
			}
			pp.ckpts[e.id] = c
			pp.order = append(pp.order, c)
			if pp.firstID == 0 {
				pp.firstID = e.id
			}
		case kCompleted, kExpired, kDecline, kDeclined, kFailed, kDiscard:
			if c == nil {
				continue
			}
			if e.kind != kCompleted && e.kind != kExpired {
				c.cause += "\n" + e.rec.text()
			}
			if c.outcome != "" || e.kind == kDiscard {
				continue
			}
			c.end = e
			switch e.kind {
			case kCompleted:
				c.outcome = "completed"
				endPending(at, e.id) // a completion subsumes lower pending checkpoints
			case kExpired:
				c.outcome = "expired"
			case kDecline, kDeclined:
				c.outcome = "declined"
			case kFailed:
				c.outcome, c.failed = "failed", e.detail
				if failureReason(e.detail) == fsm.ReasonExpired {
					c.outcome = "expired"
				}
			}
		case kTaskState:
			if !e.tm && (e.to == "FAILED" || e.to == "CANCELING") {
				endPending(at, 1<<62)
				pp.restartsAt = append(pp.restartsAt, at)
			}
		case kJobState:
			if e.to == "RESTARTING" || e.to == "FAILING" || e.to == "FAILED" {
				endPending(at, 1<<62)
				pp.restartsAt = append(pp.restartsAt, at)
			}
		case kGlobalFailure:
			endPending(at, 1<<62)
			pp.restartsAt = append(pp.restartsAt, at)
		case kFailoverCount:
			pp.restarts = append(pp.restarts, restartEvidence{e, e.count})
		}
	}
	// A decline's cause may come on later lines (1.9/1.10 print it with
	// "Discarding checkpoint N"): settle reasons once every line is in.
	for _, c := range pp.order {
		if c.outcome == "declined" {
			c.reason = declineReason(c.cause)
			c.causeTask, c.hasCauseTask = findTask(c.cause)
		}
	}
	for i := range pp.tolerables {
		pp.tolerables[i].counted = countedBefore(pp, pp.tolerables[i].e.rec.at, i)
	}
	return pp
}

// failReason is the reason a checkpoint failed in the log, "" if it did not.
func (c *ckpt) failReason() fsm.Reason {
	switch c.outcome {
	case "expired":
		return fsm.ReasonExpired
	case "declined":
		return c.reason
	case "failed":
		return failureReason(c.failed)
	}
	return ""
}

// countedBefore replays Flink's CheckpointFailureManager over the log's
// outcomes up to time at: counted reasons only, savepoints never (their
// failures on the JobManager are not counted; task-level ones are rare enough
// to ignore here), each id once, a completion above the last success resets,
// and an earlier threshold incident cleared the count.
func countedBefore(pp *prepass, at int64, incident int) int {
	var ends []*ckpt
	for _, c := range pp.order {
		if c.end != nil && c.end.rec.at <= at {
			ends = append(ends, c)
		}
	}
	sort.SliceStable(ends, func(a, b int) bool { return ends[a].end.rec.at < ends[b].end.rec.at })
	var from int64 = -1 << 62
	if incident > 0 {
		from = pp.tolerables[incident-1].e.rec.at
	}
	n, last := 0, int64(-1)
	for _, c := range ends {
		switch {
		case c.outcome == "completed":
			if c.logID > last && c.kind != fsm.KindSavepoint {
				last, n = c.logID, 0
			}
		case c.end.rec.at <= from || c.kind.IsSavepoint() || c.logID <= last:
		case c.failReason().Counted():
			n++
		}
	}
	return n
}

func savepointRequestKind(req string) fsm.Kind {
	if strings.HasPrefix(req, "stop-with") || strings.HasPrefix(req, "suspend") || strings.HasPrefix(req, "terminate") {
		return fsm.KindStopWithSavepoint
	}
	return fsm.KindSavepoint
}

// declineReason maps a decline's cause text to a decline reason (R30). The
// exception classes and CheckpointFailureReason messages of 1.9 to 2.x are
// matched; anything else is a plain, counted decline, as in Flink.
func declineReason(text string) fsm.Reason {
	t := strings.ToLower(text)
	has := func(ks ...string) bool {
		for _, k := range ks {
			if strings.Contains(t, k) {
				return true
			}
		}
		return false
	}
	switch {
	case has("tasknotready", "tasks not ready", "was not running", "task_not_ready", "not checkpointing", "does not support checkpointing"):
		return fsm.ReasonTaskNotReady
	case has("task is closing", "taskclosing", "task_closing"):
		return fsm.ReasonTaskClosing
	case has("oncancellationbarrier", "cancellation from one of its inputs", "cancellation barrier", "alignment"):
		return fsm.ReasonOnCancellation
	case has("declinesubsumed", "barrier from newer checkpoint"):
		return fsm.ReasonDeclinedSubsumed
	case has("input stream is finished", "inputendofstream", "end_of_stream", "end of stream"):
		return fsm.ReasonInputEndOfStream
	case has("could not materialize checkpoint", "asynchronous task checkpoint failed", "asynccheckpointrunnable", "async_exception"):
		return fsm.ReasonAsyncException
	}
	return fsm.ReasonDeclined
}

// failureReason maps a failure-manager cause (CheckpointFailureReason's message)
// to the core's reason, "" when the failure is not one the core decides.
func failureReason(text string) fsm.Reason {
	t := strings.ToLower(text)
	switch {
	case strings.Contains(t, "expired"):
		return fsm.ReasonExpired
	case strings.Contains(t, "subsumed") && !strings.Contains(t, "barrier"):
		return fsm.ReasonSubsumed
	case strings.Contains(t, "task has failed") || strings.Contains(t, "failoverregion") || strings.Contains(t, "task failure"):
		return fsm.ReasonRegionFailover
	case strings.Contains(t, "finalize"):
		return fsm.ReasonFinalizeFailed
	case strings.Contains(t, "suspend") || strings.Contains(t, "shut") || strings.Contains(t, "job has failed"):
		return fsm.ReasonCoordinatorSuspend
	case strings.Contains(t, "declined") || strings.Contains(t, "decline") || strings.Contains(t, "asynchronous"):
		return declineReason(t)
	}
	return ""
}
