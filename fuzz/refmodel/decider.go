package refmodel

import "github.com/ckptcore/ckptcore/fsm"

// period is R11's P = max(interval, min_pause) for the interval in force; 0
// means no periodic checkpoints.
func (m *Model) period() int64 {
	if m.interval == 0 {
		return 0
	}
	return max(m.interval, m.cfg.MinPauseMs)
}

// advance is R10: everything due at or before t happens first, each at its
// own time; at equal times deadlines come first, by checkpoint id, then the
// periodic request.
func (m *Model) advance(t int64) {
	for {
		var exp *pending
		for _, p := range m.pending {
			if !m.ready(p) && p.deadline <= t && (exp == nil || p.deadline < exp.deadline) {
				exp = p // pending is in id order: ties keep the lower id
			}
		}
		periodic := m.periodicOn && m.jobStatus == "running" && m.periodicDue <= t &&
			(exp == nil || m.periodicDue < exp.deadline)
		switch {
		case periodic:
			m.now = m.periodicDue
			m.firePeriodic(t)
		case exp != nil:
			m.now = exp.deadline
			m.expire(exp)
		default:
			m.now = t
			return
		}
		m.settle()
		m.runQueue()
	}
}

// firePeriodic makes the request due now; the next one is due at the first
// grid point after t (R11: one request however many points time jumped over).
// While a stop-with-savepoint is pending the scheduler is stopped (R24).
func (m *Model) firePeriodic(t int64) {
	p := m.period()
	for m.periodicDue <= t {
		m.periodicDue += p
	}
	for _, q := range m.pending {
		if q.kind == fsm.KindStopWithSavepoint {
			return
		}
	}
	m.request(fsm.KindCheckpoint, true)
}

// request is a request entering the decider (R12): savepoints go at once;
// checkpoints wait while max_concurrent checkpoints are pending — one
// periodic request at most, manual ones up to Flink's 1000.
func (m *Model) request(kind fsm.Kind, periodic bool) {
	if m.jobStatus != "running" {
		// A failed job's coordinator is suspended, a finished one's shut down
		// (Flink's CHECKPOINT_COORDINATOR_SUSPEND / _SHUTDOWN).
		reason := "coordinator_shutdown"
		if m.jobStatus == "failed" {
			reason = "coordinator_suspend"
		}
		m.emit(Effect{Type: EffTriggerFailed, Kind: kind.String(), Reason: reason})
		return
	}
	if kind == fsm.KindStopWithSavepoint {
		// R24: the scheduler stops first: queued requests fail, every pending
		// checkpoint ends with coordinator_suspend, neither counted.
		for ; m.queued > 0; m.queued-- {
			m.emit(Effect{Type: EffTriggerFailed, Kind: "checkpoint", Reason: "coordinator_suspend"})
		}
		if m.periodicQueued {
			m.periodicQueued = false
			m.emit(Effect{Type: EffTriggerFailed, Kind: "checkpoint", Reason: "coordinator_suspend"})
		}
		m.holdSeal = true
		for len(m.pending) > 0 && m.jobStatus == "running" {
			m.abort(m.pending[0], "coordinator_suspend")
		}
		m.holdSeal = false
		if m.jobStatus != "running" {
			m.emit(Effect{Type: EffTriggerFailed, Kind: kind.String(), Reason: "coordinator_suspend"})
			return
		}
	}
	if kind != fsm.KindCheckpoint {
		m.trigger(kind)
		return
	}
	if len(m.pending) >= m.cfg.MaxConcurrent {
		switch {
		case periodic:
			m.periodicQueued = true
		case m.queued >= 1000:
			m.emit(Effect{Type: EffTriggerFailed, Kind: kind.String(), Reason: "too_many_requests"})
		default:
			m.queued++
		}
		return
	}
	m.execute(periodic)
}

// execute runs a checkpoint request with a free slot. A periodic one less
// than min_pause after the last completion is dropped and the schedule moves
// to last completion + min_pause (R12).
func (m *Model) execute(periodic bool) {
	if periodic && m.hasLastComplete && m.now-m.lastComplete < m.cfg.MinPauseMs {
		m.periodicDue = m.lastComplete + m.cfg.MinPauseMs
		m.emit(Effect{Type: EffTriggerFailed, Kind: "checkpoint", Reason: "min_pause"})
		return
	}
	m.trigger(fsm.KindCheckpoint)
}

// runQueue lets waiting requests run while a slot is free, manual ones first.
func (m *Model) runQueue() {
	for m.jobStatus == "running" && len(m.pending) < m.cfg.MaxConcurrent {
		switch {
		case m.queued > 0:
			m.queued--
			m.execute(false)
		case m.periodicQueued:
			m.periodicQueued = false
			m.execute(true)
		default:
			return
		}
	}
}

// downRegions are regions with a subtask that is neither running nor finished.
func (m *Model) downRegions() map[int]bool {
	down := map[int]bool{}
	for t, st := range m.status {
		if st == restarting {
			down[m.j.regionOf[t]] = true
		}
	}
	return down
}

func (m *Model) activeRegions() int {
	active := map[int]bool{}
	for t, st := range m.status {
		if st != finished {
			active[m.j.regionOf[t]] = true
		}
	}
	return len(active)
}

// trigger is R13–R15, with the deferred region-skipped notices of the regions
// it reaches emitted just before it (R26).
func (m *Model) trigger(kind fsm.Kind) {
	forced := kind == fsm.KindCheckpoint && m.regionalMode &&
		(m.consecutive >= m.cfg.Regional.MaxConsecutive || m.forceNext)
	regionalPath := m.regionalMode && kind == fsm.KindCheckpoint && !forced
	down := m.downRegions()
	active := m.activeRegions()
	if len(down) > 0 && (!regionalPath || !m.gate(m.nextID, false, down, active)) {
		m.emit(Effect{Type: EffTriggerFailed, Kind: kind.String(), Reason: "not_all_running"})
		return
	}
	if m.nextID > maxID {
		m.emit(Effect{Type: EffTriggerFailed, Kind: kind.String(), Reason: "ids_exhausted"})
		return
	}
	p := &pending{id: m.nextID, kind: kind, forced: forced, regionalPath: regionalPath,
		triggerAt: m.now, deadline: m.now + m.timeout, triggered: map[int]bool{}, acked: map[int]bool{},
		notNeeded: map[int]bool{}, failed: map[int]bool{}, active: active}
	m.nextID++
	for t, st := range m.status {
		if st == running {
			p.triggered[t] = true
		}
	}
	for r := 0; r < m.j.regions; r++ {
		if down[r] {
			m.failRegion(p, r, "region_failover")
		}
	}
	var kept []skipNotice
	for _, n := range m.skipped {
		tasks := m.tasksOf(p.triggered, func(t int) bool { return m.j.regionOf[t] == n.region })
		if len(tasks) == 0 {
			kept = append(kept, n)
			continue
		}
		m.emit(Effect{Type: EffRegionSkipped, Checkpoint: n.checkpoint, Region: n.region, Tasks: tasks})
	}
	m.skipped = kept
	m.emit(Effect{Type: EffPersistIDCounter, NextID: m.nextID}) // R14: durable before the trigger
	m.emit(Effect{Type: EffTrigger, Checkpoint: p.id, Kind: kind.String(), Forced: forced,
		Tasks: m.tasksOf(p.triggered, func(int) bool { return true }), Deadline: p.deadline})
	m.pending = append(m.pending, p)
	m.settle() // a checkpoint with nothing to wait for is decided at once
}

// latest is the latest checkpoint in the completed store.
func (m *Model) latest() *stored {
	var l *stored
	for _, c := range m.store {
		if c.retained && (l == nil || c.id > l.id) {
			l = c
		}
	}
	return l
}

// gate is R22 b–f (a is the caller's regionalPath). Gate c also refuses while
// consecutive_regional is at max_consecutive: a regional completion then would
// break I-ConsecutiveBound.
func (m *Model) gate(id int64, forced bool, failed map[int]bool, active int) bool {
	if len(failed) == 0 {
		return true
	}
	if len(failed) >= active { // nothing new to complete with (docs/DECISIONS.md)
		return false
	}
	if float64(len(failed))/float64(active) > m.cfg.Regional.MaxFailureRatio {
		return false
	}
	if forced || m.consecutive >= m.cfg.Regional.MaxConsecutive {
		return false
	}
	l := m.latest()
	if l == nil {
		return false
	}
	for t := range m.status {
		if failed[m.j.regionOf[t]] && m.j.coordinator[m.j.vertexOf[t]] == fsm.CoordinatorPlain {
			return false
		}
	}
	if m.cfg.Regional.MaxRefAge > 0 {
		for r := range failed {
			if id-l.refs[r] > m.cfg.Regional.MaxRefAge {
				return false
			}
		}
	}
	return true
}
