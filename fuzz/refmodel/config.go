package refmodel

import "github.com/ckptcore/ckptcore/fsm"

// configPatch is R60: both fields checked against §2 before anything changes;
// a missing field keeps the value of the last accepted patch; an accepted
// patch asks for its overrides to be persisted (R63).
func (m *Model) configPatch(ev fsm.Event) {
	next := patch{request: ev.Request, interval: m.interval, timeout: m.timeout}
	if n := len(m.patches); n > 0 {
		next.interval, next.timeout = m.patches[n-1].interval, m.patches[n-1].timeout
	}
	if ev.Request <= m.lastRequest { // R60: a request id is used once
		m.emit(Effect{Type: EffConfigRejected, Request: ev.Request})
		return
	}
	m.lastRequest = ev.Request
	ok := ev.HasInterval || ev.HasTimeout
	if ev.HasInterval {
		ok = ok && (ev.IntervalMs == 0 || ev.IntervalMs >= 10) && ev.IntervalMs <= maxID
		next.interval = ev.IntervalMs
	}
	if ev.HasTimeout {
		ok = ok && ev.TimeoutMs >= 10 && ev.TimeoutMs <= maxID && (m.cfg.MaxTimeoutMs == 0 || ev.TimeoutMs <= m.cfg.MaxTimeoutMs)
		next.timeout = ev.TimeoutMs
	}
	if !ok {
		m.emit(Effect{Type: EffConfigRejected, Request: ev.Request})
		return
	}
	m.patches = append(m.patches, next)
	m.emit(Effect{Type: EffPersistOverrides, Request: next.request, IntervalMs: next.interval, TimeoutMs: next.timeout})
}

// configPersisted is R61–R63: the confirmed patch and every earlier one apply
// and are acknowledged; deadlines move at once (R61), the schedule follows a
// new interval from the next cycle (R62).
func (m *Model) configPersisted(request int64) {
	k := -1
	for i, p := range m.patches {
		if p.request == request {
			k = i
		}
	}
	if k < 0 {
		return
	}
	for _, p := range m.patches[:k+1] {
		m.emit(Effect{Type: EffConfigApplied, Request: p.request, IntervalMs: p.interval, TimeoutMs: p.timeout})
	}
	next := m.patches[k]
	m.patches = append([]patch(nil), m.patches[k+1:]...)
	oldInterval := m.interval
	m.interval, m.timeout, m.overrides = next.interval, next.timeout, true
	for _, p := range append([]*pending(nil), m.pending...) {
		p.deadline = p.triggerAt + m.timeout
	}
	for _, p := range append([]*pending(nil), m.pending...) {
		if m.find(p.id) != nil && !m.ready(p) && p.deadline <= m.now {
			m.expire(p)
		}
	}
	if next.interval == oldInterval {
		return
	}
	// R62: the next request is due at min(its due time, now + new period).
	per := m.period()
	switch {
	case per == 0:
		m.periodicOn = false
	case m.jobStatus != "running":
	case !m.periodicOn || m.now+per < m.periodicDue:
		m.periodicOn, m.periodicDue = true, m.now+per
	default:
		m.periodicOn = true
	}
}
