package invariants

import "github.com/ckptcore/ckptcore/fsm"

// pruneEvery is how many checkpoints the checker tracks before it first
// prunes: a few hundred checkpoints' worth of memory, and short histories (the
// explorer's, the goldens) never prune, so their checker states stay as they
// were.
const pruneEvery = 256

// prune forgets what the checker knows of checkpoints that are over, so that
// its memory is bounded by the core's state, not by the length of the history
// (a replay of a 1 GB history otherwise keeps millions of entries).
//
// The floor is the lowest id the core can still act on: every pending
// checkpoint, every checkpoint in the store and every one their refs name, and
// the next id, are at or above it. Below it every checkpoint has ended:
// aborted, or completed and discarded (or a savepoint, which never enters the
// store). The checks then read "below the floor" as "ended and discarded"
// (finished), so a core that acts on such an id still fails them. What the
// checker must keep whatever the history's length is kept: the job's owned
// checkpoints not yet discarded (I-NoLeak reports them every step), the
// restored snapshot and its refs.
func (c *Checker) prune(s *fsm.State) {
	if len(c.recs) < max(c.pruneAt, pruneEvery) || c.numKinds() < max(c.pruneAt, pruneEvery) {
		return
	}
	// Next time only when the tracked set has doubled: when the core holds
	// that many checkpoints, pruning at every step would only cost.
	defer func() { c.pruneAt = 2 * c.numKinds() }()
	floor := s.NextID()
	for _, k := range s.Known() {
		floor = min(floor, k.ID)
		for _, r := range k.Refs {
			floor = min(floor, r.Checkpoint)
		}
	}
	for _, p := range s.Pending() {
		floor = min(floor, p.ID)
		for _, r := range p.Refs() {
			floor = min(floor, r.Checkpoint)
		}
	}
	if floor <= c.floor {
		return
	}
	c.floor = floor
	// Below the floor only what must outlive the checkpoint stays: owned,
	// restored, no_claim.
	const kept = fOwned | fRestored | fNoClaim
	for i := range c.recs {
		if r := &c.recs[i]; r.id < floor {
			r.flags &= kept
			r.kind, r.sets = 0, nil
		}
	}
	c.compact()
}

// finished reports whether checkpoint id ended (aborted, or completed and then
// discarded) and was forgotten by prune, or is over and was forgotten by
// Forget.
func (c *Checker) finished(id int64) bool { return id < c.floor || c.has(id, fOver) }

// gone reports whether checkpoint id, whose record is r (nil: none), was
// discarded or is finished.
func (c *Checker) gone(r *idRec, id int64) bool {
	return id < c.floor || r != nil && r.flags&(fDiscarded|fOver) != 0
}
