package fsm

import (
	"fmt"
	"math"
)

// maxID bounds ids and times: they travel through JSON as numbers (HISTORY.md).
const maxID = 1<<53 - 1

// Step applies one event: first everything due at or before ev.At, in time order
// (R10), then the event itself. It returns the effects in order. On error the
// state is unchanged and no effect is returned. The returned slice is owned by
// the State and valid until the next Step or Clone.
func (s *State) Step(ev Event) ([]Effect, error) {
	if err := s.validate(ev); err != nil {
		return nil, err
	}
	s.effects = s.effects[:0]
	if ev.Type == EvStart {
		s.start(ev)
		return s.effects, nil
	}
	s.advance(ev.At)
	switch ev.Type {
	case EvTick:
	case EvTrigger:
		s.request(ev.Kind, false)
	case EvAck:
		s.ack(ev.Checkpoint, ev.Task, ev.StateSize, ev.CheckpointedSize)
	case EvDecline:
		s.decline(ev.Checkpoint, ev.Task, ev.Reason)
	case EvTaskFailed:
		s.taskFailed(ev.Task)
	case EvTaskRunning:
		s.taskRunning(ev.Task)
	case EvTaskFinished:
		s.taskFinished(ev.Task)
	case EvPersisted:
		s.persisted(ev.Checkpoint)
	case EvPersistFailed:
		s.persistFailed(ev.Checkpoint)
	case EvConfigPatch:
		s.configPatch(ev)
	case EvConfigPersisted:
		s.configPersisted(ev.Request)
	case EvRecover:
		s.recover()
	}
	s.runQueued()
	return s.effects, nil
}

// EventError is invalid input: the event type, the field and the reason.
type EventError struct {
	Type   EventType
	Field  string
	Reason string
}

func (e *EventError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("fsm: %s: %s", e.Type, e.Reason)
	}
	return fmt.Sprintf("fsm: %s: %s: %s", e.Type, e.Field, e.Reason)
}

func (s *State) validate(ev Event) error {
	bad := func(field, format string, args ...any) error {
		return &EventError{ev.Type, field, fmt.Sprintf(format, args...)}
	}
	if ev.Type < EvStart || ev.Type > EvRecover {
		return &EventError{ev.Type, "type", fmt.Sprintf("unknown event type %d", ev.Type)}
	}
	if ev.At < 0 || ev.At > maxID {
		return bad("at", "time %d out of range [0, 2^53)", ev.At)
	}
	if s.job == JobCreated && ev.Type != EvStart {
		return bad("", "the first event must be start (docs/spec/HISTORY.md)")
	}
	if s.job != JobCreated && ev.Type == EvStart {
		return bad("", "the job has already started at %d", s.now)
	}
	if ev.At < s.now {
		return bad("at", "time goes backwards: %d after %d (R10)", ev.At, s.now)
	}
	switch ev.Type {
	case EvAck, EvDecline, EvPersisted, EvPersistFailed:
		if ev.Checkpoint < 1 || ev.Checkpoint > maxID {
			return bad("checkpoint", "id %d is not a positive integer below 2^53", ev.Checkpoint)
		}
	}
	if err := validateSizes(ev, bad); err != nil {
		return err
	}
	switch ev.Type {
	case EvAck, EvDecline, EvTaskFailed, EvTaskRunning, EvTaskFinished:
		if !s.topo.ValidTask(ev.Task) {
			return bad("task", "unknown subtask %d (R16)", ev.Task)
		}
	}
	switch ev.Type {
	case EvTrigger:
		if ev.Kind > KindStopWithSavepoint {
			return bad("kind", "unknown kind %d", ev.Kind)
		}
	case EvDecline:
		if ev.Reason != "" && !ValidDeclineReason(ev.Reason) {
			return bad("reason", "%q is not a decline reason", ev.Reason)
		}
	case EvConfigPatch, EvConfigPersisted:
		if ev.Request < 1 || ev.Request > maxID {
			return bad("request", "id %d is not a positive integer below 2^53", ev.Request)
		}
	case EvStart:
		return s.validateStart(ev, bad)
	}
	return nil
}

func (s *State) validateStart(ev Event, bad func(string, string, ...any) error) error {
	if ev.HasInitialDelay && (ev.InitialDelayMs < 0 || ev.InitialDelayMs > maxID) {
		return bad("initial_delay_ms", "%d must be >= 0", ev.InitialDelayMs)
	}
	r := ev.Restore
	if r == nil {
		return nil
	}
	if r.Checkpoint < 1 || r.Checkpoint >= maxID {
		return bad("restore.checkpoint", "id %d must be positive and below 2^53-1, so that the next id (restored + 1, R14) fits", r.Checkpoint)
	}
	if r.Mode > NoClaim {
		return bad("restore.mode", "unknown mode %d", r.Mode)
	}
	for i, ref := range r.Refs {
		if ref.Region < 0 || ref.Region >= s.topo.NumRegions() {
			return bad("restore.refs", "region %d: the job has %d regions (R3)", ref.Region, s.topo.NumRegions())
		}
		if i > 0 && r.Refs[i-1].Region >= ref.Region {
			return bad("restore.refs", "regions must be distinct and sorted")
		}
		if ref.Checkpoint < 1 || ref.Checkpoint > r.Checkpoint {
			return bad("restore.refs", "%s -> %d: a reference must be a positive id <= the snapshot %d (I-RegionConsistency)",
				RegionName(ref.Region), ref.Checkpoint, r.Checkpoint)
		}
	}
	return nil
}

// NextDeadline returns the earliest time at which something is due (a checkpoint
// deadline or the periodic request), so that a runtime can sleep exactly until then.
func (s *State) NextDeadline() (int64, bool) {
	at, _, ok := s.nextDue()
	return at, ok
}

// nextDue finds the earliest due item: a pending checkpoint's deadline (index
// >= 0; ties by id, since pending is in id order) or the periodic request (-1),
// which loses ties to expirations (R10).
func (s *State) nextDue() (int64, int, bool) {
	at, which, ok := int64(math.MaxInt64), -1, false
	for i := range s.pending {
		p := &s.pending[i]
		if !p.ready() && p.deadline < at {
			at, which, ok = p.deadline, i, true
		}
	}
	if s.periodicOn && s.job == JobRunning && s.periodicDue < at {
		at, which, ok = s.periodicDue, -1, true
	}
	return at, which, ok
}

// advance makes everything due at or before t happen, each at its own time (R10).
func (s *State) advance(t int64) {
	for {
		at, which, ok := s.nextDue()
		if !ok || at > t {
			break
		}
		s.now = at
		if which >= 0 {
			s.expire(which)
		} else {
			s.firePeriodic(t)
		}
		s.runQueued()
	}
	s.now = t
}
