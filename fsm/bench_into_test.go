package fsm

import (
	"fmt"
	"testing"
)

// BenchmarkCloneInto is Clone into a state that held the same state before:
// the explorer's scratch state, refilled for every step.
func BenchmarkCloneInto(b *testing.B) {
	for _, j := range benchJobs {
		s := benchMidway(b, j.spec)
		dst := s.Clone()
		b.Run("job="+j.name, func(b *testing.B) {
			measure(b, func() { s.CloneInto(dst) })
		})
	}
}

// BenchmarkCloneIntoStep is BenchmarkCloneStep on a reused scratch state.
func BenchmarkCloneIntoStep(b *testing.B) {
	for _, j := range benchJobs {
		for _, be := range benchEvents {
			s := be.state(b, j.spec)
			ev := be.event(s)
			dst := s.Clone()
			b.Run(fmt.Sprintf("job=%s/event=%s", j.name, be.name), func(b *testing.B) {
				measure(b, func() {
					s.CloneInto(dst)
					if _, err := dst.Step(ev); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}
