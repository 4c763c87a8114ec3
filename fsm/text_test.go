package fsm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestMsgSpellsLikeFmt: each msg method spells its value as the fmt verb it
// replaces (%d, %s, %g, %.3g) and as RegionName and TaskName do, so that the
// messages built with msg are those fmt.Sprintf built before (the goldens
// pin them too, but only for the values their histories reach).
func TestMsgSpellsLikeFmt(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 9))
	ints := []int64{0, 1, -1, 9, 10, 99, 100, 255, 256, MaxSafeInt, -MaxSafeInt, math.MaxInt64, math.MinInt64}
	for i := 0; i < 1000; i++ {
		ints = append(ints, rnd.Int64()>>rnd.IntN(64))
	}
	for _, x := range ints {
		if got, want := msg(nil).s("a").d(x).s("b").String(), fmt.Sprintf("a%db", x); got != want {
			t.Errorf("d(%d) = %q, fmt %q", x, got, want)
		}
	}
	floats := []float64{0, 1, 0.5, 1.0 / 3, 2.0 / 3, 0.05, 0.0001, 0.00001, 1e20, 1e21, 123456789, 1e-7,
		math.SmallestNonzeroFloat64, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), -0.25}
	for a := 0; a <= 60; a++ {
		for b := 1; b <= 60; b++ {
			floats = append(floats, float64(a)/float64(b))
		}
	}
	for i := 0; i < 1000; i++ {
		floats = append(floats, rnd.Float64(), rnd.NormFloat64()*math.Pow(10, float64(rnd.IntN(40)-20)))
	}
	for _, x := range floats {
		if got, want := msg(nil).g(x, -1).String(), fmt.Sprintf("%g", x); got != want {
			t.Errorf("g(%v, -1) = %q, fmt %%g %q", x, got, want)
		}
		if got, want := msg(nil).g(x, 3).String(), fmt.Sprintf("%.3g", x); got != want {
			t.Errorf("g(%v, 3) = %q, fmt %%.3g %q", x, got, want)
		}
	}
	topo, err := NewTopology(benchJobs[1].spec)
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < topo.NumRegions(); r++ {
		if got, want := msg(nil).region(r).String(), RegionName(r); got != want {
			t.Errorf("region(%d) = %q, RegionName %q", r, got, want)
		}
	}
	for id := TaskID(0); int(id) < topo.NumSubtasks(); id++ {
		if got, want := msg(nil).task(topo, id).String(), topo.TaskName(id); got != want {
			t.Errorf("task(%d) = %q, TaskName %q", id, got, want)
		}
	}
}

// TestMessagesTakeOneAllocation: an abort's detail built with msg costs the
// string alone (a decline on the global path: the detail; the abort's
// notify_aborted task set is the other allocation), where fmt.Sprintf took
// more.
func TestMessagesTakeOneAllocation(t *testing.T) {
	s := benchTriggered(t, benchJobs[0].spec)
	s.pending[0].regionalPath = false // R17: a decline aborts
	ev := Event{At: 2, Type: EvDecline, Checkpoint: 2, Task: 0}
	dst := s.Clone()
	effs, err := dst.Step(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(effs) == 0 || effs[0].Type != EffAbort || effs[0].Message != "declined by a/0" {
		t.Fatalf("effects %v: the case no longer tests what it says", describeAll(s.topo, effs))
	}
	if n := testing.AllocsPerRun(50, func() {
		s.CloneInto(dst)
		if _, err := dst.Step(ev); err != nil {
			t.Fatal(err)
		}
	}); n != 3 {
		t.Errorf("a declined global checkpoint takes %.0f allocations, want 3 "+
			"(the detail, the notify_aborted task set, the counted id)", n)
	}
}
