package fuzz

import "testing"

// TestEmittedSet: the per-depth set agrees with a map over many depths,
// through growth in the middle of a depth, and forgets each depth's entries
// when the next begins (also when the generation counter wraps).
func TestEmittedSet(t *testing.T) {
	pairs := make([]pairEntry, 300)
	for i := range pairs {
		pairs[i].hash = uint64(i+1) * 0x9e3779b97f4a7c15
	}
	var s emittedSet
	type key struct {
		p *pairEntry
		b packedBudget
	}
	for depth := 0; depth < 40; depth++ {
		if depth == 20 {
			s.gen = ^uint32(0) // the next reset wraps
		}
		s.reset()
		ref := map[key]bool{}
		for i := 0; i < 50*depth+7; i++ {
			k := key{&pairs[(i*7+depth)%len(pairs)], packedBudget(i % (depth + 3))}
			if got, want := s.add(k.p, k.b), !ref[k]; got != want {
				t.Fatalf("depth %d, add %d: %t, want %t", depth, i, got, want)
			}
			ref[k] = true
		}
		if s.n != len(ref) {
			t.Fatalf("depth %d: %d entries, want %d", depth, s.n, len(ref))
		}
	}
}
