package driver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/history/timeline"
)

// flinkState is what the Flink REST API needs beyond Status: Flink's checkpoint
// statistics (the tracker) and the asynchronous trigger operations of POST
// .../checkpoints, .../savepoints and .../stop. Both are fed every step on the
// event loop (observe) and read from HTTP goroutines.
type flinkState struct {
	tracker  *flinkapi.Tracker
	timeline *timeline.Builder // GET /timeline

	mu          sync.Mutex
	ops         map[string]*triggerOp // by trigger id
	order       []string              // trigger ids, oldest first, to bound ops
	byID        map[int64]*triggerOp  // operations whose checkpoint has an id and has not ended
	queued      []*triggerOp          // manual checkpoint requests waiting in the core, FIFO; nil = not ours
	expect      *triggerOp            // the operation whose request is being stepped
	expectKind  fsm.Kind
	expectValid bool
	startAt     int64 // the first step this driver applied
	started     bool
	endAt       int64 // when the job failed or finished; 0 while it runs

	// Owned by the event loop: the deferred timeline step (observe).
	timelineStarted bool
	lateAck         fsm.Event
	hasLateAck      bool
}

// maxTriggerOps bounds the remembered operations; Flink keeps them for
// rest.async.store-duration (5 minutes), this keeps the latest 1000.
const maxTriggerOps = 1000

// triggerOp is one asynchronous trigger operation.
type triggerOp struct {
	kind       fsm.Kind
	checkpoint int64 // 0 until the core gave it an id
	done       bool
	failure    string // "" = success (when done)
}

// timelineCheckpoints bounds the checkpoints the driver's timeline page keeps.
const timelineCheckpoints = 2000

func newFlinkState(topo *fsm.Topology, cfg fsm.Config, store Store) *flinkState {
	opts := flinkapi.TrackerOptions{}
	if l, ok := store.(MetadataLocator); ok {
		opts.ExternalPath = l.MetadataPath
	}
	return &flinkState{tracker: flinkapi.NewTracker(topo, opts), ops: map[string]*triggerOp{},
		timeline: timeline.NewBuilder(topo, cfg, timelineCheckpoints),
		byID:     map[int64]*triggerOp{}}
}

// MetadataLocator is a Store that can say where a checkpoint's metadata lives:
// Flink's external_path of a checkpoint and location of a savepoint.
type MetadataLocator interface {
	MetadataPath(kind fsm.Kind, id int64) string
}

// MetadataPath returns the file URI of a checkpoint's or savepoint's metadata.
func (s *FileStore) MetadataPath(kind fsm.Kind, id int64) string {
	sub, name := metadataName(kind, id)
	return "file://" + filepath.Join(s.dir, sub, name)
}

// observe feeds one step to the tracker and settles trigger operations.
//
// An ack without effects — most of the events of a large job — changes the
// timeline only by moving its time forward, and settles nothing: its timeline
// step is deferred to the end of the batch (observed), which gives the same
// timeline, and the rest is skipped.
func (f *flinkState) observe(ev fsm.Event, effs []fsm.Effect) {
	f.tracker.Observe(ev, effs)
	if ev.Type == fsm.EvAck && len(effs) == 0 && f.timelineStarted {
		f.lateAck, f.hasLateAck = ev, true
		return
	}
	f.observed()
	f.timeline.Step(ev, effs)
	f.timelineStarted = true
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.started {
		f.startAt, f.started = ev.At, true
	}
	if ev.Type == fsm.EvRecover {
		f.endAt = 0
	}
	skip := -1
	if ev.Type == fsm.EvTrigger {
		// The request's step holds only its own outcome (requestOnLoop settles
		// what was due first): the first trigger or trigger_failed of its kind.
		// Without one, a checkpoint request waits for a free slot in the core's
		// FIFO queue, ahead of any periodic request (R12).
		op := f.expect
		if !f.expectValid || f.expectKind != ev.Kind {
			op = nil
		}
		f.expect, f.expectValid = nil, false
		found := false
		for i := range effs {
			if e := &effs[i]; isOutcome(e, ev.Kind) {
				f.settleRequest(op, e)
				skip, found = i, true
				break
			}
		}
		if !found && ev.Kind == fsm.KindCheckpoint {
			f.queued = append(f.queued, op)
		}
	}
	for i := range effs {
		e := &effs[i]
		switch {
		case i == skip:
		case len(f.queued) > 0 && isOutcome(e, fsm.KindCheckpoint):
			op := f.queued[0]
			f.queued = f.queued[1:]
			f.settleRequest(op, e)
		case e.Type == fsm.EffCompleted:
			if op := f.byID[e.Checkpoint]; op != nil {
				op.done = true
				delete(f.byID, e.Checkpoint)
			}
		case e.Type == fsm.EffAbort:
			if op := f.byID[e.Checkpoint]; op != nil {
				op.done, op.failure = true, fmt.Sprintf("checkpoint %d aborted: %s: %s", e.Checkpoint, e.Reason, e.Message)
				delete(f.byID, e.Checkpoint)
			}
		case e.Type == fsm.EffFailJob || e.Type == fsm.EffFinishJob:
			f.endAt = e.At
			f.dropQueued("the job ended before the request got a checkpoint")
		}
	}
	if ev.Type == fsm.EvRecover {
		f.dropQueued("the coordinator recovered before the request got a checkpoint (R50)")
	}
}

// observed gives the timeline the deferred step of the last ack without
// effects (observe); the event loop calls it at the end of every batch.
func (f *flinkState) observed() {
	if f.hasLateAck {
		f.hasLateAck = false
		f.timeline.Step(f.lateAck, nil)
	}
}

// isOutcome reports whether e ends a manual request of kind k: its trigger,
// or its failure to get an id (min_pause only ever drops periodic requests).
func isOutcome(e *fsm.Effect, k fsm.Kind) bool {
	return e.Kind == k && (e.Type == fsm.EffTrigger || e.Type == fsm.EffTriggerFailed && e.Reason != fsm.ReasonMinPause)
}

func (f *flinkState) settleRequest(op *triggerOp, e *fsm.Effect) {
	if op == nil {
		return
	}
	if e.Type == fsm.EffTriggerFailed {
		op.done, op.failure = true, fmt.Sprintf("the request got no checkpoint: %s: %s", e.Reason, e.Message)
		return
	}
	op.checkpoint = e.Checkpoint
	f.byID[e.Checkpoint] = op
}

func (f *flinkState) dropQueued(why string) {
	for _, op := range f.queued {
		if op != nil {
			op.done, op.failure = true, why
		}
	}
	f.queued = nil
}

// newOp registers an operation under triggerID (a fresh one when empty). A
// known triggerID returns its operation and false: the request is not made
// again (Flink's idempotent triggering).
func (f *flinkState) newOp(triggerID string, kind fsm.Kind) (string, *triggerOp, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if triggerID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", nil, false, err
		}
		triggerID = hex.EncodeToString(b[:])
	}
	if op, ok := f.ops[triggerID]; ok {
		return triggerID, op, false, nil
	}
	op := &triggerOp{kind: kind}
	f.ops[triggerID] = op
	f.order = append(f.order, triggerID)
	for len(f.order) > maxTriggerOps {
		delete(f.ops, f.order[0])
		f.order = f.order[1:]
	}
	return triggerID, op, true, nil
}

// operation returns a copy of an operation's state.
func (f *flinkState) operation(triggerID string) (triggerOp, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	op, ok := f.ops[triggerID]
	if !ok {
		return triggerOp{}, false
	}
	return *op, true
}

// request makes a manual request of kind (R12) for op (nil: nobody waits for
// its outcome). On the event loop it first applies what is due, so that the
// request's own step holds only the request's effects, then steps the trigger
// event at the same time.
func (d *Driver) request(kind fsm.Kind, op *triggerOp) error {
	var err error
	cerr := d.call(func() {
		now := d.clock.now(d.core.Now())
		if at, ok := d.core.NextDeadline(); ok && at <= now {
			if err = d.stepAt(fsm.Event{At: now, Type: fsm.EvTick}, history.StateHandle{}); err != nil {
				return
			}
		}
		d.flink.mu.Lock()
		d.flink.expect, d.flink.expectKind, d.flink.expectValid = op, kind, true
		d.flink.mu.Unlock()
		err = d.stepAt(fsm.Event{At: now, Type: fsm.EvTrigger, Kind: kind}, history.StateHandle{})
		if err != nil {
			d.flink.mu.Lock()
			d.flink.expect, d.flink.expectValid = nil, false
			d.flink.mu.Unlock()
		}
	})
	if cerr != nil {
		return cerr
	}
	return err
}

// FlinkStatistics returns Flink's checkpoint statistics tracker of this driver
// (GET .../checkpoints and the details endpoints read it).
func (d *Driver) FlinkStatistics() *flinkapi.Tracker { return d.flink.tracker }

// storageName names a store the way Flink names its checkpoint storage: by type.
func storageName(s Store) string {
	name := fmt.Sprintf("%T", s)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return name
}
