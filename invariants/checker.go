package invariants

import (
	"github.com/ckptcore/ckptcore/fsm"
)

// Checker checks every invariant of SEMANTICS §10 after each step. It is
// independent of the core's internals: it reads the state through fsm's views and
// recomputes what it needs from events and effects, so a bug in the core's
// bookkeeping shows up as a violation here rather than being trusted.
//
// Copy a checker with Clone or CloneInto, never by assignment: a copy by
// assignment would share the storage the checker reuses between steps.
type Checker struct {
	topo *fsm.Topology
	tab  *jobTables // derived from topo (tables.go)
	out  []Violation

	lastTrigger int64 // I-MonotonicIds
	lastStored  int64 // I-MonotonicIds: last checkpoint that entered the store
	// recs is what the checker knows of each id, ascending (memory.go): trigger
	// kind, forced, completed / aborted / discarded, health, notified
	// subtasks, failed-over regions, owned / restored / no_claim, counted.
	recs       []idRec
	latestRefs []int64 // per region, its state in the latest completed checkpoint (R21)
	// sourcesForceFrom is the first id triggered after all sources finished (0
	// while some run): only it or a later checkpoint ends that forcing (R25).
	sourcesForceFrom int64

	// I-FailureAccounting, recomputed from Flink's rules (the counted ids
	// are the records' fCounted).
	failures      int
	lastSucceeded int64

	// I-ConfigAtomic, I-DurableOverrides: the last confirmed patch's
	// config, if any (a value, not a pointer: a patch step allocates
	// nothing and clones copy it).
	confirmed    fsm.EffectiveConfig
	hasConfirmed bool

	// prune: ids below floor are over and forgotten; the next prune comes
	// when pruneAt checkpoints are tracked.
	floor   int64
	pruneAt int

	buf *scratch // storage reused between steps, not memory (memory.go); nil until a step needs it
}

// New returns a checker for one history of a job with this topology and base
// configuration.
func New(t *fsm.Topology, cfg fsm.Config) *Checker {
	return &Checker{topo: t, tab: newJobTables(t, cfg)}
}

// Step checks one step: the event the core accepted, the effects it returned and
// the state after it. It returns the violations of this step (nil if none).
func (c *Checker) Step(ev fsm.Event, effs []fsm.Effect, s *fsm.State) []Violation {
	c.out = nil
	if ev.Type == fsm.EvStart && ev.Restore != nil {
		c.noteRestore(ev.Restore)
	}
	if ev.Type == fsm.EvTaskFailed {
		c.noteFailover(ev.Task, s)
	}
	c.stepEffects(ev, effs, s)
	c.checkState(ev, s)
	c.prune(s)
	return c.out
}

func (c *Checker) noteRestore(r *fsm.Restore) {
	ids := []int64{r.Checkpoint}
	for _, ref := range r.Refs {
		ids = append(ids, ref.Checkpoint)
	}
	for _, id := range ids {
		c.set(id, fRestored)
		if r.Mode == fsm.NoClaim {
			c.set(id, fNoClaim)
		} else {
			c.set(id, fOwned)
		}
	}
	c.lastTrigger, c.lastStored, c.lastSucceeded = r.Checkpoint, r.Checkpoint, r.Checkpoint
	c.latestRefs = make([]int64, c.topo.NumRegions())
	for i := range c.latestRefs {
		c.latestRefs[i] = r.Checkpoint
	}
	for _, ref := range r.Refs {
		c.latestRefs[ref.Region] = ref.Checkpoint
	}
}

// noteFailover records that a region restarted from older state; any pending
// checkpoint triggered before must not keep that region's acks (R19).
func (c *Checker) noteFailover(task fsm.TaskID, s *fsm.State) {
	r := c.topo.RegionOf(task)
	s.EachPending(func(p fsm.PendingInfo) bool {
		c.addFailedOver(p.ID, r)
		return true
	})
}
