package fsm

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
	"unsafe"
)

// cloneSpecs are the jobs of the clone property test (those of the snapshot
// property test): regions of two subtasks with a fallback coordinator, an
// all-to-all job (one region) with a plain coordinator, and 70 one-subtask
// regions (sets of two words).
var cloneSpecs = []JobSpec{
	{Vertices: []VertexSpec{{ID: "a", Parallelism: 2, Coordinator: CoordinatorFallback}, {ID: "b", Parallelism: 2}},
		Edges: []EdgeSpec{{From: "a", To: "b"}}},
	{Vertices: []VertexSpec{{ID: "a", Parallelism: 3, Coordinator: CoordinatorPlain}, {ID: "b", Parallelism: 1}},
		Edges: []EdgeSpec{{From: "a", To: "b", Pattern: AllToAll}}},
	{Vertices: []VertexSpec{{ID: "a", Parallelism: 70}}},
}

// randomConfig draws a configuration the way the snapshot property test does.
func randomConfig(rnd *rand.Rand) Config {
	cfg := DefaultConfig()
	cfg.IntervalMs = []int64{0, 100, 1000}[rnd.IntN(3)]
	cfg.TimeoutMs = 500 + rnd.Int64N(3000)
	cfg.MinPauseMs = []int64{0, 50}[rnd.IntN(2)]
	cfg.MaxConcurrent, cfg.TolerableFailures, cfg.Retained = 1+rnd.IntN(3), rnd.IntN(3), 1+rnd.IntN(3)
	cfg.Regional.Enabled = rnd.IntN(4) > 0
	cfg.Regional.MaxRefAge = rnd.Int64N(4)
	cfg.Regional.MaxFailureRatio = []float64{0.3, 0.5, 1}[rnd.IntN(3)]
	return cfg
}

// randomCloneCase is the fresh state of seed's job (cloneSpecs) and random
// configuration, and the generator (stream picks the test's own sequence) that
// made the configuration and goes on to make its history.
func randomCloneCase(t *testing.T, seed, stream uint64) (*rand.Rand, *State) {
	t.Helper()
	rnd := rand.New(rand.NewPCG(seed, stream))
	topo, err := NewTopology(cloneSpecs[seed%uint64(len(cloneSpecs))])
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(topo, randomConfig(rnd))
	if err != nil {
		t.Fatal(err)
	}
	return rnd, s
}

// TestCloneStepsLikeOriginal is the property of Clone and CloneInto: for
// random histories and every prefix, a Clone and a CloneInto into a state
// that held another state equal the original field by field, have capped
// slices (an append cannot write over a neighbour in the clone block), and,
// stepped with the same random events, give the effects and states (the
// snapshot at every step, every field at the end) of an independent copy
// (the decoded snapshot); meanwhile the
// original's key and snapshot do not change, and stepping the original
// afterwards does not change the clones.
func TestCloneStepsLikeOriginal(t *testing.T) {
	variety := map[string]bool{}
	for seed := uint64(0); seed < 30; seed++ {
		rnd, s := randomCloneCase(t, seed, 13)
		evs := randomHistory(rnd, s.Clone(), 120)
		// cur is itself a clone of a clone…: states that live in a clone
		// block are stepped too. scratch is CloneInto's reused target.
		cur, scratch := s.Clone(), s.Clone()
		for k := 0; k <= len(evs); k++ {
			noteVariety(variety, cur)
			checkClone(t, rnd, cur, scratch)
			if t.Failed() {
				t.Fatalf("seed %d, after %d events", seed, k)
			}
			if k < len(evs) {
				if _, err := cur.Step(evs[k]); err != nil {
					t.Fatal(err)
				}
				if rnd.IntN(3) == 0 {
					cur = cur.Clone()
				}
			}
		}
	}
	for _, what := range []string{"pending", "persisting", "failed region", "region sizes", "patches",
		"counted ids", "skipped", "refs", "queued", "overrides", "restarting", "finished", "job ended"} {
		if !variety[what] {
			t.Errorf("no prefix had %s: the random histories are too weak", what)
		}
	}
}

// checkClone checks Clone and CloneInto(scratch) of orig (see
// TestCloneStepsLikeOriginal); scratch is left holding a stepped clone.
func checkClone(t *testing.T, rnd *rand.Rand, orig, scratch *State) {
	t.Helper()
	key, snap := orig.AppendKey(nil), orig.AppendSnapshot(nil)
	c := orig.Clone()
	orig.CloneInto(scratch)
	for name, x := range map[string]*State{"Clone": c, "CloneInto": scratch} {
		if d := stateDiff(orig, x); d != "" {
			t.Errorf("%s: %s", name, d)
		}
		if err := checkCapped(x); err != "" {
			t.Errorf("%s: %s", name, err)
		}
	}
	oracle, err := DecodeSnapshot(orig.topo, snap)
	if err != nil {
		t.Fatal(err)
	}
	more := randomHistory(rnd, orig.Clone(), 8)
	for _, ev := range more {
		want, err := oracle.Step(ev)
		if err != nil {
			t.Fatal(err)
		}
		w := describeAll(orig.topo, want)
		for name, x := range map[string]*State{"Clone": c, "CloneInto": scratch} {
			got, err := x.Step(ev)
			if err != nil {
				t.Fatalf("%s: %s refused: %v", name, DescribeEvent(orig.topo, ev), err)
			}
			if g := describeAll(orig.topo, got); !slicesEqual(g, w) {
				t.Fatalf("%s: %s: effects %v, an independent copy's %v", name, DescribeEvent(orig.topo, ev), g, w)
			}
			if !bytes.Equal(x.AppendSnapshot(nil), oracle.AppendSnapshot(nil)) {
				t.Fatalf("%s: after %s: the state differs from an independent copy's", name, DescribeEvent(orig.topo, ev))
			}
		}
	}
	for name, x := range map[string]*State{"Clone": c, "CloneInto": scratch} {
		if d := stateDiff(x, oracle); d != "" { // the derived counters too
			t.Fatalf("%s: after %d more events: %s", name, len(more), d)
		}
	}
	if !bytes.Equal(orig.AppendKey(nil), key) || !bytes.Equal(orig.AppendSnapshot(nil), snap) {
		t.Fatal("stepping the clones changed the original")
	}
	ck, sk := c.AppendSnapshot(nil), scratch.AppendSnapshot(nil)
	o := orig.Clone()
	randomHistory(rnd, o, 6)
	o.CloneInto(orig) // the original overwritten in place: its old block is reused
	randomHistory(rnd, orig, 6)
	if !bytes.Equal(c.AppendSnapshot(nil), ck) || !bytes.Equal(scratch.AppendSnapshot(nil), sk) {
		t.Fatal("stepping the original changed a clone")
	}
	// Leave orig as it was for the caller.
	restored, err := DecodeSnapshot(orig.topo, snap)
	if err != nil {
		t.Fatal(err)
	}
	restored.CloneInto(orig)
}

// checkCapped reports a carved slice whose capacity exceeds its length: an
// append to it would write into the next part of the clone block.
func checkCapped(s *State) string {
	type part struct {
		name     string
		len, cap int
	}
	parts := []part{{"status", len(s.status), cap(s.status)}, {"running", len(s.running), cap(s.running)},
		{"regionDown", len(s.regionDown), cap(s.regionDown)},
		{"regionUnfinished", len(s.regionUnfinished), cap(s.regionUnfinished)},
		{"countedIDs", len(s.countedIDs), cap(s.countedIDs)}, {"skipped", len(s.skipped), cap(s.skipped)},
		{"patches", len(s.patches), cap(s.patches)}}
	for i := range s.pending {
		p := &s.pending[i]
		parts = append(parts, part{"pending.triggered", len(p.triggered), cap(p.triggered)},
			part{"pending.waiting", len(p.waiting), cap(p.waiting)}, part{"pending.acked", len(p.acked), cap(p.acked)},
			part{"pending.failed", len(p.failed), cap(p.failed)}, part{"pending.refs", len(p.refs), cap(p.refs)},
			part{"pending.regionSizes", len(p.regionSizes), cap(p.regionSizes)})
	}
	for i := range s.known {
		parts = append(parts, part{"known.refs", len(s.known[i].refs), cap(s.known[i].refs)})
	}
	for _, p := range parts {
		if p.cap != p.len {
			return p.name + ": capacity above length in the clone block"
		}
	}
	return ""
}

// TestCloneAppendsStayApart appends to every carved slice of a clone, one
// after another, and checks that no other part of the clone changed: the
// capacity rule at work, whatever the layout of the block.
func TestCloneAppendsStayApart(t *testing.T) {
	s := benchMidway(t, benchJobs[1].spec)
	snap := s.AppendSnapshot(nil)
	c := s.Clone()
	appends := []func(*State){
		func(x *State) { x.status = append(x.status, taskRunning) },
		func(x *State) { x.running = append(x.running, ^uint64(0)) },
		func(x *State) { x.regionDown = append(x.regionDown, 7) },
		func(x *State) { x.regionUnfinished = append(x.regionUnfinished, 7) },
		func(x *State) { x.countedIDs = append(x.countedIDs, 99) },
		func(x *State) { x.skipped = append(x.skipped, skipNotice{99, 1}) },
		func(x *State) { x.patches = append(x.patches, configPatch{99, 1, 1}) },
		func(x *State) { x.pending[0].triggered = append(x.pending[0].triggered, ^uint64(0)) },
		func(x *State) { x.pending[0].waiting = append(x.pending[0].waiting, ^uint64(0)) },
		func(x *State) { x.pending[0].acked = append(x.pending[0].acked, ^uint64(0)) },
		func(x *State) { x.pending[0].failed = append(x.pending[0].failed, ^uint64(0)) },
		func(x *State) { x.pending[0].refs = append(x.pending[0].refs, RegionRef{99, 99}) },
		func(x *State) { x.known[len(x.known)-1].refs = append(x.known[len(x.known)-1].refs, RegionRef{99, 99}) },
	}
	want := s.Clone()
	for i, f := range appends {
		f(c)
		f(want)
		if d := stateDiff(c, want); d != "" {
			t.Fatalf("append %d wrote over another part of the clone: %s", i, d)
		}
		if !bytes.Equal(s.AppendSnapshot(nil), snap) {
			t.Fatalf("append %d to the clone changed the original", i)
		}
	}
}

// TestClonePodTypesHoldNoPointers: the struct types the clone block holds
// (pod) are made of numbers only, so the block can stay unscanned.
func TestClonePodTypesHoldNoPointers(t *testing.T) {
	var check func(reflect.Type) bool
	check = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			return true
		case reflect.Array:
			return check(ty.Elem())
		case reflect.Struct:
			for i := 0; i < ty.NumField(); i++ {
				if !check(ty.Field(i).Type) {
					return false
				}
			}
			return true
		}
		return false
	}
	for _, v := range []any{taskStatus(0), RegionRef{}, ackSizes{}, skipNotice{}, configPatch{}} {
		if ty := reflect.TypeOf(v); !check(ty) || ty.Align() > 8 {
			t.Errorf("%s cannot live in the clone block: it holds a pointer or needs alignment %d", ty, ty.Align())
		}
	}
}

// TestCloneAllocations: a Clone of the 2×1 job's state takes one allocation
// (a box), of the 50-region job's at most four (the State, the block, the
// pending and the known records), and CloneInto into a state that held one
// as large takes none.
func TestCloneAllocations(t *testing.T) {
	for _, j := range benchJobs {
		s := benchMidway(t, j.spec)
		want := 4.0
		if j.name == "2x1" {
			want = 1
		}
		if n := testing.AllocsPerRun(100, func() { cloneSink = s.Clone() }); n > want {
			t.Errorf("%s: Clone takes %.0f allocations, want at most %.0f", j.name, n, want)
		}
		dst := s.Clone()
		if n := testing.AllocsPerRun(100, func() { s.CloneInto(dst) }); n != 0 {
			t.Errorf("%s: CloneInto a state that held as much takes %.0f allocations, want 0", j.name, n)
		}
	}
}

// TestCloneBoxSizes: each clone box takes the allocation size its comment
// names (Go's classes 704, 896, 1024 and 1536 bytes, the runtime's header
// included), so that growing State does not silently push every clone into
// the next class: shrink a box's arrays when this fails. The bytes are
// measured (the least of three tries of 256 boxes, in case another goroutine
// allocates meanwhile).
func TestCloneBoxSizes(t *testing.T) {
	for _, b := range []struct {
		name  string
		class uint64
		alloc func() any
	}{
		{"emptyBox", 704, func() any { return new(emptyBox) }}, {"oneBox", 896, func() any { return new(oneBox) }},
		{"smallBox", 1024, func() any { return new(smallBox) }}, {"largeBox", 1536, func() any { return new(largeBox) }},
	} {
		const n = 256
		keep := make([]any, n)
		least := uint64(math.MaxUint64)
		for try := 0; try < 3; try++ {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for i := range keep {
				keep[i] = b.alloc()
			}
			runtime.ReadMemStats(&m1)
			least = min(least, (m1.TotalAlloc-m0.TotalAlloc)/n)
		}
		if least > b.class {
			t.Errorf("%s takes %d bytes, over its size class of %d", b.name, least, b.class)
		}
	}
}

// boxOf names the box a clone lies in, told by where its block starts
// relative to the State (each box puts it at another offset), or "".
func boxOf(c *State) string {
	if len(c.block) == 0 {
		return ""
	}
	off := uintptr(unsafe.Pointer(&c.block[0])) - uintptr(unsafe.Pointer(c))
	for _, b := range []struct {
		name string
		off  uintptr
	}{
		{"emptyBox", unsafe.Offsetof(emptyBox{}.block)}, {"oneBox", unsafe.Offsetof(oneBox{}.block)},
		{"smallBox", unsafe.Offsetof(smallBox{}.block)}, {"largeBox", unsafe.Offsetof(largeBox{}.block)},
	} {
		if off == b.off {
			return b.name
		}
	}
	return ""
}

// TestCloneBoxChoice: Clone puts a state in the smallest box that holds it
// (and a large one in none), and the clone is a clone.
func TestCloneBoxChoice(t *testing.T) {
	for _, c := range []struct {
		name, want string
		state      func(testing.TB, JobSpec) *State
		job        JobSpec
	}{
		{"started 2x1", "emptyBox", benchStarted, benchJobs[0].spec},
		{"triggered 2x1", "oneBox", benchTriggered, benchJobs[0].spec},
		{"midway 2x1", "smallBox", benchMidway, benchJobs[0].spec},
		{"midway 50x2", "", benchMidway, benchJobs[1].spec},
	} {
		s := c.state(t, c.job)
		clone := s.Clone()
		if got := boxOf(clone); got != c.want {
			t.Errorf("%s (%d pending, %d known, %d words): clone in %q, want %q", c.name,
				len(s.pending), len(s.known), s.cloneWords(), got, c.want)
		}
		if d := stateDiff(s, clone); d != "" {
			t.Errorf("%s: %s", c.name, d)
		}
		if err := checkCapped(clone); err != "" {
			t.Errorf("%s: %s", c.name, err)
		}
	}
}

// TestCloneBoxes: a clone in a box is a clone (stateDiff, capped slices),
// and steps that outgrow the box's
// room (a second pending checkpoint) move the parts out, stepping like an
// independent copy, without touching the original.
func TestCloneBoxes(t *testing.T) {
	s := benchMidway(t, benchJobs[0].spec)
	c := s.Clone()
	if d := stateDiff(s, c); d != "" {
		t.Fatal(d)
	}
	if err := checkCapped(c); err != "" {
		t.Fatal(err)
	}
	if boxOf(c) != "smallBox" {
		t.Fatalf("the clone of the midway state is in %q, not in a smallBox", boxOf(c))
	}
	snap := s.AppendSnapshot(nil)
	oracle, err := DecodeSnapshot(s.topo, snap)
	if err != nil {
		t.Fatal(err)
	}
	// Region 0 runs again; a manual trigger queues (max_concurrent 1), a
	// savepoint starts at once (a second pending record); the last ack seals
	// checkpoint 4, its completion stores it and the queued trigger runs.
	id := s.pending[0].id
	evs := []Event{{At: 8, Type: EvTaskRunning, Task: 0}, {At: 8, Type: EvTrigger},
		{At: 8, Type: EvTrigger, Kind: KindSavepoint}, {At: 8, Type: EvAck, Checkpoint: id, Task: lastTask(s)},
		{At: 9, Type: EvPersisted, Checkpoint: id}}
	most := 0
	for _, ev := range evs {
		want, err := oracle.Step(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Step(ev)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := describeAll(s.topo, got), describeAll(s.topo, want); !slicesEqual(g, w) {
			t.Fatalf("%s: effects %v, an independent copy's %v", DescribeEvent(s.topo, ev), g, w)
		}
		most = max(most, len(c.pending))
	}
	if d := stateDiff(c, oracle); d != "" {
		t.Fatal(d)
	}
	if most <= len(smallBox{}.pending) {
		t.Fatalf("at most %d pending checkpoints: the test no longer outgrows the box", most)
	}
	if !bytes.Equal(s.AppendSnapshot(nil), snap) {
		t.Fatal("stepping a boxed clone changed the original")
	}
}

// TestSpareWordsStayApart: storage a step takes from the room past a clone
// block's carved parts (spareWords, spareSlice) is zeroed, capped, apart from
// the carved parts and from each other, and comes from a new array once the
// room is used up; a later CloneInto reuses the block without touching a
// clone made meanwhile.
func TestSpareWordsStayApart(t *testing.T) {
	s := benchTriggered(t, benchJobs[0].spec)
	c := s.Clone()
	snap := c.AppendSnapshot(nil)
	room := cap(c.block) - len(c.block)
	if room < 4 {
		t.Fatalf("the clone's block has %d words of room: the test needs 4", room)
	}
	a, b := c.spareWords(2), c.spareWords(2)
	if len(a) != 2 || cap(a) != 2 || len(b) != 2 || cap(b) != 2 || &a[0] == &b[0] || &a[1] == &b[0] {
		t.Fatalf("two takes overlap or are not capped: %p/%d/%d, %p/%d/%d", &a[0], len(a), cap(a), &b[0], len(b), cap(b))
	}
	for i := range a {
		if a[i] != 0 || b[i] != 0 {
			t.Fatal("taken words are not zeroed")
		}
		a[i], b[i] = ^uint64(0), ^uint64(0)
	}
	refs := spareSlice[RegionRef](c, (cap(c.block)-len(c.block))/2)
	for i := 0; i < cap(refs); i++ {
		refs = append(refs, RegionRef{Region: 1<<30 + i, Checkpoint: -1})
	}
	if !bytes.Equal(c.AppendSnapshot(nil), snap) {
		t.Fatal("writing into taken words changed the state")
	}
	if len(c.block) > cap(c.block) || cap(c.block)-len(c.block) > 1 {
		t.Fatalf("block %d of %d after taking its room", len(c.block), cap(c.block))
	}
	full := c.block[:cap(c.block)]
	lo, hi := uintptr(unsafe.Pointer(&full[0])), uintptr(unsafe.Pointer(&full[len(full)-1]))
	if more := c.spareWords(2); len(more) != 2 || (uintptr(unsafe.Pointer(&more[0])) >= lo && uintptr(unsafe.Pointer(&more[0])) <= hi) {
		t.Fatal("a take past the room did not get a new array")
	}
	kept := c.Clone()
	keptSnap := kept.AppendSnapshot(nil)
	s2 := benchMidway(t, benchJobs[0].spec)
	s2.CloneInto(c) // reuses c's block, room included
	c.spareWords(cap(c.block) - len(c.block))
	if !bytes.Equal(kept.AppendSnapshot(nil), keptSnap) {
		t.Fatal("reusing the block changed a clone made from it")
	}
}
