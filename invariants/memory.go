package invariants

import (
	"cmp"
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// The checker's memory of each checkpoint id is one record in a slice sorted
// by id, not an entry in each of a dozen maps: a history touches a handful of
// ids at a time, so a slice is smaller, a Clone is one copy, the key needs no
// sorting, and a lookup is a short scan (issue 17: the explorer clones and
// keys a checker for every new step it checks).

// Record flags: which facts the checker holds of an id. A fact that maps to a
// value (kind, forced) has a "has" flag and a value.
const (
	fHasKind    uint16 = 1 << iota // the trigger kind is known (kind)
	fHasForced                     // forced global at trigger is known (forced)
	fForced                        // forced global at trigger (I-ConsecutiveBound)
	fDiscarded                     // I-RetentionSafety
	fEnded                         // aborted (I-NotifySafety)
	fCompleted                     // completed
	fOwned                         // completed state the job owns and must discard when unused (I-NoLeak)
	fRestored                      // the restored snapshot or an id its refs name
	fNoClaim                       // never discarded (R41)
	fCounted                       // counted as a failure since the last success (R30)
	fNotified                      // notified holds the subtasks notified of its completion
	fFailedOver                    // failedOver holds the regions failed over since its trigger (I-NoOrphanState)
	fOver                          // over and forgotten (forget.go): reads as finished
)

// idRec is what the checker knows of one checkpoint id. Its slices are never
// written after they are stored (a write stores a new slice), so clones
// share them.
type idRec struct {
	id         int64
	flags      uint16
	kind       fsm.Kind
	healthy    []bool       // completed: regions that hold their own state in it (nil: not completed healthy-tracked)
	notified   []fsm.TaskID // ascending
	failedOver []int        // ascending
}

// rec returns the record of id, or nil.
func (c *Checker) rec(id int64) *idRec {
	if len(c.recs) <= 16 {
		// A short scan beats the search's calls on the few records a
		// history holds at a time (the explorer checks every step).
		for i := range c.recs {
			if r := &c.recs[i]; r.id >= id {
				if r.id == id {
					return r
				}
				return nil
			}
		}
		return nil
	}
	i, ok := slices.BinarySearchFunc(c.recs, id, cmpRecID)
	if !ok {
		return nil
	}
	return &c.recs[i]
}

// recFor returns the record of id, adding an empty one if needed.
func (c *Checker) recFor(id int64) *idRec {
	i, ok := slices.BinarySearchFunc(c.recs, id, cmpRecID)
	if !ok {
		c.recs = slices.Insert(c.recs, i, idRec{id: id})
	}
	return &c.recs[i]
}

// has reports whether the checker holds fact f of id.
func (c *Checker) has(id int64, f uint16) bool {
	r := c.rec(id)
	return r != nil && r.flags&f != 0
}

// set records fact f of id.
func (c *Checker) set(id int64, f uint16) { c.recFor(id).flags |= f }

// unset forgets fact f of id (and the record, once it holds nothing).
func (c *Checker) unset(id int64, f uint16) {
	r := c.rec(id)
	if r == nil || r.flags&f == 0 {
		return
	}
	r.flags &^= f
	if f == fNotified {
		r.notified = nil
	}
	if f == fFailedOver {
		r.failedOver = nil
	}
	c.compact()
}

// unsetAll forgets fact f of every id.
func (c *Checker) unsetAll(f uint16) {
	for i := range c.recs {
		c.recs[i].flags &^= f
	}
	c.compact()
}

// compact drops records that hold nothing, so that equal memories have equal
// record lists.
func (c *Checker) compact() {
	c.recs = slices.DeleteFunc(c.recs, func(r idRec) bool { return r.flags == 0 && r.healthy == nil })
}

// kindOf returns the trigger kind of id, if known.
func (c *Checker) kindOf(id int64) (fsm.Kind, bool) {
	r := c.rec(id)
	if r == nil || r.flags&fHasKind == 0 {
		return 0, false
	}
	return r.kind, true
}

// numKinds is the number of ids whose kind the checker knows (prune's measure).
func (c *Checker) numKinds() int {
	n := 0
	for i := range c.recs {
		if c.recs[i].flags&fHasKind != 0 {
			n++
		}
	}
	return n
}

// healthyOf returns the per-region health of completed id (nil if unknown).
func (c *Checker) healthyOf(id int64) []bool {
	if r := c.rec(id); r != nil {
		return r.healthy
	}
	return nil
}

// failedOverHas reports whether region g failed over since id's trigger.
func (c *Checker) failedOverHas(id int64, g int) bool {
	r := c.rec(id)
	if r == nil {
		return false
	}
	_, ok := slices.BinarySearch(r.failedOver, g)
	return ok
}

// addFailedOver records that region g failed over while id was pending.
func (c *Checker) addFailedOver(id int64, g int) {
	r := c.recFor(id)
	r.flags |= fFailedOver
	i, ok := slices.BinarySearch(r.failedOver, g)
	if ok {
		return
	}
	r.failedOver = slices.Insert(slices.Clip(slices.Clone(r.failedOver)), i, g)
}

// addNotified records that subtask t was notified of id's completion; it
// reports whether it was already.
func (c *Checker) addNotified(id int64, t fsm.TaskID) bool {
	r := c.recFor(id)
	r.flags |= fNotified
	i, ok := slices.BinarySearch(r.notified, t)
	if ok {
		return true
	}
	r.notified = slices.Insert(slices.Clip(slices.Clone(r.notified)), i, t)
	return false
}

// cmpRecID orders a record against an id, for the binary searches over recs
// (sorted by id).
func cmpRecID(r idRec, id int64) int { return cmp.Compare(r.id, id) }
