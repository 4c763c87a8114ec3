package invariants

import (
	"bytes"
	"slices"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// The micro-benchmarks of the checker's cost per step as the exhaustive
// explorer pays it (issue 17): for every distinct checker step the explorer
// copies a stored checker into a warm scratch one (CloneInto), steps it
// (Step, Timing.Step), reduces it (Forget) and keys it (AppendKey). The job
// is the regional 2×1 model of sim's BenchmarkExplore: two one-subtask
// regions with a fallback coordinator, started from a claimed snapshot.
//
//	go test -run '^$' -bench . -benchmem ./invariants/

// benchStep is one step of the benchmark job: the checkers as they are before
// it, the event, its effects and the state after it.
type benchStep struct {
	inv  *Checker
	tim  *Timing
	ev   fsm.Event
	effs []fsm.Effect
	s    *fsm.State
}

// benchSteps runs prefix through a core and both checkers and returns the
// step of ev after it; it fails b if any step is refused or violates.
func benchSteps(b *testing.B, prefix []fsm.Event, ev fsm.Event) benchStep {
	b.Helper()
	return runBenchSteps(b, prefix, ev, true)
}

// benchStepsNoForget is benchSteps without Forget after each step, as a
// replay or FuzzCore runs the checker.
func benchStepsNoForget(b *testing.B, prefix []fsm.Event, ev fsm.Event) benchStep {
	b.Helper()
	return runBenchSteps(b, prefix, ev, false)
}

func runBenchSteps(b *testing.B, prefix []fsm.Event, ev fsm.Event, forget bool) benchStep {
	b.Helper()
	topo, err := fsm.NewTopology(fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2, Coordinator: fsm.CoordinatorFallback}}})
	if err != nil {
		b.Fatal(err)
	}
	cfg := fsm.DefaultConfig()
	cfg.TimeoutMs = 100
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio, cfg.Regional.MaxConsecutive = true, 0.5, 1
	s, err := fsm.New(topo, cfg)
	if err != nil {
		b.Fatal(err)
	}
	inv, tim := New(topo, cfg), NewTiming(topo, cfg)
	step := func(ev fsm.Event) []fsm.Effect {
		effs, err := s.Step(ev)
		if err != nil {
			b.Fatalf("%s: %v", fsm.DescribeEvent(topo, ev), err)
		}
		effs = slices.Clone(effs) // the core reuses its effect buffer
		if v := append(inv.Step(ev, effs, s), tim.Step(ev, effs, s)...); len(v) > 0 {
			b.Fatalf("%s: %v", fsm.DescribeEvent(topo, ev), v)
		}
		return effs
	}
	for _, e := range prefix {
		step(e)
		if forget {
			inv.Forget(s)
			tim.Forget(s)
		}
	}
	st := benchStep{inv: inv.Clone(), tim: tim.Clone(), ev: ev}
	st.effs = step(ev)
	st.s = s
	return st
}

var (
	benchStart    = fsm.Event{At: 0, Type: fsm.EvStart, Restore: &fsm.Restore{Checkpoint: 1, Mode: fsm.Claim}}
	benchTrigger  = fsm.Event{At: 1, Type: fsm.EvTrigger}
	benchAck0     = fsm.Event{At: 2, Type: fsm.EvAck, Checkpoint: 2, Task: 0}
	benchAck1     = fsm.Event{At: 3, Type: fsm.EvAck, Checkpoint: 2, Task: 1}
	benchDecline1 = fsm.Event{At: 3, Type: fsm.EvDecline, Checkpoint: 2, Task: 1}
	benchPersist  = fsm.Event{At: 4, Type: fsm.EvPersisted, Checkpoint: 2}
	benchTrigger2 = fsm.Event{At: 5, Type: fsm.EvTrigger}
	benchExpire   = fsm.Event{At: 101, Type: fsm.EvTick}
	benchFail1    = fsm.Event{At: 3, Type: fsm.EvTaskFailed, Task: 1}
)

// benchCases are the common events of an exploration, each after a short
// prefix: an ack, a decline, a completion (completed, notify, discard of the
// restored snapshot), a trigger, an expiry and a subtask failure.
func benchCases(b *testing.B) []struct {
	name string
	st   benchStep
} {
	pre := []fsm.Event{benchStart, benchTrigger, benchAck0}
	return []struct {
		name string
		st   benchStep
	}{
		{"ack", benchSteps(b, pre, benchAck1)},
		{"decline", benchSteps(b, pre, benchDecline1)},
		{"complete", benchSteps(b, append(slices.Clone(pre), benchAck1), benchPersist)},
		{"trigger", benchSteps(b, append(slices.Clone(pre), benchAck1, benchPersist), benchTrigger2)},
		{"expire", benchSteps(b, pre, benchExpire)},
		{"failover", benchSteps(b, pre, benchFail1)},
	}
}

// BenchmarkStep is Checker.Step on a warm scratch checker, as the explorer
// runs it: each iteration copies the stored checker into the scratch one
// (CloneInto) and steps it.
func BenchmarkStep(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			st, d := bc.st, new(Checker)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				st.inv.CloneInto(d)
				if v := d.Step(st.ev, st.effs, st.s); len(v) > 0 {
					b.Fatal(v)
				}
			}
		})
	}
}

// BenchmarkTimingStep is Timing.Step like BenchmarkStep.
func BenchmarkTimingStep(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			st, d := bc.st, new(Timing)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				st.tim.CloneInto(d)
				if v := d.Step(st.ev, st.effs, st.s); len(v) > 0 {
					b.Fatal(v)
				}
			}
		})
	}
}

// BenchmarkCloneInto copies a checker that holds a completed checkpoint, a
// pending one and the restored snapshot into a warm scratch checker.
func BenchmarkCloneInto(b *testing.B) {
	st := benchSteps(b, []fsm.Event{benchStart, benchTrigger, benchAck0, benchAck1, benchPersist}, benchTrigger2)
	d := new(Checker)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		st.inv.CloneInto(d)
	}
}

// BenchmarkClone is the copy the explorer keeps of each new memory (both
// checkers), from the same checker as BenchmarkCloneInto.
func BenchmarkClone(b *testing.B) {
	st := benchSteps(b, []fsm.Event{benchStart, benchTrigger, benchAck0, benchAck1, benchPersist}, benchTrigger2)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		cloneSink, timingSink = st.inv.Clone(), st.tim.Clone() // kept, as the explorer keeps them
	}
}

var (
	cloneSink  *Checker
	timingSink *Timing
)

// BenchmarkAppendKey keys the same checker as BenchmarkCloneInto, with the
// explorer's relabel (times from the state's clock, no renaming).
func BenchmarkAppendKey(b *testing.B) {
	st := benchSteps(b, []fsm.Event{benchStart, benchTrigger, benchAck0, benchAck1, benchPersist}, benchTrigger2)
	rl := fsm.Relabel{TimeBase: st.s.Now()}
	buf := st.inv.AppendKey(nil, &rl)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = st.inv.AppendKey(buf[:0], &rl)
		buf = st.tim.AppendKey(buf, &rl)
	}
}

// BenchmarkExplorerStep is the whole of the checkers' share of one distinct
// checker step in the explorer (fuzz/explore_memo.go memo.check): copy both
// checkers into warm scratch ones, shift the timing checker, step both,
// forget, and key both.
func BenchmarkExplorerStep(b *testing.B) {
	for _, bc := range benchCases(b) {
		b.Run(bc.name, func(b *testing.B) {
			st, d, dt := bc.st, new(Checker), new(Timing)
			var buf []byte
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				st.inv.CloneInto(d)
				st.tim.CloneInto(dt)
				dt.Shift(0)
				if v := d.Step(st.ev, st.effs, st.s); len(v) > 0 {
					b.Fatal(v)
				}
				if v := dt.Step(st.ev, st.effs, st.s); len(v) > 0 {
					b.Fatal(v)
				}
				d.Forget(st.s)
				dt.Forget(st.s)
				buf = dt.AppendKey(d.AppendKey(buf[:0], nil), nil)
			}
		})
	}
}

// BenchmarkStepLong is Checker.Step on an ack late in a long history (the
// shape of FuzzCore's long inputs): 250 checkpoints completed one after the
// other, so the checker tracks about 250 ids (it prunes at 256) and every
// record lookup and every per-step scan of the records is paid at that size.
func BenchmarkStepLong(b *testing.B) {
	pre := []fsm.Event{benchStart}
	at := int64(0)
	for id := int64(2); id < 252; id++ {
		at += 10
		pre = append(pre, fsm.Event{At: at, Type: fsm.EvTrigger}, fsm.Event{At: at + 1, Type: fsm.EvAck, Checkpoint: id, Task: 0},
			fsm.Event{At: at + 2, Type: fsm.EvAck, Checkpoint: id, Task: 1}, fsm.Event{At: at + 3, Type: fsm.EvPersisted, Checkpoint: id})
	}
	pre = append(pre, fsm.Event{At: at + 10, Type: fsm.EvTrigger}, fsm.Event{At: at + 11, Type: fsm.EvAck, Checkpoint: 252, Task: 0})
	st := benchStepsNoForget(b, pre, fsm.Event{At: at + 12, Type: fsm.EvAck, Checkpoint: 252, Task: 1})
	if n := len(st.inv.recs); n < 100 {
		b.Fatalf("the checker tracks %d ids: the history is not long for it", n)
	}
	b.ReportMetric(float64(len(st.inv.recs)), "records")
	// A replay steps one checker on (no copies): the ack changes nothing the
	// checker remembers, so stepping it again measures the same step.
	c := st.inv
	c.Step(st.ev, st.effs, st.s)
	key := c.AppendKey(nil, nil)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if v := c.Step(st.ev, st.effs, st.s); len(v) > 0 {
			b.Fatal(v)
		}
	}
	if !bytes.Equal(c.AppendKey(nil, nil), key) {
		b.Fatal("the repeated step changed the checker: the benchmark measures another step")
	}
}
