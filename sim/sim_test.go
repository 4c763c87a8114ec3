package sim

import (
	"bytes"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// small returns a run of n regions with declines and failures, short enough for
// a unit test and eventful enough to reach every effect the simulator handles.
func small(n int, seed uint64) Params {
	p := DefaultParams(n)
	p.Seed = seed
	p.DurationMs = 60_000
	p.DeclineProb = 0.01
	p.FailProb = 0.002
	p.RecordEffects = true
	return p
}

func run(t *testing.T, p Params) (Stats, []byte) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Run(p, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return st, buf.Bytes()
}

func TestSameSeedSameHistory(t *testing.T) {
	p := small(20, 7)
	st1, h1 := run(t, p)
	st2, h2 := run(t, p)
	if !bytes.Equal(h1, h2) {
		t.Fatalf("two runs with seed %d wrote different histories (%d and %d bytes)", p.Seed, len(h1), len(h2))
	}
	if st1.String() != st2.String() {
		t.Fatalf("same seed, different statistics:\n%s\n---\n%s", &st1, &st2)
	}
	p.Seed = 8
	if _, h3 := run(t, p); bytes.Equal(h1, h3) {
		t.Fatal("seeds 7 and 8 wrote the same history: the seed is not used")
	}
}

// TestHistoryReplaysClean replays the history of runs of every kind with every
// invariant checked, compares the recorded effects with the recomputed ones, and
// checks that the replay summary tells the same story as the statistics.
func TestHistoryReplaysClean(t *testing.T) {
	cases := map[string]func(p *Params){
		"regional": func(p *Params) {},
		"global":   func(p *Params) { p.Config.Regional.Enabled = false },
		"restored": func(p *Params) { p.Restore = &fsm.Restore{Checkpoint: 5, Mode: fsm.NoClaim} },
		"one-region": func(p *Params) {
			p.Shape = ParallelShape(1)
		},
		"job-failures": func(p *Params) {
			p.Config.TolerableFailures = 1
			p.DeclineProb = 0.05
		},
		"persist-failures": func(p *Params) { p.PersistFail = 0.2 },
		"max-ref-age": func(p *Params) {
			p.Config.Regional.MaxRefAge = 2
			p.Config.Regional.MaxConsecutive = 5
		},
		"concurrent": func(p *Params) {
			p.Config.MaxConcurrent = 3
			p.Config.IntervalMs = 100
			p.Config.TimeoutMs = 150
			p.Config.Retained = 3
		},
		"not-counted-declines": func(p *Params) { p.DeclineAs = fsm.ReasonTaskNotReady },
		"wide":                 func(p *Params) { p.Shape = Shape{Regions: 6, Depth: 3, Fanout: 3} },
		"all-to-all":           func(p *Params) { p.Shape.Layout = AllToAll },
		"blocking":             func(p *Params) { p.Shape.Layout = Blocking },
	}
	for name, edit := range cases {
		t.Run(name, func(t *testing.T) {
			p := small(12, 3)
			edit(&p)
			st, data := run(t, p)
			h, err := history.Decode(bytes.NewReader(data), name+".jsonl")
			if err != nil {
				t.Fatal(err)
			}
			res, err := history.Replay(h, history.Options{Check: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range res.Summary.Violations {
				t.Errorf("line %d %s: %s: %s", v.Line, v.Event, v.Invariant, v.Detail)
			}
			if d := res.Divergence; d != nil {
				t.Errorf("recorded effects diverge: %+v", d)
			}
			sum := res.Summary
			if sum.Events != int(st.Events) || len(sum.Triggered) != st.Triggered ||
				len(sum.Completed) != st.Completed() || len(sum.Aborted) != st.AbortedTotal() ||
				sum.MaxRefAge != st.RefAgeMax {
				t.Errorf("summary: %d events, %d triggered, %d completed, %d aborted, max ref age %d; stats:\n%s",
					sum.Events, len(sum.Triggered), len(sum.Completed), len(sum.Aborted), sum.MaxRefAge, &st)
			}
			if st.Triggered == 0 {
				t.Errorf("nothing triggered:\n%s", &st)
			}
		})
	}
}

// TestStatsNoFaults: without declines or failures every checkpoint completes
// globally, one a second.
func TestStatsNoFaults(t *testing.T) {
	p := DefaultParams(50)
	p.DurationMs = 30_000
	st, err := Run(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Triggered != 30 || st.CompletedGlobal+st.PendingAtEnd != 30 || st.CompletedRegional != 0 ||
		st.AbortedTotal() != 0 || st.SuccessRate() != 1 || st.RefAgeMax != 0 || st.Dropped != 0 {
		t.Fatalf("want 30 global checkpoints and nothing else:\n%s", &st)
	}
}

// TestStatsRegionalBeatsGlobal is the experiment in miniature: with many
// regions and declines, global checkpoints rarely succeed, regional ones mostly
// do, at the price of references to older state.
func TestStatsRegionalBeatsGlobal(t *testing.T) {
	p := DefaultParams(500)
	p.DurationMs = 60_000
	p.DeclineProb = 0.002
	p.Restore = &fsm.Restore{Checkpoint: 1}
	glob := p
	glob.Config.Regional.Enabled = false
	g, err := Run(glob, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Run(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Stats{&g, &r} {
		if st.Triggered != st.Completed()+st.AbortedTotal()+st.PendingAtEnd {
			t.Errorf("triggered != completed + aborted + pending:\n%s", st)
		}
	}
	// (1-0.002)^1000 ≈ 0.135: most global checkpoints see a decline.
	if g.SuccessRate() > 0.35 || g.CompletedRegional != 0 || g.MeanRefAge() != 0 {
		t.Errorf("global: want a low success rate and no regional completion:\n%s", &g)
	}
	// Two regional completions, then a forced-global one that fails (R25).
	if r.SuccessRate() < 0.55 || r.CompletedRegional == 0 || r.ForcedGlobal == 0 {
		t.Errorf("regional: want most checkpoints completed, some regionally:\n%s", &r)
	}
	if r.MeanRefAge() <= 0 || r.RefAgeMax < 1 || r.MeanStaleAge() < 1 {
		t.Errorf("regional: regional completions must reference older state:\n%s", &r)
	}
}

// TestFailuresRestartRegions: a failure restarts its region (task_failed, then
// task_running for each subtask after the restart delay) and the job goes on.
func TestFailuresRestartRegions(t *testing.T) {
	p := small(10, 11)
	p.DeclineProb = 0
	p.FailProb = 0.01
	st, data := run(t, p)
	if st.TaskFailures == 0 {
		t.Fatalf("no failure:\n%s", &st)
	}
	h, err := history.Decode(bytes.NewReader(data), "failures.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	failed, running := 0, 0
	for _, rec := range h.Records {
		switch rec.Event.Type {
		case fsm.EvTaskFailed:
			failed++
		case fsm.EvTaskRunning:
			running++
		}
	}
	// Each failover restarts a region of two subtasks; the last may still be
	// restarting when the run ends.
	if failed != st.TaskFailures || running > 2*failed || running < 2*(failed-1) {
		t.Fatalf("%d task_failed and %d task_running events for %d failovers", failed, running, st.TaskFailures)
	}
	if st.Completed() == 0 {
		t.Fatalf("no completion:\n%s", &st)
	}
}

// TestAllocationsPerEvent: once the job is built, the simulator and the core
// allocate per checkpoint and per failed region, never per subtask per event.
func TestAllocationsPerEvent(t *testing.T) {
	for _, n := range []int{100, 1000} {
		p := DefaultParams(n)
		p.DurationMs = 20_000
		p.DeclineProb = 0.001
		p.Restore = &fsm.Restore{Checkpoint: 1}
		s, err := New(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		st, err := s.Run()
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatal(err)
		}
		allocs := float64(after.Mallocs - before.Mallocs)
		perEvent, perCheckpoint := allocs/float64(st.Events), allocs/float64(st.Triggered)
		t.Logf("%d regions: %.0f allocations, %.4f per event, %.1f per checkpoint", n, allocs, perEvent, perCheckpoint)
		if perEvent > 0.1 || perCheckpoint > 200 {
			t.Errorf("%d regions: %.0f allocations for %d events and %d checkpoints", n, allocs, st.Events, st.Triggered)
		}
	}
}

func TestQueueOrder(t *testing.T) {
	var q queue
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		q.push(item{at: r.Int64N(100), task: int32(i)})
		if i%3 == 0 {
			q.pop()
		}
	}
	prev := item{at: -1}
	for q.len() > 0 {
		it := q.pop()
		if it.at < prev.at || it.at == prev.at && it.seq <= prev.seq {
			t.Fatalf("popped (%d, %d) after (%d, %d)", it.at, it.seq, prev.at, prev.seq)
		}
		prev = it
	}
}

func TestShapes(t *testing.T) {
	cases := []struct {
		shape             Shape
		subtasks, regions int
		regional          bool
	}{
		{ParallelShape(1), 2, 1, false},
		{ParallelShape(7), 14, 7, true},
		{Shape{Regions: 4, Depth: 3, Fanout: 2}, 20, 4, true},
		{Shape{Regions: 4, Depth: 3, Fanout: 2, Layout: AllToAll}, 20, 1, false},
		{Shape{Regions: 4, Depth: 2, Fanout: 1, Layout: Blocking}, 8, 8, false},
	}
	for _, c := range cases {
		spec, err := c.shape.Spec()
		if err != nil {
			t.Fatal(err)
		}
		topo, err := fsm.NewTopology(spec)
		if err != nil {
			t.Fatal(err)
		}
		ok, _ := topo.RegionalCapable()
		if topo.NumSubtasks() != c.subtasks || c.shape.Subtasks() != c.subtasks ||
			topo.NumRegions() != c.regions || ok != c.regional {
			t.Errorf("%+v: %d subtasks, %d regions, regional %v; want %d, %d, %v", c.shape,
				topo.NumSubtasks(), topo.NumRegions(), ok, c.subtasks, c.regions, c.regional)
		}
	}
}

func TestInvalidParams(t *testing.T) {
	bad := map[string]func(p *Params){
		"no regions":      func(p *Params) { p.Shape.Regions = 0 },
		"depth":           func(p *Params) { p.Shape.Depth = 1 },
		"probability":     func(p *Params) { p.DeclineProb = 1.5 },
		"sum":             func(p *Params) { p.DeclineProb, p.FailProb = 0.6, 0.6 },
		"nan":             func(p *Params) { p.FailProb = math.NaN() },
		"delay":           func(p *Params) { p.Ack.Min = -1 },
		"config":          func(p *Params) { p.Config.TimeoutMs = 1 },
		"decline reason":  func(p *Params) { p.DeclineAs = "expired" },
		"restore":         func(p *Params) { p.Restore = &fsm.Restore{} },
		"negative length": func(p *Params) { p.DurationMs = -1 },
	}
	for name, edit := range bad {
		p := DefaultParams(3)
		edit(&p)
		if _, err := Run(p, nil); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
