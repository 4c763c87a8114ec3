package invariants

import (
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// RuleBookkeeping names a broken invariant of a pending checkpoint's
// bookkeeping (fsm.State.CheckBookkeeping): acks and failed regions, R18.
const RuleBookkeeping = "R18"

// checkState checks the invariants that are about the state after a step.
func (c *Checker) checkState(ev fsm.Event, s *fsm.State) {
	// The core's own per-checkpoint bookkeeping (issue 20 point 4): counters
	// that mirror sets, no ack kept for a failed region (R18).
	if err := s.CheckBookkeeping(); err != nil {
		c.fail(RuleBookkeeping, "%v", err)
	}
	if n := s.Consecutive(); n < 0 || n > c.tab.cfg.Regional.MaxConsecutive && s.RegionalMode() {
		c.fail(ConsecutiveBound, "consecutive_regional = %d outside [0, max_consecutive %d]", n, c.tab.cfg.Regional.MaxConsecutive)
	}
	if s.NextID() <= c.lastTrigger {
		c.fail(MonotonicIds, "next id %d would reuse %d", s.NextID(), c.lastTrigger)
	}
	var small [16]int64
	alive := small[:0] // retained, referenced or persisting ids
	// EachKnown reads the core's own store (no copies); nothing here steps.
	// One record lookup per id (rec), not one per fact: this runs after every
	// step the explorer checks.
	s.EachKnown(func(k fsm.StoredCheckpoint) bool {
		rec := c.rec(k.ID)
		if c.gone(rec, k.ID) {
			c.fail(RetentionSafety, "checkpoint %d is kept after it was discarded", k.ID)
		}
		if rec != nil && rec.flags&fHasKind != 0 && isSavepoint(rec.kind) {
			c.fail(SavepointGlobal, "%s %d is in the store", rec.kind, k.ID)
		}
		if !k.Retained {
			return true
		}
		alive = append(alive, k.ID)
		for _, r := range k.Refs {
			alive = append(alive, r.Checkpoint)
			ref := c.rec(r.Checkpoint)
			if c.gone(ref, r.Checkpoint) {
				c.fail(RetentionSafety, "retained checkpoint %d uses discarded checkpoint %d", k.ID, r.Checkpoint)
			}
			if r.Checkpoint >= k.ID || !(ref != nil && (ref.flags&fRestored != 0 || ref.health() != nil && ref.health()[r.Region])) {
				c.fail(RegionConsistency, "retained checkpoint %d: region %s references %d, where it did not complete healthy",
					k.ID, fsm.RegionName(r.Region), r.Checkpoint)
			}
		}
		return true
	})
	// EachPending reads the core's own sets (no copies); nothing here steps.
	timeout := s.Effective().TimeoutMs
	s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting {
			for _, r := range p.Refs() {
				alive = append(alive, r.Checkpoint)
			}
		}
		if rec := c.rec(p.ID); rec != nil {
			for _, r := range rec.failedOver() {
				for _, t := range c.topo.RegionTasks(r) {
					if p.Acked(t) {
						c.fail(NoOrphanState, "checkpoint %d keeps the ack of %s after region %s failed over",
							p.ID, c.topo.TaskName(t), fsm.RegionName(r))
						break
					}
				}
			}
		}
		if want := p.TriggerAt + timeout; p.Deadline != want {
			c.fail(ConfigAtomic, "checkpoint %d: deadline %d, trigger time + timeout in force = %d", p.ID, p.Deadline, want)
		}
		return true
	})
	for i := range c.recs {
		if id := c.recs[i].id; c.recs[i].flags&fOwned != 0 && !slices.Contains(alive, id) {
			c.fail(NoLeak, "checkpoint %d is neither retained nor referenced nor pending, and was not discarded", id)
		}
	}
	eff := s.Effective()
	want := fsm.EffectiveConfig{IntervalMs: c.tab.cfg.IntervalMs, TimeoutMs: c.tab.cfg.TimeoutMs}
	if c.hasConfirmed {
		want = c.confirmed
	}
	if eff != want {
		name := ConfigAtomic
		if ev.Type == fsm.EvRecover {
			name = DurableOverrides
		}
		c.fail(name, "effective config %+v, the last confirmed patch (or the defaults) says %+v", eff, want)
	}
}
