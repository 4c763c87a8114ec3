package history_test

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// flinkChecks asserts, in Go, the key assertion of each Flink test that
// testdata/golden/flink/ ports, so that a blind -rewrite of the .golden files
// cannot make a wrong behaviour pass. Each check is over the replay summary (and,
// where the summary does not show it, the trace) and fails if the rule it cites
// were removed from the core. The key is the history's file name without .jsonl.
var flinkChecks = map[string]func(c *fc){
	// R17, R30: the first decline aborts; counted; tolerable 0 fails the job once.
	"CheckpointCoordinatorTest-testTriggerAndDeclineCheckpointSimple": func(c *fc) {
		c.aborted(ab(1, "declined", true))
		c.completed()
		c.job("failed", "tolerable_failures_exceeded")
		c.traceCount("-> fail_job", 1)
	},
}

// fc is one Flink check: it collects mismatches against one replay.
type fc struct {
	sum   history.Summary
	trace string
	errs  []string
}

func (c *fc) errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}

func (c *fc) equal(what string, got, want any) {
	if !reflect.DeepEqual(got, want) {
		c.errorf("%s = %v, want %v", what, got, want)
	}
}

// ab builds an expected abort.
func ab(id int64, reason string, counted bool) history.Aborted {
	return history.Aborted{ID: id, Reason: reason, Counted: counted}
}

// aborted: exactly these aborts, in order.
func (c *fc) aborted(want ...history.Aborted) {
	c.equal("aborted", append([]history.Aborted{}, c.sum.Aborted...), append([]history.Aborted{}, want...))
}

// completed: exactly these completed ids, in order.
func (c *fc) completed(ids ...int64) {
	got := []int64{}
	for _, x := range c.sum.Completed {
		got = append(got, x.ID)
	}
	c.equal("completed ids", got, append([]int64{}, ids...))
}

// completedKinds: the kinds of the completions, in order.
func (c *fc) completedKinds(kinds ...string) {
	got := []string{}
	for _, x := range c.sum.Completed {
		got = append(got, x.Kind)
	}
	c.equal("completed kinds", got, append([]string{}, kinds...))
}

// triggered: exactly these triggered ids, in order.
func (c *fc) triggered(ids ...int64) {
	got := []int64{}
	for _, x := range c.sum.Triggered {
		got = append(got, x.ID)
	}
	c.equal("triggered ids", got, append([]int64{}, ids...))
}

// triggeredAt: the trigger time of checkpoint id.
func (c *fc) triggeredAt(id, at int64) {
	for _, x := range c.sum.Triggered {
		if x.ID == id {
			c.equal(fmt.Sprintf("trigger time of %d", id), x.At, at)
			return
		}
	}
	c.errorf("checkpoint %d was never triggered", id)
}

// triggerFailures: exactly these request failures (time, reason), in order.
func (c *fc) triggerFailures(want ...history.TriggerFailure) {
	c.equal("trigger_failures", append([]history.TriggerFailure{}, c.sum.TriggerFailures...),
		append([]history.TriggerFailure{}, want...))
}

func tf(at int64, reason string) history.TriggerFailure {
	return history.TriggerFailure{At: at, Reason: reason}
}

func (c *fc) discarded(ids ...int64) {
	c.equal("discarded", append([]int64{}, c.sum.Discarded...), append([]int64{}, ids...))
}

func (c *fc) retained(ids ...int64) {
	c.equal("retained", append([]int64{}, c.sum.Retained...), append([]int64{}, ids...))
}

// job: the final job status and, for a failed job, the reason ("" for none).
func (c *fc) job(status, reason string) {
	c.equal("job", c.sum.Job, status)
	got := ""
	if c.sum.FailReason != nil {
		got = *c.sum.FailReason
	}
	c.equal("fail_reason", got, reason)
}

// traceHas: the trace has a line containing s.
func (c *fc) traceHas(s string) {
	if !strings.Contains(c.trace, s) {
		c.errorf("the trace has no line containing %q", s)
	}
}

// traceLacks: no line of the trace contains s.
func (c *fc) traceLacks(s string) {
	if strings.Contains(c.trace, s) {
		c.errorf("the trace has a line containing %q", s)
	}
}

// traceCount: exactly n lines of the trace contain s.
func (c *fc) traceCount(s string, n int) {
	got := 0
	for _, l := range strings.Split(c.trace, "\n") {
		if strings.Contains(l, s) {
			got++
		}
	}
	if got != n {
		c.errorf("%d trace lines contain %q, want %d", got, s, n)
	}
}

// TestGoldenFlink replays every history in testdata/golden/flink/ and applies
// its Go check; every history must have one and every check a history.
func TestGoldenFlink(t *testing.T) {
	paths, err := filepath.Glob("testdata/golden/flink/*.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			check, ok := flinkChecks[name]
			if !ok {
				t.Fatalf("no entry in flinkChecks for %s: assert the Flink test's key assertion in Go", path)
			}
			run := replayGolden(t, path)
			c := &fc{sum: run.result.Summary, trace: string(run.output)}
			check(c)
			for _, e := range c.errs {
				t.Errorf("%s: %s", path, e)
			}
		})
	}
	for name := range flinkChecks {
		if !seen[name] {
			t.Errorf("flinkChecks has %s but testdata/golden/flink/%s.jsonl does not exist", name, name)
		}
	}
}
