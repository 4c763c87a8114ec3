package fsm

// PendingInfo describes a pending checkpoint, for invariant checks, renderers
// and runtimes. One from Pending owns its sets and stays valid; one handed to
// an EachPending callback shares them with the State and is valid only during
// the call (no copy: the cheap way for a checker that runs after every step).
type PendingInfo struct {
	ID           int64
	Kind         Kind
	ForcedGlobal bool // forced global at trigger (R25)
	RegionalPath bool // decided by R18 rather than R17
	TriggerAt    int64
	Deadline     int64
	Persisting   bool // sealed: every needed ack is in; waiting for the persisted event (R23)
	FailedCount  int
	FirstCause   Reason

	acked, triggered bitset
	failed           regionSet
	refs             []RegionRef
}

// Acked reports whether the checkpoint holds an ack of subtask id.
func (v PendingInfo) Acked(id TaskID) bool { return v.acked.has(id) }

// Triggered reports whether subtask id got the trigger.
func (v PendingInfo) Triggered(id TaskID) bool { return v.triggered.has(id) }

// RegionFailed reports whether region r failed for this checkpoint (R18).
func (v PendingInfo) RegionFailed(r int) bool { return v.failed.has(r) }

// Refs returns, once persisting, the regions that use older state.
func (v PendingInfo) Refs() []RegionRef { return v.refs }

func (p *pendingCheckpoint) info() PendingInfo {
	return PendingInfo{ID: p.id, Kind: p.kind, ForcedGlobal: p.forced, RegionalPath: p.regionalPath,
		TriggerAt: p.triggerAt, Deadline: p.deadline, Persisting: p.persisting,
		FailedCount: p.failedCount, FirstCause: p.firstCause,
		acked: p.acked, triggered: p.triggered, failed: p.failed, refs: p.refs}
}

// Pending returns the pending checkpoints in id order, each with its own copy
// of its sets: they stay valid whatever Step does later. The copies share one
// block (each capped at its length), so the call takes two allocations.
func (s *State) Pending() []PendingInfo {
	out := make([]PendingInfo, len(s.pending))
	n := 0
	for i := range s.pending {
		p := &s.pending[i]
		n += wordsFor[uint64](len(p.acked)) + wordsFor[uint64](len(p.triggered)) +
			wordsFor[uint64](len(p.failed)) + wordsFor[RegionRef](len(p.refs))
	}
	block := make([]uint64, n)
	for i := range s.pending {
		v := s.pending[i].info()
		v.acked, v.triggered, v.failed = carve(&block, v.acked), carve(&block, v.triggered), carve(&block, v.failed)
		if len(v.refs) == 0 {
			v.refs = nil
		} else {
			v.refs = carve(&block, v.refs)
		}
		out[i] = v
	}
	return out
}

// EachPending calls visit for each pending checkpoint in id order until it
// returns false. The PendingInfo shares the State's sets and is valid only
// during the call; visit must not call Step.
func (s *State) EachPending(visit func(PendingInfo) bool) {
	for i := range s.pending {
		if !visit(s.pending[i].info()) {
			return
		}
	}
}

// NumPending returns the number of pending checkpoints.
func (s *State) NumPending() int { return len(s.pending) }

// StoredCheckpoint is a completed checkpoint the job knows and has not discarded.
type StoredCheckpoint struct {
	ID int64
	// Refs lists the regions that use an older checkpoint's state, sorted by
	// region; every other region uses ID itself (R21).
	Refs        []RegionRef
	Mode        Mode
	Consecutive int
	Retained    bool // one of the `retained` latest (R40)
	Owned       bool // the job may discard it (R41)
	Restored    bool // the restored snapshot or a checkpoint its refs name
}

// RefOf resolves the checkpoint whose state region r uses.
func (c StoredCheckpoint) RefOf(r int) int64 { return refOf(c.Refs, c.ID, r) }

// Known returns every completed checkpoint the job keeps — retained or kept alive
// by a reference — in id order, each with its own copy of its refs (the
// copies share one array, each capped at its length: two allocations).
func (s *State) Known() []StoredCheckpoint {
	out := make([]StoredCheckpoint, len(s.known))
	n := 0
	for i := range s.known {
		n += len(s.known[i].refs)
	}
	refs := make([]RegionRef, n)
	for i := range s.known {
		k := &s.known[i]
		var r []RegionRef
		if m := len(k.refs); m > 0 {
			r, refs = refs[:m:m], refs[m:]
			copy(r, k.refs)
		}
		out[i] = k.stored(r)
	}
	return out
}

// EachKnown calls visit for each checkpoint Known would return, in id order,
// until it returns false, without copying: the StoredCheckpoint's Refs are
// the State's own, valid only during the call; visit must not modify them
// or call Step (the cheap way for a checker that runs after every step).
func (s *State) EachKnown(visit func(StoredCheckpoint) bool) {
	for i := range s.known {
		if !visit(s.known[i].stored(s.known[i].refs)) {
			return
		}
	}
}

func (k *knownCheckpoint) stored(refs []RegionRef) StoredCheckpoint {
	return StoredCheckpoint{ID: k.id, Refs: refs, Mode: k.mode, Consecutive: k.consecutive,
		Retained: k.retained, Owned: k.owned, Restored: k.restored}
}

// Retained returns the ids in the completed store, ascending (R40).
func (s *State) Retained() []int64 {
	var ids []int64
	for _, k := range s.known {
		if k.retained {
			ids = append(ids, k.id)
		}
	}
	return ids
}

// LatestCompleted returns the latest completed checkpoint in the store.
func (s *State) LatestCompleted() (StoredCheckpoint, bool) {
	if k := s.latest(); k != nil {
		return k.stored(cloneRefs(k.refs)), true
	}
	return StoredCheckpoint{}, false
}

// RestoredSnapshot returns the id of the snapshot the job started from (0 if
// none) and whether the job runs in no_claim mode (R41).
func (s *State) RestoredSnapshot() (int64, bool) { return s.restoredID, s.noClaim }

// PendingPatches returns the accepted FLIP-571 patches waiting for their
// overrides to be confirmed durable, oldest first (R63).
func (s *State) PendingPatches() []int64 {
	ids := make([]int64, len(s.patches))
	for i, p := range s.patches {
		ids[i] = p.request
	}
	return ids
}

// ForceNextGlobal reports whether all sources finished and the next checkpoint
// is forced global (R25).
func (s *State) AllSourcesForcing() bool { return s.forceNext }
