package invariants

import (
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// stepEffects walks the effects of one step in order, checking the invariants
// that are about order and history.
func (c *Checker) stepEffects(ev fsm.Event, effs []fsm.Effect, s *fsm.State) {
	lastResolvedForced := false // I-TierTwoReset: the last counter-moving effect resolved a forced checkpoint
	lastResolvedID := int64(0)
	counterMoved := false
	// R23 reads this step's earlier effects (its persists, its
	// coordinator_fallbacks) straight from effs[:i]: no copies, so the
	// explorer's steps allocate nothing here (issue 17).
	for i := range effs {
		e := &effs[i]
		switch e.Type {
		case fsm.EffTrigger:
			// R14: the id counter is made durable, past this id, just before
			// the trigger leaves.
			if i == 0 || effs[i-1].Type != fsm.EffPersistIDCounter || effs[i-1].NextID <= e.Checkpoint {
				c.fail(MonotonicIds, "trigger %d is not immediately preceded by persist_id_counter with next_id > %d (R14)",
					e.Checkpoint, e.Checkpoint)
			}
			c.onTrigger(e)
		case fsm.EffCoordinatorFallback:
			if slices.ContainsFunc(effs[:i], func(p fsm.Effect) bool { return p.Type == fsm.EffPersist && p.Checkpoint == e.Checkpoint }) {
				c.fail(RuleCompletionOrder, "coordinator_fallback of checkpoint %d after its persist", e.Checkpoint)
			}
		case fsm.EffPersist:
			c.checkFallbacks(e, effs[:i])
		case fsm.EffCompleted:
			c.onCompleted(ev, e)
			if e.Kind == fsm.KindCheckpoint {
				counterMoved = true
				lastResolvedForced, lastResolvedID = c.has(e.Checkpoint, fForced), e.Checkpoint
			}
		case fsm.EffNotifyComplete:
			c.onNotifyComplete(e)
		case fsm.EffAbort:
			c.onAbort(e)
			// A subsumed checkpoint ends because a later one completed; that
			// completion sets the counter (R25), so it resolves no forcing by itself.
			if c.has(e.Checkpoint, fForced) && e.Reason != fsm.ReasonSubsumed {
				counterMoved, lastResolvedForced, lastResolvedID = true, true, e.Checkpoint
			}
		case fsm.EffDiscard:
			c.onDiscard(e, s)
		case fsm.EffWarn:
			if e.Code == fsm.WarnNoProgress {
				// The core caught itself about to loop: a due item that did not
				// move on (R10: everything due happens, once).
				c.fail(RuleDueFirst, "the core stopped a step that made no progress: %s", e.Message)
			}
		case fsm.EffFailJob:
			c.onFailJob(e)
		case fsm.EffConfigApplied:
			c.confirmed, c.hasConfirmed = fsm.EffectiveConfig{IntervalMs: e.IntervalMs, TimeoutMs: e.TimeoutMs, OverridesActive: true}, true
		}
	}
	// After a coordinator failover the counter is read back from the latest
	// completed checkpoint's metadata (R50 wins over R25's reset: the reset was
	// never durable), so a forced checkpoint ended `recovered` is exempt.
	// Forcing may be set again in the same step, after the reset, when the event
	// finishes the last source (R25's last sentence).
	forcedAgain := s.AllSourcesForcing() && ev.Type == fsm.EvTaskFinished && allSourcesFinished(s)
	// A checkpoint triggered before all sources finished cannot end the forcing
	// their finishing started (R25), not even by a tier-2 reset.
	if s.AllSourcesForcing() && c.sourcesForceFrom > 0 && lastResolvedID < c.sourcesForceFrom {
		forcedAgain = true
	}
	if counterMoved && lastResolvedForced && ev.Type != fsm.EvRecover && (s.Consecutive() != 0 || s.AllSourcesForcing() && !forcedAgain) {
		c.fail(TierTwoReset, "a forced-global checkpoint resolved but consecutive_regional = %d, force_next = %t",
			s.Consecutive(), s.AllSourcesForcing())
	}
	if c.failures > c.tab.cfg.TolerableFailures && s.Job() == fsm.JobRunning {
		c.fail(FailureAccounting, "%d counted failures since the last success exceed tolerable_failures %d but the job runs",
			c.failures, c.tab.cfg.TolerableFailures)
	}
	if ev.Type == fsm.EvRecover {
		c.failures, c.lastSucceeded = 0, 0
		c.unsetAll(fCounted)
	}
	// The forcing starts (again) whenever the last source finishes, or at a
	// recovery with every source finished; it lasts until a checkpoint
	// triggered since resolves, even if a source runs again meanwhile. Ids
	// triggered later in the same step count as before it (the check is then
	// only weaker, never wrong).
	switch {
	case !s.AllSourcesForcing():
		c.sourcesForceFrom = 0
	case allSourcesFinished(s) && (ev.Type == fsm.EvRecover || ev.Type == fsm.EvTaskFinished && c.isSource(ev.Task) ||
		c.sourcesForceFrom == 0):
		c.sourcesForceFrom = c.lastTrigger + 1
	}
}

// RuleCompletionOrder names violations of R23's order at completion: the
// coordinators of the failed regions fall back, then the metadata is persisted.
const RuleCompletionOrder = "R23"

// checkFallbacks is R23: before a checkpoint's persist, exactly one
// coordinator_fallback for each vertex with a coordinator and a subtask in a
// region that uses older state, naming exactly those regions and their refs.
// prior are the step's effects before the persist; the fallbacks are those of
// its checkpoint.
//
// It allocates nothing unless it fails: the vertices a failed region needs
// a fallback of are the checker's own table (jobTables.coords), and the
// refs a vertex's fallback must name are persist.Refs filtered in place.
func (c *Checker) checkFallbacks(persist *fsm.Effect, prior []fsm.Effect) {
	id := persist.Checkpoint
	for i := range prior {
		f := &prior[i]
		if f.Type != fsm.EffCoordinatorFallback || f.Checkpoint != id {
			continue
		}
		if slices.ContainsFunc(prior[:i], func(g fsm.Effect) bool {
			return g.Type == fsm.EffCoordinatorFallback && g.Checkpoint == id && g.Vertex == f.Vertex
		}) {
			c.fail(RuleCompletionOrder, "checkpoint %d: two coordinator_fallback effects for vertex %d", id, f.Vertex)
		}
		if !c.fallbackRefsMatch(f.Vertex, persist.Refs, f.Refs) {
			c.fail(RuleCompletionOrder, "checkpoint %d: coordinator_fallback of vertex %d names %v, its failed regions are %v",
				id, f.Vertex, f.Refs, c.fallbackRefs(f.Vertex, persist.Refs))
		}
	}
	if len(persist.Refs) == 0 {
		return // no region uses older state: no fallback is needed
	}
	for v := range c.topo.Vertices() {
		if !c.needsFallback(v, persist.Refs) {
			continue
		}
		if !slices.ContainsFunc(prior, func(g fsm.Effect) bool {
			return g.Type == fsm.EffCoordinatorFallback && g.Checkpoint == id && g.Vertex == v
		}) {
			c.fail(RuleCompletionOrder, "checkpoint %d persisted without the coordinator_fallback of vertex %d (regions %v)",
				id, v, c.fallbackRefs(v, persist.Refs))
		}
	}
}

// needsFallback reports whether vertex v has a coordinator and a subtask in
// one of the regions refs names.
func (c *Checker) needsFallback(v int, refs []fsm.RegionRef) bool {
	for _, ref := range refs {
		if c.regionHasCoordinator(ref.Region, v) {
			return true
		}
	}
	return false
}

// fallbackRefsMatch reports whether got is exactly the refs of the regions
// in which vertex v has a coordinator and a subtask, in the order of refs.
func (c *Checker) fallbackRefsMatch(v int, refs, got []fsm.RegionRef) bool {
	j := 0
	for _, ref := range refs {
		if !c.regionHasCoordinator(ref.Region, v) {
			continue
		}
		if j == len(got) || got[j] != ref {
			return false
		}
		j++
	}
	return j == len(got)
}

// fallbackRefs returns the refs vertex v's fallback must name (for messages).
func (c *Checker) fallbackRefs(v int, refs []fsm.RegionRef) []fsm.RegionRef {
	var out []fsm.RegionRef
	for _, ref := range refs {
		if c.regionHasCoordinator(ref.Region, v) {
			out = append(out, ref)
		}
	}
	return out
}

func (c *Checker) onTrigger(e *fsm.Effect) {
	if e.Checkpoint <= c.lastTrigger {
		c.fail(MonotonicIds, "checkpoint %d triggered after %d", e.Checkpoint, c.lastTrigger)
	}
	c.lastTrigger = e.Checkpoint
	r := c.recFor(e.Checkpoint)
	r.kind = e.Kind
	r.flags |= fHasKind | fHasForced
	if e.ForcedGlobal {
		r.flags |= fForced
	} else {
		r.flags &^= fForced
	}
	if e.ForcedGlobal && e.Kind != fsm.KindCheckpoint {
		c.fail(ConsecutiveBound, "%s %d is marked forced global", e.Kind, e.Checkpoint)
	}
}

func (c *Checker) onCompleted(ev fsm.Event, e *fsm.Effect) {
	id := e.Checkpoint
	if ev.Type != fsm.EvPersisted || ev.Checkpoint != id {
		c.fail(NotifySafety, "checkpoint %d completed on %s, not on its persisted event (R23)", id, ev.Type)
	}
	if c.has(id, fEnded|fCompleted) || c.finished(id) {
		c.fail(NotifySafety, "checkpoint %d completed after it ended", id)
	}
	c.set(id, fCompleted)
	if isSavepoint(e.Kind) {
		if e.Mode != fsm.ModeGlobal || len(e.Refs) > 0 {
			c.fail(SavepointGlobal, "%s %d completed %s with %d older refs", e.Kind, id, e.Mode, len(e.Refs))
		}
	} else {
		if id <= c.lastStored {
			c.fail(MonotonicIds, "checkpoint %d entered the store after %d", id, c.lastStored)
		}
		c.lastStored = id
		c.set(id, fOwned)
		if e.Mode == fsm.ModeRegional && c.has(id, fForced) {
			c.fail(ConsecutiveBound, "forced-global checkpoint %d completed regionally", id)
		}
	}
	healthy := c.scratch().bools.carve(c.topo.NumRegions())
	for r := range healthy {
		ref := refOf(e.Refs, e.Checkpoint, r)
		healthy[r] = ref == id
		if ref > id {
			c.fail(RegionConsistency, "checkpoint %d: region %s references later checkpoint %d", id, fsm.RegionName(r), ref)
		} else if ref != id && !c.has(ref, fRestored) && !(c.healthyIn(ref, r)) {
			c.fail(RegionConsistency, "checkpoint %d: region %s references %d, where it did not complete healthy", id, fsm.RegionName(r), ref)
		}
		// R21: a failed region uses exactly its state in the latest completed
		// checkpoint, never older state it was already notified past.
		if !healthy[r] && !isSavepoint(e.Kind) && c.latestRefs != nil && ref != c.latestRefs[r] {
			c.fail(RegionConsistency, "checkpoint %d: region %s references %d, but its state in the latest completed checkpoint is %d",
				id, fsm.RegionName(r), ref, c.latestRefs[r])
		}
		if healthy[r] && c.failedOverHas(id, r) {
			c.fail(NoOrphanState, "checkpoint %d holds state of region %s from before its failover", id, fsm.RegionName(r))
		}
	}
	if (e.Mode == fsm.ModeRegional) != (len(e.Refs) > 0) {
		c.fail(RegionConsistency, "checkpoint %d: mode %s with %d older refs", id, e.Mode, len(e.Refs))
	}
	r := c.recFor(id)
	c.setSets(r, healthy, r.notified(), r.failedOver())
	if !isSavepoint(e.Kind) {
		if c.latestRefs == nil {
			c.latestRefs = make([]int64, c.topo.NumRegions())
		}
		for r := range c.latestRefs {
			c.latestRefs[r] = refOf(e.Refs, e.Checkpoint, r)
		}
	}
	if id > c.lastSucceeded {
		c.lastSucceeded = id
		c.failures = 0
		c.unsetAll(fCounted)
	}
	c.unset(id, fFailedOver)
}

func (c *Checker) healthyIn(ref int64, r int) bool {
	h := c.healthyOf(ref)
	return h != nil && h[r]
}

func (c *Checker) onNotifyComplete(e *fsm.Effect) {
	id := e.Checkpoint
	if !c.has(id, fCompleted) {
		c.fail(NotifySafety, "checkpoint %d notified complete before it completed (or after it ended)", id)
		return
	}
	r := c.recFor(id)
	r.flags |= fNotified
	healthy, old := r.health(), r.notified()
	// The newly notified subtasks are collected first and merged into the
	// record's set once: one new set per notification, not one per subtask.
	add, ascending := c.scratch().add[:0], true
	e.Tasks.All(func(t fsm.TaskID) bool {
		_, twice := slices.BinarySearch(old, t)
		switch n := len(add); {
		case twice:
		case ascending && (n == 0 || add[n-1] < t):
			add = append(add, t)
		case slices.Contains(add, t):
			twice = true
		default:
			add, ascending = append(add, t), false
		}
		if twice {
			c.fail(NotifySafety, "subtask %s notified twice of checkpoint %d", c.topo.TaskName(t), id)
		}
		if !healthy[c.topo.RegionOf(t)] {
			c.fail(NotifySafety, "subtask %s notified of checkpoint %d though its region uses older state",
				c.topo.TaskName(t), id)
		}
		return true
	})
	c.buf.add = add
	if len(add) == 0 {
		return
	}
	if !ascending {
		slices.Sort(add)
	}
	set := c.scratch().tasks.carve(len(old) + len(add))
	i, j := 0, 0
	for k := range set {
		if j == len(add) || i < len(old) && old[i] < add[j] {
			set[k], i = old[i], i+1
		} else {
			set[k], j = add[j], j+1
		}
	}
	c.setSets(r, healthy, set, r.failedOver())
}

func (c *Checker) onAbort(e *fsm.Effect) {
	id := e.Checkpoint
	if c.has(id, fCompleted) || c.finished(id) {
		c.fail(NotifySafety, "checkpoint %d aborted after it completed (or ended)", id)
	}
	c.set(id, fEnded)
	c.unset(id, fFailedOver)
	// R30, recomputed from the checker's own table (never the core's):
	// counted reasons; savepoints' job-level failures never, stop-with-savepoint
	// never (it fails the job); ids at or below the last success never; each id
	// once.
	kind, _ := c.kindOf(id)
	want := countedReasons[string(e.Reason)] && kind != fsm.KindStopWithSavepoint &&
		!(kind == fsm.KindSavepoint && (e.Reason == "expired" || e.Reason == "finalize_failed")) &&
		id > c.lastSucceeded && !c.has(id, fCounted)
	if want != e.Counted {
		c.fail(FailureAccounting, "abort of %d (%s, %s): counted = %t, R30 says %t", id, kind, e.Reason, e.Counted, want)
	}
	if e.Counted {
		c.set(id, fCounted)
		c.failures++
	}
}

// countedReasons is SEMANTICS R30's list of counted reasons, kept here from
// the spec so that a core that counts the wrong reasons is caught: every other
// reason (the decline sub-types, subsumed, region_failover, recovered,
// not_all_running, too_many_requests, min_pause, coordinator suspend or
// shutdown) is not counted.
var countedReasons = map[string]bool{"declined": true, "async_exception": true, "expired": true, "finalize_failed": true}

func (c *Checker) onFailJob(e *fsm.Effect) {
	if e.Reason != fsm.ReasonTolerableExceeded {
		return
	}
	if c.failures <= c.tab.cfg.TolerableFailures {
		c.fail(FailureAccounting, "job failed for tolerable failures with %d counted (tolerable %d)",
			c.failures, c.tab.cfg.TolerableFailures)
	}
	c.failures = 0
	c.unsetAll(fCounted)
}

func (c *Checker) onDiscard(e *fsm.Effect, s *fsm.State) {
	id := e.Checkpoint
	if c.has(id, fDiscarded) || c.finished(id) {
		c.fail(RetentionSafety, "checkpoint %d discarded twice (or after it ended)", id)
	}
	if c.has(id, fNoClaim) {
		c.fail(RetentionSafety, "no_claim snapshot %d discarded", id)
	}
	c.set(id, fDiscarded)
	c.unset(id, fOwned)
	s.EachKnown(func(k fsm.StoredCheckpoint) bool {
		if k.Retained && (k.ID == id || refsName(k.Refs, id)) {
			c.fail(RetentionSafety, "checkpoint %d discarded while retained checkpoint %d uses it", id, k.ID)
		}
		return true
	})
	s.EachPending(func(p fsm.PendingInfo) bool {
		if p.Persisting && refsName(p.Refs(), id) {
			c.fail(RetentionSafety, "checkpoint %d discarded while persisting checkpoint %d uses it", id, p.ID)
		}
		return true
	})
}

func (c *Checker) isSource(t fsm.TaskID) bool {
	for _, id := range c.topo.Sources() {
		if id == t {
			return true
		}
	}
	return false
}

func allSourcesFinished(s *fsm.State) bool {
	for _, id := range s.Topology().Sources() {
		if !s.TaskFinished(id) {
			return false
		}
	}
	return true
}

func refsName(refs []fsm.RegionRef, id int64) bool {
	for _, r := range refs {
		if r.Checkpoint == id {
			return true
		}
	}
	return false
}
