package fuzz

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkFuzzCore measures FuzzCore executions on one core: issue 13 asks
// for at least 5,000 a second.
//
//   - fresh: a new random input every execution (nothing recurs: the worst
//     case for roundTrip's memory of decoded lines);
//
//   - mutants: one random byte of one of 64 random inputs changed every
//     execution, as the fuzzer mutates corpus entries.
//
//     go test ./fuzz/ -run '^$' -bench FuzzCore -cpu 1
func BenchmarkFuzzCore(b *testing.B) {
	for _, size := range []int{64, 512, 2048} {
		for _, mode := range []string{"fresh", "mutants"} {
			b.Run(mode+"/bytes="+itoa(size), func(b *testing.B) {
				rnd := rand.New(rand.NewPCG(1, uint64(size)))
				fill := func(in []byte) {
					for j := range in {
						in[j] = byte(rnd.IntN(256))
					}
				}
				inputs := make([][]byte, 64)
				for i := range inputs {
					inputs[i] = make([]byte, size)
					fill(inputs[i])
				}
				in := make([]byte, size)
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if mode == "fresh" {
						fill(in)
					} else {
						copy(in, inputs[i%len(inputs)])
						in[rnd.IntN(size)] = byte(rnd.IntN(256))
					}
					runCore(b, in)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "execs/s")
			})
		}
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
