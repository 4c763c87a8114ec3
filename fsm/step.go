package fsm

import (
	"fmt"
	"math"
)

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
	s.settle()
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
	if ev.At < 0 || ev.At > MaxSafeInt {
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
		if ev.Checkpoint < 1 || ev.Checkpoint > MaxSafeInt {
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
		if ev.Request < 1 || ev.Request > MaxSafeInt {
			return bad("request", "id %d is not a positive integer below 2^53", ev.Request)
		}
		// A value outside §2 is a valid patch the core rejects (R60), but a
		// history must be able to hold it: |value| < 2^53 (HISTORY.md).
		if ev.HasInterval && (ev.IntervalMs < -MaxSafeInt || ev.IntervalMs > MaxSafeInt) {
			return bad("interval_ms", "%d is not an integer of magnitude below 2^53", ev.IntervalMs)
		}
		if ev.HasTimeout && (ev.TimeoutMs < -MaxSafeInt || ev.TimeoutMs > MaxSafeInt) {
			return bad("timeout_ms", "%d is not an integer of magnitude below 2^53", ev.TimeoutMs)
		}
	case EvStart:
		return s.validateStart(ev, bad)
	}
	return nil
}

func (s *State) validateStart(ev Event, bad func(string, string, ...any) error) error {
	if ev.HasInitialDelay && (ev.InitialDelayMs < 0 || ev.InitialDelayMs > MaxSafeInt) {
		return bad("initial_delay_ms", "%d must be >= 0", ev.InitialDelayMs)
	}
	r := ev.Restore
	if r == nil {
		return nil
	}
	if r.Checkpoint < 1 || r.Checkpoint > MaxSafeInt {
		return bad("restore.checkpoint", "id %d is not a positive integer below 2^53", r.Checkpoint)
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
//
// It always terminates. Each iteration handles the earliest due item at time
// at, and handling it takes that item out of "due at or before at" for good: an
// expired checkpoint is removed or becomes ready (it has every ack it needs,
// R18), and ready never reverts; the periodic request is next due strictly
// after at (on the grid after t, R11, or at last completion + min_pause, which
// is after now, R12). Checkpoints triggered meanwhile have deadlines at least
// MinTimeoutMs after their trigger. So at most len(pending) + 1 items are
// handled at any one time, the time strictly increases between such groups,
// and new items come only from requests: the periodic one (once per group)
// and the queued ones (a finite count). progressed checks the first half of
// that argument after every iteration; should a bug ever break it, the step
// still ends, with a no_progress warning that the invariant checkers report.
func (s *State) advance(t int64) {
	for {
		at, which, ok := s.nextDue()
		if !ok || at > t {
			break
		}
		s.now = at
		id := int64(0)
		if which >= 0 {
			id = s.pending[which].id
			s.expire(which)
		} else {
			s.firePeriodic(t)
		}
		s.settle()
		s.runQueued()
		if !s.progressed(at, id, t) {
			break
		}
	}
	s.now = t
}

// progressed reports whether the item advance just handled at time at (the
// checkpoint id, or 0 for the periodic request) is no longer due at or before
// at. If it still is, the core has a bug: it says so in a warning, takes the
// item out of the way (the checkpoint expires, the periodic request moves to
// the grid after t) and reports false so that advance stops.
func (s *State) progressed(at, id, t int64) bool {
	if id == 0 {
		if !s.periodicOn || s.job != JobRunning || s.periodicDue > at {
			return true
		}
		p := max(s.period(), 1)
		s.periodicDue += ((t-s.periodicDue)/p + 1) * p
		var buf [128]byte
		s.emit(Effect{Type: EffWarn, Code: WarnNoProgress, Message: msg(buf[:0]).
			s("internal error: the periodic request fired at ").d(at).s(" is due again at or before ").d(at).
			s("; moved to ").d(s.periodicDue).s(" (R10)").String()})
		return false
	}
	i := s.findPending(id)
	if i < 0 || s.pending[i].ready() {
		return true
	}
	var buf [128]byte
	s.emit(Effect{Type: EffWarn, Checkpoint: id, Code: WarnNoProgress, Message: msg(buf[:0]).
		s("internal error: checkpoint ").d(id).s(" expired at ").d(at).s(" but still waits for ").
		d(int64(s.pending[i].waitingCount)).s(" acks; aborted (R10)").String()})
	s.abort(i, ReasonExpired, "deadline passed")
	return false
}
