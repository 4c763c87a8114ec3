package invariants

import "github.com/ckptcore/ckptcore/fsm"

// Adopt starts checking from a core built from a full-state snapshot (a
// history that starts with a snapshot record, HISTORY.md "Snapshot"): the
// history before it is gone, so the checker takes what the state says
// happened as given — its pending checkpoints as triggered (their kinds
// and forced flags; the regions failed for them as failed over
// since), its stored checkpoints as completed like Resume's, the failure
// manager's counter, counted ids and last success, the sources' forcing
// point, the overrides in force as confirmed (R63) and every id below the
// lowest one the core can still act on as ended — and then checks the state
// like after a step. Every later step is checked as usual.
func (c *Checker) Adopt(s *fsm.State) []Violation {
	c.lastTrigger = s.NextID() - 1
	d := s.Durable()
	for i := range d.Known {
		k := &d.Known[i]
		c.adoptStored(k, d.NoClaim)
	}
	if l, ok := s.LatestCompleted(); ok {
		c.latestRefs = make([]int64, c.topo.NumRegions())
		for r := range c.latestRefs {
			c.latestRefs[r] = refOf(l.Refs, l.ID, r)
		}
	}
	floor := s.NextID()
	for _, k := range d.Known {
		floor = min(floor, k.ID)
		for _, r := range k.Refs {
			floor = min(floor, r.Checkpoint)
		}
	}
	for _, p := range s.Pending() {
		rec := c.recFor(p.ID)
		rec.kind = p.Kind
		rec.flags |= fHasKind | fHasForced
		if p.ForcedGlobal {
			rec.flags |= fForced
		}
		for r := 0; r < c.topo.NumRegions(); r++ {
			if p.RegionFailed(r) {
				c.addFailedOver(p.ID, r)
			}
		}
		floor = min(floor, p.ID)
		for _, r := range p.Refs() {
			floor = min(floor, r.Checkpoint)
		}
	}
	c.floor = floor
	counted, lastSucceeded := s.FailureAccounting()
	c.failures, c.lastSucceeded = s.Failures(), lastSucceeded
	for _, id := range counted {
		c.set(id, fCounted)
	}
	c.sourcesForceFrom = s.SourcesForceFrom()
	if e := s.Effective(); e.OverridesActive {
		c.confirmed, c.hasConfirmed = e, true
	}
	c.out = nil
	c.checkState(fsm.Event{At: s.Now(), Type: fsm.EvTick}, s)
	return c.out
}
