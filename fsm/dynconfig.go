package fsm

import "errors"

// configPatch validates a FLIP-571 patch against the configuration it would
// replace — the last accepted one, confirmed or not — and asks for the overrides
// to be persisted (R60, R63). A rejected patch changes no configuration; its
// request id is used all the same (R60: a request id is used once).
func (s *State) configPatch(ev Event) {
	reject := func(why string) {
		s.emit(Effect{Type: EffConfigRejected, Request: ev.Request, Error: why})
	}
	if ev.Request <= s.lastRequest {
		var buf [128]byte
		reject(msg(buf[:0]).s("request id ").d(ev.Request).s(" is not above the last one used, ").d(s.lastRequest).
			s(": a request id is used once, in increasing order (R60)").String())
		return
	}
	s.lastRequest = ev.Request // used, whatever the outcome (R60)
	if !ev.HasInterval && !ev.HasTimeout {
		reject("empty patch: set interval_ms, timeout_ms or both (docs/spec/SEMANTICS.md R60)")
		return
	}
	next := s.proposed()
	if ev.HasInterval {
		if err := validInterval(ev.IntervalMs); err != nil {
			reject(patchRejection(err))
			return
		}
		next.intervalMs = ev.IntervalMs
	}
	if ev.HasTimeout {
		if err := validTimeout(ev.TimeoutMs, s.cfg.MaxTimeoutMs); err != nil {
			reject(patchRejection(err))
			return
		}
		next.timeoutMs = ev.TimeoutMs
	}
	next.request = ev.Request
	s.patches = append(s.patches, next)
	s.emit(Effect{Type: EffPersistOverrides, Request: next.request, IntervalMs: next.intervalMs, TimeoutMs: next.timeoutMs})
}

// proposed is the configuration after every accepted patch.
func (s *State) proposed() configPatch {
	if n := len(s.patches); n > 0 {
		return s.patches[n-1]
	}
	e := s.Effective()
	return configPatch{intervalMs: e.IntervalMs, timeoutMs: e.TimeoutMs}
}

// configPersisted applies a patch whose overrides are durable, and with it every
// earlier accepted patch (its write contains theirs): both values change in one
// step (R60), pending deadlines move at once (R61), the schedule follows the new
// interval (R62), and each caller is acknowledged (R63). An unknown request
// changes nothing.
func (s *State) configPersisted(request int64) {
	k := -1
	for i, p := range s.patches {
		if p.request == request {
			k = i
		}
	}
	if k < 0 {
		return
	}
	old := s.Effective()
	next := s.patches[k]
	for _, p := range s.patches[:k+1] {
		s.emit(Effect{Type: EffConfigApplied, Request: p.request, IntervalMs: p.intervalMs, TimeoutMs: p.timeoutMs})
	}
	s.patches = append(s.patches[:0], s.patches[k+1:]...)
	s.ovActive, s.ovInterval, s.ovTimeout = true, next.intervalMs, next.timeoutMs
	if next.timeoutMs != old.TimeoutMs {
		s.redeadline()
	}
	if next.intervalMs != old.IntervalMs {
		s.reschedule()
	}
}

// redeadline gives every pending checkpoint the deadline trigger time + the new
// timeout and expires, in id order, those whose deadline has passed (R61).
func (s *State) redeadline() {
	t := s.Effective().TimeoutMs
	for i := range s.pending {
		s.pending[i].deadline = s.pending[i].triggerAt + t
	}
	var buf [4]int64
	for _, id := range s.appendPendingIDs(buf[:0]) {
		if i := s.findPending(id); i >= 0 && !s.pending[i].ready() && s.pending[i].deadline <= s.now {
			s.expire(i)
		}
	}
}

// reschedule applies a new interval from the next trigger cycle: the next
// periodic request is due at min(its current due time, now + the new period),
// then on the new grid (R62). Interval 0 stops periodic checkpoints.
func (s *State) reschedule() {
	p := s.period()
	if p == 0 {
		s.periodicOn = false
		return
	}
	if s.job != JobRunning {
		return
	}
	if !s.periodicOn || s.now+p < s.periodicDue {
		s.periodicDue = s.now + p
	}
	s.periodicOn = true
}

// patchRejection is the reason a patch value outside §2 is rejected: the key,
// the value and both rules it breaks, in one parenthesis.
func patchRejection(err error) string {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return ce.cite("§2, R60")
	}
	return err.Error() + " (docs/spec/SEMANTICS.md R60)"
}
