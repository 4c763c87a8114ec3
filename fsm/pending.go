package fsm

import (
	"fmt"
	"math/bits"
)

// pendingCheckpoint is a triggered checkpoint that has not ended (R15–R23).
//
// Its bookkeeping changes only through its methods (recordAck, stopWaiting,
// failRegion, sealing), which keep these invariants, checked after
// every step by CheckBookkeeping in the property tests:
//
//   - waiting ⊆ triggered, acked ⊆ triggered, waiting ∩ acked = ∅;
//   - waitingCount = |waiting|;
//   - failedCount = |failed|, noFallback = |{r ∈ failed : r cannot fall back}|;
//   - no subtask of a failed region is waiting or acked (R18, R19);
//   - a persisting checkpoint waits for nothing;
//   - at most one pending checkpoint persists (the persist slot, R23:
//     settle is the only place a checkpoint starts persisting, and only while
//     none does; see docs/DECISIONS.md#persist-slot). discardUnneeded relies
//     on it.
type pendingCheckpoint struct {
	id           int64
	kind         Kind
	forced       bool // forced global at trigger (R25)
	regionalPath bool // decided by R18 (not R17): regional mode, plain checkpoint, not forced
	persisting   bool // sealed: every needed ack in, persist effect emitted (R23)
	mode         Mode // with persisting: how it completes (R21)
	triggerAt    int64
	deadline     int64

	triggered    bitset // subtasks that got the trigger (R15)
	waiting      bitset // subtasks whose ack is still needed
	acked        bitset // subtasks whose ack is recorded (dropped when their region fails, R18)
	waitingCount int

	failed        regionSet // regions failed for this checkpoint (R18)
	failedCount   int
	noFallback    int    // failed regions with a coordinator that cannot fall back (R22e)
	activeRegions int    // regions with an unfinished subtask at trigger (R22b)
	firstCause    Reason // the first failure cause (R18)

	// Sizes of the kept acks: a running total on the global path; per region on
	// the regional path (allocated at its first sized ack), where a failed
	// region's acks are dropped and the total is taken at persist.
	stateSize        int64
	checkpointedSize int64
	regionSizes      []ackSizes

	refs        []RegionRef
	consecutive int
}

// newSets gives a new checkpoint its sets in one piece of storage
// (State.spareWords: no allocation on a clone with room): triggered and
// waiting are copies of running, acked is empty, failed an empty set of
// regions. Each has capacity = length, so none can grow into another.
func (p *pendingCheckpoint) newSets(s *State) {
	w, rw := len(s.running), (s.topo.NumRegions()+63)/64
	block := s.spareWords(3*w + rw)
	p.triggered = bitset(block[0:w:w])
	p.waiting = bitset(block[w : 2*w : 2*w])
	p.acked = bitset(block[2*w : 3*w : 3*w])
	p.failed = regionSet(block[3*w:])
	copy(p.triggered, s.running)
	copy(p.waiting, s.running)
}

// ready reports whether a checkpoint has every ack it needs: its deadline no
// longer applies (Flink cancels the timeout when it finalizes).
func (p *pendingCheckpoint) ready() bool { return p.persisting || p.waitingCount == 0 }

// recordAck records task's ack if the checkpoint waits for it (R16) and
// reports whether it did.
func (p *pendingCheckpoint) recordAck(t *Topology, task TaskID, stateSize, checkpointedSize int64) bool {
	if !p.stopWaiting(task) {
		return false
	}
	p.acked.set(task)
	p.addSizes(t, task, stateSize, checkpointedSize)
	return true
}

// stopWaiting stops waiting for task (it acked, finished, or its region
// failed) and reports whether it was waited for.
func (p *pendingCheckpoint) stopWaiting(task TaskID) bool {
	if !p.waiting.has(task) {
		return false
	}
	p.waiting.clear(task)
	p.waitingCount--
	return true
}

// failRegion fails region r for this regional-path checkpoint and drops what
// the region acknowledged for it (R18, R19: no orphan state). It reports
// whether r was not failed yet.
func (p *pendingCheckpoint) failRegion(t *Topology, r int, cause Reason) bool {
	if p.failed.has(r) {
		return false
	}
	p.failed.set(r)
	p.failedCount++
	if !t.RegionSupportsFallback(r) {
		p.noFallback++
	}
	if p.firstCause == "" {
		p.firstCause = cause
	}
	for _, id := range t.RegionTasks(r) {
		p.stopWaiting(id)
		p.acked.clear(id)
	}
	if p.regionSizes != nil {
		p.regionSizes[r] = ackSizes{}
	}
	return true
}

// checkBookkeeping reports the first broken invariant of the type comment.
func (p *pendingCheckpoint) checkBookkeeping(t *Topology) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("checkpoint %d: "+format, append([]any{p.id}, args...)...)
	}
	for w := range p.triggered {
		if p.waiting[w]&^p.triggered[w] != 0 || p.acked[w]&^p.triggered[w] != 0 {
			return bad("a subtask is waited for or acked without a trigger")
		}
		if p.waiting[w]&p.acked[w] != 0 {
			return bad("a subtask is both waited for and acked")
		}
	}
	if n := p.waiting.count(); n != p.waitingCount {
		return bad("waitingCount %d, but %d subtasks are waited for", p.waitingCount, n)
	}
	if n := p.failed.count(); n != p.failedCount {
		return bad("failedCount %d, but %d regions failed", p.failedCount, n)
	}
	noFallback := 0
	for r := p.failed.next(0); r >= 0; r = p.failed.next(r + 1) {
		if !t.RegionSupportsFallback(r) {
			noFallback++
		}
		for _, id := range t.RegionTasks(r) {
			if p.waiting.has(id) || p.acked.has(id) {
				return bad("%s of failed region %s is waited for or acked (R18)", t.TaskName(id), RegionName(r))
			}
		}
	}
	if noFallback != p.noFallback {
		return bad("noFallback %d, but %d failed regions cannot fall back", p.noFallback, noFallback)
	}
	if p.persisting && p.waitingCount != 0 {
		return bad("persisting while %d acks are missing", p.waitingCount)
	}
	return nil
}

// CheckBookkeeping checks the invariants of every pending checkpoint's
// bookkeeping (see pendingCheckpoint): counters that mirror sets, and failed
// regions holding no acks. The property tests call it after every step; nil
// means they hold.
func (s *State) CheckBookkeeping() error {
	persisting := int64(0)
	for i := range s.pending {
		p := &s.pending[i]
		if err := p.checkBookkeeping(s.topo); err != nil {
			return err
		}
		if p.persisting {
			if persisting != 0 {
				return fmt.Errorf("fsm: checkpoints %d and %d persist at once (one persist slot, R23)", persisting, p.id)
			}
			persisting = p.id
		}
	}
	return nil
}

// appendPendingIDs appends the ids of the pending checkpoints to ids: a
// stable view for a loop whose body may end some of them (it looks each id up
// again). Callers pass a small array on their stack, so that the usual one or
// two pending checkpoints cost no allocation.
func (s *State) appendPendingIDs(ids []int64) []int64 {
	for i := range s.pending {
		ids = append(ids, s.pending[i].id)
	}
	return ids
}

// regionSet is a fixed-size set of regions (R3).
type regionSet []uint64

func newRegionSet(n int) regionSet { return make(regionSet, (n+63)/64) }

func (b regionSet) has(r int) bool { return b[r>>6]&(1<<(uint(r)&63)) != 0 }
func (b regionSet) set(r int)      { b[r>>6] |= 1 << (uint(r) & 63) }

func (b regionSet) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// next returns the first member >= r, or -1.
func (b regionSet) next(r int) int { return bitset(b).next(r) }
