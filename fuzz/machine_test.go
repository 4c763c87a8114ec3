package fuzz

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz/refmodel"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
	"pgregory.net/rapid"
)

// machineOptions selects a variant of the state-machine property.
type machineOptions struct {
	// differential also steps refmodel and compares the whole effect stream
	// and the observable state after every step.
	differential bool
	// cov, when set, counts the deep states each run reaches.
	cov *coverage
}

// failure is a failing run of the property, kept so that the test can write
// it as a history file: rapid's own fail file replays only under rapid.
type failure struct {
	invariant string // the first violated invariant, "panic", or a harness check name
	detail    string
	history   []byte // header and every accepted event, ready for ckpt replay
}

// recorder keeps the last failing run. rapid runs the property again and again
// while shrinking and finally once more on the minimal case, so the last
// failure recorded is the minimal one.
type recorder struct{ last *failure }

// machine drives one core (and, in differential mode, the reference model)
// through rapid-drawn events.
type machine struct {
	opt  machineOptions
	rec  *recorder
	spec fsm.JobSpec
	cfg  fsm.Config
	topo *fsm.Topology
	s    *fsm.State
	chk  *invariants.Checker
	tim  *invariants.Timing
	ref  *refmodel.Model
	evs  []fsm.Event

	violations []invariants.Violation // of the last accepted step
	requests   int64                  // last config_patch request id used

	seen        map[string]bool // deep states this run reached (coverage_test.go)
	completions int
	forcedIDs   map[int64]bool
}

// property returns the state-machine property: a drawn job, configuration and
// start, then t.Repeat over every event type, the "" action checking every
// invariant after each step.
func property(opt machineOptions, rec *recorder) func(*rapid.T) {
	return func(t *rapid.T) {
		m := &machine{opt: opt, rec: rec, forcedIDs: map[int64]bool{}}
		if opt.cov != nil {
			m.seen = map[string]bool{}
		}
		m.init(t)
		t.Repeat(m.actions())
		opt.cov.add(m.seen)
	}
}

func (m *machine) init(t *rapid.T) {
	m.spec = genJob(t)
	m.cfg = genConfig(t, true)
	topo, err := fsm.NewTopology(m.spec)
	if err != nil {
		t.Fatalf("generated job refused: %v", err)
	}
	m.topo = topo
	if m.s, err = fsm.New(topo, m.cfg); err != nil {
		t.Fatalf("generated config refused: %v", err)
	}
	m.chk = invariants.New(topo, m.cfg)
	m.tim = invariants.NewTiming(topo, m.cfg)
	if m.opt.differential {
		if m.ref, err = refmodel.New(m.spec, m.cfg, refmodel.Options{}); err != nil {
			t.Fatalf("refmodel: %v", err)
		}
	}
	m.step(t, genStart(t, topo))
}

// step applies an event the core must accept, checks it with the invariant
// checker and, in differential mode, against the reference model.
func (m *machine) step(t *rapid.T, ev fsm.Event) {
	t.Helper()
	var before snapshot
	if m.ref != nil {
		before = m.snap()
	}
	pre := m.pre(ev)
	effs, err := m.stepCore(ev)
	if err != nil {
		m.fail(t, "harness", "a valid event was refused: %s: %v", fsm.DescribeEvent(m.topo, ev), err)
	}
	t.Logf("%s", fsm.DescribeEvent(m.topo, ev))
	for _, e := range effs {
		t.Logf("    %s", fsm.DescribeEffect(m.topo, e))
	}
	m.violations = m.violations[:0]
	for _, v := range append(m.chk.Step(ev, effs, m.s), m.tim.Step(ev, effs, m.s)...) {
		if knownIssue(ev, v, m.s) == "" {
			m.violations = append(m.violations, v)
		}
	}
	if m.ref != nil {
		m.compare(t, ev, effs, before)
	}
	m.observe(ev, effs, pre)
}

// stepCore steps the core and records the event; a panic is recorded as a
// failure (with the panicking event as the history's last line) and re-raised
// for rapid to shrink.
func (m *machine) stepCore(ev fsm.Event) (effs []fsm.Effect, err error) {
	defer func() {
		if p := recover(); p != nil {
			m.evs = append(m.evs, ev)
			m.record("panic", fmt.Sprint(p))
			panic(p)
		}
	}()
	defer watchStep(m, ev)()
	effs, err = m.s.Step(ev)
	if err == nil {
		m.evs = append(m.evs, ev)
	}
	return effs, err
}

// refuse applies an invalid event: the core must return an error and leave the
// state exactly as it was (DesignPrinciples: bad input never changes state).
func (m *machine) refuse(t *rapid.T, ev fsm.Event) {
	t.Helper()
	key, view := StateKey(m.s), Fingerprint(m.s)
	effs, err := m.s.Step(ev)
	t.Logf("%s (invalid)", fsm.DescribeEvent(m.topo, ev))
	if err == nil {
		m.evs = append(m.evs, ev)
		m.fail(t, "harness", "invalid event accepted: %s (%d effects)", fsm.DescribeEvent(m.topo, ev), len(effs))
	}
	if len(effs) != 0 {
		m.fail(t, "harness", "invalid event %s returned %d effects with its error", fsm.DescribeEvent(m.topo, ev), len(effs))
	}
	if StateKey(m.s) != key || Fingerprint(m.s) != view {
		m.fail(t, "harness", "invalid event %s (%v) changed the state:\nbefore %s\nafter  %s",
			fsm.DescribeEvent(m.topo, ev), err, view, Fingerprint(m.s))
	}
	m.violations = nil
}

// check is the "" action: every invariant of the last step, plus R10's
// promise that nothing is left overdue after a step. Something due exactly now
// is allowed: a start with initial_delay_ms = 0 schedules the first request at
// the start's own time, and it fires with the next event at that time.
func (m *machine) check(t *rapid.T) {
	if len(m.violations) > 0 {
		var msgs []string
		for _, v := range m.violations {
			msgs = append(msgs, v.Error())
		}
		m.fail(t, m.violations[0].Invariant, "%s", strings.Join(msgs, "\n"))
	}
	if at, ok := m.s.NextDeadline(); ok && at < m.s.Now() {
		m.fail(t, "R10", "after the step at %d something is still due at %d", m.s.Now(), at)
	}
}

// fail records the failing run and fails the rapid test.
//
// Each invariant fails from its own line: rapid's shrinker keeps a smaller
// case only if it fails with the same traceback, so this keeps the shrunk
// counterexample on the invariant first found rather than drifting to another
// one that the same bug also breaks.
func (m *machine) fail(t *rapid.T, invariant, format string, args ...any) {
	t.Helper()
	detail := fmt.Sprintf(format, args...)
	m.record(invariant, detail)
	switch invariant {
	case invariants.RegionConsistency:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.NoOrphanState:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.ConsecutiveBound:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.TierTwoReset:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.RetentionSafety:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.NoLeak:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.NotifySafety:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.SavepointGlobal:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.MonotonicIds:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.FailureAccounting:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.ConfigAtomic:
		t.Fatalf("%s violated: %s", invariant, detail)
	case invariants.DurableOverrides:
		t.Fatalf("%s violated: %s", invariant, detail)
	default: // harness checks, R10, differential
		t.Fatalf("%s violated: %s", invariant, detail)
	}
}

func (m *machine) record(invariant, detail string) {
	if m.rec == nil {
		return
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "// %s: %s\n", invariant, strings.ReplaceAll(detail, "\n", "\n// "))
	w, err := history.NewWriter(&buf, history.Header{Format: history.Format, Job: m.spec, Config: m.cfg})
	if err == nil {
		for _, ev := range m.evs {
			if err = w.WriteEvent(ev, nil); err != nil {
				break
			}
		}
	}
	if err != nil {
		fmt.Fprintf(&buf, "// history: %v\n", err)
	}
	m.rec.last = &failure{invariant: invariant, detail: detail, history: buf.Bytes()}
}

// now draws the time of the next event: mostly the current time, sometimes a
// little later (time advances are also an action of their own).
func (m *machine) now(t *rapid.T) int64 {
	return m.s.Now() + rapid.SampledFrom([]int64{0, 0, 0, 1, 10, 100}).Draw(t, "dt")
}

func (m *machine) task(t *rapid.T) fsm.TaskID {
	return fsm.TaskID(rapid.IntRange(0, m.topo.NumSubtasks()-1).Draw(t, "task"))
}

// pendingID draws a pending checkpoint (a persisting one if asked). It never
// skips the action: a fuzzer-chosen stream can pick the same impossible action
// a hundred times, which rapid reports as a failure, so without a candidate it
// returns ok = false and the caller falls back to a random id.
func (m *machine) pendingID(t *rapid.T, persisting bool) (fsm.PendingInfo, bool) {
	var ps []fsm.PendingInfo
	for _, p := range m.s.Pending() {
		if p.Persisting == persisting {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return fsm.PendingInfo{}, false
	}
	return ps[rapid.IntRange(0, len(ps)-1).Draw(t, "pending")], true
}

// randomID draws any id around the ones in use: unknown, ended and future ids.
func (m *machine) randomID(t *rapid.T) int64 {
	return rapid.Int64Range(max(1, m.s.NextID()-20), min(m.s.NextID()+1, fsm.MaxSafeInt)).Draw(t, "id")
}

func (m *machine) actions() map[string]func(*rapid.T) {
	ev := func(typ fsm.EventType) func(*rapid.T) fsm.Event {
		return func(t *rapid.T) fsm.Event { return fsm.Event{At: m.now(t), Type: typ} }
	}
	tick, recover := ev(fsm.EvTick), ev(fsm.EvRecover)
	return map[string]func(*rapid.T){
		"": m.check,
		"tick": func(t *rapid.T) {
			e := tick(t)
			if due, ok := m.s.NextDeadline(); ok && rapid.Bool().Draw(t, "to_deadline") {
				e.At = max(m.s.Now(), due-rapid.Int64Range(0, 1).Draw(t, "before"))
			} else {
				e.At = m.s.Now() + rapid.SampledFrom([]int64{1, 10, 100, 1000, 5000}).Draw(t, "advance")
			}
			m.step(t, e)
		},
		"trigger": func(t *rapid.T) {
			e := ev(fsm.EvTrigger)(t)
			e.Kind = rapid.SampledFrom([]fsm.Kind{fsm.KindCheckpoint, fsm.KindCheckpoint, fsm.KindCheckpoint,
				fsm.KindSavepoint, fsm.KindStopWithSavepoint}).Draw(t, "kind")
			m.step(t, e)
		},
		"ack_pending": func(t *rapid.T) {
			e := ev(fsm.EvAck)(t)
			e.Checkpoint, e.Task = m.randomID(t), m.task(t)
			if p, ok := m.pendingID(t, false); ok {
				var tasks []fsm.TaskID
				for id := fsm.TaskID(0); int(id) < m.topo.NumSubtasks(); id++ {
					if p.Triggered(id) && !p.Acked(id) {
						tasks = append(tasks, id)
					}
				}
				if len(tasks) > 0 {
					e.Checkpoint, e.Task = p.ID, tasks[rapid.IntRange(0, len(tasks)-1).Draw(t, "unacked")]
				}
			}
			m.step(t, e)
		},
		"ack_random": func(t *rapid.T) {
			e := ev(fsm.EvAck)(t)
			e.Checkpoint, e.Task = m.randomID(t), m.task(t)
			m.step(t, e)
		},
		"decline_pending": func(t *rapid.T) {
			e := ev(fsm.EvDecline)(t)
			e.Checkpoint, e.Task, e.Reason = m.randomID(t), m.task(t), m.declineReason(t)
			if p, ok := m.pendingID(t, false); ok {
				e.Checkpoint = p.ID
			}
			m.step(t, e)
		},
		"decline_random": func(t *rapid.T) {
			e := ev(fsm.EvDecline)(t)
			e.Checkpoint, e.Task, e.Reason = m.randomID(t), m.task(t), m.declineReason(t)
			m.step(t, e)
		},
		"task_failed":    m.taskEvent(ev(fsm.EvTaskFailed)),
		"task_running":   m.taskEvent(ev(fsm.EvTaskRunning)),
		"task_finished":  m.taskEvent(ev(fsm.EvTaskFinished)),
		"persisted":      m.persistOutcome(ev(fsm.EvPersisted)),
		"persist_failed": m.persistOutcome(ev(fsm.EvPersistFailed)),
		"persisted_random": func(t *rapid.T) {
			e := ev(rapid.SampledFrom([]fsm.EventType{fsm.EvPersisted, fsm.EvPersistFailed}).Draw(t, "type"))(t)
			e.Checkpoint = m.randomID(t)
			m.step(t, e)
		},
		"config_patch":         m.configPatch(true),
		"config_patch_invalid": m.configPatch(false),
		"config_persisted": func(t *rapid.T) {
			e := ev(fsm.EvConfigPersisted)(t)
			if ps := m.s.PendingPatches(); len(ps) > 0 && rapid.IntRange(0, 3).Draw(t, "known?") > 0 {
				e.Request = ps[rapid.IntRange(0, len(ps)-1).Draw(t, "patch")]
			} else {
				e.Request = rapid.Int64Range(1, m.requests+1).Draw(t, "request")
			}
			m.step(t, e)
		},
		"recover": func(t *rapid.T) { m.step(t, recover(t)) },
		// Actions that drive to deep states in one draw (deep_test.go).
		"ack_all":            m.ackAll,
		"complete_lowest":    m.completeLowest,
		"regional_round":     m.regionalRound,
		"regional_round_2":   m.regionalRound, // twice the weight: regional completions need rounds in a row
		"regional_pair":      m.regionalPair,
		"overtake":           m.overtake,
		"timeout_patch_now":  m.timeoutPatchNow,
		"finish_sources":     m.finishSources,
		"stop_mid_flight":    m.stopMidFlight,
		"interval_patch_now": m.intervalPatchNow,
		"invalid":            m.invalid,
	}
}

// persistOutcome answers the persist of a sealed checkpoint, or of a random id
// when none is persisting.
func (m *machine) persistOutcome(ev func(*rapid.T) fsm.Event) func(*rapid.T) {
	return func(t *rapid.T) {
		e := ev(t)
		e.Checkpoint = m.randomID(t)
		if p, ok := m.pendingID(t, true); ok {
			e.Checkpoint = p.ID
		}
		m.step(t, e)
	}
}

func (m *machine) declineReason(t *rapid.T) fsm.Reason {
	return rapid.SampledFrom(append([]fsm.Reason{"", ""}, fsm.DeclineReasons...)).Draw(t, "reason")
}

func (m *machine) taskEvent(ev func(*rapid.T) fsm.Event) func(*rapid.T) {
	return func(t *rapid.T) {
		e := ev(t)
		e.Task = m.task(t)
		m.step(t, e)
	}
}

// configPatch draws a FLIP-571 patch: valid values of §2 or values R60 must
// reject (the event itself is valid either way).
func (m *machine) configPatch(valid bool) func(*rapid.T) {
	return func(t *rapid.T) {
		e := fsm.Event{At: m.now(t), Type: fsm.EvConfigPatch}
		m.requests++
		e.Request = m.requests
		if rapid.IntRange(0, 9).Draw(t, "reuse_request?") == 0 {
			e.Request = rapid.Int64Range(1, m.requests).Draw(t, "request")
		}
		maxTimeout := m.cfg.MaxTimeoutMs
		if valid {
			e.HasInterval = rapid.Bool().Draw(t, "has_interval")
			e.HasTimeout = !e.HasInterval || rapid.Bool().Draw(t, "has_timeout")
			if e.HasInterval && rapid.Bool().Draw(t, "interval_on") {
				e.IntervalMs = rapid.Int64Range(fsm.MinIntervalMs, 2000).Draw(t, "interval_ms")
			}
			if e.HasTimeout {
				hi := int64(3000)
				if maxTimeout > 0 {
					hi = maxTimeout
				}
				e.TimeoutMs = rapid.Int64Range(fsm.MinTimeoutMs, hi).Draw(t, "timeout_ms")
			}
		} else {
			switch rapid.IntRange(0, 3).Draw(t, "invalid_patch") {
			case 0: // empty
			case 1:
				e.HasInterval, e.IntervalMs = true, rapid.Int64Range(-5, fsm.MinIntervalMs-1).Draw(t, "interval_ms")
				if e.IntervalMs == 0 {
					e.IntervalMs = -1
				}
			case 2:
				e.HasTimeout, e.TimeoutMs = true, rapid.Int64Range(-5, fsm.MinTimeoutMs-1).Draw(t, "timeout_ms")
			case 3:
				if maxTimeout == 0 {
					maxTimeout = m.cfg.TimeoutMs // then the patch below is valid: still a fine event
				}
				e.HasTimeout, e.TimeoutMs = true, maxTimeout+rapid.Int64Range(1, 100).Draw(t, "excess")
				e.HasInterval = rapid.Bool().Draw(t, "with_interval") // a valid half does not save it (R60)
			}
		}
		m.step(t, e)
	}
}

// invalid draws structurally invalid input: the core must refuse it and
// change nothing (R10, R16, HISTORY.md).
func (m *machine) invalid(t *rapid.T) {
	e := fsm.Event{At: m.s.Now(), Type: fsm.EvTick}
	n := fsm.TaskID(m.topo.NumSubtasks())
	switch rapid.IntRange(0, 7).Draw(t, "invalid_kind") {
	case 0:
		e.At = m.s.Now() - rapid.Int64Range(1, m.s.Now()+1).Draw(t, "back") // below 0 from 0
		e.Type = rapid.SampledFrom([]fsm.EventType{fsm.EvTick, fsm.EvTrigger, fsm.EvRecover, fsm.EvTaskFailed}).Draw(t, "type")
	case 1:
		e.Type = rapid.SampledFrom([]fsm.EventType{fsm.EvAck, fsm.EvDecline, fsm.EvTaskFailed,
			fsm.EvTaskRunning, fsm.EvTaskFinished}).Draw(t, "type")
		e.Checkpoint = m.randomID(t)
		e.Task = rapid.SampledFrom([]fsm.TaskID{n, n + 1, -1, 1 << 20}).Draw(t, "unknown_task")
	case 2:
		e.Type = rapid.SampledFrom([]fsm.EventType{fsm.EvAck, fsm.EvDecline, fsm.EvPersisted,
			fsm.EvPersistFailed}).Draw(t, "type")
		e.Checkpoint = rapid.SampledFrom([]int64{0, -1, 1 << 53}).Draw(t, "bad_id")
	case 3:
		e.Type = fsm.EvStart // a second start
	case 4:
		e.Type, e.Kind = fsm.EvTrigger, fsm.Kind(rapid.IntRange(3, 255).Draw(t, "bad_kind"))
	case 5:
		e.Type, e.Checkpoint, e.Reason = fsm.EvDecline, 1, "bogus"
	case 6:
		e.Type = rapid.SampledFrom([]fsm.EventType{fsm.EvConfigPatch, fsm.EvConfigPersisted}).Draw(t, "type")
		e.Request, e.HasTimeout, e.TimeoutMs = rapid.SampledFrom([]int64{0, -3}).Draw(t, "bad_request"), true, 1000
	case 7:
		e.Type = fsm.EventType(rapid.SampledFrom([]int{0, 14, 200}).Draw(t, "bad_type"))
	}
	m.refuse(t, e)
}
