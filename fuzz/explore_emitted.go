package fuzz

// emittedSet is one worker's set of the (pair, budget) nodes it made
// candidates of in the current depth, when several workers expand it (one
// worker records each node on its pair as it goes). A worker expands its items in tag
// order, so its first candidate of a node has its smallest tag and a later
// one can never be the node merge keeps: dropping it at once spares merge
// (which runs on one goroutine) about half of the candidates on the pinned
// models. Open addressing with linear probing, at most half full; entries of
// earlier depths are told apart by their generation, so a depth starts
// without clearing the table.
type emittedSet struct {
	slots []emitted
	gen   uint32
	n     int // entries of the current generation
}

type emitted struct {
	p   *pairEntry
	b   packedBudget
	gen uint32
}

// reset starts a new depth.
func (s *emittedSet) reset() {
	s.gen++
	s.n = 0
	if s.gen == 0 { // wrapped: old generations could look current
		clear(s.slots)
		s.gen = 1
	}
}

// add records (p, b) and reports whether it is new in this depth.
func (s *emittedSet) add(p *pairEntry, b packedBudget) bool {
	if 2*(s.n+1) > len(s.slots) {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := (p.hash ^ uint64(b)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9 >> 17 & mask; ; i = (i + 1) & mask {
		e := &s.slots[i]
		if e.gen != s.gen {
			*e = emitted{p, b, s.gen}
			s.n++
			return true
		}
		if e.p == p && e.b == b {
			return false
		}
	}
}

// grow doubles the table, keeping the current generation's entries.
func (s *emittedSet) grow() {
	old := s.slots
	s.slots = make([]emitted, max(1024, 2*len(old)))
	s.n = 0
	mask := uint64(len(s.slots) - 1)
	for _, e := range old {
		if e.gen != s.gen || e.p == nil {
			continue
		}
		i := (e.p.hash ^ uint64(e.b)*0x9e3779b97f4a7c15) * 0xbf58476d1ce4e5b9 >> 17 & mask
		for s.slots[i].gen == s.gen {
			i = (i + 1) & mask
		}
		s.slots[i] = e
		s.n++
	}
}
