package corefuzz

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// failRecorder stands in for the fuzzer's T: Fatalf records the message and
// stops the run, as the real one stops the execution.
type failRecorder struct {
	testing.TB
	msg string
}

type stopRun struct{}

func (f *failRecorder) Helper() {}

func (f *failRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(stopRun{})
}

// failureOf runs body with a failRecorder and returns what it failed with
// ("" when it did not).
func failureOf(t *testing.T, body func(tb testing.TB)) (msg string) {
	rec := &failRecorder{TB: t}
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(stopRun); !ok {
				panic(p)
			}
		}
		msg = rec.msg
	}()
	body(rec)
	return ""
}

// failedHistory checks that a failure message carries a history that decodes
// and holds n events, and returns it.
func failedHistory(t *testing.T, msg string, n int) *history.History {
	t.Helper()
	_, text, ok := strings.Cut(msg, "FILE`):\n")
	if !ok {
		t.Fatalf("the failure prints no history:\n%s", msg)
	}
	h, err := history.Decode(strings.NewReader(text), "failure.jsonl")
	if err != nil {
		t.Fatalf("the failure's history does not decode: %v\n%s", err, text)
	}
	if len(h.Records) != n {
		t.Fatalf("the failure's history has %d events, want %d:\n%s", len(h.Records), n, text)
	}
	return h
}

// The harness must fail, with a history that replays, when the core accepts
// an event the generator meant as invalid, or refuses one meant as valid:
// this is what a core that lost a validation (or gained a wrong one) looks
// like to FuzzCore.
func TestFuzzCoreReportsWrongAnswers(t *testing.T) {
	seed := coreSeeds()[1]
	msg := failureOf(t, func(tb testing.TB) {
		r := newCoreRun(tb, seed)
		r.refuse(fsm.Event{At: r.s.Now(), Type: fsm.EvTick}) // a valid tick
	})
	if !strings.Contains(msg, "harness: invalid event accepted: ") {
		t.Fatalf("an accepted invalid event was not reported: %q", msg)
	}
	failedHistory(t, msg, 2) // the start and the tick

	msg = failureOf(t, func(tb testing.TB) {
		r := newCoreRun(tb, seed)
		r.step(fsm.Event{At: r.s.Now() - 1, Type: fsm.EvTick}) // time going back: R10
	})
	if !strings.Contains(msg, "harness: a valid event was refused: ") {
		t.Fatalf("a refused valid event was not reported: %q", msg)
	}
	failedHistory(t, msg, 1)
}

// Round trips are remembered per event (and job, for a start): a start key
// must tell apart every field a start's line holds, or a start that does not
// round-trip could hide behind one that did.
func TestStartKeyTellsStartsApart(t *testing.T) {
	var r coreRun
	r.src = &bytesSource{data: []byte{2, 1, 3, 1, 0, 0, 1, 1, 0}}
	one, err := r.job()
	if err != nil {
		t.Fatal(err)
	}
	r.src = &bytesSource{data: []byte{2, 2, 3, 1, 0, 0, 1, 1, 0}}
	other, err := r.job()
	if err != nil {
		t.Fatal(err)
	}
	base := func() fsm.Event {
		return fsm.Event{Type: fsm.EvStart, HasInitialDelay: true, InitialDelayMs: 7,
			Restore: &fsm.Restore{Checkpoint: 4, Mode: fsm.Claim, Refs: []fsm.RegionRef{{Region: 0, Checkpoint: 2}}}}
	}
	variants := map[string]func(*fsm.Event) *fsm.Topology{
		"same":       func(*fsm.Event) *fsm.Topology { return one.topo },
		"job":        func(*fsm.Event) *fsm.Topology { return other.topo },
		"delay":      func(ev *fsm.Event) *fsm.Topology { ev.InitialDelayMs = 8; return one.topo },
		"has delay":  func(ev *fsm.Event) *fsm.Topology { ev.HasInitialDelay = false; return one.topo },
		"no restore": func(ev *fsm.Event) *fsm.Topology { ev.Restore = nil; return one.topo },
		"checkpoint": func(ev *fsm.Event) *fsm.Topology { ev.Restore.Checkpoint = 5; return one.topo },
		"mode":       func(ev *fsm.Event) *fsm.Topology { ev.Restore.Mode = fsm.NoClaim; return one.topo },
		"no refs":    func(ev *fsm.Event) *fsm.Topology { ev.Restore.Refs = nil; return one.topo },
		"ref region": func(ev *fsm.Event) *fsm.Topology { ev.Restore.Refs[0].Region = 1; return one.topo },
		"ref id":     func(ev *fsm.Event) *fsm.Topology { ev.Restore.Refs[0].Checkpoint = 3; return one.topo },
		"another ref": func(ev *fsm.Event) *fsm.Topology {
			ev.Restore.Refs = append(ev.Restore.Refs, fsm.RegionRef{Region: 1, Checkpoint: 1})
			return one.topo
		},
		"another time": func(ev *fsm.Event) *fsm.Topology { ev.At = 1; return one.topo },
	}
	want, ok := startKeyOf(one.topo, base())
	if !ok {
		t.Fatal("a start with one reference has no key")
	}
	for name, change := range variants {
		ev := base()
		topo := change(&ev)
		got, ok := startKeyOf(topo, ev)
		if !ok {
			t.Fatalf("%s: no key", name)
		}
		if (got == want) != (name == "same") {
			t.Errorf("%s: key equal to the base start's: %t", name, got == want)
		}
	}
	many := base()
	many.Restore.Refs = make([]fsm.RegionRef, maxStartRefs+1)
	if _, ok := startKeyOf(one.topo, many); ok {
		t.Error("a start with more references than a key holds has a key")
	}
}

// The generator must reach every event type, refused invalid events, and the
// core's main outcomes (completed, aborted, regional checkpoints, discards),
// from the seeds and a few hundred random inputs: FuzzCore's coverage
// guidance starts from there.
func TestFuzzCoreReachesEveryEventAndOutcome(t *testing.T) {
	events := map[fsm.EventType]int{}
	effects := map[fsm.EffectType]int{}
	refused, regional := 0, 0
	inputs := coreSeeds()
	rnd := rand.New(rand.NewPCG(13, 13))
	for range 300 {
		in := make([]byte, 64+rnd.IntN(512))
		for i := range in {
			in[i] = byte(rnd.IntN(256))
		}
		inputs = append(inputs, in)
	}
	for _, in := range inputs {
		r := newCoreRun(t, in)
		for i := 0; i < maxFuzzEvents && !r.src.done(); i++ {
			r.next()
		}
		r.roundTrip()
		refused += r.refused
		// Replay the accepted events for their effects.
		s, err := fsm.New(r.topo, r.cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range r.evs {
			events[ev.Type]++
			effs, err := s.Step(ev)
			if err != nil {
				t.Fatalf("replaying %s: %v", fsm.DescribeEvent(r.topo, ev), err)
			}
			for _, e := range effs {
				effects[e.Type]++
				if e.Type == fsm.EffNotifyComplete && len(e.RegionalInfo) > 0 {
					regional++
				}
			}
		}
	}
	for ty := fsm.EvStart; ty <= fsm.EvRecover; ty++ {
		if events[ty] == 0 {
			t.Errorf("no %s event generated", ty)
		}
	}
	if refused == 0 {
		t.Error("no invalid event generated")
	}
	for _, ty := range []fsm.EffectType{fsm.EffTrigger, fsm.EffAbort, fsm.EffPersist, fsm.EffNotifyComplete,
		fsm.EffNotifyAborted, fsm.EffDiscard, fsm.EffCoordinatorFallback} {
		if effects[ty] == 0 {
			t.Errorf("no %s effect reached", ty)
		}
	}
	if regional == 0 {
		t.Error("no regional completion reached")
	}
	t.Logf("events %v, refused %d, effects %v, regional completions %d", events, refused, effects, regional)
}
