// Command tracegen writes random histories of small jobs, driven by the Go core
// (package fsm), for trace validation against the TLA+ spec:
//
//	go run ./tla/tracegen -seed 1 -n 50 -events 60 -finish=false -o DIR
//
// Each history is a seeded random walk: at every step it picks one event the
// state makes meaningful (a tick to the core's next deadline or a bit later, a
// manual trigger, an ack of a waiting subtask, a decline, a task failure or
// restart, a persist confirmation or failure, a config patch or its
// confirmation, a coordinator recovery), feeds it to the core and records it.
// Jobs have 2 or 3 regions (one with a coordinator that cannot fall back in
// some jobs) and a random configuration. The same seed gives the same files.
//
// With -bias the walk steers toward the states the policy rules are about:
// it acks what is waited for, confirms persists, lets one region fail while the
// others ack (regional completions, R21), keeps the job alive (tolerable
// failures), and recovers the coordinator when the consecutive counter is not
// zero (R50). With -record every line carries the effects the core computed,
// so that `tla/run.sh trace` with TLA_EFFECTS=recorded checks them.
//
// It prints one line of coverage counts over all the walks, which tla/run.sh
// compares with the bounds tla/expected.txt pins:
//
//	regional=N forced=N tier2=N recoveries=N recoveries_nonzero=N fail_job=N
package main

import (
	"flag"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

func main() {
	seed := flag.Int64("seed", 1, "first seed")
	n := flag.Int("n", 20, "number of histories")
	events := flag.Int("events", 60, "events per history (after start)")
	finish := flag.Bool("finish", false, "also generate task_finished events")
	bias := flag.Bool("bias", false, "steer toward regional completions, tier 2 and recoveries with a nonzero counter")
	record := flag.Bool("record", false, "record the core's effects on every line")
	out := flag.String("o", ".", "output directory")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "tracegen:", err)
		os.Exit(2)
	}
	var cov coverage
	for i := 0; i < *n; i++ {
		s := *seed + int64(i)
		path := filepath.Join(*out, fmt.Sprintf("gen-%04d.jsonl", s))
		w := walk{finish: *finish, bias: *bias, record: *record}
		if err := w.generate(path, s, *events, &cov); err != nil {
			fmt.Fprintf(os.Stderr, "tracegen: seed %d: %v\n", s, err)
			os.Exit(1)
		}
	}
	fmt.Println(cov)
}

// walk is how one history is generated.
type walk struct {
	finish, bias, record bool
}

// coverage counts what the walks reached, from the core's own effects.
type coverage struct {
	regional, forced, tier2, recoveries, recoveriesNonzero, failJob int
}

func (c coverage) String() string {
	return fmt.Sprintf("regional=%d forced=%d tier2=%d recoveries=%d recoveries_nonzero=%d fail_job=%d",
		c.regional, c.forced, c.tier2, c.recoveries, c.recoveriesNonzero, c.failJob)
}

// count adds one step's effects; forced holds the ids triggered forced-global.
func (c *coverage) count(ev fsm.Event, effs []fsm.Effect, forced map[int64]bool) {
	if ev.Type == fsm.EvRecover {
		c.recoveries++
	}
	for _, e := range effs {
		switch {
		case e.Type == fsm.EffCompleted && e.Mode == fsm.ModeRegional:
			c.regional++
		case e.Type == fsm.EffTrigger && e.ForcedGlobal:
			c.forced++
			forced[e.Checkpoint] = true
		case e.Type == fsm.EffAbort && forced[e.Checkpoint]:
			c.tier2++ // R25 tier 2: a forced-global checkpoint ended without completing
		case e.Type == fsm.EffFailJob:
			c.failJob++
		}
	}
}

func (wk walk) generate(path string, seed int64, n int, cov *coverage) error {
	rng := rand.New(rand.NewSource(seed))
	job, cfg := randomJob(rng)
	if wk.bias {
		biasConfig(rng, &cfg)
	}
	topo, err := fsm.NewTopology(job)
	if err != nil {
		return err
	}
	s, err := fsm.New(topo, cfg)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(f, "// tracegen -seed %d: a random walk of the Go core, for tla/run.sh trace\n", seed)
	w, err := history.NewWriter(f, history.Header{Format: history.Format, Job: job, Config: cfg})
	if err != nil {
		return err
	}
	forced := map[int64]bool{}
	step := func(ev fsm.Event) error {
		consec := s.Consecutive()
		effs, err := s.Step(ev)
		if err != nil {
			return fmt.Errorf("%s: %w", fsm.DescribeEvent(topo, ev), err)
		}
		if ev.Type == fsm.EvRecover && consec > 0 {
			cov.recoveriesNonzero++
		}
		cov.count(ev, effs, forced)
		if !wk.record {
			effs = nil
		} else if effs == nil {
			effs = []fsm.Effect{}
		}
		return w.WriteEvent(ev, effs)
	}
	if err := step(fsm.Event{At: 0, Type: fsm.EvStart}); err != nil {
		return err
	}
	req := int64(0)
	for i := 0; i < n; i++ {
		var ev fsm.Event
		if wk.bias {
			ev = biasedEvent(rng, s, topo, &req, wk.finish)
		} else {
			ev = randomEvent(rng, s, topo, &req, wk.finish)
		}
		if err := step(ev); err != nil {
			return err
		}
	}
	return nil
}

func randomJob(rng *rand.Rand) (fsm.JobSpec, fsm.Config) {
	regions := 2 + rng.Intn(2)
	co := fsm.CoordinatorFallback
	if rng.Intn(4) == 0 {
		co = fsm.CoordinatorPlain
	}
	job := fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: regions, Coordinator: co},
			{ID: "sink", Parallelism: regions}},
		Edges: []fsm.EdgeSpec{{From: "src", To: "sink"}},
	}
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = []int64{0, 100, 100, 250}[rng.Intn(4)]
	cfg.TimeoutMs = []int64{60, 150, 400}[rng.Intn(3)]
	cfg.MinPauseMs = []int64{0, 0, 50}[rng.Intn(3)]
	cfg.MaxConcurrent = 1 + rng.Intn(3)
	cfg.TolerableFailures = rng.Intn(4)
	cfg.Retained = 1 + rng.Intn(2)
	cfg.Regional.Enabled = rng.Intn(5) != 0
	cfg.Regional.MaxFailureRatio = []float64{0.3, 0.5, 0.67, 1}[rng.Intn(4)]
	cfg.Regional.MaxConsecutive = rng.Intn(3)
	cfg.Regional.MaxRefAge = []int64{0, 0, 2}[rng.Intn(3)]
	if rng.Intn(3) == 0 {
		cfg.MaxTimeoutMs = 500
	}
	return job, cfg
}

func randomEvent(rng *rand.Rand, s *fsm.State, topo *fsm.Topology, req *int64, finish bool) fsm.Event {
	now := s.Now()
	tasks := topo.NumSubtasks()
	for {
		switch rng.Intn(14) {
		case 0, 1: // time passes: to the next deadline, or a little
			at := now + 1 + int64(rng.Intn(80))
			if d, ok := s.NextDeadline(); ok && rng.Intn(2) == 0 && d >= now {
				at = d + int64(rng.Intn(3))
			}
			return fsm.Event{At: at, Type: fsm.EvTick}
		case 2:
			kinds := []fsm.Kind{fsm.KindCheckpoint, fsm.KindCheckpoint, fsm.KindCheckpoint, fsm.KindSavepoint, fsm.KindStopWithSavepoint}
			k := kinds[rng.Intn(len(kinds))]
			if k == fsm.KindStopWithSavepoint && rng.Intn(4) != 0 {
				continue
			}
			return fsm.Event{At: now, Type: fsm.EvTrigger, Kind: k}
		case 3, 4, 5, 6: // an ack of some pending checkpoint, mostly of a waiting subtask
			ps := s.Pending()
			if len(ps) == 0 {
				continue
			}
			p := ps[rng.Intn(len(ps))]
			t := fsm.TaskID(rng.Intn(tasks))
			for i := 0; i < tasks && rng.Intn(8) != 0; i++ {
				if c := fsm.TaskID((int(t) + i) % tasks); p.Triggered(c) && !p.Acked(c) && !p.RegionFailed(topo.RegionOf(c)) {
					t = c
					break
				}
			}
			return fsm.Event{At: now + int64(rng.Intn(5)), Type: fsm.EvAck, Checkpoint: p.ID, Task: t}
		case 7:
			ps := s.Pending()
			if len(ps) == 0 || rng.Intn(2) == 0 {
				continue
			}
			reason := []fsm.Reason{fsm.ReasonDeclined, fsm.ReasonDeclined, fsm.ReasonAsyncException, fsm.ReasonTaskNotReady}[rng.Intn(4)]
			return fsm.Event{At: now, Type: fsm.EvDecline, Checkpoint: ps[rng.Intn(len(ps))].ID,
				Task: fsm.TaskID(rng.Intn(tasks)), Reason: reason}
		case 8:
			if rng.Intn(3) != 0 {
				continue
			}
			return fsm.Event{At: now, Type: fsm.EvTaskFailed, Task: fsm.TaskID(rng.Intn(tasks))}
		case 9:
			var down []fsm.TaskID
			for t := 0; t < tasks; t++ {
				if !s.TaskRunning(fsm.TaskID(t)) && !s.TaskFinished(fsm.TaskID(t)) {
					down = append(down, fsm.TaskID(t))
				}
			}
			if len(down) == 0 {
				continue
			}
			return fsm.Event{At: now + int64(rng.Intn(10)), Type: fsm.EvTaskRunning, Task: down[rng.Intn(len(down))]}
		case 10:
			for _, p := range s.Pending() {
				if p.Persisting {
					typ := fsm.EvPersisted
					if rng.Intn(6) == 0 {
						typ = fsm.EvPersistFailed
					}
					return fsm.Event{At: now + int64(rng.Intn(5)), Type: typ, Checkpoint: p.ID}
				}
			}
		case 11:
			if rng.Intn(2) == 0 {
				continue
			}
			*req++
			ev := fsm.Event{At: now, Type: fsm.EvConfigPatch, Request: *req}
			switch rng.Intn(3) {
			case 0:
				ev.HasInterval, ev.IntervalMs = true, []int64{0, 80, 300, 5}[rng.Intn(4)]
			case 1:
				ev.HasTimeout, ev.TimeoutMs = true, []int64{20, 90, 700}[rng.Intn(3)]
			default:
				ev.HasInterval, ev.IntervalMs = true, []int64{0, 120}[rng.Intn(2)]
				ev.HasTimeout, ev.TimeoutMs = true, []int64{30, 200}[rng.Intn(2)]
			}
			return ev
		case 12:
			if pp := s.PendingPatches(); len(pp) > 0 {
				return fsm.Event{At: now + int64(rng.Intn(5)), Type: fsm.EvConfigPersisted, Request: pp[rng.Intn(len(pp))]}
			}
		case 13:
			switch {
			case rng.Intn(12) == 0:
				return fsm.Event{At: now + 1, Type: fsm.EvRecover}
			case finish && rng.Intn(6) == 0:
				return fsm.Event{At: now, Type: fsm.EvTaskFinished, Task: fsm.TaskID(rng.Intn(tasks))}
			}
		}
	}
}

// biasConfig makes regional completions possible and keeps the job alive: regional
// mode on, a ratio that lets one region of two or three fail, tolerable failures.
func biasConfig(rng *rand.Rand, cfg *fsm.Config) {
	cfg.Regional.Enabled = true
	cfg.Regional.MaxFailureRatio = []float64{0.5, 0.67, 1}[rng.Intn(3)]
	cfg.Regional.MaxConsecutive = 1 + rng.Intn(2)
	cfg.TolerableFailures = 2 + rng.Intn(3)
	cfg.TimeoutMs = []int64{150, 400}[rng.Intn(2)]
}

// biasedEvent steers the walk: with nothing pending, trigger; with a checkpoint
// persisting, mostly confirm it; otherwise fail one region early (a task failure
// or a decline) and ack the others, so that checkpoints complete regionally,
// the counter climbs to max_consecutive and forced checkpoints follow, some of
// which fail (tier 2). A recovery comes mostly when the counter is not zero.
func biasedEvent(rng *rand.Rand, s *fsm.State, topo *fsm.Topology, req *int64, finish bool) fsm.Event {
	now := s.Now()
	tasks := topo.NumSubtasks()
	if s.Job() != fsm.JobRunning {
		return fsm.Event{At: now + 1, Type: fsm.EvRecover}
	}
	if s.Consecutive() > 0 && rng.Intn(25) == 0 {
		return fsm.Event{At: now + 1, Type: fsm.EvRecover}
	}
	ps := s.Pending()
	for _, p := range ps {
		if p.Persisting && rng.Intn(4) != 0 {
			typ := fsm.EvPersisted
			if rng.Intn(10) == 0 {
				typ = fsm.EvPersistFailed
			}
			return fsm.Event{At: now + 1, Type: typ, Checkpoint: p.ID}
		}
	}
	// restart what is down, soon
	for t := 0; t < tasks; t++ {
		id := fsm.TaskID(t)
		if !s.TaskRunning(id) && !s.TaskFinished(id) && rng.Intn(3) == 0 {
			return fsm.Event{At: now + 1, Type: fsm.EvTaskRunning, Task: id}
		}
	}
	if len(ps) == 0 || rng.Intn(12) == 0 {
		if rng.Intn(8) == 0 {
			return randomEvent(rng, s, topo, req, finish)
		}
		return fsm.Event{At: now + 1, Type: fsm.EvTrigger, Kind: fsm.KindCheckpoint}
	}
	p := ps[rng.Intn(len(ps))]
	if p.Persisting {
		return fsm.Event{At: now + 1, Type: fsm.EvPersisted, Checkpoint: p.ID}
	}
	// One region fails for this checkpoint (now and then), the others ack.
	failed := false
	for r := 0; r < topo.NumRegions(); r++ {
		failed = failed || p.RegionFailed(r)
	}
	if !failed && rng.Intn(3) == 0 {
		r := rng.Intn(topo.NumRegions())
		t := topo.RegionTasks(r)[0]
		switch rng.Intn(3) {
		case 0:
			return fsm.Event{At: now + 1, Type: fsm.EvTaskFailed, Task: t}
		case 1:
			return fsm.Event{At: now + 1, Type: fsm.EvDecline, Checkpoint: p.ID, Task: t, Reason: fsm.ReasonDeclined}
		}
	}
	for i := 0; i < tasks; i++ {
		c := fsm.TaskID(i)
		if p.Triggered(c) && !p.Acked(c) && !p.RegionFailed(topo.RegionOf(c)) {
			return fsm.Event{At: now + 1, Type: fsm.EvAck, Checkpoint: p.ID, Task: c}
		}
	}
	return randomEvent(rng, s, topo, req, finish)
}
