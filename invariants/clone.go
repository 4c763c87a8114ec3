package invariants

import (
	"encoding/binary"
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// Clone returns a deep copy of the checker: the copy and the original check
// different continuations of one history independently. The explorer keeps a
// checker beside each stored state, so that checking a successor costs one
// step instead of a replay from the start (issue 17).
func (c *Checker) Clone() *Checker {
	// One allocation for a small memory: the explorer keeps a clone for
	// every new memory it meets.
	box := new(cloneBox)
	d := &box.c
	*d = *c
	d.out, d.buf = nil, nil
	// A record's sets are never written in place (memory.go): the copies
	// may share them.
	d.recs = appendInto(box.recs[:0], c.recs)
	if c.latestRefs != nil {
		d.latestRefs = appendInto(box.refs[:0], c.latestRefs)
	}
	return d
}

// cloneBox is a clone with room for a small memory's records and latest
// refs (a longer list gets its own array when copied in).
type cloneBox struct {
	c    Checker
	recs [4]idRec
	refs [4]int64
}

// appendInto appends src to dst, capped at dst's capacity: a clone that
// outgrows its box moves to an array of its own.
func appendInto[T any](dst, src []T) []T {
	if len(src) > cap(dst) {
		return slices.Clone(src)
	}
	return append(dst[:0:cap(dst)], src...)
}

// CloneInto makes d a deep copy of c, like Clone, reusing d's storage: the
// explorer checks each step on one scratch checker per worker and keeps a
// Clone only when the memory it reaches is new (issue 17).
func (c *Checker) CloneInto(d *Checker) {
	recs, refs, buf := d.recs[:0], d.latestRefs[:0], d.buf
	*d = *c
	d.out, d.buf = nil, buf
	d.recs = append(recs, c.recs...) // records' slices are shared, as in Clone
	if c.latestRefs != nil {
		d.latestRefs = append(refs, c.latestRefs...)
	}
}

// AppendKey appends a canonical encoding of everything in the checker that
// decides future verdicts: two checkers of one job with equal keys report the
// same violations for every continuation. It leaves out the topology and the
// base configuration (fixed per job) and the last step's output. rl renames
// subtasks, regions and times as for fsm's AppendKeyRelabeled (nil: none), so
// that a (state, checker) pair can be canonicalized under the job's symmetries.
// clone_test.go fails when a Checker field is added but not encoded.
func (c *Checker) AppendKey(b []byte, rl *fsm.Relabel) []byte {
	// Without renaming (the explorer's memo keys, and every key without
	// symmetry) the sets go out as they are: they are ascending already.
	ident := rl.Identity()
	b = slices.Grow(b, 48+len(c.recs)*(16+len(c.latestRefs))+len(c.latestRefs)*2)
	b = binary.AppendVarint(b, c.lastTrigger)
	b = binary.AppendVarint(b, c.sourcesForceFrom)
	b = binary.AppendVarint(b, c.lastStored)
	// The records in id order (compact keeps no empty one): flags, then the
	// values the flags say are there.
	b = binary.AppendUvarint(b, uint64(len(c.recs)))
	for i := range c.recs {
		r := &c.recs[i]
		b = binary.AppendVarint(b, r.id)
		b = binary.AppendUvarint(b, uint64(r.flags))
		if r.flags&fHasKind != 0 {
			b = append(b, byte(r.kind))
		}
		switch h := r.health(); {
		case h == nil:
			b = append(b, 0)
		case ident:
			b = binary.AppendUvarint(append(b, 1), uint64(len(h)))
			for _, v := range h {
				b = append(b, boolByte(v))
			}
		default:
			b = appendRegionBools(append(b, 1), h, rl)
		}
		switch {
		case r.flags&fNotified == 0:
		case ident:
			b = appendAscending(b, r.notified())
		default:
			b = appendRenamed(b, r.notified(), func(t fsm.TaskID) int64 { return int64(rl.Task(t)) })
		}
		switch {
		case r.flags&fFailedOver == 0:
		case ident:
			b = appendAscending(b, r.failedOver())
		default:
			b = appendRenamed(b, r.failedOver(), func(g int) int64 { return int64(rl.Region(g)) })
		}
	}
	b = append(b, boolByte(c.latestRefs != nil))
	if c.latestRefs != nil && ident {
		for _, id := range c.latestRefs {
			b = binary.AppendVarint(b, id)
		}
	} else if c.latestRefs != nil {
		var small [16]int64
		renamed := small[:0]
		if len(c.latestRefs) > len(small) {
			renamed = make([]int64, 0, len(c.latestRefs))
		}
		renamed = renamed[:len(c.latestRefs)]
		for r, id := range c.latestRefs {
			renamed[rl.Region(r)] = id
		}
		for _, id := range renamed {
			b = binary.AppendVarint(b, id)
		}
	}
	b = binary.AppendVarint(b, int64(c.failures))
	b = binary.AppendVarint(b, c.lastSucceeded)
	b = append(b, boolByte(c.hasConfirmed))
	if e := c.confirmed; c.hasConfirmed {
		b = binary.AppendVarint(b, e.IntervalMs)
		b = binary.AppendVarint(b, e.TimeoutMs)
		b = append(b, boolByte(e.OverridesActive))
	}
	// prune.go: ids below floor count as finished; pruneAt decides when the
	// floor moves next.
	b = binary.AppendVarint(b, c.floor)
	return binary.AppendVarint(b, int64(c.pruneAt))
}

// appendRenamed appends a set of subtasks or regions, renamed, in ascending
// order of the new names.
func appendRenamed[K any](b []byte, set []K, rename func(K) int64) []byte {
	var small [16]int64
	keys := small[:0]
	for _, k := range set {
		keys = append(keys, rename(k))
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendVarint(b, k)
	}
	return b
}

// appendAscending appends an ascending set as appendRenamed does with no
// renaming.
func appendAscending[K fsm.TaskID | int](b []byte, set []K) []byte {
	b = binary.AppendUvarint(b, uint64(len(set)))
	for _, k := range set {
		b = binary.AppendVarint(b, int64(k))
	}
	return b
}

// appendRegionBools appends a per-region table in the order of the new region
// numbers.
func appendRegionBools(b []byte, h []bool, rl *fsm.Relabel) []byte {
	var small [64]bool
	var renamed []bool
	if len(h) <= len(small) {
		renamed = small[:len(h)]
	} else {
		renamed = make([]bool, len(h))
	}
	for r, v := range h {
		renamed[rl.Region(r)] = v
	}
	b = binary.AppendUvarint(b, uint64(len(renamed)))
	for _, v := range renamed {
		b = append(b, boolByte(v))
	}
	return b
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// Clone returns a deep copy of the timing checker (see Checker.Clone).
func (c *Timing) Clone() *Timing {
	d := *c
	d.out = nil
	d.finished = slices.Clone(c.finished) // the task lists are never written in place
	return &d
}

// CloneInto makes d a deep copy of c (see Checker.CloneInto).
func (c *Timing) CloneInto(d *Timing) {
	*d = *c
	d.out = nil // the task lists are never written in place: d shares them
}

// AppendKey appends a canonical encoding of the timing checker's memory (see
// Checker.AppendKey): the subtasks finished since each pending checkpoint's
// trigger and the first periodic request's due time.
func (c *Timing) AppendKey(b []byte, rl *fsm.Relabel) []byte {
	b = binary.AppendUvarint(b, uint64(len(c.finished)))
	for _, f := range c.finished {
		b = binary.AppendVarint(b, f.id)
		if rl.Identity() {
			b = appendAscending(b, f.tasks)
		} else {
			b = appendRenamed(b, f.tasks, func(t fsm.TaskID) int64 { return int64(rl.Task(t)) })
		}
	}
	return binary.AppendVarint(b, rl.Time(c.startDue))
}

// Shift moves every absolute time the timing checker remembers by d (the
// first periodic request's due time): the memory of the same history with
// the clock shifted by d. The checks compare times only with each other and
// with durations, so the shifted checker judges the shifted history alike.
func (c *Timing) Shift(d int64) { c.startDue += d }
