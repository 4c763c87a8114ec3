package driver

import (
	"math"
	"time"
)

// Clock is the driver's only source of time. The real clock (RealClock) reads
// time.Now; tests inject a fake one they advance by hand, so that every wake-up
// of the event loop is deterministic.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a stopped timer.
	NewTimer() Timer
}

// Timer is the one timer the event loop re-arms after every step, so that it
// wakes exactly at the core's next deadline (fsm.State.NextDeadline).
type Timer interface {
	// C delivers a value when the timer fires.
	C() <-chan time.Time
	// Reset arms the timer to fire at time at (at once if at has passed),
	// replacing any earlier arming; a value from an earlier arming is never
	// delivered after it. The time is absolute so that the clock is read when
	// the timer is armed, not earlier by the caller: a late Reset cannot push
	// the wake-up later.
	Reset(at time.Time)
	// Stop disarms the timer.
	Stop()
}

// RealClock is the wall clock: time.Now and time.Timer.
type RealClock struct{}

// Now returns time.Now().
func (RealClock) Now() time.Time { return time.Now() }

// NewTimer returns a stopped time.Timer.
func (RealClock) NewTimer() Timer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return realTimer{t}
}

// realTimer relies on the Go 1.23 timer semantics (go.mod says 1.26): Reset and
// Stop discard a value not yet received, so no stale wake-up survives a re-arm.
type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Reset(at time.Time)  { r.t.Reset(time.Until(at)) }
func (r realTimer) Stop()               { r.t.Stop() }

// coreClock turns a Clock into the core's time: integer milliseconds since the
// Unix epoch, never going backwards.
//
// The reading is anchored once (base) and then advanced by t.Sub(base), which
// uses Go's monotonic clock reading: a wall-clock step (NTP, a user changing the
// date) does not freeze or rush the core's schedule. Times stay Unix
// milliseconds, so they mean something in a history file and in the REST API.
type coreClock struct {
	c      Clock
	base   time.Time
	baseMs int64
	last   int64
}

func newCoreClock(c Clock) *coreClock {
	b := c.Now()
	return &coreClock{c: c, base: b, baseMs: b.UnixMilli(), last: b.UnixMilli()}
}

// now returns the core time of the clock's current reading, clamped so that it
// never goes below floor (the core's time: R10 refuses an earlier event) nor
// below the last reading.
func (k *coreClock) now(floor int64) int64 {
	ms := k.baseMs + k.c.Now().Sub(k.base).Milliseconds()
	ms = max(ms, floor, k.last)
	k.last = ms
	return ms
}

// until returns the duration from core time now to core time at, at least 0.
// One that would overflow time.Duration (an interval of centuries) is capped:
// the loop then simply wakes early, finds nothing due and sleeps again.
func until(now, at int64) time.Duration {
	ms := at - now
	if ms <= 0 {
		return 0
	}
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}

// wallTime converts a core time back to a time.Time (with the base's
// monotonic reading, so time.Until of it is immune to wall-clock steps).
func (k *coreClock) wallTime(ms int64) time.Time {
	return k.base.Add(until(k.baseMs, ms))
}
