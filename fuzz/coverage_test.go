package fuzz

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// deepStates are the states and decisions a CI run of the property must reach
// (issue 12 §2: a random walk reached them rarely, so results varied between
// runs). TestDifferential fails when a run of its CI size misses one.
var deepStates = []string{
	"second completion", "regional completion", "forced-global trigger", "forced by finished sources",
	"tier 2 after forcing", "forced checkpoint completes", "stop-with-savepoint over a pending checkpoint",
	"stop-with-savepoint completes", "recover after all sources finished", "periodic trigger",
	"interval patch 0 to N", "timeout patch with pending checkpoints", "min_pause drop", "expired",
	"subsumed", "job failed by tolerable failures", "job finished", "region skipped delivered",
	"coordinator fallback", "discard", "late state discarded", "no_claim warning", "regional expiry",
	"ids exhausted", "completion over a pending savepoint",
}

// coverage counts, over the runs of one property, how many runs reached each
// deep state.
type coverage struct {
	mu   sync.Mutex
	runs int
	hits map[string]int
}

func newCoverage() *coverage { return &coverage{hits: map[string]int{}} }

func (c *coverage) add(seen map[string]bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs++
	for k := range seen {
		c.hits[k]++
	}
}

// missing lists the deep states no run reached.
func (c *coverage) missing() []string {
	var out []string
	for _, k := range deepStates {
		if c.hits[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

func (c *coverage) String() string {
	keys := append([]string(nil), deepStates...)
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs reached:", c.runs)
	for _, k := range keys {
		fmt.Fprintf(&b, "\n  %-46s %5d", k, c.hits[k])
	}
	return b.String()
}

// observe records which deep states one step reached.
func (m *machine) observe(ev fsm.Event, effs []fsm.Effect, pre preStep) {
	if m.seen == nil {
		return
	}
	before, forceBefore, pendingBefore := pre.snap, pre.force, pre.pending
	hit := func(k string) { m.seen[k] = true }
	if pre.regionalDue {
		hit("regional expiry")
	}
	allSources := true
	for _, id := range m.topo.Sources() {
		allSources = allSources && m.s.TaskFinished(id)
	}
	if ev.Type == fsm.EvRecover && allSources {
		hit("recover after all sources finished")
	}
	for _, e := range effs {
		switch e.Type {
		case fsm.EffCompleted:
			if e.Kind == fsm.KindCheckpoint {
				m.completions++
				if m.completions >= 2 {
					hit("second completion")
				}
				if e.Mode == fsm.ModeRegional {
					hit("regional completion")
				}
				if m.forcedIDs[e.Checkpoint] {
					hit("forced checkpoint completes")
				}
			}
			if e.Kind == fsm.KindStopWithSavepoint {
				hit("stop-with-savepoint completes")
			}
			if e.Kind == fsm.KindCheckpoint {
				for _, p := range m.s.Pending() {
					if p.Kind == fsm.KindSavepoint && p.ID < e.Checkpoint {
						hit("completion over a pending savepoint")
					}
				}
			}
		case fsm.EffTrigger:
			if e.ForcedGlobal {
				hit("forced-global trigger")
				m.forcedIDs[e.Checkpoint] = true
				if forceBefore {
					hit("forced by finished sources")
				}
			}
			if e.At < ev.At || ev.Type == fsm.EvTick {
				hit("periodic trigger")
			}
			if e.Kind == fsm.KindStopWithSavepoint && pendingBefore > 0 {
				hit("stop-with-savepoint over a pending checkpoint")
			}
		case fsm.EffAbort:
			switch e.Reason {
			case fsm.ReasonSubsumed:
				hit("subsumed")
			case fsm.ReasonExpired:
				hit("expired")
			}
			if m.forcedIDs[e.Checkpoint] && e.Reason != fsm.ReasonSubsumed && e.Reason != fsm.ReasonRecovered {
				hit("tier 2 after forcing")
			}
		case fsm.EffTriggerFailed:
			switch e.Reason {
			case fsm.ReasonMinPause:
				hit("min_pause drop")
			case fsm.ReasonIDsExhausted:
				hit("ids exhausted")
			}
		case fsm.EffConfigApplied:
			if before.Interval == 0 && e.IntervalMs > 0 {
				hit("interval patch 0 to N")
			}
			if e.TimeoutMs != before.Timeout && len(before.Pending) > 0 {
				hit("timeout patch with pending checkpoints")
			}
		case fsm.EffFailJob:
			if e.Reason == fsm.ReasonTolerableExceeded {
				hit("job failed by tolerable failures")
			}
		case fsm.EffFinishJob:
			hit("job finished")
		case fsm.EffRegionSkipped:
			hit("region skipped delivered")
		case fsm.EffCoordinatorFallback:
			hit("coordinator fallback")
		case fsm.EffDiscard:
			hit("discard")
		case fsm.EffDiscardLateState:
			hit("late state discarded")
		case fsm.EffWarn:
			if e.Code == fsm.WarnNoClaimReferenced {
				hit("no_claim warning")
			}
		}
	}
}

// preStep is what observe needs of the state before a step.
type preStep struct {
	snap        snapshot
	force       bool // all sources finished: the next checkpoint is forced
	pending     int
	regionalDue bool // a regional-path checkpoint waiting for acks is due by the event (R18 expiry)
}

func (m *machine) pre(ev fsm.Event) preStep {
	if m.seen == nil {
		return preStep{}
	}
	p := preStep{snap: m.snap(), force: m.s.AllSourcesForcing(), pending: len(m.s.Pending())}
	for _, q := range m.s.Pending() {
		if q.RegionalPath && !q.Persisting && q.Deadline <= ev.At && len(m.unacked(q)) > 0 {
			p.regionalDue = true
		}
	}
	return p
}

// withRapid sets rapid's check and step counts for one test unless they were
// given on the command line, and restores them afterwards.
func withRapid(t *testing.T, checks, steps int) {
	given := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for name, v := range map[string]int{"rapid.checks": checks, "rapid.steps": steps} {
		if given[name] {
			continue
		}
		f := flag.Lookup(name)
		if f == nil {
			t.Fatalf("no flag %s", name)
		}
		old := f.Value.String()
		if err := flag.Set(name, fmt.Sprint(v)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = flag.Set(name, old) })
	}
}
