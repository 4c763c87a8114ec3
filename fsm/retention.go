package fsm

// store adds a completed checkpoint to the completed store, keeps the `retained`
// latest (Flink's DefaultCompletedCheckpointStore subsumption) and discards what
// is no longer needed (R40).
func (s *State) store(p *pendingCheckpoint) {
	s.known = append(s.known, knownCheckpoint{id: p.id, refs: p.refs, mode: p.mode,
		consecutive: p.consecutive, retained: true, owned: true})
	retained := 0
	for i := len(s.known) - 1; i >= 0; i-- {
		if s.known[i].retained {
			retained++
			if retained > s.cfg.Retained {
				s.known[i].retained = false
			}
		}
	}
	s.discardUnneeded()
}

// discardUnneeded discards, in id order and exactly once, every known checkpoint that is
// neither retained nor referenced by a retained or persisting checkpoint (R40,
// I-RetentionSafety, I-NoLeak). A checkpoint the job does not own (a no_claim
// restore, R41) is forgotten without a discard.
func (s *State) discardUnneeded() {
	alive := func(id int64) bool {
		for i := range s.known {
			if k := &s.known[i]; k.retained && (k.id == id || refsName(k.refs, id)) {
				return true
			}
		}
		for i := range s.pending {
			if p := &s.pending[i]; p.persisting && refsName(p.refs, id) {
				return true
			}
		}
		return false
	}
	kept := s.known[:0]
	for _, k := range s.known {
		if k.retained || alive(k.id) {
			kept = append(kept, k)
			continue
		}
		if k.owned {
			s.emit(Effect{Type: EffDiscard, Checkpoint: k.id})
		}
	}
	s.known = kept
}

func refsName(refs []RegionRef, id int64) bool {
	for _, r := range refs {
		if r.Checkpoint == id {
			return true
		}
	}
	return false
}
