package flinklog

import (
	"fmt"
	"sort"

	"github.com/ckptcore/ckptcore/fsm"
)

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
		if a.kind.IsSavepoint() || b.kind.IsSavepoint() || a.manual || b.manual {
			continue // not the periodic scheduler's
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
