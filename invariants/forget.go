package invariants

import (
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// Forget reduces the checker's memory to what a future check of this core can
// still read, so that two histories that differ only in facts no future event
// can make relevant give checkers with equal keys (AppendKey). The explorer
// calls it after every step (issue 17): its nodes are (core state, checker,
// budget) triples, and without it the same core state meets the checker in
// many memories that decide nothing.
//
// What is forgotten, and why no future verdict of the core depends on it:
//
// An id is over once it is neither pending, nor in the store (Known), nor
// named by a ref of a stored or persisting checkpoint, and is below the next
// id. A correct core never acts on such an id again: it triggers only new ids
// (R14), completes, aborts and notifies only pending ones (R23, R26), discards
// only stored ones (R40), and a completion's refs name the latest completed
// checkpoint's state, which is stored (R21). Every check that reads a fact of
// an id runs when the core acts on that id — its completion, abort, discard,
// notification, or its presence in the store — except I-NoLeak, which reads
// the owned flag of every id after every step, and the restored and no_claim
// flags, which describe the start. So an over id keeps those three flags and
// whether it was forced global (I-TierTwoReset reads it when the id resolves,
// so a core that completes it again is still judged alike), forgets the rest
// (kind, health, notified subtasks, failed-over regions, counted), and is
// marked fOver: like ids below prune's floor it then
// reads as ended and discarded (finished), so a core that acts on it anyway
// still fails the check it fails (completed or aborted after it ended,
// discarded twice, kept after discarding).
//
// Forgetting less is always sound, so Forget looks at the store only when
// some id the checker itself believes gone (aborted, discarded, or a
// completed savepoint, which is never stored) is not yet marked over; an id
// the core drops without saying so stays remembered.
func (c *Checker) Forget(s *fsm.State) {
	// The records' own flags first: most steps leave no id the checker
	// believes gone unmarked, and then the core's state is not read at all.
	next := s.NextID()
	believedGone := func(r *idRec) bool {
		return r.flags&fOver == 0 && r.id < next &&
			(r.flags&(fEnded|fDiscarded) != 0 || r.flags&(fCompleted|fHasKind) == fCompleted|fHasKind && isSavepoint(r.kind))
	}
	first := -1
	for i := range c.recs {
		if believedGone(&c.recs[i]) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	var small [32]int64
	live := small[:0] // pending and stored ids and the ids their refs name
	s.EachPending(func(p fsm.PendingInfo) bool {
		live = append(live, p.ID)
		for _, r := range p.Refs() {
			live = append(live, r.Checkpoint)
		}
		return true
	})
	s.EachKnown(func(k fsm.StoredCheckpoint) bool {
		live = append(live, k.ID)
		for _, r := range k.Refs {
			live = append(live, r.Checkpoint)
		}
		return true
	})
	const kept = fOwned | fRestored | fNoClaim | fHasForced | fForced
	for i := first; i < len(c.recs); i++ {
		if r := &c.recs[i]; believedGone(r) && !slices.Contains(live, r.id) {
			r.flags = r.flags&kept | fOver
			r.kind, r.sets = 0, nil
		}
	}
}

// Forget reduces the timing checker's memory like Checker.Forget: a first
// periodic request due at or before now can no longer excuse a late schedule
// (R11's check reads it only as "due > startDue", and a due instant more than
// a period after now is after it anyway), so it is moved to now: paths that
// reach one state at different times then meet.
func (c *Timing) Forget(s *fsm.State) {
	c.startDue = max(c.startDue, s.Now())
}

// Forgotten reports whether Forget has reduced id's memory to "over".
func (c *Checker) Forgotten(id int64) bool { return c.has(id, fOver) }
