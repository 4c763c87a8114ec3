package fsm

import (
	"slices"
	"sort"
)

// seal seals a checkpoint that has every ack it needs: it resolves the
// failed regions' references (R21), asks the failed regions' coordinators to fall
// back (R23), then asks for the metadata to be persisted.
func (s *State) seal(i int) {
	p := &s.pending[i]
	if p.regionalPath && p.failedCount > 0 {
		if ok, why := s.gate(p.id, p.forced, p.failed, p.failedCount, p.noFallback, p.activeRegions); !ok {
			s.abort(i, p.firstCause, why)
			return
		}
		last := s.latest()
		p.refs = spareSlice[RegionRef](s, p.failedCount)
		for r := p.failed.next(0); r >= 0; r = p.failed.next(r + 1) {
			p.refs = append(p.refs, RegionRef{r, refOf(last.refs, last.id, r)})
		}
	}
	p.mode = ModeGlobal
	switch {
	case len(p.refs) > 0:
		p.mode = ModeRegional
		p.consecutive = s.consecutive + 1
	case p.kind == KindCheckpoint:
		p.consecutive = 0
	default:
		p.consecutive = s.consecutive // savepoints leave the counter alone (R25)
	}
	p.persisting = true
	p.totalSizes()
	// The effects' copies of the refs share one array: the persist effect's
	// first, then each coordinator_fallback's, every part capped so that a
	// runtime appending to one effect's refs cannot write into another's.
	var persistRefs []RegionRef
	if len(p.refs) > 0 {
		n := len(p.refs)
		for _, ref := range p.refs {
			n += len(s.topo.RegionCoordinators(ref.Region))
		}
		refs := make([]RegionRef, n)
		persistRefs = refs[:len(p.refs):len(p.refs)]
		copy(persistRefs, p.refs)
		s.emitFallbacks(p, refs[len(p.refs):])
	}
	s.emit(Effect{Type: EffPersist, Checkpoint: p.id, Kind: p.kind, Mode: p.mode,
		Refs: persistRefs, Consecutive: p.consecutive,
		StateSize: p.stateSize, CheckpointedSize: p.checkpointedSize})
}

// emitFallbacks emits one coordinator_fallback per vertex with a coordinator that
// has a subtask in a failed region, in job order, naming those regions' refs
// (in region order). Their refs are carved from free, which has room for one
// ref per (failed region, coordinator of it).
func (s *State) emitFallbacks(p *pendingCheckpoint, free []RegionRef) {
	k := 0
	for v := range s.topo.vertices {
		lo := k
		for _, ref := range p.refs {
			if slices.Contains(s.topo.RegionCoordinators(ref.Region), int32(v)) {
				free[k] = ref
				k++
			}
		}
		if k > lo {
			s.emit(Effect{Type: EffCoordinatorFallback, Checkpoint: p.id, Vertex: v, Refs: free[lo:k:k]})
		}
	}
}

// persisted completes a checkpoint whose metadata is durable (R23). A
// confirmation for a checkpoint that is not persisting changes nothing.
func (s *State) persisted(id int64) {
	i := s.findPending(id)
	if i < 0 || !s.pending[i].persisting {
		return
	}
	s.complete(i)
}

// persistFailed aborts a checkpoint whose metadata write failed (R23:
// finalize_failed, counted).
func (s *State) persistFailed(id int64) {
	i := s.findPending(id)
	if i < 0 || !s.pending[i].persisting {
		return
	}
	s.abort(i, ReasonFinalizeFailed, "the metadata write failed")
}

// complete is the commit point (R23): lower pending checkpoints are subsumed,
// completion is notified (R26), the counters move (R25, R30), retention runs
// (R40), and a stop-with-savepoint finishes the job (R24).
func (s *State) complete(i int) {
	// A copy of the record, not of its sets: the checkpoint leaves s.pending
	// below and nothing else reaches its sets (its refs move to the store).
	p := s.pending[i]
	s.emit(Effect{Type: EffCompleted, Checkpoint: p.id, Kind: p.kind, Mode: p.mode,
		Refs: cloneRefs(p.refs), Consecutive: p.consecutive,
		StateSize: p.stateSize, CheckpointedSize: p.checkpointedSize})
	if p.kind != KindSavepoint {
		// Flink adds a checkpoint to the store before it drops the subsumed ones,
		// so their abort notices name it as the latest completed (s.completing).
		if p.kind == KindCheckpoint {
			s.completing = p.id
		}
		var buf [4]int64
		for _, id := range s.appendPendingIDs(buf[:0]) {
			if j := s.findPending(id); j >= 0 && id < p.id && s.pending[j].kind == KindCheckpoint {
				var buf [48]byte
				s.abort(j, ReasonSubsumed, msg(buf[:0]).s("subsumed by checkpoint ").d(p.id).String())
			}
		}
	}
	s.completing = 0
	i = s.findPending(p.id)
	s.pending = append(s.pending[:i], s.pending[i+1:]...)
	if p.id > s.lastSucceeded {
		s.lastSucceeded = p.id
		s.failures, s.countedIDs = 0, s.countedIDs[:0]
	}
	s.hasLastComplete, s.lastComplete = true, s.now
	if p.kind != KindSavepoint {
		// Flink notifies checkpoints and synchronous savepoints only.
		s.notifyComplete(&p)
	}
	if p.kind == KindCheckpoint {
		s.consecutive = p.consecutive
		s.endSourcesForcing(&p)
		for _, ref := range p.refs {
			s.skipped = append(s.skipped, skipNotice{p.id, ref.Region})
		}
		s.store(&p)
		s.warnDrift(&p)
		s.warnNoClaim(&p)
	}
	if p.kind == KindStopWithSavepoint {
		var buf [48]byte
		s.finishJob(msg(buf[:0]).s("stop-with-savepoint ").d(p.id).s(" completed").String())
	}
}

// notifyComplete notifies the subtasks of regions that reference the checkpoint
// itself — exactly those whose ack was kept — with, for each older referenced
// checkpoint, the subtasks that use it (R26).
func (s *State) notifyComplete(p *pendingCheckpoint) {
	var info []RefGroup
	for _, ref := range p.refs {
		k := sort.Search(len(info), func(j int) bool { return info[j].Checkpoint >= ref.Checkpoint })
		if k == len(info) || info[k].Checkpoint != ref.Checkpoint {
			info = append(info, RefGroup{})
			copy(info[k+1:], info[k:])
			info[k] = RefGroup{Checkpoint: ref.Checkpoint}
		}
	}
	for k := range info {
		set := newBitset(s.topo.NumSubtasks())
		for _, ref := range p.refs {
			if ref.Checkpoint == info[k].Checkpoint {
				for _, id := range s.topo.RegionTasks(ref.Region) {
					set.set(id)
				}
			}
		}
		info[k].Tasks = set.taskSet()
	}
	s.emit(Effect{Type: EffNotifyComplete, Checkpoint: p.id, Tasks: p.acked.andTaskSet(s.running), RegionalInfo: info})
}

// abort ends pending checkpoint i without completion: counted per R30, the
// subtasks still running are told (R26, except after a coordinator failover or
// when the job ends), a forced-global abort resets the two-tier counter (R25),
// and a failed stop-with-savepoint fails the job (R24).
func (s *State) abort(i int, reason Reason, detail string) {
	p := s.pending[i]
	s.pending = append(s.pending[:i], s.pending[i+1:]...)
	counted := s.countFailure(&p, reason)
	s.emit(Effect{Type: EffAbort, Checkpoint: p.id, Kind: p.kind, Reason: reason, Counted: counted, Message: detail})
	// Tasks are told, except after a coordinator failover (its messages are lost)
	// and when the job ends (the tasks are going away); a stop-with-savepoint's
	// aborts reach tasks that keep running (R24, R26).
	if reason != ReasonRecovered && s.job == JobRunning {
		s.emit(Effect{Type: EffNotifyAborted, Checkpoint: p.id, Tasks: p.triggered.andTaskSet(s.running),
			LatestCompleted: s.latestID()})
	}
	if p.forced {
		// Tier 2 (R25): a forced-global checkpoint that fails resets the counter,
		// so the next checkpoint may be regional again.
		s.consecutive = 0
		s.endSourcesForcing(&p)
	}
	if s.job != JobRunning {
		return
	}
	if p.kind == KindStopWithSavepoint && reason != ReasonRecovered {
		var buf [96]byte
		s.failJob(ReasonStopWithSavepointErr, msg(buf[:0]).s("stop-with-savepoint ").d(p.id).s(" failed: ").
			s(string(reason)).s(" (R24)").String())
		return
	}
	if counted && s.failures > s.cfg.TolerableFailures {
		n := s.failures
		s.failures, s.countedIDs = 0, s.countedIDs[:0]
		var buf [96]byte
		s.failJob(ReasonTolerableExceeded, msg(buf[:0]).d(int64(n)).
			s(" counted checkpoint failures exceed tolerable_failures ").d(int64(s.cfg.TolerableFailures)).s(" (R30)").String())
	}
}

// endSourcesForcing ends the forcing that all sources finishing started (R25)
// when p, resolving now, was triggered after they finished: only such a
// checkpoint commits the sinks' final transactions, so one triggered before
// cannot end it, neither by completing nor by a tier-2 reset.
func (s *State) endSourcesForcing(p *pendingCheckpoint) {
	if s.forceNext && p.kind == KindCheckpoint && p.id >= s.forceFrom {
		s.forceNext, s.forceFrom = false, 0
	}
}

// countFailure applies Flink's CheckpointFailureManager (R30): counted reasons
// only; a savepoint's job-level failures are never counted, its task-level ones
// are; a stop-with-savepoint fails the job instead (R24); ids at or below the
// last success are ignored; each id counts once.
func (s *State) countFailure(p *pendingCheckpoint, reason Reason) bool {
	if !reason.Counted() || p.kind == KindStopWithSavepoint {
		return false
	}
	if p.kind == KindSavepoint && reason.jobLevel() {
		return false
	}
	if p.id <= s.lastSucceeded || containsID(s.countedIDs, p.id) {
		return false
	}
	s.countedIDs = append(s.countedIDs, p.id)
	s.failures++
	return true
}

// failJob fails the job: the coordinator suspends and every pending checkpoint
// ends with coordinator_suspend (not counted).
func (s *State) failJob(reason Reason, detail string) {
	if s.job != JobRunning {
		return
	}
	s.job, s.failReason = JobFailed, reason
	s.emit(Effect{Type: EffFailJob, Reason: reason, Message: detail})
	s.endCoordinator(ReasonCoordinatorSuspend)
}

// finishJob finishes the job: the coordinator shuts down and every pending
// checkpoint ends with coordinator_shutdown (not counted).
func (s *State) finishJob(detail string) {
	if s.job != JobRunning {
		return
	}
	s.job = JobFinished
	s.emit(Effect{Type: EffFinishJob, Message: detail})
	s.endCoordinator(ReasonCoordinatorShutdown)
}

func (s *State) endCoordinator(reason Reason) {
	for len(s.pending) > 0 {
		s.abort(0, reason, "the job is "+s.job.String())
	}
	s.periodicQueued, s.queuedManual = false, 0
}

// latestID is the latest completed checkpoint's id, 0 if none.
func (s *State) latestID() int64 {
	if s.completing != 0 {
		return s.completing
	}
	if l := s.latest(); l != nil {
		return l.id
	}
	return 0
}

// warnDrift makes the drift hazard of §11 visible: a reference older than
// max_consecutive + 1 ids means a region has kept failing past tier 2.
func (s *State) warnDrift(p *pendingCheckpoint) {
	limit := int64(s.cfg.Regional.MaxConsecutive) + 1
	drifted := func(ref RegionRef) bool { age := p.id - ref.Checkpoint; return age > limit }
	worst := int64(0)
	for _, ref := range p.refs {
		if drifted(ref) {
			worst = max(worst, p.id-ref.Checkpoint)
		}
	}
	if worst == 0 {
		return
	}
	var buf [256]byte
	m := msg(buf[:0]).s("checkpoint ").d(p.id).s(" references state up to ").d(worst).
		s(" ids old (> max_consecutive+1 = ").d(limit).s("): ")
	sep := ""
	for _, ref := range p.refs {
		if drifted(ref) {
			m, sep = m.s(sep).region(ref.Region).s("->").d(ref.Checkpoint), ", "
		}
	}
	m = m.s("; these regions' restore points drift back (set regional.max_ref_age to bound it)")
	s.emit(Effect{Type: EffWarn, Checkpoint: p.id, Code: WarnRefDrift, Message: m.String()})
}

// warnNoClaim implements R41's warning: while a retained checkpoint references
// a no_claim snapshot the user must keep it; the first global completion ends that.
func (s *State) warnNoClaim(p *pendingCheckpoint) {
	if !s.noClaim || s.noClaimReleased {
		return
	}
	if p.mode == ModeGlobal {
		s.noClaimReleased = true
		if s.noClaimWarned {
			var buf [128]byte
			s.emit(Effect{Type: EffWarn, Checkpoint: p.id, Code: WarnNoClaimReleased, Message: msg(buf[:0]).
				s("checkpoint ").d(p.id).s(" is global: no new checkpoint will reference the no_claim snapshot ").
				d(s.restoredID).String()})
		}
		return
	}
	var buf [256]byte
	m := msg(buf[:0]).s("checkpoint ").d(p.id).s(" uses the no_claim snapshot ").d(s.restoredID).s(" for ")
	sep := ""
	for _, ref := range p.refs {
		if ref.Checkpoint <= s.restoredID {
			m, sep = m.s(sep).region(ref.Region), ", "
		}
	}
	if sep != "" {
		s.noClaimWarned = true
		m = m.s(": keep the snapshot until a global checkpoint completes")
		s.emit(Effect{Type: EffWarn, Checkpoint: p.id, Code: WarnNoClaimReferenced, Message: m.String()})
	}
}

// cloneRefs copies refs for an effect, so a runtime that keeps or edits an
// effect can never reach into the state.
func cloneRefs(refs []RegionRef) []RegionRef {
	if len(refs) == 0 {
		return nil
	}
	return append([]RegionRef(nil), refs...)
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func sortIDs(ids []int64) { sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] }) }
