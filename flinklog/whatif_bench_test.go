package flinklog

import (
	"bytes"
	"testing"

	"github.com/ckptcore/ckptcore/sim"
)

// BenchmarkWhatIfSimulatedHour re-decides an hour of a simulated global job
// of 8 regions with declines and failures (a checkpoint a second): the cost of
// what-if on a long flight file (go test -bench WhatIf -benchmem ./flinklog).
func BenchmarkWhatIfSimulatedHour(b *testing.B) {
	p := sim.DefaultParams(8)
	p.DurationMs = 3600_000
	p.Config.Regional.Enabled = false
	p.DeclineProb, p.FailProb = 0.002, 0.001
	var buf bytes.Buffer
	if _, err := sim.Run(p, &buf); err != nil {
		b.Fatal(err)
	}
	in := decodedInput(b, "sim-hour", buf.Bytes())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := WhatIf(in, DefaultWhatIfOptions())
		if err != nil || len(rep.Violations) > 0 {
			b.Fatal(err, rep.Violations)
		}
	}
	b.ReportMetric(float64(len(in.Events)), "events")
}
