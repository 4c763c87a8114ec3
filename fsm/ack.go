package fsm

import "fmt"

// ack records an acknowledgement (R16). A duplicate changes nothing; an ack the
// checkpoint no longer waits for (unknown or ended checkpoint, a failed region,
// a subtask that was not triggered) carries state nobody will use: the runtime is
// told to discard it.
func (s *State) ack(id int64, task TaskID, stateSize, checkpointedSize int64) {
	i := s.findPending(id)
	if i < 0 {
		s.emit(Effect{Type: EffDiscardLateState, Checkpoint: id, Task: task})
		return
	}
	p := &s.pending[i]
	if p.acked.has(task) {
		return
	}
	if !p.waiting.has(task) {
		s.emit(Effect{Type: EffDiscardLateState, Checkpoint: id, Task: task})
		return
	}
	p.waiting.clear(task)
	p.acked.set(task)
	p.addSizes(s.topo, task, stateSize, checkpointedSize)
	p.waitingCount--
	if p.waitingCount == 0 {
		s.decide(i)
	}
}

// decline handles a decline (R17 in global mode, R18 in regional mode). A
// decline for an unknown, ended or persisting checkpoint changes nothing.
func (s *State) decline(id int64, task TaskID, reason Reason) {
	if reason == "" {
		reason = ReasonDeclined
	}
	i := s.findPending(id)
	if i < 0 || s.pending[i].persisting {
		return
	}
	p := &s.pending[i]
	if !p.regionalPath {
		s.abort(i, reason, fmt.Sprintf("declined by %s", s.topo.TaskName(task)))
		return
	}
	r := s.topo.RegionOf(task)
	if p.failed.has(TaskID(r)) {
		return
	}
	s.markRegionFailed(p, r, reason)
	s.decide(i)
}

// expire handles a deadline (R17: the checkpoint expires; R18: every region that
// has not fully acknowledged fails, then the checkpoint is decided).
func (s *State) expire(i int) {
	p := &s.pending[i]
	if !p.regionalPath {
		s.abort(i, ReasonExpired, fmt.Sprintf("deadline %d passed with %d acks missing", p.deadline, p.waitingCount))
		return
	}
	for r := 0; r < s.topo.NumRegions() && p.waitingCount > 0; r++ {
		if p.failed.has(TaskID(r)) {
			continue
		}
		for _, id := range s.topo.RegionTasks(r) {
			if p.waiting.has(id) {
				s.markRegionFailed(p, r, ReasonExpired)
				break
			}
		}
	}
	s.decide(i)
}

// markRegionFailed fails region r for a regional-path checkpoint and drops what
// the region acknowledged for it (R18, R19: no orphan state).
func (s *State) markRegionFailed(p *pendingCheckpoint, r int, cause Reason) {
	if p.failed.has(TaskID(r)) {
		return
	}
	p.failed.set(TaskID(r))
	p.failedCount++
	if !s.topo.RegionSupportsFallback(r) {
		p.noFallback++
	}
	if p.firstCause == "" {
		p.firstCause = cause
	}
	for _, id := range s.topo.RegionTasks(r) {
		if p.waiting.has(id) {
			p.waiting.clear(id)
			p.waitingCount--
		}
		p.acked.clear(id)
	}
	if p.regionSizes != nil {
		p.regionSizes[r] = ackSizes{}
	}
}

// decide ends a pending checkpoint as soon as its outcome is certain (R18): it
// aborts a regional-path checkpoint as soon as R22 refuses its failed regions,
// and starts persisting a checkpoint that has every ack it needs (R20–R23).
//
// One checkpoint persists at a time; a ready one waits for the slot. Flink
// finalizes checkpoints one by one under the coordinator's lock, and the order
// matters here: a checkpoint resolves its references (R21) and its consecutive
// count (R25) against the completions before it, so sealing two at once could
// roll a region back behind a checkpoint it was already notified of.
func (s *State) decide(i int) {
	p := &s.pending[i]
	if p.persisting {
		return
	}
	if p.regionalPath && p.failedCount > 0 {
		if ok, why := s.gate(p.id, p.forced, p.failed, p.failedCount, p.noFallback, p.activeRegions); !ok {
			s.abort(i, p.firstCause, why)
			return
		}
	}
	if p.waitingCount == 0 && !s.holdSeal && !s.persistingAny() {
		s.startPersist(i)
	}
}

func (s *State) persistingAny() bool {
	for i := range s.pending {
		if s.pending[i].persisting {
			return true
		}
	}
	return false
}

// sealNext gives the freed persist slot to the lowest ready checkpoint.
func (s *State) sealNext() {
	for i := 0; i < len(s.pending) && s.job == JobRunning && !s.holdSeal && !s.persistingAny(); {
		n := len(s.pending)
		if s.pending[i].waitingCount == 0 {
			s.decide(i)
		}
		if len(s.pending) == n {
			i++
		}
	}
}

// ready reports whether a checkpoint has every ack it needs: its deadline no
// longer applies (Flink cancels the timeout when it finalizes).
func (p *pendingCheckpoint) ready() bool { return p.persisting || p.waitingCount == 0 }
