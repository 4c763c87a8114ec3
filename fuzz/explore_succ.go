package fuzz

import "github.com/ckptcore/ckptcore/fsm"

type successor struct {
	ev     fsm.Event
	budget Budget
}

// successors lists the events tried from a state with the remaining budget b,
// in a fixed order. Every event happens at the state's own time except a
// tick, which goes to the next due instant (Budget.Advances).
func (m *Model) successors(topo *fsm.Topology, s *fsm.State, b Budget) []successor {
	now := s.Now()
	out := make([]successor, 0, 16)
	add := func(ev fsm.Event, nb Budget) {
		if ev.At == 0 {
			ev.At = now
		}
		out = append(out, successor{ev, nb})
	}
	for _, t := range [...]struct {
		left *int
		kind fsm.Kind
	}{{&b.Checkpoints, fsm.KindCheckpoint}, {&b.Savepoints, fsm.KindSavepoint}, {&b.StopSavepoints, fsm.KindStopWithSavepoint}} {
		if *t.left > 0 {
			*t.left--
			nb := b
			*t.left++
			add(fsm.Event{Type: fsm.EvTrigger, Kind: t.kind}, nb)
		}
	}
	tasks := topo.NumSubtasks()
	var declined, failed []bool
	for _, p := range s.Pending() {
		if p.Persisting {
			add(fsm.Event{Type: fsm.EvPersisted, Checkpoint: p.ID}, b)
			if b.PersistFailures != 0 {
				nb := b
				nb.PersistFailures = spend(nb.PersistFailures)
				add(fsm.Event{Type: fsm.EvPersistFailed, Checkpoint: p.ID}, nb)
			}
			continue
		}
		clear(declined)
		for id := fsm.TaskID(0); int(id) < tasks; id++ {
			r := topo.RegionOf(id)
			if !p.Triggered(id) || p.Acked(id) || p.RegionFailed(r) || s.TaskFinished(id) {
				continue
			}
			add(fsm.Event{Type: fsm.EvAck, Checkpoint: p.ID, Task: id}, b)
			if b.Declines != 0 {
				if declined == nil {
					declined = make([]bool, topo.NumRegions())
				}
				if !declined[r] {
					declined[r] = true
					nb := b
					nb.Declines = spend(nb.Declines)
					add(fsm.Event{Type: fsm.EvDecline, Checkpoint: p.ID, Task: id}, nb)
				}
			}
		}
	}
	for id := fsm.TaskID(0); int(id) < tasks; id++ {
		switch {
		case s.TaskRunning(id):
			if r := topo.RegionOf(id); b.TaskFailures != 0 {
				if failed == nil {
					failed = make([]bool, topo.NumRegions())
				}
				if !failed[r] {
					failed[r] = true
					nb := b
					nb.TaskFailures = spend(nb.TaskFailures)
					add(fsm.Event{Type: fsm.EvTaskFailed, Task: id}, nb)
				}
			}
			if b.TaskFinishes > 0 {
				nb := b
				nb.TaskFinishes--
				add(fsm.Event{Type: fsm.EvTaskFinished, Task: id}, nb)
			}
		case !s.TaskFinished(id):
			add(fsm.Event{Type: fsm.EvTaskRunning, Task: id}, b)
		}
	}
	if b.Recovers != 0 {
		nb := b
		nb.Recovers = spend(nb.Recovers)
		add(fsm.Event{Type: fsm.EvRecover}, nb)
	}
	if b.Patches > 0 {
		nb := b
		nb.Patches--
		ev := m.Patch
		ev.Type, ev.At = fsm.EvConfigPatch, now
		ev.Request = int64(m.Budget.Patches - b.Patches + 1)
		add(ev, nb)
	}
	for _, req := range s.PendingPatches() {
		add(fsm.Event{Type: fsm.EvConfigPersisted, Request: req}, b)
	}
	if due, ok := s.NextDeadline(); ok && b.Advances > 0 {
		nb := b
		nb.Advances--
		add(fsm.Event{Type: fsm.EvTick, At: max(due, now)}, nb)
	}
	return out
}

// spend uses one event of a fault budget; Unbounded stays unbounded.
func spend(n int) int {
	if n > 0 {
		return n - 1
	}
	return n
}
