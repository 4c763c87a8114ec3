package invariants

import "github.com/ckptcore/ckptcore/fsm"

// Adopt starts checking from a core built from a full-state snapshot (a
// history that starts with a snapshot record, HISTORY.md "Snapshot"): the
// history before it is gone, so the checker takes what the state says
// happened as given — its pending checkpoints as triggered (their kinds,
// forced flags and trigger times; the regions failed for them as failed over
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
		c.kinds[k.ID] = fsm.KindCheckpoint
		c.completed[k.ID] = true
		healthy := make([]bool, c.topo.NumRegions())
		for r := range healthy {
			healthy[r] = refOf(k.Refs, k.ID, r) == k.ID
		}
		c.healthy[k.ID] = healthy
		if k.Restored {
			c.restored[k.ID] = true
		}
		switch {
		case k.Owned:
			c.owned[k.ID] = true
		case k.Restored && d.NoClaim:
			c.noClaimIDs[k.ID] = true
		}
		c.lastStored = max(c.lastStored, k.ID)
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
		c.kinds[p.ID], c.forced[p.ID], c.triggerAt[p.ID] = p.Kind, p.ForcedGlobal, p.TriggerAt
		for r := 0; r < c.topo.NumRegions(); r++ {
			if p.RegionFailed(r) {
				if c.failedOver[p.ID] == nil {
					c.failedOver[p.ID] = map[int]bool{}
				}
				c.failedOver[p.ID][r] = true
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
		c.countedIDs[id] = true
	}
	c.sourcesForceFrom = s.SourcesForceFrom()
	if e := s.Effective(); e.OverridesActive {
		c.confirmed = &e
	}
	c.out = nil
	c.checkState(fsm.Event{At: s.Now(), Type: fsm.EvTick}, s)
	return c.out
}
