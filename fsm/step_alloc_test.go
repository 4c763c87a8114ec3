package fsm

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestStepAllocations pins the allocations of the explorer's hot events
// (issue 17) on a state refilled by CloneInto, as a worker of the explorer
// would hold it: the effect buffer and the clone's storage are reused (the
// state's own new storage — a new checkpoint's sets, a sealed checkpoint's
// refs — comes from the room past the clone block's carved parts), so what is
// left is the effects' own slices and strings.
//
//   - ack, decline (a regional-path checkpoint loses a region), tick (nothing
//     due) and a task failure (the region fails for a regional checkpoint):
//     none.
//   - trigger: the trigger effect's task set.
//   - the last ack of a regional checkpoint: one array for the refs of the
//     persist and coordinator_fallback effects.
//   - a deadline that fails every region: the gate's message, the
//     notify_aborted task set, and the failure manager's counted ids (the
//     clone's list was empty).
//   - the persisted event of a regional checkpoint (its completion): the
//     completed effect's refs, notify_complete's task set, its regional info
//     and that group's task set, and the deferred region-skipped notice
//     (appended to a clone's list, which has no spare room).
func TestStepAllocations(t *testing.T) {
	want := map[string]struct {
		allocs  float64
		effects []EffectType
	}{
		"ack":         {0, nil},
		"decline":     {0, nil},
		"tick":        {0, nil},
		"task-failed": {0, nil},
		"trigger":     {1, []EffectType{EffPersistIDCounter, EffTrigger}},
		"ack-last":    {1, []EffectType{EffCoordinatorFallback, EffPersist}},
		"expire":      {3, []EffectType{EffAbort, EffNotifyAborted}},
		"persisted":   {5, []EffectType{EffCompleted, EffNotifyComplete, EffDiscard}},
	}
	for _, j := range benchJobs {
		for _, be := range benchEvents {
			w, ok := want[be.name]
			if !ok {
				continue
			}
			s := be.state(t, j.spec)
			ev := be.event(s)
			dst := s.Clone()
			effs, err := dst.Step(ev)
			if err != nil {
				t.Fatal(err)
			}
			var types []EffectType
			for _, e := range effs {
				types = append(types, e.Type)
			}
			if !slices.Equal(types, w.effects) {
				t.Errorf("%s %s: effects %v, want %v: the case no longer tests what it says", j.name, be.name, types, w.effects)
				continue
			}
			n := testing.AllocsPerRun(50, func() {
				s.CloneInto(dst)
				if _, err := dst.Step(ev); err != nil {
					t.Fatal(err)
				}
			})
			if n != w.allocs {
				t.Errorf("%s %s: %.0f allocations per step, want %.0f", j.name, be.name, n, w.allocs)
			}
		}
	}
}

// TestAndTaskSet: the ranges of b ∩ mask, built word by word in one exact
// allocation, are those of the members one by one, across word boundaries.
func TestAndTaskSet(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 8))
	for trial := 0; trial < 500; trial++ {
		n := 1 + rnd.IntN(200)
		b, mask := newBitset(n), newBitset(n)
		density := rnd.Float64()
		for i := 0; i < n; i++ {
			if rnd.Float64() < density {
				b.set(TaskID(i))
			}
			if rnd.IntN(5) > 0 {
				mask.set(TaskID(i))
			}
		}
		for _, m := range []bitset{nil, mask} {
			var want TaskSet
			for i := 0; i < n; i++ {
				if b.has(TaskID(i)) && (m == nil || m.has(TaskID(i))) {
					want = want.add(TaskID(i))
				}
			}
			got := b.andTaskSet(m)
			if !slices.Equal(got, want) || cap(got) != len(got) {
				t.Fatalf("n=%d mask=%v: got %v (cap %d), want %v", n, m != nil, got, cap(got), want)
			}
		}
	}
}
