package flinkapi

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
)

// Percentile is a percentile of a StatsSummary. Flink writes a percentile of
// no values as the string "NaN" (Jackson's default for a NaN double), so does
// this; any number is written as a JSON number.
type Percentile float64

// MarshalJSON writes a number, or "NaN" / "Infinity" / "-Infinity" as Flink does.
func (p Percentile) MarshalJSON() ([]byte, error) {
	f := float64(p)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return json.Marshal(f)
}

// UnmarshalJSON reads a number or one of Flink's non-finite strings.
func (p *Percentile) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "NaN":
			*p = Percentile(math.NaN())
		case "Infinity":
			*p = Percentile(math.Inf(1))
		case "-Infinity":
			*p = Percentile(math.Inf(-1))
		default:
			return errors.New("flinkapi: percentile: want a number, NaN or Infinity, got " + string(b))
		}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*p = Percentile(f)
	return nil
}

// SummaryWindow is how many of the latest values Flink's checkpoint summary
// keeps for its percentiles (DefaultCheckpointStatsTracker's histogram window).
const SummaryWindow = 10_000

// statsAccumulator is Flink's StatsSummary: count, sum, min and max over every
// value, and the latest values (a ring of at most window) for percentiles.
type statsAccumulator struct {
	count, sum, min, max int64
	window               []int64
	size, next           int
}

func newAccumulator(window int) statsAccumulator { return statsAccumulator{size: max(window, 1)} }

func (a *statsAccumulator) add(v int64) {
	if a.count == 0 || v < a.min {
		a.min = v
	}
	if a.count == 0 || v > a.max {
		a.max = v
	}
	a.count++
	a.sum = addSat(a.sum, v)
	if len(a.window) < a.size {
		a.window = append(a.window, v)
		return
	}
	a.window[a.next] = v
	a.next = (a.next + 1) % a.size
}

func addSat(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// summary renders the accumulator: min, max and the (integer) average of every
// value, 0 when there is none, as Flink; percentiles of the window, NaN when
// it is empty.
func (a *statsAccumulator) summary() StatsSummary {
	s := StatsSummary{}
	if a.count > 0 {
		s.Min, s.Max, s.Avg = a.min, a.max, a.sum/a.count
	}
	sorted := slices.Clone(a.window)
	slices.Sort(sorted)
	s.P50 = Some(Percentile(percentile(sorted, 50)))
	s.P90 = Some(Percentile(percentile(sorted, 90)))
	s.P95 = Some(Percentile(percentile(sorted, 95)))
	s.P99 = Some(Percentile(percentile(sorted, 99)))
	s.P999 = Some(Percentile(percentile(sorted, 99.9)))
	return s
}

// percentile estimates the p-th percentile of sorted values the way Flink's
// histogram statistics do (Apache commons-math3 Percentile, estimation type
// LEGACY): position p(n+1)/100, clamped to the ends, interpolated linearly
// between its neighbours. NaN for no values.
func percentile(sorted []int64, p float64) float64 {
	n := len(sorted)
	switch n {
	case 0:
		return math.NaN()
	case 1:
		return float64(sorted[0])
	}
	pos := p * float64(n+1) / 100
	if pos < 1 {
		return float64(sorted[0])
	}
	if pos >= float64(n) {
		return float64(sorted[n-1])
	}
	fpos := math.Floor(pos)
	lower, upper := float64(sorted[int(fpos)-1]), float64(sorted[int(fpos)])
	return lower + (pos-fpos)*(upper-lower)
}

// zeroSummary is the summary of a statistic Flink deprecated and always
// reports as zero (alignment_buffered).
func zeroSummary() StatsSummary {
	z := Some(Percentile(0))
	return StatsSummary{P50: z, P90: z, P95: z, P99: z, P999: z}
}
