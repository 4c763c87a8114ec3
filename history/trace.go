package history

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/invariants"
)

// traceWriter renders the readable trace with fsm's Describe* renderers, so
// that replay, golden transcripts and tests all read the same.
type traceWriter struct {
	w    *bufio.Writer
	topo *fsm.Topology
}

// step renders one event. An effect decided before the event's time (an expiry
// or a periodic request that became due while time passed, R10) shows its own
// time, so the trace says when things happened, not only in which step.
func (t *traceWriter) step(line int, at int64, desc string, effs []fsm.Effect, vs []invariants.Violation, div *Divergence) {
	fmt.Fprintf(t.w, "L%d %s\n", line, desc)
	for _, e := range effs {
		if e.At != at {
			fmt.Fprintf(t.w, "    -> @%d %s\n", e.At, fsm.DescribeEffect(t.topo, e))
		} else {
			fmt.Fprintf(t.w, "    -> %s\n", fsm.DescribeEffect(t.topo, e))
		}
	}
	for _, v := range vs {
		fmt.Fprintf(t.w, "    !! %s: %s\n", v.Invariant, v.Detail)
	}
	if div != nil {
		what := "effect " + strconv.Itoa(div.Index+1)
		if div.Field != "" {
			what += " (field " + div.Field + ")"
		}
		fmt.Fprintf(t.w, "    !! divergence: the recorded effects differ at %s\n", what)
	}
}

// claims renders the claims an event's step contradicts.
func (t *traceWriter) claims(failed []ClaimFailure) {
	for _, f := range failed {
		fmt.Fprintf(t.w, "    !! claim L%d: the log (line %d) says %s; the core: %s\n", f.Claim.Line, f.Claim.LogLine, f.Claim.what(), f.Core)
	}
}

func (t *traceWriter) summary(s *Summary, n Counts, checked bool) {
	fmt.Fprintf(t.w, "-- %d events: %d triggered, %d completed, %d aborted, %d trigger failures, %d discarded\n",
		s.Events, n.Triggered, n.Completed, n.Aborted, n.TriggerFailures, n.Discarded)
	job := s.Job
	if s.FailReason != nil {
		job += " (" + *s.FailReason + ")"
	}
	fmt.Fprintf(t.w, "-- job %s; retained %s; max_ref_age %d; interval %d ms, timeout %d ms, overrides %s\n",
		job, idList(s.Retained), s.MaxRefAge, s.Config.IntervalMs, s.Config.TimeoutMs, onOff(s.Config.OverridesActive))
	switch {
	case !checked:
		fmt.Fprintf(t.w, "-- invariants not checked\n")
	case len(s.Violations) == 0:
		fmt.Fprintf(t.w, "-- invariants: all held\n")
	default:
		fmt.Fprintf(t.w, "-- invariants: %d violations\n", len(s.Violations))
	}
}

func idList(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func onOff(b bool) string {
	if b {
		return "active"
	}
	return "none"
}
