package fuzz

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// The collector during an exploration. The search allocates mostly what it
// keeps (interned states, memoized steps, nodes) and some short-lived scratch,
// so collecting often buys little: with the default GOGC of 100 and Go's 4 MB
// minimum heap, an exploration of a few tens of megabytes runs several
// collections, each stopping the workers to scan their stacks. gcTuner keeps
// the collector's goal at five times the live heap (GOGC 400) but never
// below heapFloor, and a soft memory limit makes the collector work harder
// instead once a large frontier's live heap makes five times it too much.
// Measured on the regional 2×1 model (17 MB allocated per exploration):
// about a fifth less CPU per state than GOGC 400 alone (BENCHMARKS.md).
const (
	heapFloor  = 64 << 20
	gcPercent  = 400
	memLimit   = 2 << 30
	maxPercent = 100 * heapFloor / (1 << 20) // the percent at a 1 MB live heap
)

// gcTuner sets the collector's percent between depths from the live heap.
type gcTuner struct {
	sample  [1]metrics.Sample
	percent int
}

// tuneGC sets the collector for an exploration and returns the function that
// restores the process's settings.
func tuneGC() (*gcTuner, func()) {
	// Start on a collected heap: a collection already under way (the
	// caller's garbage, a previous exploration's) would run its mark phase
	// into the first depths, write barriers on, at the pace of one
	// background worker; finishing it here costs about a millisecond.
	runtime.GC()
	t := &gcTuner{sample: [1]metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	oldLimit := debug.SetMemoryLimit(min(debug.SetMemoryLimit(-1), memLimit))
	t.percent = -2 // unset: the first adjust sets it
	oldPercent := debug.SetGCPercent(gcPercent)
	t.adjust()
	return t, func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	}
}

// adjust sets the percent so that the goal is max(heapFloor, 5 × live); it
// changes the setting (which briefly stops the world) only when the percent
// moves by more than a tenth.
func (t *gcTuner) adjust() {
	metrics.Read(t.sample[:])
	live := int64(0)
	if t.sample[0].Value.Kind() == metrics.KindUint64 {
		live = int64(t.sample[0].Value.Uint64())
	}
	p := percentFor(live)
	if t.percent < 0 || p > t.percent+t.percent/10 || p < t.percent-t.percent/10 {
		debug.SetGCPercent(p)
		t.percent = p
	}
}

// percentFor is the GOGC that puts the goal, live × (1 + p/100), at
// heapFloor for a small live heap and at five times it for a large one.
func percentFor(live int64) int {
	if live <= 1<<20 {
		return maxPercent
	}
	return max(gcPercent, min(maxPercent, int(100*heapFloor/live)-100))
}
