package driver

import (
	"fmt"
	"sync"

	"github.com/ckptcore/ckptcore/fsm"
)

// fxItem is one unit of work for the effect worker: an effect of the core, the
// metadata of a checkpoint the core forgot without a discard (a no_claim
// snapshot the job does not own, R41) to delete from the store, or a warning of
// the driver itself.
type fxItem struct {
	eff     fsm.Effect
	acked   *ackedState // persist: the handles the checkpoint's acks carried (meta_handles.go)
	forget  int64
	warn    *warning
	refused *refusal
	barrier chan struct{} // closed when the worker reaches it (tests wait for the queue to drain)
}

type warning struct{ code, message string }

// refusal is a queued event the core refused, for Options.OnRefused.
type refusal struct {
	ev  fsm.Event
	err error
}

func effectItems(effs []fsm.Effect) []fxItem {
	items := make([]fxItem, len(effs))
	for i, e := range effs {
		items[i] = fxItem{eff: e}
	}
	return items
}

// effector is the effect worker: it carries out effects one at a time, in the
// order the core emitted them, on its own goroutine, so that neither a slow
// store write nor a slow Executor holds up the event loop — acks keep flowing
// while a metadata write is in flight — and an Executor may call back into the
// Driver. Its queue is unbounded: the loop never waits for it.
//
// Store writes and the executor calls share this one queue, which gives the
// ordering guarantees the core's contract asks for: the id counter is durable
// before a trigger goes out (persist_id_counter precedes each trigger, R14); a checkpoint's metadata is durable before
// the core hears persisted (R23), and so before any completion notice; a
// discard deletes metadata only after the newer checkpoints' writes ahead of it.
type effector struct {
	d    *Driver
	exec Executor
	obs  EffectObserver

	mu    sync.Mutex
	queue []fxItem
	wake  chan struct{}
	done  chan struct{}

	// Owned by the worker goroutine (and by newDriver before it starts).
	savedNext int64              // the id counter as last written
	unsent    int64              // a checkpoint whose id counter write failed: its trigger is not sent
	persisted map[int64]fsm.Kind // metadata written, checkpoint not yet completed
	meta      *metaWriter        // checkpoint storage; nil without Options.CheckpointsDir
}

func newEffector(d *Driver, exec Executor, savedNext int64) *effector {
	f := &effector{d: d, exec: exec, wake: make(chan struct{}, 1), done: make(chan struct{}),
		savedNext: savedNext, persisted: map[int64]fsm.Kind{}}
	f.obs, _ = exec.(EffectObserver)
	return f
}

func (f *effector) push(items ...fxItem) {
	if len(items) == 0 {
		return
	}
	f.mu.Lock()
	f.queue = append(f.queue, items...)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// run works until Close; what is still queued then is dropped (see Close).
func (f *effector) run() {
	defer close(f.done)
	if a, ok := f.exec.(Attacher); ok {
		a.Attach(f.d)
	}
	for {
		f.mu.Lock()
		if len(f.queue) == 0 {
			f.mu.Unlock()
			select {
			case <-f.wake:
				continue
			case <-f.d.quit:
				return
			}
		}
		item := f.queue[0]
		f.queue[0] = fxItem{}
		f.queue = f.queue[1:]
		f.mu.Unlock()
		select {
		case <-f.d.quit:
			return
		default:
		}
		f.do(item)
	}
}

func (f *effector) do(it fxItem) {
	switch {
	case it.barrier != nil:
		close(it.barrier)
	case it.warn != nil:
		f.exec.Warn(it.warn.code, it.warn.message)
	case it.refused != nil:
		f.d.onRefused(it.refused.ev, it.refused.err)
	case it.forget != 0:
		if err := f.d.store.Delete(fsm.KindCheckpoint, it.forget); err != nil {
			f.exec.Warn(CodeStoreFailed, fmt.Sprintf("metadata of checkpoint %d, which the job no longer needs, not deleted: %v", it.forget, err))
		}
	default:
		if f.obs != nil {
			f.obs.ObserveEffect(it.eff)
		}
		f.effect(it.eff, it.acked)
	}
}

func (f *effector) effect(e fsm.Effect, acked *ackedState) {
	d := f.d
	switch e.Type {
	case fsm.EffPersistIDCounter:
		if e.NextID <= f.savedNext {
			return
		}
		if err := d.store.SaveNextID(e.NextID); err != nil {
			// Without a durable counter the id could be reused after a crash
			// (R14), so the trigger that follows is not sent: the checkpoint
			// expires at its deadline, a counted failure (R30), as Flink counts
			// a trigger that fails on the checkpoint id counter.
			f.unsent = e.NextID - 1
			f.exec.Warn(CodeStoreFailed, fmt.Sprintf("checkpoint %d not triggered: the id counter is not durable: %v", e.NextID-1, err))
			return
		}
		f.savedNext = e.NextID
	case fsm.EffTrigger:
		if e.Checkpoint == f.unsent {
			return // its persist_id_counter failed (warned there)
		}
		f.exec.TriggerCheckpoint(e.Checkpoint, e.Kind, e.ForcedGlobal, e.Tasks, d.clock.wallTime(e.Deadline))
	case fsm.EffPersist:
		f.persist(e, acked)
	case fsm.EffPersistOverrides:
		req := e.Request
		if err := d.store.SaveOverrides(e.IntervalMs, e.TimeoutMs); err != nil {
			d.feed(func() { d.answer(req, patchResult{err: &OverridesNotDurableError{Request: req, Err: err}}) })
			return
		}
		d.feed(func() { d.stepEvent(fsm.Event{Type: fsm.EvConfigPersisted, Request: req}) })
	case fsm.EffCompleted:
		delete(f.persisted, e.Checkpoint)
		if f.meta != nil {
			f.meta.completed(e)
		}
	case fsm.EffAbort:
		// A checkpoint can end while its metadata is written (the job failed or
		// finished meanwhile): it did not complete, so its metadata must not
		// make a restart believe it did.
		if kind, ok := f.persisted[e.Checkpoint]; ok {
			delete(f.persisted, e.Checkpoint)
			if err := d.store.Delete(kind, e.Checkpoint); err != nil {
				f.exec.Warn(CodeStoreFailed, fmt.Sprintf("metadata of aborted checkpoint %d not deleted: %v", e.Checkpoint, err))
				return // its directory stays while a pointer may name it; Repair removes it at the next open
			}
		}
		f.removeDir(e.Checkpoint, "aborted")
	case fsm.EffDiscard:
		f.exec.Discard(e.Checkpoint)
		// The pointer goes first, then the directory (R40): a crash in between
		// leaves a directory no pointer names, which Repair removes at the
		// next open; never a pointer to a deleted file.
		if err := d.store.Delete(fsm.KindCheckpoint, e.Checkpoint); err != nil {
			f.exec.Warn(CodeStoreFailed, fmt.Sprintf("metadata of discarded checkpoint %d not deleted (discarded again at the next open): %v", e.Checkpoint, err))
			return
		}
		f.removeDir(e.Checkpoint, "discarded")
	case fsm.EffNotifyComplete:
		f.exec.NotifyComplete(e.Checkpoint, e.Tasks, e.RegionalInfo)
	case fsm.EffNotifyAborted:
		f.exec.NotifyAborted(e.Checkpoint, e.Tasks, e.LatestCompleted)
	case fsm.EffRegionSkipped:
		f.exec.RegionSkipped(e.Checkpoint, e.Region, e.Tasks)
	case fsm.EffCoordinatorFallback:
		f.exec.CoordinatorFallback(e.Checkpoint, e.Vertex, e.Refs)
	case fsm.EffDiscardLateState:
		f.exec.DiscardLateState(e.Checkpoint, e.Task)
	case fsm.EffFailJob:
		f.exec.FailJob(e.Reason, e.Message)
	case fsm.EffFinishJob:
		f.exec.FinishJob(e.Message)
	case fsm.EffWarn:
		f.exec.Warn(e.Code, e.Message)
	}
}

// persist writes a checkpoint's or savepoint's metadata and tells the core how
// it went (R23). A failed write may have left the file behind (the directory
// fsync failed after the rename), so it is deleted: the core aborts the
// checkpoint and a restart must not find it.
func (f *effector) persist(e fsm.Effect, acked *ackedState) {
	d := f.d
	m := Metadata{ID: e.Checkpoint, Kind: e.Kind, Mode: e.Mode, Refs: e.Refs, Consecutive: e.Consecutive, Owned: true}
	id := e.Checkpoint
	var err error
	if f.meta != nil {
		// The _metadata file first, then the pointer to it (R23).
		m.External, err = f.meta.write(e, acked)
	}
	if err == nil {
		err = d.store.Save(m)
	}
	if err != nil {
		if derr := d.store.Delete(e.Kind, id); derr != nil {
			f.exec.Warn(CodeStoreFailed, fmt.Sprintf("metadata of failed checkpoint %d not deleted: %v", id, derr))
		} else {
			f.removeDir(id, "failed")
		}
		f.exec.Warn(CodeStoreFailed, fmt.Sprintf("metadata of checkpoint %d not written: %v", id, err))
		d.feed(func() { d.stepEvent(fsm.Event{Type: fsm.EvPersistFailed, Checkpoint: id}) })
		return
	}
	f.persisted[id] = e.Kind
	d.feed(func() { d.stepEvent(fsm.Event{Type: fsm.EvPersisted, Checkpoint: id}) })
}

// removeDir deletes a checkpoint's directory in checkpoint storage, once no
// store pointer names it (the caller deleted it). A failure is warned about
// and left to Repair at the next open.
func (f *effector) removeDir(id int64, what string) {
	if f.meta == nil {
		return
	}
	if err := f.meta.remove(id); err != nil {
		f.exec.Warn(CodeStoreFailed, fmt.Sprintf("directory of %s checkpoint %d not deleted (removed at the next open): %v", what, id, err))
	}
}
