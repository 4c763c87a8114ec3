package fuzz

// Actions that drive the state machine to deep states in one draw: a random
// walk of single events reaches a second completion, tier 2 after forcing or
// a stop-with-savepoint over pending checkpoints only rarely, so that results
// varied between runs (issue 12 §2). Each action is a short, valid sequence of
// events, each stepped and checked like any other.

import (
	"github.com/ckptcore/ckptcore/fsm"
	"pgregory.net/rapid"
)

// unacked lists the subtasks of a pending checkpoint that got its trigger and
// have not acked.
func (m *machine) unacked(p fsm.PendingInfo) []fsm.TaskID {
	var ts []fsm.TaskID
	for id := fsm.TaskID(0); int(id) < m.topo.NumSubtasks(); id++ {
		if p.Triggered(id) && !p.Acked(id) {
			ts = append(ts, id)
		}
	}
	return ts
}

// pendingByID returns a fresh view of a pending checkpoint (views are valid
// until the next step only).
func (m *machine) pendingByID(id int64) (fsm.PendingInfo, bool) {
	for _, p := range m.s.Pending() {
		if p.ID == id {
			return p, true
		}
	}
	return fsm.PendingInfo{}, false
}

func (m *machine) pendingIDs() []int64 {
	var ids []int64
	for _, p := range m.s.Pending() {
		ids = append(ids, p.ID)
	}
	return ids
}

// lowestWaiting is the lowest pending checkpoint not yet persisting.
func (m *machine) lowestWaiting() (fsm.PendingInfo, bool) {
	for _, p := range m.s.Pending() {
		if !p.Persisting {
			return p, true
		}
	}
	return fsm.PendingInfo{}, false
}

// ackAll acks every unacked subtask of a drawn pending checkpoint, triggering
// one first when none is pending.
func (m *machine) ackAll(t *rapid.T) {
	p, ok := m.pendingID(t, false)
	if !ok {
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		if p, ok = m.lowestWaiting(); !ok {
			return
		}
	}
	for _, id := range m.unacked(p) {
		if m.s.Job() != fsm.JobRunning {
			return
		}
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvAck, Checkpoint: p.ID, Task: id})
	}
}

// persistAll confirms (or, when drawn, fails) the persist of the checkpoint
// being persisted, and of each one sealed after it.
func (m *machine) persistAll(t *rapid.T) {
	for n := 0; n < 8; n++ {
		p, ok := m.pendingID(t, true)
		if !ok {
			return
		}
		typ := fsm.EvPersisted
		if rapid.IntRange(0, 5).Draw(t, "persist_fails?") == 0 {
			typ = fsm.EvPersistFailed
		}
		m.step(t, fsm.Event{At: m.s.Now() + rapid.SampledFrom([]int64{0, 1, 5}).Draw(t, "dt"), Type: typ, Checkpoint: p.ID})
	}
}

// completeLowest acks everything of the lowest waiting checkpoint (after a
// trigger when none waits) and persists it: completions in a row make second
// completions, retention and, in regional jobs, forcing reachable.
func (m *machine) completeLowest(t *rapid.T) {
	p, ok := m.lowestWaiting()
	if !ok {
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		if p, ok = m.lowestWaiting(); !ok {
			m.persistAll(t)
			return
		}
	}
	for _, id := range m.unacked(p) {
		if m.s.Job() != fsm.JobRunning {
			return
		}
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvAck, Checkpoint: p.ID, Task: id})
	}
	m.persistAll(t)
}

// regionalRound fails one region of a waiting checkpoint (a decline, a task
// failure or the deadline), acks the rest and persists: in regional jobs this
// is a regional completion, and rounds of it reach max_consecutive, forcing
// and tier 2.
func (m *machine) regionalRound(t *rapid.T) {
	p, ok := m.lowestWaiting()
	if !ok {
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		if p, ok = m.lowestWaiting(); !ok {
			return
		}
	}
	ts := m.unacked(p)
	if len(ts) == 0 {
		m.persistAll(t)
		return
	}
	victim := ts[rapid.IntRange(0, len(ts)-1).Draw(t, "victim")]
	switch rapid.IntRange(0, 2).Draw(t, "how") {
	case 0:
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvDecline, Checkpoint: p.ID, Task: victim, Reason: m.declineReason(t)})
	case 1:
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTaskFailed, Task: victim})
	}
	for _, id := range ts {
		if id == victim || m.topo.RegionOf(id) == m.topo.RegionOf(victim) || m.s.Job() != fsm.JobRunning {
			continue
		}
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvAck, Checkpoint: p.ID, Task: id})
	}
	if q, ok := m.lowestWaiting(); ok && q.ID == p.ID {
		// The victim's region still owes its ack: let the deadline fail it.
		m.step(t, fsm.Event{At: max(m.s.Now(), q.Deadline), Type: fsm.EvTick})
	}
	m.persistAll(t)
	if rapid.Bool().Draw(t, "restart_victim") {
		for _, id := range m.topo.RegionTasks(m.topo.RegionOf(victim)) {
			if !m.s.TaskRunning(id) && !m.s.TaskFinished(id) {
				m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTaskRunning, Task: id})
			}
		}
	}
}

// finishSources finishes every source subtask (R25: the next checkpoint is
// forced global), sometimes every subtask (the job finishes).
func (m *machine) finishSources(t *rapid.T) {
	ids := append([]fsm.TaskID(nil), m.topo.Sources()...)
	if rapid.IntRange(0, 7).Draw(t, "finish_all?") == 0 {
		ids = ids[:0]
		for id := fsm.TaskID(0); int(id) < m.topo.NumSubtasks(); id++ {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		if !m.s.TaskFinished(id) {
			m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTaskFinished, Task: id})
		}
	}
}

// stopMidFlight triggers a stop-with-savepoint while a checkpoint is pending
// and partly acknowledged (R24), then sometimes acks and persists everything.
func (m *machine) stopMidFlight(t *rapid.T) {
	if _, ok := m.lowestWaiting(); !ok {
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
	}
	if p, ok := m.lowestWaiting(); ok {
		for _, id := range m.unacked(p) {
			if rapid.Bool().Draw(t, "ack_before_stop") {
				m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvAck, Checkpoint: p.ID, Task: id})
			}
		}
	}
	m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindStopWithSavepoint})
	if rapid.IntRange(0, 3).Draw(t, "finish_stop?") == 0 {
		for _, cp := range m.pendingIDs() {
			if p, ok := m.pendingByID(cp); ok {
				for _, id := range m.unacked(p) {
					m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvAck, Checkpoint: cp, Task: id})
				}
			}
		}
		m.persistAll(t)
	}
}

// intervalPatchNow patches the interval (0 included: periodic checkpoints
// stop; from 0: they start, R62) and confirms it at once, then lets time pass
// over the new grid.
func (m *machine) intervalPatchNow(t *rapid.T) {
	m.requests++
	e := fsm.Event{At: m.s.Now(), Type: fsm.EvConfigPatch, Request: m.requests, HasInterval: true}
	if rapid.IntRange(0, 3).Draw(t, "interval_off?") > 0 {
		e.IntervalMs = rapid.SampledFrom([]int64{fsm.MinIntervalMs, 50, 300, 1000}).Draw(t, "interval_ms")
	}
	m.step(t, e)
	m.step(t, fsm.Event{At: m.s.Now() + rapid.SampledFrom([]int64{0, 3}).Draw(t, "dt"), Type: fsm.EvConfigPersisted, Request: e.Request})
	for n := rapid.IntRange(0, 3).Draw(t, "ticks"); n > 0; n-- {
		at := m.s.Now() + rapid.SampledFrom([]int64{1, 50, 400, 2500}).Draw(t, "advance")
		if due, ok := m.s.NextDeadline(); ok && rapid.Bool().Draw(t, "to_due") {
			at = max(m.s.Now(), due)
		}
		m.step(t, fsm.Event{At: at, Type: fsm.EvTick})
	}
}

// regionalPair has two checkpoints in flight, fails a region in each, acks
// the rest and persists: the second may only complete regionally if the first
// did not bring consecutive_regional to max_consecutive (R22c with several in
// flight, docs/DECISIONS.md).
func (m *machine) regionalPair(t *rapid.T) {
	for len(m.s.Pending()) < 2 && m.s.Job() == fsm.JobRunning {
		n := len(m.s.Pending())
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
		if len(m.s.Pending()) == n {
			break // max_concurrent or a restarting region keeps it from triggering
		}
	}
	for _, id := range m.pendingIDs() {
		p, ok := m.pendingByID(id)
		if !ok || p.Persisting || m.s.Job() != fsm.JobRunning {
			continue
		}
		ts := m.unacked(p)
		if len(ts) == 0 {
			continue
		}
		victim := ts[rapid.IntRange(0, len(ts)-1).Draw(t, "victim")]
		m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvDecline, Checkpoint: p.ID, Task: victim})
	}
	for _, cp := range m.pendingIDs() {
		p, ok := m.pendingByID(cp)
		if !ok {
			continue
		}
		var acks []fsm.TaskID
		for _, id := range m.unacked(p) {
			if !p.RegionFailed(m.topo.RegionOf(id)) {
				acks = append(acks, id)
			}
		}
		for _, id := range acks {
			if m.s.Job() == fsm.JobRunning {
				m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvAck, Checkpoint: cp, Task: id})
			}
		}
	}
	m.persistAll(t)
}

// overtake has a checkpoint complete over a lower pending one: a checkpoint
// (subsumed, its abort notice naming the new latest completed, R23, R26) or a
// savepoint (never subsumed, R23).
func (m *machine) overtake(t *rapid.T) {
	kind := rapid.SampledFrom([]fsm.Kind{fsm.KindCheckpoint, fsm.KindSavepoint}).Draw(t, "lower_kind")
	m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: kind})
	m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint})
	ids := m.pendingIDs()
	if len(ids) < 2 {
		m.persistAll(t)
		return
	}
	top := ids[len(ids)-1]
	if p, ok := m.pendingByID(top); ok {
		for _, id := range m.unacked(p) {
			if m.s.Job() == fsm.JobRunning {
				m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvAck, Checkpoint: top, Task: id})
			}
		}
	}
	m.persistAll(t)
}

// timeoutPatchNow patches the timeout so that a pending checkpoint's new
// deadline falls exactly now, just before or just after (R61: one whose new
// deadline has passed expires in that same step), and confirms it at once.
func (m *machine) timeoutPatchNow(t *rapid.T) {
	m.requests++
	e := fsm.Event{At: m.s.Now(), Type: fsm.EvConfigPatch, Request: m.requests, HasTimeout: true,
		TimeoutMs: rapid.Int64Range(fsm.MinTimeoutMs, 500).Draw(t, "timeout_ms")}
	if p, ok := m.lowestWaiting(); ok {
		e.TimeoutMs = max(fsm.MinTimeoutMs, m.s.Now()-p.TriggerAt+rapid.Int64Range(-1, 1).Draw(t, "around_now"))
	}
	if mt := m.cfg.MaxTimeoutMs; mt > 0 {
		e.TimeoutMs = min(e.TimeoutMs, mt)
	}
	m.step(t, e)
	m.step(t, fsm.Event{At: m.s.Now(), Type: fsm.EvConfigPersisted, Request: e.Request})
}
