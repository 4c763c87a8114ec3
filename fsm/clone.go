package fsm

import "unsafe"

// Cloning (issue 17). The exhaustive explorer clones a stored state for every
// core step it computes, so a clone costs few allocations: every pointer-free
// slice of the state — subtask statuses, the running set, the per-region
// counters, each pending checkpoint's sets, refs and ack sizes, the counted
// ids, each known checkpoint's refs, the skipped notices and the patches —
// is carved out of one block of words sized from the source, and the pending
// and known records take one array each. A clone is then the State, the
// block and at most two arrays — or, for the small states the explorer
// interns, one allocation that holds all four (smallBox, largeBox: one
// object is faster to allocate, to mark, and to read back when a cold
// stored state is cloned again); CloneInto into a state that has enough
// room takes none.
//
// Every carved slice has its capacity equal to its length (s[a:b:b]), so an
// append in Step reallocates it rather than writing over its neighbour in the
// block; the code that shrinks a slice in place (kept := x[:0]) stays inside
// the slice's own part.

// pod is the element types the block holds: each is free of pointers (the
// block is scanned by no garbage collector), has alignment at most 8, and is
// laid out at a word boundary. TestClonePodTypesHoldNoPointers checks the
// struct types, so that a pointer field added to one of them fails a test.
type pod interface {
	~uint8 | ~int32 | ~int64 | ~uint64 | RegionRef | ackSizes | skipNotice | configPatch
}

// wordsFor returns how many 8-byte words n values of T take in the block.
func wordsFor[T pod](n int) int {
	var zero T
	return (n*int(unsafe.Sizeof(zero)) + 7) / 8
}

// carve copies src into the front of the block, advances the block past it,
// and returns the copy with capacity = length. nil stays nil and empty stays
// empty (the key tells a nil regionSizes from an allocated one).
func carve[T pod](block *[]uint64, src []T) []T {
	switch {
	case src == nil:
		return nil
	case len(src) == 0:
		return []T{}
	}
	w := wordsFor[T](len(src))
	words := (*block)[:w:w]
	*block = (*block)[w:]
	// The words are a fresh, suitably aligned part of one allocation that
	// holds no pointers, and T holds none either: viewing them as []T is the
	// reinterpretation unsafe.Pointer's rule (1) allows.
	dst := unsafe.Slice((*T)(unsafe.Pointer(&words[0])), len(src))
	copy(dst, src)
	return dst
}

// cloneWords returns the size of the block a clone of s needs.
func (s *State) cloneWords() int {
	n := wordsFor[taskStatus](len(s.status)) + wordsFor[uint64](len(s.running)) +
		wordsFor[int32](len(s.regionDown)) + wordsFor[int32](len(s.regionUnfinished)) +
		wordsFor[int64](len(s.countedIDs)) + wordsFor[skipNotice](len(s.skipped)) +
		wordsFor[configPatch](len(s.patches))
	for i := range s.pending {
		p := &s.pending[i]
		n += wordsFor[uint64](len(p.triggered)) + wordsFor[uint64](len(p.waiting)) +
			wordsFor[uint64](len(p.acked)) + wordsFor[uint64](len(p.failed)) +
			wordsFor[RegionRef](len(p.refs)) + wordsFor[ackSizes](len(p.regionSizes))
	}
	for i := range s.known {
		n += wordsFor[RegionRef](len(s.known[i].refs))
	}
	return n
}

// Clone returns a deep copy that shares only the immutable Topology. A
// small state — the explorer's are: at most two pending and four known
// checkpoints, a block of at most 45 words — takes one allocation (a box:
// the smallest of emptyBox, oneBox, smallBox and largeBox that holds it);
// any other at most four (the State, one block for every pointer-free
// slice, the pending and the known records).
func (s *State) Clone() *State {
	var c *State
	n := s.cloneWords()
	switch np, nk := len(s.pending), len(s.known); {
	case np == 0 && nk <= 2 && n <= len(emptyBox{}.block):
		b := new(emptyBox)
		c = &b.s
		c.known, c.block = b.known[:0], b.block[:]
	case np <= 1 && nk <= 1 && n <= len(oneBox{}.block):
		b := new(oneBox)
		c = &b.s
		c.pending, c.known, c.block = b.pending[:0], b.known[:0], b.block[:]
	case np <= 1 && nk <= 2 && n <= len(smallBox{}.block):
		b := new(smallBox)
		c = &b.s
		c.pending, c.known, c.block = b.pending[:0], b.known[:0], b.block[:]
	case np <= 2 && nk <= 4 && n <= len(largeBox{}.block):
		b := new(largeBox)
		c = &b.s
		c.pending, c.known, c.block = b.pending[:0], b.known[:0], b.block[:]
	default:
		c = new(State)
	}
	s.cloneInto(c, n)
	return c
}

// The boxes hold a clone in one allocation: the State, room for its pending
// and known records, and its block. The block comes last, after every
// pointer, so the garbage collector does not scan it. Each fills an
// allocation size class with the 8-byte header the runtime puts before a
// pointerful object this large (emptyBox 704 bytes, oneBox 896, smallBox
// 1024, largeBox 1536; TestCloneBoxSizes measures them), chosen from the shapes
// the regional 2×1 model interns: about a third have no pending checkpoint,
// over half one pending and one known checkpoint. A clone the explorer keeps
// is never stepped, so the boxes' only slack is the size class's; a Step on a
// boxed clone that outgrows its room moves that part out (TestCloneBoxes).
type (
	emptyBox struct {
		s     State
		known [2]knownCheckpoint
		block [16]uint64
	}
	oneBox struct {
		s       State
		pending [1]pendingCheckpoint
		known   [1]knownCheckpoint
		block   [13]uint64
	}
	smallBox struct {
		s       State
		pending [1]pendingCheckpoint
		known   [2]knownCheckpoint
		block   [26]uint64
	}
	largeBox struct {
		s       State
		pending [2]pendingCheckpoint
		known   [4]knownCheckpoint
		block   [45]uint64
	}
)

// CloneInto makes dst a deep copy of s that shares only the immutable
// Topology, reusing dst's storage where it is large enough: once dst has held
// a state at least as large, CloneInto allocates nothing. Everything dst held
// before is overwritten, including the effects its last Step returned (their
// buffer is reused): a caller that keeps effects must not CloneInto the state
// that returned them. CloneInto(s) is a no-op.
func (s *State) CloneInto(dst *State) {
	if dst != s {
		s.cloneInto(dst, s.cloneWords())
	}
}

// cloneInto is CloneInto with the block size n = s.cloneWords() known.
func (s *State) cloneInto(dst *State, n int) {
	block, pending, known, effects := dst.block, dst.pending, dst.known, dst.effects
	*dst = *s
	if cap(block) >= n {
		block = block[:n]
	} else {
		// Room past the carved parts for one more checkpoint's sets: a
		// worker's scratch state then triggers without allocating.
		block = make([]uint64, n, n+3*len(s.running)+(s.topo.NumRegions()+63)/64)
	}
	dst.block, dst.effects = block, effects[:0]
	b := block
	dst.status = carve(&b, s.status)
	dst.running = carve(&b, s.running)
	dst.regionDown = carve(&b, s.regionDown)
	dst.regionUnfinished = carve(&b, s.regionUnfinished)
	dst.countedIDs = carve(&b, s.countedIDs)
	dst.skipped = carve(&b, s.skipped)
	dst.patches = carve(&b, s.patches)
	dst.pending = reuse(pending, s.pending)
	for i := range s.pending {
		p, c := &s.pending[i], &dst.pending[i]
		*c = *p
		c.triggered = carve(&b, p.triggered)
		c.waiting = carve(&b, p.waiting)
		c.acked = carve(&b, p.acked)
		c.failed = carve(&b, p.failed)
		c.refs = carve(&b, p.refs)
		c.regionSizes = carve(&b, p.regionSizes)
	}
	dst.known = reuse(known, s.known)
	for i := range s.known {
		dst.known[i] = s.known[i]
		dst.known[i].refs = carve(&b, s.known[i].refs)
	}
}

// spareWords returns k zeroed words of new storage for the state (a new
// checkpoint's sets): from the room past the carved parts of the clone block
// when it has k words (a clone's block is its own: what lies past its
// length belonged to records this state no longer holds), else a new array.
// The words are capped, and the block's length grows past them, so a second
// call in one step takes the next words.
func (s *State) spareWords(k int) []uint64 {
	n := len(s.block)
	if cap(s.block)-n < k {
		return make([]uint64, k)
	}
	s.block = s.block[:n+k]
	w := s.block[n : n+k : n+k]
	clear(w)
	return w
}

// spareSlice returns an empty slice with room for n values of T, from
// spareWords (as carve views the block's words).
func spareSlice[T pod](s *State, n int) []T {
	if n == 0 {
		return nil
	}
	words := s.spareWords(wordsFor[T](n))
	// As in carve: fresh, aligned words of the state's own storage, viewed as
	// a pointer-free T.
	return unsafe.Slice((*T)(unsafe.Pointer(&words[0])), n)[:0:n]
}

// reuse returns a slice of len(src) backed by old when it has room (for an
// empty src too: the next trigger's append then needs no allocation), else a
// new one. The caller fills it. Nothing tells an empty record list from a nil
// one.
func reuse[T any](old, src []T) []T {
	if cap(old) >= len(src) {
		return old[:len(src)]
	}
	return make([]T, len(src))
}
