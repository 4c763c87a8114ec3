package fuzz

// keySet is a set of 128-bit keys in one open-addressing table (linear
// probing, at most half full), as TLC keeps its fingerprints: no per-entry
// allocation, and a lookup touches one or two cache lines. The zero key marks
// an empty slot, so it is kept apart.
type keySet struct {
	slots   []Key
	n       int
	hasZero bool
}

// Len returns the number of keys in the set.
func (s *keySet) Len() int {
	if s.hasZero {
		return s.n + 1
	}
	return s.n
}

// Has reports whether k is in the set. It only reads, so any number of
// goroutines may call it while none adds.
func (s *keySet) Has(k Key) bool {
	if k == (Key{}) {
		return s.hasZero
	}
	if len(s.slots) == 0 {
		return false
	}
	mask := uint64(len(s.slots) - 1)
	for i := k[0] & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return true
		case Key{}:
			return false
		}
	}
}

// Add inserts k and reports whether it was new.
func (s *keySet) Add(k Key) bool {
	if k == (Key{}) {
		added := !s.hasZero
		s.hasZero = true
		return added
	}
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := k[0] & mask; ; i = (i + 1) & mask {
		switch s.slots[i] {
		case k:
			return false
		case Key{}:
			s.slots[i] = k
			s.n++
			return true
		}
	}
}

func (s *keySet) grow() {
	old := s.slots
	s.slots = make([]Key, max(1024, 2*len(old)))
	mask := uint64(len(s.slots) - 1)
	for _, k := range old {
		if k == (Key{}) {
			continue
		}
		i := k[0] & mask
		for s.slots[i] != (Key{}) {
			i = (i + 1) & mask
		}
		s.slots[i] = k
	}
}
