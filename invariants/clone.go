package invariants

import (
	"cmp"
	"encoding/binary"
	"maps"
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// Clone returns a deep copy of the checker: the copy and the original check
// different continuations of one history independently. The explorer keeps a
// checker beside each stored state, so that checking a successor costs one
// step instead of a replay from the start (issue 17).
func (c *Checker) Clone() *Checker {
	d := *c
	d.out = nil
	d.kinds = maps.Clone(c.kinds)
	d.forced = maps.Clone(c.forced)
	d.triggerAt = maps.Clone(c.triggerAt)
	// The per-checkpoint healthy slices are written once (onCompleted) and
	// never changed: the copies may share them.
	d.healthy = maps.Clone(c.healthy)
	d.discarded = maps.Clone(c.discarded)
	d.ended = maps.Clone(c.ended)
	d.completed = maps.Clone(c.completed)
	d.notified = make(map[int64]map[fsm.TaskID]bool, len(c.notified))
	for id, m := range c.notified {
		d.notified[id] = maps.Clone(m)
	}
	d.failedOver = make(map[int64]map[int]bool, len(c.failedOver))
	for id, m := range c.failedOver {
		d.failedOver[id] = maps.Clone(m)
	}
	d.owned = maps.Clone(c.owned)
	d.restored = maps.Clone(c.restored)
	d.noClaimIDs = maps.Clone(c.noClaimIDs)
	d.latestRefs = slices.Clone(c.latestRefs)
	d.countedIDs = maps.Clone(c.countedIDs)
	if c.confirmed != nil {
		e := *c.confirmed
		d.confirmed = &e
	}
	return &d
}

// AppendKey appends a canonical encoding of everything in the checker that
// decides future verdicts: two checkers of one job with equal keys report the
// same violations for every continuation. It leaves out the topology and the
// base configuration (fixed per job) and the last step's output. rl renames
// subtasks, regions and times as for fsm's AppendKeyRelabeled (nil: none), so
// that a (state, checker) pair can be canonicalized under the job's symmetries.
// clone_test.go fails when a Checker field is added but not encoded.
func (c *Checker) AppendKey(b []byte, rl *fsm.Relabel) []byte {
	b = binary.AppendVarint(b, c.lastTrigger)
	b = binary.AppendVarint(b, c.sourcesForceFrom)
	b = binary.AppendVarint(b, c.lastStored)
	b = appendMap(b, c.kinds, func(b []byte, k fsm.Kind) []byte { return append(b, byte(k)) })
	b = appendMap(b, c.forced, appendBool)
	b = appendMap(b, c.triggerAt, func(b []byte, t int64) []byte { return binary.AppendVarint(b, rl.Time(t)) })
	b = appendMap(b, c.healthy, func(b []byte, h []bool) []byte { return appendRegionBools(b, h, rl) })
	b = appendMap(b, c.discarded, appendBool)
	b = appendMap(b, c.ended, appendBool)
	b = appendMap(b, c.completed, appendBool)
	b = appendMap(b, c.notified, func(b []byte, m map[fsm.TaskID]bool) []byte {
		return appendRenamedSet(b, m, func(t fsm.TaskID) int64 { return int64(rl.Task(t)) })
	})
	b = appendMap(b, c.failedOver, func(b []byte, m map[int]bool) []byte {
		return appendRenamedSet(b, m, func(r int) int64 { return int64(rl.Region(r)) })
	})
	b = appendMap(b, c.owned, appendBool)
	b = appendMap(b, c.restored, appendBool)
	b = appendMap(b, c.noClaimIDs, appendBool)
	b = append(b, boolByte(c.latestRefs != nil))
	if c.latestRefs != nil {
		renamed := make([]int64, len(c.latestRefs))
		for r, id := range c.latestRefs {
			renamed[rl.Region(r)] = id
		}
		for _, id := range renamed {
			b = binary.AppendVarint(b, id)
		}
	}
	b = binary.AppendVarint(b, int64(c.failures))
	b = appendMap(b, c.countedIDs, appendBool)
	b = binary.AppendVarint(b, c.lastSucceeded)
	b = append(b, boolByte(c.confirmed != nil))
	if e := c.confirmed; e != nil {
		b = binary.AppendVarint(b, e.IntervalMs)
		b = binary.AppendVarint(b, e.TimeoutMs)
		b = append(b, boolByte(e.OverridesActive))
	}
	// prune.go: ids below floor count as finished; pruneAt decides when the
	// floor moves next.
	b = binary.AppendVarint(b, c.floor)
	return binary.AppendVarint(b, int64(c.pruneAt))
}

// appendMap appends a map keyed by checkpoint id in ascending key order. The
// entries are collected with their values in one pass (no second lookup).
func appendMap[V any](b []byte, m map[int64]V, val func([]byte, V) []byte) []byte {
	type entry struct {
		k int64
		v V
	}
	var small [16]entry
	es := small[:0]
	for k, v := range m {
		es = append(es, entry{k, v})
	}
	slices.SortFunc(es, func(x, y entry) int { return cmp.Compare(x.k, y.k) })
	b = binary.AppendUvarint(b, uint64(len(es)))
	for _, e := range es {
		b = val(binary.AppendVarint(b, e.k), e.v)
	}
	return b
}

// appendRenamedSet appends a set of subtasks or regions, renamed, in
// ascending order of the new names; entries mapped to false count as absent
// only if the checker never reads them, so they are kept.
func appendRenamedSet[K comparable](b []byte, m map[K]bool, rename func(K) int64) []byte {
	var small [16]int64
	keys := small[:0]
	for k, v := range m {
		keys = append(keys, rename(k)<<1|int64(boolByte(v)))
	}
	slices.Sort(keys)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = binary.AppendVarint(b, k)
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

func appendBool(b []byte, v bool) []byte { return append(b, boolByte(v)) }

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
	d.finished = make(map[int64]map[fsm.TaskID]bool, len(c.finished))
	for id, m := range c.finished {
		d.finished[id] = maps.Clone(m)
	}
	return &d
}

// AppendKey appends a canonical encoding of the timing checker's memory (see
// Checker.AppendKey): the subtasks finished since each pending checkpoint's
// trigger and the first periodic request's due time.
func (c *Timing) AppendKey(b []byte, rl *fsm.Relabel) []byte {
	b = appendMap(b, c.finished, func(b []byte, m map[fsm.TaskID]bool) []byte {
		return appendRenamedSet(b, m, func(t fsm.TaskID) int64 { return int64(rl.Task(t)) })
	})
	return binary.AppendVarint(b, rl.Time(c.startDue))
}
