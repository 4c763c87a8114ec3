package driver

import (
	"errors"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// StateHandle is the state a subtask's ack carries (FLIP-600 points 3 and 4):
// a URI or small inline bytes, with a size; the zero value means no state. The
// driver never interprets it: it keeps it per (checkpoint, subtask) while the
// checkpoint is pending, writes it into the checkpoint's _metadata file
// (docs/spec/METADATA.md) and records it in the flight file (HISTORY.md,
// "State handles"). The core never sees it.
type StateHandle = history.StateHandle

// ErrNoCheckpointStorage refuses an ack with a state handle on a driver
// without checkpoint storage (Options.CheckpointsDir): the handle would be
// lost, and a runtime that believes its state is in a checkpoint must hear so.
var ErrNoCheckpointStorage = errors.New("driver: an ack carries a state handle but the driver has no checkpoint storage (Options.CheckpointsDir)")

// handleTracker keeps the handles of the acks of pending checkpoints, owned
// by the event loop: one slice indexed by subtask per pending checkpoint,
// allocated at its trigger, set in O(1) per ack, and handed to the effect
// worker with the checkpoint's persist effect (or dropped at its abort), so
// nothing outlives the checkpoint. The core is not involved: it stays O(1) per
// ack and independent of payloads.
type handleTracker struct {
	n       int
	pending map[int64]*ackedState
}

// ackedState is what the acks of one checkpoint carried.
type ackedState struct {
	triggeredAt int64         // core time of the trigger (ms since the epoch)
	handles     []StateHandle // by subtask; zero where no ack carried state
}

func newHandleTracker(topo *fsm.Topology) *handleTracker {
	return &handleTracker{n: topo.NumSubtasks(), pending: map[int64]*ackedState{}}
}

// checkAck refuses a handle the driver cannot keep, before the core sees the
// ack (so a refusal changes nothing).
func (t *handleTracker) checkAck(h StateHandle) error {
	if h.IsZero() {
		return nil
	}
	if t == nil {
		return ErrNoCheckpointStorage
	}
	if err := h.Validate(); err != nil {
		return &fsm.EventError{Type: fsm.EvAck, Field: "state", Reason: err.Error()}
	}
	return nil
}

// track applies one step's event and effects: a trigger opens a checkpoint's
// slice, an accepted ack's handle goes into it (not a late one, whose state
// the core discards, R16), a persist hands the slice to the worker with the
// persist item, an abort drops it.
func (t *handleTracker) track(ev fsm.Event, h StateHandle, items []fxItem) {
	if t == nil {
		return
	}
	if ev.Type == fsm.EvAck && !h.IsZero() {
		if p := t.pending[ev.Checkpoint]; p != nil && !lateState(items, ev) {
			p.handles[ev.Task] = h
		}
	}
	for i := range items {
		e := &items[i].eff
		switch e.Type {
		case fsm.EffTrigger:
			t.pending[e.Checkpoint] = &ackedState{triggeredAt: e.At, handles: make([]StateHandle, t.n)}
		case fsm.EffPersist:
			items[i].acked = t.pending[e.Checkpoint]
			delete(t.pending, e.Checkpoint)
		case fsm.EffAbort:
			delete(t.pending, e.Checkpoint)
		}
	}
}

func lateState(items []fxItem, ev fsm.Event) bool {
	for i := range items {
		if e := &items[i].eff; e.Type == fsm.EffDiscardLateState && e.Checkpoint == ev.Checkpoint && e.Task == ev.Task {
			return true
		}
	}
	return false
}

// refuseHandle reports an ack refused for its handle as stepAt reports one the
// core refused (a warning, a comment in the flight file, the refusal count,
// Options.OnRefused); the core never saw it.
func (d *Driver) refuseHandle(ev fsm.Event, err error) {
	d.stats.refused++
	d.rec.comment("refused " + fsm.DescribeEvent(d.topo, ev) + ": " + err.Error())
	d.fx.push(fxItem{warn: &warning{code: CodeEventRefused,
		message: "refused " + fsm.DescribeEvent(d.topo, ev) + ": " + err.Error()}})
	d.refused(ev, err)
}
