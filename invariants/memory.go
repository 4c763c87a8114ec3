package invariants

import (
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// The checker's memory of each checkpoint id is one record in a slice sorted
// by id, not an entry in each of a dozen maps: a history touches a handful of
// ids at a time, so a slice is smaller, a Clone is one copy, the key needs no
// sorting, and a lookup is a short search (issue 17: the explorer clones and
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

// idRec is what the checker knows of one checkpoint id: 24 bytes, with its
// sets behind one pointer, since every step of the explorer copies the
// records (CloneInto) and scans them (I-NoLeak).
type idRec struct {
	id    int64
	flags uint16
	kind  fsm.Kind
	sets  *recSets // nil: no set
}

// recSets are the sets of one record. They are never written after they are
// stored (a write stores new ones, cut from the checker's scratch blocks),
// so clones share them.
type recSets struct {
	healthy    []bool       // completed: regions that hold their own state in it (nil: not completed healthy-tracked)
	notified   []fsm.TaskID // ascending
	failedOver []int        // ascending
}

// health returns the per-region health of a completed record (nil if none).
func (r *idRec) health() []bool {
	if r.sets == nil {
		return nil
	}
	return r.sets.healthy
}

// notified returns the subtasks notified of the record's completion.
func (r *idRec) notified() []fsm.TaskID {
	if r.sets == nil {
		return nil
	}
	return r.sets.notified
}

// failedOver returns the regions failed over since the record's trigger.
func (r *idRec) failedOver() []int {
	if r.sets == nil {
		return nil
	}
	return r.sets.failedOver
}

// setSets stores new sets in r (nil when all are empty).
func (c *Checker) setSets(r *idRec, healthy []bool, notified []fsm.TaskID, failedOver []int) {
	if healthy == nil && notified == nil && failedOver == nil {
		r.sets = nil
		return
	}
	s := &c.scratch().sets.carve(1)[0]
	s.healthy, s.notified, s.failedOver = healthy, notified, failedOver
	r.sets = s
}

// rec returns the record of id, or nil.
func (c *Checker) rec(id int64) *idRec {
	if i := c.search(id); i < len(c.recs) && c.recs[i].id == id {
		return &c.recs[i]
	}
	return nil
}

// recFor returns the record of id, adding an empty one if needed.
func (c *Checker) recFor(id int64) *idRec {
	i := c.search(id)
	if i == len(c.recs) || c.recs[i].id != id {
		c.recs = slices.Insert(c.recs, i, idRec{id: id})
	}
	return &c.recs[i]
}

// search returns the index of id's record in recs, or where it would go.
// Every check looks records up (the explorer steps a checker for every
// distinct step, FuzzCore's long inputs keep hundreds of records), so it is
// a plain loop, not a call per probe, and it first tries the slot id would
// have if the ids at the top were dense: the ids a step acts on are mostly
// the latest.
func (c *Checker) search(id int64) int {
	recs := c.recs
	n := len(recs)
	if n == 0 {
		return 0
	}
	if g := int64(n-1) - (recs[n-1].id - id); g >= 0 && g < int64(n) && recs[g].id == id {
		return int(g)
	}
	lo, hi := 0, n
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if recs[m].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
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
	switch f {
	case fNotified:
		c.setSets(r, r.health(), nil, r.failedOver())
	case fFailedOver:
		c.setSets(r, r.health(), r.notified(), nil)
	}
	c.compact()
}

// unsetAll forgets fact f of every id (every completion forgets the counted
// ids: most often there are none, and then nothing is compacted).
func (c *Checker) unsetAll(f uint16) {
	had := false
	for i := range c.recs {
		had = had || c.recs[i].flags&f != 0
		c.recs[i].flags &^= f
	}
	if had {
		c.compact()
	}
}

// compact drops records that hold nothing, so that equal memories have equal
// record lists.
func (c *Checker) compact() {
	c.recs = slices.DeleteFunc(c.recs, func(r idRec) bool { return r.flags == 0 && r.health() == nil })
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
		return r.health()
	}
	return nil
}

// failedOverHas reports whether region g failed over since id's trigger.
func (c *Checker) failedOverHas(id int64, g int) bool {
	r := c.rec(id)
	if r == nil {
		return false
	}
	_, ok := slices.BinarySearch(r.failedOver(), g)
	return ok
}

// addFailedOver records that region g failed over while id was pending.
func (c *Checker) addFailedOver(id int64, g int) {
	r := c.recFor(id)
	r.flags |= fFailedOver
	old := r.failedOver()
	i, ok := slices.BinarySearch(old, g)
	if ok {
		return
	}
	set := c.scratch().ints.carve(len(old) + 1)
	copy(set, old[:i])
	set[i] = g
	copy(set[i+1:], old[i:])
	c.setSets(r, r.health(), r.notified(), set)
}

// scratch is storage the checker reuses between steps so that a step
// allocates (almost) nothing (issue 17: the explorer steps a warm scratch
// checker for every distinct checker step). It is not part of the memory:
// Clone starts without it and CloneInto keeps the target's own, so two
// checkers never share a block.
type scratch struct {
	// The blocks the records' sets are cut from (block.carve).
	sets  block[recSets]
	tasks block[fsm.TaskID] // notified sets
	bools block[bool]       // per-region health
	ints  block[int]        // failed-over sets
	add   []fsm.TaskID      // onNotifyComplete: the subtasks it newly notifies
}

// scratch returns the checker's scratch storage, made on first use.
func (c *Checker) scratch() *scratch {
	if c.buf == nil {
		c.buf = new(scratch)
	}
	return c.buf
}

// block hands out pieces of a block of memory. A block is never rewound: a
// piece once handed out is never written again, which is what lets clones
// share the records' sets. Blocks grow from 16 to 256 elements, so that a
// short-lived checker (one FuzzCore input) does not pay for a long-lived
// one's blocks (the explorer's scratch checker).
type block[T any] struct {
	free []T // the unused tail of the current block
	next int // the size of the next block
}

// carve returns n elements cut from the block (a new block when it has too
// little room), with capacity n: no append reaches the rest.
func (b *block[T]) carve(n int) []T {
	if len(b.free) < n {
		b.next = min(max(2*b.next, 16), 256)
		b.free = make([]T, max(b.next, n))
	}
	s := b.free[:n:n]
	b.free = b.free[n:]
	return s
}
