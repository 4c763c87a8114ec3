package fsm

import (
	"math/bits"
	"strconv"
)

// TaskRange is the half-open range [Lo, Hi) of subtasks.
type TaskRange struct{ Lo, Hi TaskID }

// TaskSet is a set of subtasks as sorted, disjoint, non-adjacent ranges, so that
// an effect naming thousands of subtasks stays small.
type TaskSet []TaskRange

// Len returns the number of subtasks in the set.
func (s TaskSet) Len() int {
	n := 0
	for _, r := range s {
		n += int(r.Hi - r.Lo)
	}
	return n
}

// All calls yield for every subtask in order, stopping when it returns false.
func (s TaskSet) All(yield func(TaskID) bool) {
	for _, r := range s {
		for id := r.Lo; id < r.Hi; id++ {
			if !yield(id) {
				return
			}
		}
	}
}

// Contains reports whether id is in the set.
func (s TaskSet) Contains(id TaskID) bool {
	lo, hi := 0, len(s)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case id < s[m].Lo:
			hi = m
		case id >= s[m].Hi:
			lo = m + 1
		default:
			return true
		}
	}
	return false
}

// add appends id, which must be greater than every id already in the set.
func (s TaskSet) add(id TaskID) TaskSet {
	if n := len(s); n > 0 && s[n-1].Hi == id {
		s[n-1].Hi++
		return s
	}
	return append(s, TaskRange{id, id + 1})
}

// Names renders the set as "vertex/i" and "vertex/i-j" (inclusive) items, in
// TaskID order; a range never spans two vertices.
func (s TaskSet) Names(t *Topology) []string {
	out := make([]string, 0, len(s))
	for _, r := range s {
		lo, hi := max(r.Lo, 0), min(r.Hi, TaskID(t.NumSubtasks()))
		for lo < hi {
			v := t.vertices[t.vertexOf(lo)]
			end := min(hi, v.First+TaskID(v.Parallelism))
			name := v.ID + "/" + strconv.Itoa(int(lo-v.First))
			if end-lo > 1 {
				name += "-" + strconv.Itoa(int(end-1-v.First))
			}
			out = append(out, name)
			lo = end
		}
	}
	return out
}

// bitset is a fixed-size set of subtasks.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i TaskID) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i TaskID)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) clear(i TaskID)    { b[i>>6] &^= 1 << (uint(i) & 63) }

func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// next returns the first member >= i, or -1. A walk over a sparse set skips
// empty words: O(n/64 + members), not O(n).
func (b bitset) next(i int) int {
	w := i >> 6
	if w >= len(b) {
		return -1
	}
	if word := b[w] >> (uint(i) & 63); word != 0 {
		return i + bits.TrailingZeros64(word)
	}
	for w++; w < len(b); w++ {
		if b[w] != 0 {
			return w<<6 + bits.TrailingZeros64(b[w])
		}
	}
	return -1
}

// taskSet converts the bitset into ranges, word by word.
func (b bitset) taskSet() TaskSet { return b.andTaskSet(nil) }

// andTaskSet converts b ∩ mask (nil mask: b) into ranges, in one allocation
// of the exact size (nil when empty), without building the intersection.
func (b bitset) andTaskSet(mask bitset) TaskSet {
	word := func(wi int) uint64 {
		if mask == nil {
			return b[wi]
		}
		return b[wi] & mask[wi]
	}
	// A range starts at every member whose predecessor is not a member.
	n, carry := 0, uint64(0)
	for wi := range b {
		w := word(wi)
		n += bits.OnesCount64(w &^ (w<<1 | carry))
		carry = w >> 63
	}
	if n == 0 {
		return nil
	}
	s := make(TaskSet, 0, n)
	for wi := range b {
		w := word(wi)
		for w != 0 {
			start := bits.TrailingZeros64(w)
			run := bits.TrailingZeros64(^(w >> uint(start)))
			lo := TaskID(wi*64 + start)
			hi := lo + TaskID(run)
			if n := len(s); n > 0 && s[n-1].Hi == lo {
				s[n-1].Hi = hi
			} else {
				s = append(s, TaskRange{lo, hi})
			}
			if start+run >= 64 {
				break
			}
			w &^= (1<<uint(run) - 1) << uint(start)
		}
	}
	return s
}
