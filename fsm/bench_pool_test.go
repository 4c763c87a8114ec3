package fsm

import (
	"math/rand/v2"
	"testing"
)

// The explorer's access pattern (issue 17): it keeps thousands of interned
// states (the regional 2×1 model: 4 k) and computes each distinct step on a
// clone of one of them, so the state it clones from is rarely in the cache.
// BenchmarkCloneInto copies one state over and over (everything cached); these
// copy from a pool of stored states in random order, as the explorer does.
//
//	go test -run '^$' -bench 'Pool' -benchmem ./fsm/

// poolSize is about the explorer's number of interned states on the regional
// 2×1 model: their clones take a few MB, more than a core's L2 cache.
const poolSize = 4096

// poolItem is a stored state and a hot event of the explorer applicable to
// it: the ack of a subtask it waits for, else a trigger.
type poolItem struct {
	s  *State
	ev Event
}

// benchPool returns poolSize clones of states reached by random histories
// of the job under benchConfig, in random order, each with its event.
func benchPool(tb testing.TB, spec JobSpec) []poolItem {
	tb.Helper()
	rnd := rand.New(rand.NewPCG(17, 4))
	pool := make([]poolItem, 0, poolSize)
	var s *State
	for len(pool) < poolSize {
		if s == nil || s.job != JobRunning || rnd.IntN(40) == 0 {
			s = benchStarted(tb, spec)
		}
		randomHistory(rnd, s, 1+rnd.IntN(3))
		if s.job != JobRunning {
			continue
		}
		ev := Event{At: s.now, Type: EvTrigger}
		for i := range s.pending {
			if w := s.pending[i].waiting.next(0); w >= 0 {
				ev = Event{At: s.now, Type: EvAck, Checkpoint: s.pending[i].id, Task: TaskID(w), StateSize: 1}
				break
			}
		}
		pool = append(pool, poolItem{s.Clone(), ev})
	}
	rnd.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	return pool
}

// BenchmarkCloneIntoPool is CloneInto from a stored state, a different one
// each time, into the worker's scratch state.
func BenchmarkCloneIntoPool(b *testing.B) {
	for _, j := range benchJobs {
		pool := benchPool(b, j.spec)
		dst := pool[0].s.Clone()
		b.Run("job="+j.name, func(b *testing.B) {
			i := 0
			measure(b, func() {
				pool[i%poolSize].s.CloneInto(dst)
				i++
			})
		})
	}
}

// BenchmarkExploreStepPool is the core's whole share of one distinct step of
// the explorer (fuzz/explore_memo.go memo.step): CloneInto from a stored
// state, Step the scratch state with a hot event, and key the successor
// relative to its own clock.
func BenchmarkExploreStepPool(b *testing.B) {
	for _, j := range benchJobs {
		pool := benchPool(b, j.spec)
		dst := pool[0].s.Clone()
		var key []byte
		b.Run("job="+j.name, func(b *testing.B) {
			i := 0
			measure(b, func() {
				it := &pool[i%poolSize]
				i++
				it.s.CloneInto(dst)
				if _, err := dst.Step(it.ev); err != nil {
					b.Fatal(err)
				}
				rl := Relabel{TimeBase: dst.now}
				key = dst.AppendKeyRelabeled(key[:0], &rl)
			})
		})
	}
}
