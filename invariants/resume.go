package invariants

import "github.com/ckptcore/ckptcore/fsm"

// Resume checks a core built by fsm.Resume from durable state at time at (a
// history that starts with a resume record, HISTORY.md): it takes the store's
// checkpoints as completed earlier — each region healthy in the checkpoint
// whose state it uses, the job owning what it may discard (R41) — the id
// counter as the last id handed out, the overrides as confirmed (R63), and then
// checks Resume's effects (the discards it decides, R40) and the resumed state
// like a recover step's.
func (c *Checker) Resume(at int64, d fsm.Durable, effs []fsm.Effect, s *fsm.State) []Violation {
	c.lastTrigger = d.NextID - 1
	var latest *fsm.StoredCheckpoint
	for i := range d.Known {
		k := &d.Known[i]
		// An older checkpoint a restored snapshot referenced was never one of
		// the store's own: it is not the latest completed one (R40).
		if !k.Restored || k.ID == d.RestoredID {
			latest = k
		}
		c.adoptStored(k, d.NoClaim)
	}
	if latest != nil {
		c.latestRefs = make([]int64, c.topo.NumRegions())
		for r := range c.latestRefs {
			c.latestRefs[r] = refOf(latest.Refs, latest.ID, r)
		}
	}
	if o := d.Overrides; o != nil {
		e := *o
		e.OverridesActive = true
		c.confirmed, c.hasConfirmed = e, true
	}
	return c.Step(fsm.Event{At: at, Type: fsm.EvRecover}, effs, s)
}

// adoptStored records a checkpoint the store holds as completed, with the
// regions that use its own state, its ownership (R41) and whether it is the
// restored snapshot — what Resume and Adopt both learn from fsm.Durable.
func (c *Checker) adoptStored(k *fsm.StoredCheckpoint, noClaim bool) {
	rec := c.recFor(k.ID)
	rec.kind = fsm.KindCheckpoint
	rec.flags |= fHasKind | fCompleted
	healthy := c.scratch().bools.carve(c.topo.NumRegions())
	for r := range healthy {
		healthy[r] = refOf(k.Refs, k.ID, r) == k.ID
	}
	c.setSets(rec, healthy, rec.notified(), rec.failedOver())
	if k.Restored {
		rec.flags |= fRestored
	}
	switch {
	case k.Owned:
		rec.flags |= fOwned
	case k.Restored && noClaim:
		rec.flags |= fNoClaim
	}
	c.lastStored = max(c.lastStored, k.ID)
}
