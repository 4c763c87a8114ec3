package fsm

import (
	"bytes"
	"reflect"
	"testing"
)

// TestViewsCopyAndAgree: over random histories, Known equals what EachKnown
// visits and the store itself; LatestCompleted is Known's last retained
// checkpoint; Pending's sets are the core's. The copies Known and Pending
// hand out share one array each but are capped: appending to one never
// changes another, and editing them never changes the state.
func TestViewsCopyAndAgree(t *testing.T) {
	for seed := uint64(0); seed < 12; seed++ {
		rnd, s := randomCloneCase(t, seed, 21)
		for _, ev := range randomHistory(rnd, s.Clone(), 120) {
			if _, err := s.Step(ev); err != nil {
				t.Fatal(err)
			}
			checkViews(t, s)
		}
	}
	// Every known checkpoint with refs, so that each copy has a neighbour to
	// write into (random histories rarely keep two).
	s := benchMidway(t, benchJobs[1].spec)
	for i := range s.known {
		s.known[i].refs = []RegionRef{{Region: 0, Checkpoint: 1}, {Region: 1, Checkpoint: 1}}
	}
	checkViews(t, s)
}

func checkViews(t *testing.T, s *State) {
	t.Helper()
	snap := s.AppendSnapshot(nil)
	known := s.Known()
	var visited []StoredCheckpoint
	s.EachKnown(func(k StoredCheckpoint) bool { visited = append(visited, k); return true })
	if !reflect.DeepEqual(known, visited) && !(len(known) == 0 && len(visited) == 0) {
		t.Fatalf("Known %v, EachKnown visits %v", known, visited)
	}
	var latest *StoredCheckpoint
	for i, k := range known {
		c := &s.known[i]
		if k.ID != c.id || k.Retained != c.retained || len(k.Refs) != len(c.refs) || cap(k.Refs) != len(k.Refs) {
			t.Fatalf("Known()[%d] = %+v (refs cap %d), the store holds %+v", i, k, cap(k.Refs), *c)
		}
		if k.Retained {
			latest = &known[i]
		}
	}
	if l, ok := s.LatestCompleted(); ok != (latest != nil) || ok && !reflect.DeepEqual(l, *latest) {
		t.Fatalf("LatestCompleted %+v %v, Known's last retained %+v", l, ok, latest)
	}
	for i := range known {
		known[i].Refs = append(known[i].Refs, RegionRef{Region: 99, Checkpoint: 99})
		if i+1 < len(known) && len(known[i+1].Refs) > 0 && known[i+1].Refs[0].Region == 99 {
			t.Fatal("an append to one Known entry's refs wrote into the next one's")
		}
	}
	pending := s.Pending()
	for i, p := range pending {
		c := &s.pending[i]
		if p.ID != c.id || !reflect.DeepEqual([]uint64(p.acked), []uint64(c.acked)) ||
			!reflect.DeepEqual([]uint64(p.triggered), []uint64(c.triggered)) ||
			!reflect.DeepEqual([]uint64(p.failed), []uint64(c.failed)) || len(p.refs) != len(c.refs) {
			t.Fatalf("Pending()[%d] differs from the checkpoint it copies", i)
		}
		for _, set := range [][]uint64{p.acked, p.triggered, p.failed} {
			if cap(set) != len(set) {
				t.Fatalf("Pending()[%d]: a set's capacity is above its length", i)
			}
			for w := range set {
				set[w] = ^uint64(0)
			}
		}
		for j := range p.refs {
			p.refs[j].Checkpoint = -1
		}
	}
	if !bytes.Equal(s.AppendSnapshot(nil), snap) {
		t.Fatal("editing the views changed the state")
	}
}

// TestViewAllocations: Known and Pending take at most two allocations
// whatever the state holds; EachKnown and EachPending none.
func TestViewAllocations(t *testing.T) {
	s := benchMidway(t, benchJobs[1].spec)
	var ids int64
	for name, f := range map[string]func(){
		"Known":   func() { knownSink = s.Known() },
		"Pending": func() { pendingSink = s.Pending() },
		"EachKnown": func() {
			s.EachKnown(func(k StoredCheckpoint) bool { ids += k.ID + int64(len(k.Refs)); return true })
		},
	} {
		limit := 2.0
		if name == "EachKnown" {
			limit = 0
		}
		if n := testing.AllocsPerRun(50, f); n > limit {
			t.Errorf("%s: %.0f allocations, want at most %.0f", name, n, limit)
		}
	}
	if ids == 0 {
		t.Fatal("EachKnown visited nothing")
	}
}

var (
	knownSink   []StoredCheckpoint
	pendingSink []PendingInfo
)
