package fsm

// recover models a coordinator (JobManager) failover (R50). Durable: the
// completed store with its metadata, the id counter, the confirmed config
// overrides. Lost: pending checkpoints (ended `recovered`, not counted, not
// notified), queued requests, the failure count, unconfirmed config patches,
// deferred region-skipped notices. The job restarts from its latest completed
// checkpoint with every unfinished subtask running, and the consecutive counter
// is read back from that checkpoint's metadata.
func (s *State) recover() {
	// Every pending checkpoint ends (no persist slot is handed on meanwhile:
	// only settle does that, after the event).
	for len(s.pending) > 0 {
		s.abort(0, ReasonRecovered, "coordinator failover (R50)")
	}
	s.periodicQueued, s.queuedManual = false, 0
	s.failures, s.countedIDs, s.lastSucceeded = 0, nil, 0
	s.hasLastComplete = false
	s.skipped = nil
	for _, p := range s.patches {
		s.emit(Effect{Type: EffConfigRejected, Request: p.request,
			Error: "lost: the coordinator recovered before the overrides were confirmed durable (R50)"})
	}
	s.patches = nil
	// Request ids are not durable (R50): no patch waits any more, so a new
	// incarnation's ids start afresh, as after Resume (docs/DECISIONS.md, R60).
	s.lastRequest = 0
	s.consecutive = 0
	if l := s.latest(); l != nil {
		s.consecutive = l.consecutive
	}
	if s.job == JobFinished {
		return
	}
	for id := range s.status {
		if s.status[id] == taskRestarting {
			s.setStatus(TaskID(id), taskRunning)
		}
	}
	s.job, s.failReason = JobRunning, ""
	s.forceNext, s.forceFrom = false, 0
	if s.regionalMode && s.sourcesUnfinished == 0 {
		s.forceNext, s.forceFrom = true, s.nextID
	}
	s.periodicOn = false
	if p := s.period(); p > 0 {
		s.periodicOn, s.periodicDue = true, s.now+p
	}
}
