package fuzz

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFuzzCore measures one FuzzCore execution on random inputs of the
// length the fuzzer's corpus grows to (up to maxFuzzEvents events): issue 13
// asks for at least 5,000 executions a second on one core.
//
//	go test ./fuzz/ -run '^$' -bench FuzzCore -cpu 1
func BenchmarkFuzzCore(b *testing.B) {
	for _, size := range []int{64, 512, 2048} {
		b.Run("bytes="+itoa(size), func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(1, uint64(size)))
			inputs := make([][]byte, 64)
			for i := range inputs {
				inputs[i] = make([]byte, size)
				for j := range inputs[i] {
					inputs[i][j] = byte(rnd.IntN(256))
				}
			}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				r := newCoreRun(b, inputs[i%len(inputs)])
				for k := 0; k < maxFuzzEvents && !r.src.done(); k++ {
					r.next()
				}
				r.roundTrip()
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
		})
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
