package fuzz

import (
	"reflect"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestStateKeyOfClone: a clone digests like its original at every step, and a
// step that changes the state changes the digest. reflect.DeepEqual is no
// substitute: it tells a state from its own clone (the clone drops the effect
// buffer and turns empty slices into nil ones), which is why the property
// compares StateKeys to see that a refused event changed nothing.
func TestStateKeyOfClone(t *testing.T) {
	h := readHistory(t, "testdata/regress/failover-reaches-ready-before-slot.jsonl")
	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		t.Fatal(err)
	}
	deepEqualOnce := false
	for _, r := range h.Records {
		before := StateKey(s)
		if _, err := s.Step(r.Event); err != nil {
			t.Fatal(err)
		}
		c := s.Clone()
		if StateKey(c) != StateKey(s) || Fingerprint(c) != Fingerprint(s) {
			t.Fatalf("line %d: the clone digests differently", r.Line)
		}
		if r.Event.Type == fsm.EvTrigger && StateKey(s) == before {
			t.Fatalf("line %d: a trigger left the digest unchanged", r.Line)
		}
		deepEqualOnce = deepEqualOnce || reflect.DeepEqual(s, c)
	}
	if deepEqualOnce {
		t.Log("reflect.DeepEqual now holds between a state and its clone; StateKey is still the stricter check")
	}
}

// TestKeySet: the open-addressing set agrees with a map over many keys,
// including the zero key and keys that collide in the low bits.
func TestKeySet(t *testing.T) {
	var s keySet
	ref := map[Key]bool{}
	for i := uint64(0); i < 20000; i++ {
		k := Key{i % 7 << 20, i * 0x9e3779b97f4a7c15}
		if i%1000 == 0 {
			k = Key{}
		}
		if got, want := s.Add(k), !ref[k]; got != want {
			t.Fatalf("Add(%v) = %t, want %t", k, got, want)
		}
		ref[k] = true
		if !s.Has(k) || s.Has(Key{k[0], k[1] + 1}) != ref[Key{k[0], k[1] + 1}] {
			t.Fatalf("Has after Add(%v) disagrees with a map", k)
		}
	}
	if s.Len() != len(ref) {
		t.Fatalf("Len %d, want %d", s.Len(), len(ref))
	}
}
