package fsm

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
	if !p.recordAck(s.topo, task, stateSize, checkpointedSize) {
		s.emit(Effect{Type: EffDiscardLateState, Checkpoint: id, Task: task})
		return
	}
	if p.waitingCount == 0 {
		s.checkGate(i) // its outcome is certain now
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
		var buf [64]byte
		s.abort(i, reason, msg(buf[:0]).s("declined by ").task(s.topo, task).String())
		return
	}
	if p.failRegion(s.topo, s.topo.RegionOf(task), reason) {
		s.checkGate(i)
	}
}

// expire handles a deadline (R17: the checkpoint expires; R18: every region that
// has not fully acknowledged fails, then the gate decides).
func (s *State) expire(i int) {
	p := &s.pending[i]
	if !p.regionalPath {
		var buf [64]byte
		s.abort(i, ReasonExpired, msg(buf[:0]).s("deadline ").d(p.deadline).s(" passed with ").
			d(int64(p.waitingCount)).s(" acks missing").String())
		return
	}
	for r := 0; r < s.topo.NumRegions() && p.waitingCount > 0; r++ {
		for _, id := range s.topo.RegionTasks(r) {
			if p.waiting.has(id) {
				p.failRegion(s.topo, r, ReasonExpired)
				break
			}
		}
	}
	s.checkGate(i)
}

// checkGate aborts pending checkpoint i as soon as its outcome is certain
// (R18): its callers run it when something happens to the checkpoint (a
// region fails for it, its last needed ack comes in, it is triggered), and it
// aborts a regional-path checkpoint whose failed regions R22 no longer allows.
// It reports whether it aborted. Starting to persist is settle's business,
// once the event has reached every pending checkpoint.
func (s *State) checkGate(i int) bool {
	p := &s.pending[i]
	if p.persisting {
		return false
	}
	if p.regionalPath && p.failedCount > 0 {
		if ok, why := s.gate(p.id, p.forced, p.failed, p.failedCount, p.noFallback, p.activeRegions); !ok {
			s.abort(i, p.firstCause, why)
			return true
		}
	}
	return false
}

// settle hands the persist slot to the lowest checkpoint that has every ack it
// needs (R20–R23). It runs once an event, a due item or a trigger has reached
// every pending checkpoint — never in the middle of one — and it is the only
// place a checkpoint starts persisting; nothing it calls settles again.
//
// One checkpoint persists at a time; a ready one waits for the slot. Flink
// finalizes checkpoints one by one under the coordinator's lock, and the order
// matters here: a checkpoint resolves its references (R21) and its consecutive
// count (R25) against the completions before it, so sealing two at once could
// roll a region back behind a checkpoint it was already notified of.
//
// Each iteration either seals a checkpoint (and the loop ends: the slot is
// taken) or aborts one (the gate refused it at sealing time): it terminates.
func (s *State) settle() {
	for s.job == JobRunning && !s.persistingAny() {
		i := s.lowestReady()
		if i < 0 {
			return
		}
		s.seal(i)
	}
}

// lowestReady returns the index of the lowest pending checkpoint that has
// every ack it needs and is not persisting, or -1.
func (s *State) lowestReady() int {
	for i := range s.pending {
		if p := &s.pending[i]; !p.persisting && p.waitingCount == 0 {
			return i
		}
	}
	return -1
}

func (s *State) persistingAny() bool {
	for i := range s.pending {
		if s.pending[i].persisting {
			return true
		}
	}
	return false
}
