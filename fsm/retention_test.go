package fsm

import "testing"

// R40: a checkpoint completing while a lower persisting checkpoint is subsumed
// still keeps its own references alive (regression: the completing checkpoint
// used to leave the pending list before the subsumption's retention run, and
// the state it referenced was discarded under it).
func TestSubsumptionKeepsCompletingRefsAlive(t *testing.T) {
	s := twoByTwo(t, cfgWith(func(c *Config) {
		c.Regional.Enabled = true
		c.Regional.MaxFailureRatio = 0.5
		c.MaxConcurrent = 3
		c.Regional.MaxConsecutive = 5
	}))
	run(t, s, Event{At: 0, Type: EvStart}, Event{At: 1, Type: EvTrigger})
	run(t, s, ackAll(s, 1, 1)...)
	run(t, s, Event{At: 2, Type: EvPersisted, Checkpoint: 1},
		Event{At: 3, Type: EvTrigger}, Event{At: 3, Type: EvTrigger}, Event{At: 3, Type: EvTrigger})
	for _, id := range []int64{3, 4} { // regional, r1 falls back to 1
		run(t, s, Event{At: 4, Type: EvDecline, Checkpoint: id, Task: 1},
			Event{At: 4, Type: EvAck, Checkpoint: id, Task: 0}, Event{At: 4, Type: EvAck, Checkpoint: id, Task: 2})
	}
	run(t, s, ackAll(s, 5, 2)...)
	run(t, s, Event{At: 6, Type: EvPersisted, Checkpoint: 2}) // evicts 1 from the store; 3 and 4 still use it
	out := run(t, s, Event{At: 7, Type: EvPersisted, Checkpoint: 4})
	if !has(out, "abort 3 reason=subsumed") || has(out, "discard 1") {
		t.Fatalf("got %v", out)
	}
	known := s.Known()
	if len(known) != 2 || known[0].ID != 1 || known[1].ID != 4 || known[1].RefOf(1) != 1 {
		t.Fatalf("known %+v", known)
	}
}
