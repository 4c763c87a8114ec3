package fsm

// setStatus moves a subtask to a new status and keeps the counters the
// preconditions (R13) and the completion rule (R20) read in O(1).
func (s *State) setStatus(id TaskID, to taskStatus) {
	from := s.status[id]
	if from == to {
		return
	}
	r := s.topo.RegionOf(id)
	if from == taskRestarting {
		s.regionDown[r]--
		if s.regionDown[r] == 0 {
			s.regionsDown--
		}
	}
	if to == taskRestarting {
		if s.regionDown[r] == 0 {
			s.regionsDown++
		}
		s.regionDown[r]++
	}
	if from == taskFinished {
		s.unfinished++
		s.regionUnfinished[r]++
		if s.isSource(id) {
			s.sourcesUnfinished++
		}
	}
	if to == taskFinished {
		s.unfinished--
		s.regionUnfinished[r]--
		if s.isSource(id) {
			s.sourcesUnfinished--
		}
	}
	if to == taskRunning {
		s.running.set(id)
	} else {
		s.running.clear(id)
	}
	s.status[id] = to
}

func (s *State) isSource(id TaskID) bool { return s.topo.vertices[s.topo.vertexOf(id)].Source }

// taskFailed fails a subtask over: its whole region restarts from the latest
// completed checkpoint (R19). Pending checkpoints react per R17 (abort) or R18
// (the region fails for them); a checkpoint already persisting is sealed, so a
// failover of a region that holds its own state in it aborts it (I-NoOrphanState).
func (s *State) taskFailed(task TaskID) {
	r := s.topo.RegionOf(task)
	s.setStatus(task, taskRestarting)
	for _, id := range s.topo.RegionTasks(r) {
		if s.status[id] == taskRunning {
			s.setStatus(id, taskRestarting)
		}
	}
	if s.job != JobRunning {
		return
	}
	// The abort detail is built only when a checkpoint aborts: a regional-path
	// checkpoint just fails the region.
	var text [128]byte
	reason := func(more string) string {
		return msg(text[:0]).s("failover of region ").region(r).s(" (").task(s.topo, task).s(" failed)").s(more).String()
	}
	// The failover reaches every pending checkpoint before settle hands a freed
	// persist slot on: otherwise a ready checkpoint could be sealed with the
	// failing region's pre-failover state (R18, R19).
	var buf [4]int64
	for _, id := range s.appendPendingIDs(buf[:0]) {
		i := s.findPending(id)
		if i < 0 {
			continue
		}
		p := &s.pending[i]
		switch {
		case p.persisting && refOf(p.refs, p.id, r) == p.id:
			s.abort(i, ReasonRegionFailover, reason(" while its state was being persisted"))
		case p.persisting:
			// the region already falls back to older state in it
		case !p.regionalPath:
			s.abort(i, ReasonRegionFailover, reason(""))
		default:
			p.failRegion(s.topo, r, ReasonRegionFailover)
			s.checkGate(i)
		}
	}
}

// taskRunning marks a subtask running again, after a failover or a restart.
func (s *State) taskRunning(task TaskID) {
	s.setStatus(task, taskRunning)
}

// taskFinished marks a subtask finished (bounded input): pending checkpoints stop
// waiting for it (R20); when the last source finishes, checkpoints are forced
// global until one triggered from now on resolves (R25); when every subtask has finished, the job finishes.
func (s *State) taskFinished(task TaskID) {
	if s.status[task] == taskFinished {
		return
	}
	s.setStatus(task, taskFinished)
	if s.job != JobRunning {
		return
	}
	if s.sourcesUnfinished == 0 && s.isSource(task) && s.regionalMode {
		s.forceNext, s.forceFrom = true, s.nextID
	}
	var buf [4]int64
	for _, id := range s.appendPendingIDs(buf[:0]) {
		if i := s.findPending(id); i >= 0 && s.pending[i].stopWaiting(task) && s.pending[i].waitingCount == 0 {
			s.checkGate(i)
		}
	}
	if s.unfinished == 0 {
		// The finish has reached every pending checkpoint; one it made ready
		// is sealed before the job ends (and then ends with it).
		s.settle()
		s.finishJob("every subtask finished")
	}
}
