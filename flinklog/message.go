package flinklog

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// kind is what a log record says, as far as checkpoints are concerned.
type kind uint8

const (
	kNone             kind = iota
	kTrigger               // Triggering checkpoint N [(type=T)] @ ts for job J
	kCompleted             // Completed checkpoint N for job J (...)
	kDecline               // Decline checkpoint N by task A of job J [at L]
	kDeclined              // Checkpoint N of job J [was] declined
	kDiscard               // Discarding checkpoint N of job J (1.9/1.10: carries the decline's cause)
	kExpired               // Checkpoint N of job J expired before completing
	kLate                  // Received late message for now expired checkpoint attempt N from task A of job J
	kAck                   // Received acknowledge message for checkpoint N from task A of job J (DEBUG)
	kFailed                // Failed to trigger or complete checkpoint N for job J / Triggering Checkpoint N ... failed
	kTriggerFailed         // a request that got no id: not all tasks running, tasks finished, ...
	kTaskState             // NAME (i/p)[#a] (attempt) switched from S to T
	kDeploy                // Deploying NAME (i/p) (attempt #k) with attempt id A
	kJobState              // Job NAME (J) switched from state S to T
	kGlobalFailure         // Trying to recover from a global failure (JobMaster) / N tasks will be restarted to recover from a global failure (DefaultScheduler)
	kFailoverCalc          // Calculating tasks to restart to recover the failed task X
	kFailoverCount         // N tasks should (1.9-1.12 failover strategy) / will (DefaultScheduler) be restarted to recover the failed task X
	kRestore               // Restoring job J from [latest valid checkpoint: ]Checkpoint|Savepoint N @ ts
	kStartSavepoint        // Starting job J from savepoint PATH
	kResetID               // Reset the checkpoint ID of job J to N
	kSavepointRequest      // JobMaster: Triggering [cancel-with-|stop-with-]savepoint for job J
	kManualRequest         // JobMaster (1.19+): Triggering a manual checkpoint for job J
	kSourceCompleted       // SourceCoordinator: Marking checkpoint N as completed for source S
	kSourceAborted         // SourceCoordinator: Marking checkpoint N as aborted for source S
	kSourceReset           // SourceCoordinator: Recovering subtask i to checkpoint N for source S to checkpoint
	kSourceRestore         // SourceCoordinator: Restoring SplitEnumerator of source S from checkpoint
	kInfo                  // understood, nothing to map (storage settings, coordinator shutdown, ...)
)

// entry is one interpreted record.
type entry struct {
	rec  *record
	kind kind
	job  string // "" when the record names no job

	id        int64 // the log's checkpoint id, 0 if none
	ckKind    fsm.Kind
	typed     bool   // the trigger line gave its type
	typeText  string // the type as logged
	ts        int64  // trigger: the "@ ts" value
	attempt   string // execution attempt id
	task      taskRef
	hasTask   bool
	from, to  string // state transitions
	count     int    // failed attempts so far / tasks to restart
	detail    string // free text: restore path, failure reason, savepoint request kind
	tm        bool   // a TaskManager-side line (duplicates the JobManager's view)
	tolerable bool   // the record says "Exceeded checkpoint tolerable failure threshold"
}

const jobRe = `([0-9a-fA-F]{32})`

var (
	reTrigger        = regexp.MustCompile(`^Triggering (?:checkpoint|savepoint) (\d+) (?:\(type=(.*)\) )?@ (-?\d+) for job ` + jobRe)
	reCompleted      = regexp.MustCompile(`^Completed checkpoint (\d+) for job ` + jobRe)
	reDecline        = regexp.MustCompile(`^Decline checkpoint (\d+) by task (\S+?) of job ` + jobRe)
	reDeclined       = regexp.MustCompile(`^Checkpoint (\d+) of job ` + jobRe + ` (?:was )?declined`)
	reDiscard        = regexp.MustCompile(`^Discarding checkpoint (\d+) of job ` + jobRe)
	reExpired        = regexp.MustCompile(`^Checkpoint (\d+) of job ` + jobRe + ` expired before completing`)
	reLate           = regexp.MustCompile(`^Received (?:late message|another decline message) for now expired checkpoint attempt (\d+) from (?:task )?(\S+?) of job ` + jobRe)
	reUnknownAck     = regexp.MustCompile(`^Could not acknowledge the checkpoint (\d+) for task (\S+?) of job ` + jobRe)
	reAck            = regexp.MustCompile(`^Received acknowledge message for checkpoint (\d+) from task (\S+?) of job ` + jobRe)
	reFailedMgr      = regexp.MustCompile(`^Failed to trigger or complete checkpoint (\d+|UNKNOWN_CHECKPOINT_ID) for job ` + jobRe + `\.?(?: \((\d+) consecutive failed attempts so far\))?`)
	reTriggeringFail = regexp.MustCompile(`^Triggering Checkpoint (\d+) for job ` + jobRe + ` failed due to (.*)`)
	reFailTrigger    = regexp.MustCompile(`^Failed to trigger checkpoint (?:(\d+) )?for job ` + jobRe + `(.*)`)
	reTaskNotRunning = regexp.MustCompile(`^Checkpoint triggering task (.+?) (?:of job ` + jobRe + ` )?is not (being executed at the moment|in state \w+ but \w+ instead)`)
	reTaskState      = regexp.MustCompile(`^(.+?) \((\d+)/(\d+)\)(?:#(\d+))? \(([0-9a-fA-F_\-]+)\) switched from (\w+) to (\w+)`)
	reDeploy         = regexp.MustCompile(`^Deploying (.+?) \((\d+)/(\d+)\) \(attempt #\d+\) (?:with attempt id ([0-9a-fA-F_\-]+))?`)
	reJobState       = regexp.MustCompile(`^Job (.*) \(` + jobRe + `\) switched from state (\w+) to (\w+)`)
	reGlobalFailure  = regexp.MustCompile(`^(?:Trying to recover from a global failure|(\d+) tasks will be restarted to recover from a global failure)`)
	reFailoverCalc   = regexp.MustCompile(`^Calculating tasks to restart to recover the failed task (\S+?)\.?$`)
	reFailoverCount  = regexp.MustCompile(`^(\d+) tasks (?:should|will) be restarted to recover the failed task (\S+?)\.?$`)
	reRestore        = regexp.MustCompile(`^Restoring job ` + jobRe + ` from (?:latest valid checkpoint: )?(Checkpoint|Savepoint) (\d+) @ (-?\d+)`)
	reStartSavepoint = regexp.MustCompile(`^Starting job ` + jobRe + ` from savepoint (\S+)(.*)`)
	reResetID        = regexp.MustCompile(`^Reset the checkpoint ID of job ` + jobRe + ` to (\d+)`)
	reSavepointReq   = regexp.MustCompile(`^Triggering ((?:cancel-with-|stop-with-|suspend-with-|terminate-with-)?savepoint) for job ` + jobRe)
	reManualReq      = regexp.MustCompile(`^Triggering a manual (?:full )?checkpoint for job ` + jobRe)
	reSourceMark     = regexp.MustCompile(`^Marking checkpoint (\d+) as (completed|aborted) for source (.+?)\.?$`)
	reSourceReset    = regexp.MustCompile(`^Recovering subtask (\d+) to checkpoint (-?\d+) for source (.+?) to checkpoint\.?$`)
	reSourceRestore  = regexp.MustCompile(`^Restoring SplitEnumerator of source (.+?) from checkpoint\.?$`)
	reInfo           = regexp.MustCompile(`^(?:Checkpoint storage is set to|Submitting job|Received JobGraph submission|No state backend has been configured|Using (?:job/cluster config|application-defined)|No master state to restore|No checkpoint found during restore|Savepoint stored in \S+\. Now cancelling|(?:Stopping|Shutting down) checkpoint coordinator|Trying to trigger another checkpoint for job|Checkpoint \d+ of job ` + jobRe + ` has been subsumed)`)
	reAnyJob         = regexp.MustCompile(`\b[Jj]ob (?:[Ii][Dd] )?` + jobRe + `\b`)
	reChkPath        = regexp.MustCompile(`/chk-(\d+)/?$`)
)

// tolerableText is CheckpointFailureManager's message when the job fails
// because too many checkpoints failed in a row.
const tolerableText = "Exceeded checkpoint tolerable failure threshold"

func atoi64(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// interpret classifies one record. It never fails: a record it does not
// understand gets kind kNone and the caller decides whether that matters.
func interpret(r *record) entry {
	e := entry{rec: r}
	m := r.msg
	e.tolerable = strings.Contains(m, tolerableText) || contSays(r, tolerableText)
	switch {
	case match(reTrigger, m, func(g []string) {
		e.kind, e.id, e.typeText, e.ts, e.job = kTrigger, atoi64(g[1]), g[2], atoi64(g[3]), g[4]
		e.ckKind, e.typed = snapshotKind(g[2])
	}):
	case match(reCompleted, m, func(g []string) { e.kind, e.id, e.job = kCompleted, atoi64(g[1]), g[2] }):
	case match(reDecline, m, func(g []string) { e.kind, e.id, e.attempt, e.job = kDecline, atoi64(g[1]), g[2], g[3] }):
	case match(reDeclined, m, func(g []string) { e.kind, e.id, e.job = kDeclined, atoi64(g[1]), g[2] }):
	case match(reDiscard, m, func(g []string) { e.kind, e.id, e.job = kDiscard, atoi64(g[1]), g[2] }):
	case match(reExpired, m, func(g []string) { e.kind, e.id, e.job = kExpired, atoi64(g[1]), g[2] }):
	case match(reLate, m, func(g []string) { e.kind, e.id, e.attempt, e.job = kLate, atoi64(g[1]), g[2], g[3] }):
	case match(reUnknownAck, m, func(g []string) { e.kind, e.id, e.attempt, e.job = kLate, atoi64(g[1]), g[2], g[3] }):
	case match(reAck, m, func(g []string) { e.kind, e.id, e.attempt, e.job = kAck, atoi64(g[1]), g[2], g[3] }):
	case match(reFailedMgr, m, func(g []string) {
		e.job, e.count = g[2], int(atoi64(g[3]))
		e.detail = firstLine(r.cont)
		if g[1] == "UNKNOWN_CHECKPOINT_ID" {
			e.kind = kTriggerFailed
			return
		}
		e.kind, e.id = kFailed, atoi64(g[1])
	}):
	case match(reTriggeringFail, m, func(g []string) { e.kind, e.id, e.job, e.detail = kFailed, atoi64(g[1]), g[2], g[3] }):
	case match(reFailTrigger, m, func(g []string) {
		e.job, e.detail = g[2], strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(g[3]), "since"))
		if e.detail == "" || strings.HasPrefix(e.detail, ".") {
			e.detail = strings.TrimSpace(strings.TrimPrefix(e.detail, ".") + " " + firstLine(r.cont))
		}
		if g[1] != "" {
			e.kind, e.id = kFailed, atoi64(g[1])
			return
		}
		e.kind = kTriggerFailed
		e.task, e.hasTask = findTask(e.detail)
	}):
	case match(reTaskNotRunning, m, func(g []string) {
		e.kind, e.job, e.detail = kTriggerFailed, g[2], "task "+g[3]
		e.task, e.hasTask = parseTaskRef(g[1])
	}):
	case match(reTaskState, m, func(g []string) {
		e.kind, e.attempt, e.from, e.to = kTaskState, g[5], g[6], g[7]
		e.task = taskRef{name: cleanName(g[1]), index: int(atoi64(g[2])) - 1, parallelism: int(atoi64(g[3]))}
		e.hasTask = e.task.valid()
		// Since 1.13 the TaskManager prints "NAME (i/p)#attempt"; its logger is Task.
		e.tm = g[4] != "" || r.loggerName() == "Task"
		e.detail = m
	}):
	case match(reDeploy, m, func(g []string) {
		e.kind, e.attempt = kDeploy, g[4]
		e.task = taskRef{name: cleanName(g[1]), index: int(atoi64(g[2])) - 1, parallelism: int(atoi64(g[3]))}
		e.hasTask = e.task.valid()
	}):
	case match(reJobState, m, func(g []string) { e.kind, e.job, e.from, e.to, e.detail = kJobState, g[2], g[3], g[4], g[1] }):
	case match(reGlobalFailure, m, func([]string) { e.kind, e.detail = kGlobalFailure, firstCause(r) }):
	case match(reFailoverCalc, m, func(g []string) { e.kind, e.detail = kFailoverCalc, g[1] }):
	case match(reFailoverCount, m, func(g []string) { e.kind, e.count, e.detail = kFailoverCount, int(atoi64(g[1])), g[2] }):
	case match(reRestore, m, func(g []string) {
		e.kind, e.job, e.id, e.ts, e.detail = kRestore, g[1], atoi64(g[3]), atoi64(g[4]), g[2]
	}):
	case match(reStartSavepoint, m, func(g []string) {
		e.kind, e.job, e.detail = kStartSavepoint, g[1], g[2]+g[3]
		if p := reChkPath.FindStringSubmatch(g[2]); p != nil {
			e.id = atoi64(p[1])
		}
	}):
	case match(reResetID, m, func(g []string) { e.kind, e.job, e.id = kResetID, g[1], atoi64(g[2]) }):
	case match(reSavepointReq, m, func(g []string) { e.kind, e.detail, e.job = kSavepointRequest, g[1], g[2] }):
	case match(reManualReq, m, func(g []string) { e.kind, e.job = kManualRequest, g[1] }):
	case match(reSourceMark, m, func(g []string) {
		e.kind, e.id, e.detail = kSourceCompleted, atoi64(g[1]), g[3]
		if g[2] == "aborted" {
			e.kind = kSourceAborted
		}
	}):
	case match(reSourceReset, m, func(g []string) {
		e.kind, e.id, e.detail = kSourceReset, atoi64(g[2]), g[3]
		e.task = taskRef{name: g[3], index: int(atoi64(g[1])), parallelism: int(atoi64(g[1])) + 1}
	}):
	case match(reSourceRestore, m, func(g []string) { e.kind, e.detail = kSourceRestore, g[1] }):
	case reInfo.MatchString(m):
		e.kind = kInfo
	}
	if e.job == "" {
		// Lines such as "Trying to recover from a global failure" name no job in
		// their message, but their cause may.
		if g := reAnyJob.FindStringSubmatch(r.text()); g != nil && e.kind != kTaskState && e.kind != kDeploy {
			e.job = g[1]
		}
	}
	return e
}

func match(re *regexp.Regexp, s string, then func([]string)) bool {
	g := re.FindStringSubmatch(s)
	if g == nil {
		return false
	}
	then(g)
	return true
}

func contSays(r *record, s string) bool {
	for _, c := range r.cont {
		if strings.Contains(c, s) {
			return true
		}
	}
	return false
}

func firstLine(cont []string) string {
	if len(cont) == 0 {
		return ""
	}
	return cont[0]
}

// firstCause is the first exception line of a record: the rest of its own
// message (log layouts that collapse the trace) or its first continuation line.
func firstCause(r *record) string {
	if i := strings.Index(r.msg, ". "); i >= 0 && i+2 < len(r.msg) {
		return strings.TrimSpace(r.msg[i+2:])
	}
	return firstLine(r.cont)
}

// snapshotKind maps the logged checkpoint type to a kind. 1.11–1.15 print the
// enum (CHECKPOINT, FULL_CHECKPOINT, SAVEPOINT, SYNC_SAVEPOINT,
// SAVEPOINT_SUSPEND, SAVEPOINT_TERMINATE); 1.16+ print the SnapshotType object
// (CheckpointType{name='Checkpoint', ...}, SavepointType{name='Suspend Savepoint',
// postCheckpointAction=SUSPEND, ...}). Older versions print no type.
func snapshotKind(t string) (fsm.Kind, bool) {
	if t == "" {
		return fsm.KindCheckpoint, false
	}
	u := strings.ToUpper(t)
	switch {
	case strings.Contains(u, "SYNC") || strings.Contains(u, "SUSPEND") || strings.Contains(u, "TERMINATE"):
		return fsm.KindStopWithSavepoint, true
	case strings.Contains(u, "SAVEPOINT"):
		return fsm.KindSavepoint, true
	}
	return fsm.KindCheckpoint, true
}

// checkpointLine reports whether a record that matched no pattern still talks
// about checkpoints and so must be reported as not understood.
func checkpointLine(r *record) bool {
	if !r.flinkLogger() {
		return false
	}
	m := strings.ToLower(r.msg)
	for _, k := range []string{"checkpoint", "savepoint", " switched from ", "to restart", "global failure", "tolerable", "restoring job"} {
		if strings.Contains(m, k) {
			return true
		}
	}
	return false
}
