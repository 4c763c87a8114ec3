package fuzz

import "testing"

// TestPercentFor: the collector's goal, live × (1 + p/100), is at least
// heapFloor whenever the live heap is at least 1 MB, at least five times the
// live heap always, and the percent never rises as the live heap grows.
func TestPercentFor(t *testing.T) {
	prev := maxPercent
	for live := int64(1 << 20); live <= 1<<32; live += live/7 + 1 {
		p := percentFor(live)
		goal := live + live*int64(p)/100
		if goal < heapFloor-live/50 { // integer division rounds the percent down
			t.Fatalf("live %d: percent %d puts the goal at %d, under the floor %d", live, p, goal, heapFloor)
		}
		if p < gcPercent || p > maxPercent || p > prev {
			t.Fatalf("live %d: percent %d (previous %d), want %d … %d and non-increasing", live, p, prev, gcPercent, maxPercent)
		}
		prev = p
	}
	if p := percentFor(1 << 30); p != gcPercent {
		t.Fatalf("a 1 GB live heap gets percent %d, want %d", p, gcPercent)
	}
	if p := percentFor(0); p != maxPercent {
		t.Fatalf("an empty heap gets percent %d, want %d", p, maxPercent)
	}
}
