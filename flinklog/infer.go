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
	var lastSavepointReq *entry
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

// Inference is one configuration value and how it was decided.
type Inference struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	How   string `json:"how"`
}

// inferConfig decides the configuration of the imported history. The interval
// is always 0 (every logged trigger is an event); the periodic interval is
// still estimated and reported.
func inferConfig(pp *prepass, opt Options) (fsm.Config, []Inference) {
	cfg := fsm.DefaultConfig()
	var inf []Inference
	add := func(k string, v any, how string, args ...any) {
		inf = append(inf, Inference{k, fmt.Sprint(v), fmt.Sprintf(how, args...)})
	}

	// Timeout: the smallest trigger→expiry spacing, rounded to whole seconds
	// only when that does not move the deadline past a logged expiry.
	var minD, maxD int64 = -1, -1
	n := 0
	for _, c := range pp.order {
		if c.outcome == "expired" && c.end != nil {
			d := c.end.rec.at - c.trig.rec.at
			if d < fsm.MinTimeoutMs {
				continue
			}
			if minD < 0 || d < minD {
				minD = d
			}
			maxD = max(maxD, d)
			n++
		}
	}
	longest := int64(0)
	for _, c := range pp.order {
		if c.outcome == "completed" && c.end != nil {
			longest = max(longest, c.end.rec.at-c.trig.rec.at)
		}
	}
	switch {
	case opt.TimeoutMs > 0:
		cfg.TimeoutMs = opt.TimeoutMs
		add("timeout_ms", cfg.TimeoutMs, "given (-timeout)")
	case minD > 0:
		t := (minD + 500) / 1000 * 1000
		if t > minD || t < fsm.MinTimeoutMs {
			t = minD
		}
		cfg.TimeoutMs = t
		add("timeout_ms", t, "inferred from %d expiries: trigger→expiry %d..%d ms", n, minD, maxD)
	default:
		add("timeout_ms", cfg.TimeoutMs, "Flink's default: no checkpoint expired in the log (set -timeout)")
	}
	if longest >= cfg.TimeoutMs {
		add("timeout_ms", cfg.TimeoutMs, "conflict: a checkpoint completed after %d ms, longer than the timeout; the core will expire it", longest)
	}

	// Tolerable failures: at a threshold failure, the counted failures since
	// the last success were tolerable+1.
	switch {
	case opt.Tolerable >= 0:
		cfg.TolerableFailures = opt.Tolerable
		add("tolerable_failures", opt.Tolerable, "given (-tolerable)")
	case len(pp.tolerables) > 0:
		c := pp.tolerables[0].counted
		for _, t := range pp.tolerables[1:] {
			c = min(c, t.counted)
		}
		if c >= 1 {
			cfg.TolerableFailures = c - 1
			add("tolerable_failures", c-1, "the job failed with %q after %d counted checkpoint failures (line %d)",
				tolerableText, c, pp.tolerables[0].e.rec.line)
		} else {
			add("tolerable_failures", 0, "the job failed with %q (line %d) but no counted failure precedes it in the log",
				tolerableText, pp.tolerables[0].e.rec.line)
		}
	default:
		m := maxConsecutiveFailures(pp)
		cfg.TolerableFailures = m
		add("tolerable_failures", m, "no threshold failure in the log: at least the %d consecutive counted failures it shows", m)
	}

	// Max concurrent: the most checkpoints the log shows pending at once.
	mc := maxOverlap(pp, cfg.TimeoutMs)
	switch {
	case opt.MaxConcurrent > 0:
		cfg.MaxConcurrent = opt.MaxConcurrent
		add("max_concurrent", opt.MaxConcurrent, "given (-max-concurrent)")
	default:
		cfg.MaxConcurrent = mc
		if mc > 1 {
			add("max_concurrent", mc, "the log shows %d checkpoints pending at once", mc)
		} else {
			add("max_concurrent", mc, "Flink's default; no overlapping checkpoints in the log")
		}
	}

	cfg.IntervalMs = 0
	if iv, how := estimateInterval(pp); iv > 0 {
		add("interval_ms", 0, "every logged trigger is a trigger event; the periodic interval was ≈ %d ms (%s)", iv, how)
	} else {
		add("interval_ms", 0, "every logged trigger is a trigger event; the periodic interval is not inferable (%s)", how)
	}
	return cfg, inf
}

func maxConsecutiveFailures(pp *prepass) int {
	best, cur := 0, 0
	for _, c := range pp.order {
		switch {
		case c.outcome == "completed" && !c.kind.IsSavepoint():
			cur = 0
		case c.kind.IsSavepoint():
		case c.outcome == "expired", c.outcome == "declined" && c.reason.Counted(),
			c.outcome == "failed" && failureReason(c.failed).Counted():
			cur++
		}
		best = max(best, cur)
	}
	return best
}

// maxOverlap counts the checkpoints pending at once. One the log never ends is
// taken as pending until its deadline, a later completion (which subsumes it) or
// a failover, whichever comes first.
func maxOverlap(pp *prepass, timeout int64) int {
	type ev struct {
		at    int64
		delta int
	}
	var evs []ev
	for _, c := range pp.order {
		start := c.trig.rec.at
		end := start + timeout
		switch {
		case c.end != nil:
			end = c.end.rec.at
		case c.silentEnd != 0 && c.silentEnd < end:
			end = c.silentEnd
		}
		evs = append(evs, ev{start, +1}, ev{end, -1})
	}
	// Ends before starts at the same ms: Flink triggers a queued request right
	// after a checkpoint ends.
	sort.Slice(evs, func(a, b int) bool {
		if evs[a].at != evs[b].at {
			return evs[a].at < evs[b].at
		}
		return evs[a].delta < evs[b].delta
	})
	cur, best := 0, 1
	for _, e := range evs {
		cur += e.delta
		best = max(best, cur)
	}
	return best
}

// estimateInterval estimates the periodic interval from the spacing of
// consecutive checkpoint triggers, using only pairs where the first had ended
// well before the second (otherwise the second may have waited for it) and no
// failover restarted the scheduler in between.
func estimateInterval(pp *prepass) (int64, string) {
	var gaps []int64
	skipped := 0
	for i := 1; i < len(pp.order); i++ {
		a, b := pp.order[i-1], pp.order[i]
		if a.kind.IsSavepoint() || b.kind.IsSavepoint() {
			continue
		}
		if a.end == nil || b.trig.rec.at-a.end.rec.at < 100 || restartBetween(pp, a.trig.rec.at, b.trig.rec.at) {
			skipped++
			continue
		}
		d := b.trig.rec.at - a.trig.rec.at
		if a.trig.ts > 0 && b.trig.ts > a.trig.ts {
			d = b.trig.ts - a.trig.ts // the trigger timestamps are the scheduler's own
		}
		gaps = append(gaps, d)
	}
	if len(gaps) == 0 {
		if skipped > 0 {
			return 0, fmt.Sprintf("each of %d trigger pairs followed the end of the previous checkpoint or a failover", skipped)
		}
		return 0, "fewer than two checkpoint triggers"
	}
	sort.Slice(gaps, func(a, b int) bool { return gaps[a] < gaps[b] })
	m := gaps[len(gaps)/2]
	if r := (m + 500) / 1000 * 1000; r > 0 && abs64(r-m) <= max(10, m/100) {
		m = r
	}
	return m, fmt.Sprintf("median of %d trigger spacings", len(gaps))
}

func restartBetween(pp *prepass, a, b int64) bool {
	for _, t := range pp.restartsAt {
		if t > a && t <= b {
			return true
		}
	}
	return false
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
