package timeline

import (
	"io"
	"strings"
	"testing"
)

// The page must stay usable at 10,000 regions and 100,000 events: these
// benchmarks measure building and rendering at that size (go test -bench .
// -benchmem ./history/timeline/), and TestLargeHistoriesStayBounded pins what
// makes it usable: aggregated rows and a page whose size follows the number of
// checkpoints, not of regions or events.

// BenchmarkBuild100kEvents steps a builder through about 100,000 events (a
// 4-region job, 10,000 checkpoints); the cost reported is per history.
func BenchmarkBuild100kEvents(b *testing.B) {
	for b.Loop() {
		largeBuilder(b, 4, 10_000)
	}
}

// BenchmarkRender100kEvents renders the page of that history.
func BenchmarkRender100kEvents(b *testing.B) {
	tl := largeBuilder(b, 4, 10_000)
	b.ResetTimer()
	for b.Loop() {
		if err := tl.Render(io.Discard, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender10kRegions renders a job of 10,000 regions (20,000
// subtasks) with 10 checkpoints, each with regions falling back.
func BenchmarkRender10kRegions(b *testing.B) {
	tl := largeBuilder(b, 10_000, 10)
	b.ResetTimer()
	for b.Loop() {
		if err := tl.Render(io.Discard, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func TestLargeHistoriesStayBounded(t *testing.T) {
	var page strings.Builder
	if err := largeBuilder(t, 10_000, 10).Render(&page, Options{}); err != nil {
		t.Fatal(err)
	}
	if rows := strings.Count(page.String(), `<rect class="row`); rows != DefaultMaxRows {
		t.Errorf("10,000 regions in %d rows, want %d", rows, DefaultMaxRows)
	}
	if page.Len() > 400_000 {
		t.Errorf("10,000 regions, 10 checkpoints: a %d-byte page", page.Len())
	}
	page.Reset()
	if err := largeBuilder(t, 4, 10_000).Render(&page, Options{}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(page.String(), `class="ck `); n != 10_000 {
		t.Errorf("%d checkpoint marks, want 10,000", n)
	}
	if page.Len() > 6_000_000 {
		t.Errorf("100,000 events: a %d-byte page", page.Len())
	}
	t.Logf("100,000 events: %d bytes", page.Len())
}
