package driver

import (
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// loop is the event loop: the only goroutine that touches the core. It takes
// the ingestion queue's items in batches (one wake-up per batch, ingest) and
// applies them in order, then flushes the flight recorder and re-arms the timer
// for the core's next deadline, so it sleeps exactly until something is due (no
// polling).
func (d *Driver) loop() {
	defer close(d.loopDone)
	defer d.failWaiters()
	var batch []item
	for {
		d.arm()
		select {
		case <-d.quit:
			return
		case <-d.in.wake:
			batch = d.in.take(batch)
			d.apply(batch)
		case <-d.timer.C():
			d.armed = false
			d.stepEvent(fsm.Event{Type: fsm.EvTick})
		}
		d.flink.observed()
		// The flight recorder writes when the loop catches up with the queue
		// (nothing more signalled), not after every batch: under a flood of
		// acks a batch is a few dozen events, and a write(2) each cost the
		// loop more than the events did. Steps with effects are written
		// before their effects anyway (stepAt), and the buffer goes out when
		// it fills (recorder.write).
		if len(d.in.wake) == 0 {
			d.recorded(d.rec.flush())
		}
	}
}

// apply runs one batch. Its events share one reading of the clock (clamped
// to the core's time, R10, since a request in the batch may have moved it):
// the batch takes about a millisecond at most, the core's resolution.
func (d *Driver) apply(batch []item) {
	at := d.clock.now(d.core.Now())
	for i := range batch {
		it := &batch[i]
		if it.fn != nil {
			d.flink.observed() // a request sees every event before it
			it.fn()
			it.fn = nil // the buffer is reused: do not keep the request alive
			continue
		}
		ev := it.event()
		ev.At = max(at, d.core.Now())
		if err := d.handles.checkAck(it.ack.Handle); err != nil {
			d.refuseHandle(ev, err)
			continue
		}
		if err := d.stepAt(ev, it.ack.Handle); err != nil {
			d.refused(ev, err)
		}
	}
}

// arm sets the timer to the core's next deadline. The core has applied
// everything due at or before its time (R10), so a deadline at or before it
// is a core bug: it is reported (CodeCoreBug) and the timer set one
// millisecond ahead rather than letting the loop spin.
func (d *Driver) arm() {
	at, ok := d.core.NextDeadline()
	if !ok {
		if d.armed {
			d.timer.Stop()
			d.armed = false
		}
		return
	}
	if now := d.core.Now(); at <= now {
		if !d.coreBugSeen {
			d.coreBugSeen = true
			d.fx.push(fxItem{warn: &warning{code: CodeCoreBug, message: fmt.Sprintf(
				"the core's next deadline %d is not after its time %d (R10); retrying at %d", at, now, now+1)}})
		}
		at = now + 1
	}
	if d.armed && at == d.armedAt {
		return
	}
	d.timer.Reset(d.clock.wallTime(at))
	d.armed, d.armedAt = true, at
}

// call runs f on the event loop, after everything queued before it, and
// waits for it. A request the loop has taken always runs to the end, even when
// Close comes in meanwhile.
func (d *Driver) call(f func()) error {
	done := make(chan struct{})
	if err := d.in.push(item{fn: func() { f(); close(done) }}); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-d.loopDone:
		select {
		case <-done: // it ran before the loop stopped
			return nil
		default:
			return ErrClosed
		}
	}
}

// feed runs f on the event loop without waiting for it; the effect worker uses
// it to report store writes. After Close it is dropped.
func (d *Driver) feed(f func()) {
	_ = d.in.push(item{fn: f}) // ErrClosed: dropped, as documented on Close
}

// stepEvent applies an event at the current time (clamped so that it never goes
// backwards, R10), records it and hands its effects to the effect worker.
func (d *Driver) stepEvent(ev fsm.Event) error {
	ev.At = d.clock.now(d.core.Now())
	return d.stepAt(ev, history.StateHandle{})
}

// stepAt is stepEvent at the event's own time (which must not be before the
// core's).
//
// It is the one place where the running driver steps the core, so every event
// reaches the flight recorder (TestOnlyStepAtStepsTheCore holds the driver's
// sources to that). An event the core refuses changes nothing; it is reported
// to the caller and, since the caller may be the effect worker's feedback
// (persisted, config_persisted) or the timer, to the Executor as a warning.
//
// h is the state handle an ack carried (zero otherwise): recorded with the
// event, never shown to the core.
func (d *Driver) stepAt(ev fsm.Event, h history.StateHandle) error {
	effs, err := d.core.Step(ev)
	if err != nil {
		d.stats.refused++
		d.rec.comment("refused " + fsm.DescribeEvent(d.topo, ev) + ": " + err.Error())
		d.fx.push(fxItem{warn: &warning{code: CodeEventRefused,
			message: "the core refused " + ev.Type.String() + ": " + err.Error() + " (" + fsm.DescribeEvent(d.topo, ev) + ")"}})
		return err
	}
	d.recorded(d.rec.write(&ev, &h, effs))
	if len(effs) == 0 {
		// Most steps (acks) have no effect: nothing to copy, account for or
		// hand to the effect worker.
		d.flink.observe(ev, nil)
		d.handles.track(ev, h, nil)
		return nil
	}
	// The step's line is in the file before any of its effects is carried
	// out (see recorder).
	d.recorded(d.rec.flush())
	effs = copyEffects(effs)
	d.flink.observe(ev, effs)
	d.account(effs)
	items := effectItems(effs)
	d.handles.track(ev, h, items)
	d.fx.push(items...)
	return nil
}

// recorded reports the flight recorder's first failure to the Executor; the
// recorder stops, the driver goes on.
func (d *Driver) recorded(err error) {
	if err != nil && !d.rec.reported {
		d.rec.reported = true
		d.fx.push(fxItem{warn: &warning{code: CodeFlightRecorderFailed,
			message: "flight recorder stopped: " + err.Error()}})
	}
}

// refused reports an event of the ingestion queue that the core refused to
// the runtime: its submitter got no answer (Ack, Decline, AckBatch and the
// task_* methods do not wait for the core), so the refusal goes, in order with
// the effects, to Options.OnRefused, besides the CodeEventRefused warning, the
// flight file's comment line and Status.RefusedEvents that stepAt gives every
// refusal.
func (d *Driver) refused(ev fsm.Event, err error) {
	if d.onRefused != nil {
		d.fx.push(fxItem{refused: &refusal{ev: ev, err: err}})
	}
}

// CodeFlightRecorderFailed is the warning code of a flight-recorder write that
// failed; the recorder stops, the driver goes on.
const CodeFlightRecorderFailed = "flight_recorder_failed"

// CodeEventRefused is the warning code of an event the core refused (invalid
// input: an unknown subtask, a value out of range); nothing changed.
const CodeEventRefused = "event_refused"

// CodeCoreBug is the warning code of a core that broke its own contract (a
// deadline at or before its time after a step, R10); the driver goes on.
const CodeCoreBug = "core_bug"

func copyEffects(effs []fsm.Effect) []fsm.Effect {
	out := make([]fsm.Effect, len(effs))
	for i, e := range effs {
		out[i] = copyEffect(e)
	}
	return out
}

// account updates the statistics and answers PATCH callers whose patch the
// core applied or rejected.
func (d *Driver) account(effs []fsm.Effect) {
	for _, e := range effs {
		d.stats.observe(e)
		switch e.Type {
		case fsm.EffConfigApplied:
			d.publishConfig() // a no-op unless built with ckpt_nonatomic
			d.answer(e.Request, patchResult{cfg: d.core.Effective()})
		case fsm.EffConfigRejected:
			d.answer(e.Request, patchResult{err: &PatchRejectedError{Request: e.Request, Reason: e.Error}})
		}
	}
}

func (d *Driver) answer(request int64, r patchResult) {
	if ch, ok := d.waiters[request]; ok {
		delete(d.waiters, request)
		ch <- r // buffered: a caller that gave up does not block the loop
	}
}

func (d *Driver) failWaiters() {
	for req := range d.waiters {
		d.answer(req, patchResult{err: ErrClosed})
	}
}
