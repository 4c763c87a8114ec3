package fsm

import "strconv"

// start applies the start event: every subtask runs, the periodic schedule
// begins (R11), a restore seeds the store and the id counter (R14, R41), and a
// job that asked for regional checkpoints but does not qualify is told why (R4).
func (s *State) start(ev Event) {
	s.now = ev.At
	s.job = JobRunning
	if s.cfg.Regional.Enabled {
		if ok, why := s.topo.RegionalCapable(); !ok {
			s.emit(Effect{Type: EffWarn, Code: WarnRegionalDisabled,
				Message: "regional checkpoints are off, global checkpoints only: " + why})
		}
	}
	if r := ev.Restore; r != nil {
		s.restore(r)
	}
	if p := s.period(); p > 0 {
		delay := p
		if ev.HasInitialDelay {
			delay = ev.InitialDelayMs
		}
		s.periodicOn, s.periodicDue = true, ev.At+delay
	}
}

// restore seeds the store with the snapshot the job starts from (R41): it is the
// latest completed checkpoint, owned by the job only in claim mode, and so are
// the older checkpoints its refs name. The next id follows it (R14).
func (s *State) restore(r *Restore) {
	owned := r.Mode == Claim
	var older []int64
	for _, ref := range r.Refs {
		if ref.Checkpoint != r.Checkpoint && !containsID(older, ref.Checkpoint) {
			older = append(older, ref.Checkpoint)
		}
	}
	sortIDs(older)
	for _, id := range older {
		s.known = append(s.known, knownCheckpoint{id: id, owned: owned, restored: true})
	}
	var refs []RegionRef
	for _, ref := range r.Refs {
		if ref.Checkpoint != r.Checkpoint {
			refs = append(refs, ref)
		}
	}
	mode := ModeGlobal
	if len(refs) > 0 {
		mode = ModeRegional
	}
	s.known = append(s.known, knownCheckpoint{id: r.Checkpoint, refs: refs, mode: mode,
		retained: true, owned: owned, restored: true})
	s.restoredID = r.Checkpoint
	s.noClaim = r.Mode == NoClaim
	s.nextID = r.Checkpoint + 1
	s.lastSucceeded = r.Checkpoint
}

// firePeriodic makes the periodic request due now and schedules the next one at
// the first grid point after t, the time of the event being applied: when time
// jumps over several grid points, one request is made (R11).
func (s *State) firePeriodic(t int64) {
	p := s.period()
	k := (t-s.periodicDue)/p + 1
	s.periodicDue += k * p
	if s.stopWithSavepointPending() {
		// Flink stops the periodic scheduler while a stop-with-savepoint runs.
		return
	}
	s.request(KindCheckpoint, true)
}

func (s *State) stopWithSavepointPending() bool {
	for i := range s.pending {
		if s.pending[i].kind == KindStopWithSavepoint {
			return true
		}
	}
	return false
}

// request is a checkpoint request entering the decider (R12, Flink's
// CheckpointRequestDecider): savepoints go at once; checkpoints wait while
// max_concurrent checkpoints are pending — at most one periodic request waits,
// later ones merge into it; manual requests queue up to Flink's bound of 1000.
func (s *State) request(kind Kind, periodic bool) {
	if s.job != JobRunning {
		reason := ReasonCoordinatorShutdown
		if s.job == JobFailed {
			reason = ReasonCoordinatorSuspend
		}
		s.emit(Effect{Type: EffTriggerFailed, Kind: kind, Reason: reason, Message: "the job is " + s.job.String()})
		return
	}
	if kind == KindStopWithSavepoint {
		// R24: Flink's SchedulerBase.stopWithSavepoint stops the checkpoint
		// scheduler before it triggers the synchronous savepoint, so that only the
		// savepoint's data is committed.
		s.stopScheduler()
		if s.job != JobRunning {
			s.emit(Effect{Type: EffTriggerFailed, Kind: kind, Reason: ReasonCoordinatorSuspend,
				Message: "the job is " + s.job.String()})
			return
		}
	}
	if kind.IsSavepoint() {
		s.trigger(kind)
		return
	}
	if len(s.pending) >= s.cfg.MaxConcurrent {
		switch {
		case periodic:
			s.periodicQueued = true
		case s.queuedManual >= maxQueuedRequests:
			s.emit(Effect{Type: EffTriggerFailed, Kind: kind, Reason: ReasonTooManyRequests,
				Message: strconv.Itoa(maxQueuedRequests) + " requests are already waiting"})
		default:
			s.queuedManual++
		}
		return
	}
	s.execute(periodic)
}

// stopScheduler is Flink's CheckpointCoordinator.stopCheckpointScheduler ->
// abortPendingAndQueuedCheckpoints (R24): every queued request fails and every
// pending checkpoint, savepoints included, ends with coordinator_suspend (not
// counted, R30); later acks and declines for them are late (R16). No persist
// slot is handed on while they end (only settle does that, after the event).
func (s *State) stopScheduler() {
	const why = "a stop-with-savepoint stops the checkpoint scheduler (R24)"
	for ; s.queuedManual > 0; s.queuedManual-- {
		s.emit(Effect{Type: EffTriggerFailed, Kind: KindCheckpoint, Reason: ReasonCoordinatorSuspend, Message: why})
	}
	if s.periodicQueued {
		s.periodicQueued = false
		s.emit(Effect{Type: EffTriggerFailed, Kind: KindCheckpoint, Reason: ReasonCoordinatorSuspend, Message: why})
	}
	for len(s.pending) > 0 && s.job == JobRunning {
		s.abort(0, ReasonCoordinatorSuspend, why)
	}
}

// execute runs a checkpoint request that has a free slot. A periodic request less
// than min_pause after the last completion is dropped and the schedule moves to
// last completion + min_pause (R12); manual requests ignore min_pause.
func (s *State) execute(periodic bool) {
	if periodic && s.hasLastComplete && s.now-s.lastComplete < s.cfg.MinPauseMs {
		s.periodicDue = s.lastComplete + s.cfg.MinPauseMs
		var buf [128]byte
		s.emit(Effect{Type: EffTriggerFailed, Kind: KindCheckpoint, Reason: ReasonMinPause,
			Message: msg(buf[:0]).d(s.now - s.lastComplete).s(" ms since the last completion at ").d(s.lastComplete).
				s(", min_pause_ms is ").d(s.cfg.MinPauseMs).s("; next periodic request at ").d(s.periodicDue).String()})
		return
	}
	s.trigger(KindCheckpoint)
}

// runQueued lets waiting requests run while there is a free slot, manual ones
// before the periodic one (Flink's request ordering).
func (s *State) runQueued() {
	for s.job == JobRunning && len(s.pending) < s.cfg.MaxConcurrent {
		switch {
		case s.queuedManual > 0:
			s.queuedManual--
			s.execute(false)
		case s.periodicQueued:
			s.periodicQueued = false
			s.execute(true)
		default:
			return
		}
	}
}

// trigger checks the preconditions (R13), allocates an id (R14) and emits the
// trigger (R15), preceded by the deferred region-skipped notices of the regions
// it reaches (R26).
func (s *State) trigger(kind Kind) {
	forced := kind == KindCheckpoint && s.forcing()
	regionalPath := s.regionalMode && kind == KindCheckpoint && !forced
	id := s.nextID
	if s.regionsDown > 0 {
		if !regionalPath {
			var buf [48]byte
			s.emit(Effect{Type: EffTriggerFailed, Kind: kind, Reason: ReasonNotAllRunning,
				Message: msg(buf[:0]).d(int64(s.regionsDown)).s(" regions are restarting").String()})
			return
		}
		// R13: the regional path may start with the restarting regions failed,
		// when R22 b–f would pass with them failed.
		down := newRegionSet(s.topo.NumRegions())
		noFallback := 0
		for r, n := range s.regionDown {
			if n > 0 {
				down.set(r)
				if !s.topo.RegionSupportsFallback(r) {
					noFallback++
				}
			}
		}
		if ok, why := s.gate(id, false, down, s.regionsDown, noFallback, s.activeRegions()); !ok {
			var buf [192]byte
			s.emit(Effect{Type: EffTriggerFailed, Kind: kind, Reason: ReasonNotAllRunning,
				Message: msg(buf[:0]).d(int64(s.regionsDown)).
					s(" regions are restarting and the regional path could not succeed: ").s(why).String()})
			return
		}
	}
	if id > MaxSafeInt {
		var buf [64]byte
		s.emit(Effect{Type: EffTriggerFailed, Kind: kind, Reason: ReasonIDsExhausted,
			Message: msg(buf[:0]).s("checkpoint ").d(id - 1).s(" was the last id below 2^53 (R14)").String()})
		return
	}
	s.nextID++
	p := pendingCheckpoint{
		id: id, kind: kind, forced: forced, regionalPath: regionalPath,
		triggerAt: s.now, deadline: s.now + s.Effective().TimeoutMs,
		activeRegions: s.activeRegions(),
	}
	p.newSets(s)
	p.waitingCount = p.waiting.count()
	if s.regionsDown > 0 {
		for r, n := range s.regionDown {
			if n > 0 {
				p.failRegion(s.topo, r, ReasonRegionFailover)
			}
		}
	}
	s.deliverSkipped(&p)
	// R14: the counter is durable before the trigger leaves, so that no id is
	// ever allocated twice, across coordinator failovers too (R50).
	s.emit(Effect{Type: EffPersistIDCounter, NextID: s.nextID})
	s.emit(Effect{Type: EffTrigger, Checkpoint: id, Kind: kind, ForcedGlobal: forced,
		Tasks: p.triggered.taskSet(), Deadline: p.deadline})
	s.pending = append(s.pending, p)
	// A checkpoint with nothing to wait for is decided at once.
	if !s.checkGate(len(s.pending) - 1) {
		s.settle()
	}
}

func (s *State) activeRegions() int {
	n := 0
	for _, u := range s.regionUnfinished {
		if u > 0 {
			n++
		}
	}
	return n
}

// deliverSkipped emits the deferred region-skipped notices of regions this
// trigger reaches (R26); the others keep waiting.
func (s *State) deliverSkipped(p *pendingCheckpoint) {
	kept := s.skipped[:0]
	for _, n := range s.skipped {
		var tasks TaskSet
		for _, id := range s.topo.RegionTasks(n.region) {
			if p.triggered.has(id) {
				tasks = tasks.add(id)
			}
		}
		if len(tasks) == 0 {
			kept = append(kept, n)
			continue
		}
		s.emit(Effect{Type: EffRegionSkipped, Checkpoint: n.checkpoint, Region: n.region, Tasks: tasks})
	}
	s.skipped = kept
}

// gate is the regional path gate of R22, in its order, for a checkpoint with id
// and the given failed regions. It reports whether the regional path allows the
// checkpoint and, if not, which rule refused it.
func (s *State) gate(id int64, forced bool, failed regionSet, failedCount, noFallback, active int) (bool, string) {
	if !s.regionalMode {
		return false, "R22a: regional mode is off"
	}
	if failedCount == 0 {
		return true, ""
	}
	var buf [128]byte
	why := msg(buf[:0])
	ratio := 0.0
	if active > 0 {
		ratio = float64(failedCount) / float64(active)
	}
	if failedCount >= active {
		// Even with max_failure_ratio 1, a checkpoint needs one region with new
		// state: otherwise it would "complete" with nothing new and reset the
		// failure count (R30) while the job makes no progress (docs/DECISIONS.md).
		return false, why.s("R22b: every region (").d(int64(failedCount)).s(" of ").d(int64(active)).
			s(") failed: no new state to complete with").String()
	}
	if ratio > s.cfg.Regional.MaxFailureRatio {
		return false, why.s("R22b: ").d(int64(failedCount)).s(" of ").d(int64(active)).s(" regions failed, ratio ").
			g(ratio, 3).s(" > max_failure_ratio ").g(s.cfg.Regional.MaxFailureRatio, -1).String()
	}
	if forced || s.consecutive >= s.cfg.Regional.MaxConsecutive {
		return false, why.s("R22c: forced global (consecutive_regional ").d(int64(s.consecutive)).
			s(", max_consecutive ").d(int64(s.cfg.Regional.MaxConsecutive)).s(")").String()
	}
	last := s.latest()
	if last == nil {
		return false, "R22d: no completed checkpoint to fall back to"
	}
	// R22e is kept as a count (noFallback) so that a decline costs O(1), not
	// O(regions); the walk only names the region when the gate refuses.
	for r := failed.next(0); noFallback > 0 && r >= 0; r = failed.next(r + 1) {
		if !s.topo.RegionSupportsFallback(r) {
			return false, why.s("R22e: a coordinator of region ").region(r).s(" does not support region fallback").String()
		}
	}
	// R22f walks the failed regions only (next skips empty words).
	if max := s.cfg.Regional.MaxRefAge; max > 0 {
		for r := failed.next(0); r >= 0; r = failed.next(r + 1) {
			if age := id - refOf(last.refs, last.id, r); age > max {
				return false, why.s("R22f: region ").region(r).s(" would reference checkpoint ").d(id - age).s(", ").
					d(age).s(" ids old > max_ref_age ").d(max).String()
			}
		}
	}
	return true, ""
}
