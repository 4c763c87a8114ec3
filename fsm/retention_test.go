package fsm

import "testing"

func concurrentRegional(t *testing.T) *State {
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
	return s
}

func regionalReady(at, id int64) []Event { // r1 declines, r0 acks
	return []Event{{At: at, Type: EvDecline, Checkpoint: id, Task: 1},
		{At: at, Type: EvAck, Checkpoint: id, Task: 0}, {At: at, Type: EvAck, Checkpoint: id, Task: 2}}
}

// R21, R23, R25: one checkpoint persists at a time, so each resolves its
// references and its consecutive count against every completion before it.
func TestOnePersistAtATime(t *testing.T) {
	s := concurrentRegional(t)
	out := run(t, s, regionalReady(4, 3)...)
	out = append(out, run(t, s, regionalReady(4, 4)...)...)
	out = append(out, run(t, s, ackAll(s, 5, 2)...)...)
	if !has(out, "persist 3 checkpoint regional consecutive=1 older_refs={r1->1}") || has(out, "persist 4") || has(out, "persist 2") {
		t.Fatalf("only the first ready checkpoint may persist: %v", out)
	}
	out = run(t, s, Event{At: 6, Type: EvPersisted, Checkpoint: 3})
	if !has(out, "abort 2 reason=subsumed") || !has(out, "persist 4 checkpoint regional consecutive=2 older_refs={r1->1}") {
		t.Fatalf("got %v", out)
	}
	out = run(t, s, Event{At: 7, Type: EvPersisted, Checkpoint: 4})
	if !has(out, "discard 3") || has(out, "discard 1") || s.Consecutive() != 2 {
		t.Fatalf("got %v, consecutive %d", out, s.Consecutive())
	}
	known := s.Known()
	if len(known) != 2 || known[0].ID != 1 || known[1].ID != 4 || known[1].RefOf(1) != 1 {
		t.Fatalf("known %+v", known)
	}
}

// R21, R26: a regional checkpoint that waits for a lower global one to persist
// references it, never the older state a region was already notified past.
func TestWaitingCheckpointSealsAgainstLatest(t *testing.T) {
	s := concurrentRegional(t)
	out := run(t, s, ackAll(s, 4, 2)...)
	out = append(out, run(t, s, regionalReady(4, 3)...)...)
	if !has(out, "persist 2 checkpoint global") || has(out, "persist 3") {
		t.Fatalf("got %v", out)
	}
	out = run(t, s, Event{At: 5, Type: EvPersisted, Checkpoint: 2})
	if !has(out, "notify_complete 2 tasks=[src/0-1 sink/0-1]") || !has(out, "persist 3 checkpoint regional consecutive=1 older_refs={r1->2}") {
		t.Fatalf("got %v", out)
	}
}
