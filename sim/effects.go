package sim

import (
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
)

// carryOut does the runtime's part of one effect (HISTORY.md, Effects) and
// counts it. Effects that only inform the runtime (notifications, discards,
// coordinator fallbacks) need nothing done in a simulation.
func (s *Sim) carryOut(at int64, e *fsm.Effect) {
	switch e.Type {
	case fsm.EffTrigger:
		s.triggered(at, e)
	case fsm.EffPersist:
		fail := s.p.PersistFail > 0 && s.rng.Float64() < s.p.PersistFail
		s.q.push(item{at: at + s.sample(s.p.Persist), act: doPersist, ckpt: int32(e.Checkpoint), flag: fail})
	case fsm.EffCompleted:
		s.ended(e.Checkpoint)
		s.stats.completed(e)
	case fsm.EffAbort:
		s.stats.aborted(e, s.ended(e.Checkpoint))
	case fsm.EffTriggerFailed:
		s.stats.TriggerFailed[e.Reason]++
	case fsm.EffFailJob:
		s.stats.JobFailures++
		s.q.push(item{at: at + s.p.JobRestartMs, act: doRecover})
	case fsm.EffDiscardLateState:
		s.stats.LateAnswers++
	case fsm.EffWarn:
		s.stats.Warnings[e.Code]++
	}
}

// triggered schedules every triggered subtask's answer: an ack, a decline or a
// failure, after a sampled delay. It is the only per-subtask work of a
// checkpoint, and it allocates nothing: the task set is walked range by range.
func (s *Sim) triggered(at int64, e *fsm.Effect) {
	s.stats.Triggered++
	if e.ForcedGlobal {
		s.stats.ForcedGlobal++
	}
	if e.Checkpoint > 1<<31-1 {
		// Ids are sequential from 1; two billion checkpoints are out of reach of a
		// simulation, and the queue keeps ids in 32 bits to stay small.
		panic(fmt.Sprintf("sim: checkpoint id %d does not fit the queue", e.Checkpoint))
	}
	flags := ckptOpen
	if e.ForcedGlobal {
		flags |= ckptForced
	}
	for int64(len(s.ckpts)) <= e.Checkpoint {
		s.ckpts = append(s.ckpts, 0)
	}
	s.ckpts[e.Checkpoint] = flags
	ckpt := int32(e.Checkpoint)
	pDecline, pFail := s.p.DeclineProb, s.p.FailProb
	for _, r := range e.Tasks {
		for id := r.Lo; id < r.Hi; id++ {
			it := item{at: at + s.sample(s.p.Ack), ckpt: ckpt, task: int32(id),
				epoch: s.epoch[s.topo.RegionOf(id)], act: doAnswer}
			if pDecline > 0 || pFail > 0 {
				switch u := s.rng.Float64(); {
				case u < pFail:
					it.act = doFail
				case u < pFail+pDecline:
					it.flag = true
				}
			}
			s.q.push(it)
		}
	}
}

// dispatch makes a queued happening happen: usually one core step, none when
// the happening has become moot (its region restarted, its checkpoint ended).
func (s *Sim) dispatch(it item) error {
	switch it.act {
	case doAnswer:
		task := fsm.TaskID(it.task)
		if it.epoch != s.epoch[s.topo.RegionOf(task)] || !s.isOpen(int64(it.ckpt)) {
			s.stats.Dropped++
			return nil
		}
		ev := fsm.Event{At: it.at, Type: fsm.EvAck, Checkpoint: int64(it.ckpt), Task: task,
			StateSize: s.p.AckStateBytes, CheckpointedSize: s.p.AckCheckpointedBytes}
		if it.flag {
			ev = fsm.Event{At: it.at, Type: fsm.EvDecline, Checkpoint: int64(it.ckpt), Task: task, Reason: s.p.DeclineAs}
		}
		return s.step(ev)
	case doFail:
		task := fsm.TaskID(it.task)
		r := s.topo.RegionOf(task)
		if it.epoch != s.epoch[r] {
			s.stats.Dropped++ // the region already failed over: this incarnation is gone
			return nil
		}
		s.epoch[r]++
		s.stats.TaskFailures++
		s.q.push(item{at: it.at + s.sample(s.p.Restart), act: doRestart, task: int32(r), epoch: s.epoch[r]})
		return s.step(fsm.Event{At: it.at, Type: fsm.EvTaskFailed, Task: task})
	case doRestart:
		if it.epoch != s.epoch[it.task] {
			return nil // the whole job restarted meanwhile (recover)
		}
		for _, id := range s.topo.RegionTasks(int(it.task)) {
			if err := s.step(fsm.Event{At: it.at, Type: fsm.EvTaskRunning, Task: id}); err != nil {
				return err
			}
		}
		return nil
	case doPersist:
		ev := fsm.Event{At: it.at, Type: fsm.EvPersisted, Checkpoint: int64(it.ckpt)}
		if it.flag {
			ev.Type = fsm.EvPersistFailed
		}
		return s.step(ev)
	case doRecover:
		// The job restarts from its latest completed checkpoint with every
		// subtask running (R50): every incarnation in flight is gone.
		for r := range s.epoch {
			s.epoch[r]++
		}
		return s.step(fsm.Event{At: it.at, Type: fsm.EvRecover})
	}
	return fmt.Errorf("sim: unknown queued action %d", it.act)
}

// sample draws a delay.
func (s *Sim) sample(d Delay) int64 {
	if d.Mean == 0 {
		return d.Min
	}
	return d.Min + int64(s.rng.ExpFloat64()*d.Mean)
}

// ckptFlags is what the simulator remembers of a checkpoint it saw triggered.
type ckptFlags uint8

const (
	ckptOpen   ckptFlags = 1 << iota // pending in the core: answers are still wanted
	ckptForced                       // triggered forced global (R25)
)

// ended closes checkpoint id and reports whether it had been forced global.
func (s *Sim) ended(id int64) (forced bool) {
	if id >= int64(len(s.ckpts)) {
		return false // triggered before the simulation (not possible today)
	}
	forced = s.ckpts[id]&ckptForced != 0
	s.ckpts[id] &^= ckptOpen
	return forced
}

func (s *Sim) isOpen(id int64) bool { return id < int64(len(s.ckpts)) && s.ckpts[id]&ckptOpen != 0 }
