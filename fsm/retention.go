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
// neither retained nor referenced by a retained checkpoint (R40, I-RetentionSafety,
// I-NoLeak). A checkpoint the job does not own (a no_claim restore, R41) is
// forgotten without a discard.
//
// A persisting checkpoint's references need no look here: it runs only from
// store() and Resume, and no checkpoint persists then. store() runs in complete()
// after the completing checkpoint has left s.pending, and the persist slot (at most
// one persisting, checked by CheckBookkeeping after every step of the property
// tests) means no other one persists; Resume starts with nothing pending. Nor does
// the abort of a persisting checkpoint need a run: alive reads s.known only, and
// s.known has not changed since the last run (or since restore, which leaves
// nothing unneeded: the snapshot is retained and names every older id it adds).
func (s *State) discardUnneeded() {
	alive := func(id int64) bool {
		for i := range s.known {
			if k := &s.known[i]; k.retained && (k.id == id || refsName(k.refs, id)) {
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
