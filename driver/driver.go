package driver

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// Options configures a Driver. The zero value is usable: the real clock, an
// Executor that does nothing, a flight recorder next to the store (Open).
type Options struct {
	// Clock is the source of time; nil means RealClock.
	Clock Clock
	// Executor carries out the effects; nil means NopExecutor.
	Executor Executor
	// InitialDelay, when not nil, delays the first periodic checkpoint of a
	// fresh start (the start event's initial_delay_ms); nil means one period.
	InitialDelay *time.Duration
	// Restore is the snapshot a fresh job starts from (the start event's
	// restore). It is ignored when the store already has state: then the driver
	// recovers from the store (R50).
	Restore *fsm.Restore
	// FlightDir is where the flight recorder writes one history file per
	// incarnation. Open defaults it to <dir>/flight; New records nothing unless
	// it is set.
	FlightDir string
	// NoFlightRecorder turns the flight recorder off.
	NoFlightRecorder bool
	// FlightFormat is the flight files' encoding: FlightNDJSON (the default,
	// flight-<n>.jsonl) or FlightBinary (flight-<n>.bin, the binary variant of
	// docs/spec/HISTORY.md: the recorder costs the event loop a few
	// nanoseconds an ack instead of an NDJSON line; `ckpt convert` turns a file
	// into the NDJSON one).
	FlightFormat FlightFormat
	// FlightMaxBytes rotates the flight file inside an incarnation once its
	// events take this many bytes; the next file starts with a snapshot of the
	// core (driver/rotate.go). 0 means DefaultFlightMaxBytes, negative no size
	// limit.
	FlightMaxBytes int64
	// FlightMaxCheckpoints rotates it once it has recorded this many
	// completed checkpoints. 0 means DefaultFlightMaxCheckpoints, negative no
	// limit.
	FlightMaxCheckpoints int
	// OnRefused, when not nil, is told of every event submitted without an
	// answer (Ack, AckWithSizes, AckBatch, Decline, TaskFailed, TaskRunning,
	// TaskFinished) that the core refused: err is the core's *fsm.EventError
	// (a subtask the job does not have, a negative size); the core is
	// unchanged. It is called on the effect worker, in order with the
	// Executor's methods, with the same rules (it may call the event methods,
	// not Close). Refusals are also warned (CodeEventRefused), written to the
	// flight file as comment lines and counted in Status.RefusedEvents.
	OnRefused func(ev fsm.Event, err error)
	// CheckpointsDir turns checkpoint storage on (issue 15 §1,
	// docs/spec/METADATA.md): each completed checkpoint's state handles go to
	// <CheckpointsDir>/<Job>/chk-<id>/_metadata, the store keeps a pointer to
	// it (Metadata.External), a discarded checkpoint's directory is deleted,
	// and acks may carry state handles (Ack.Handle). "" means none.
	CheckpointsDir string
	// Job names the job in checkpoint storage; "" means "job".
	Job string
	// RestoreMetadata is the _metadata file of the Restore snapshot (a
	// checkpoint or savepoint of this job, possibly written under another
	// job name): a regional completion whose failed regions fall back to the
	// snapshot copies their handles from it, and the store keeps it as the
	// snapshot's pointer. It needs CheckpointsDir and Restore, and must agree
	// with them (id, refs, job shape).
	RestoreMetadata string
}

// Driver embeds the decision core for real use: one goroutine (the event loop)
// owns the fsm.State and applies events, another (the effect worker) carries out
// the effects in order — the store writes itself, everything else through the
// Executor. All methods are safe for concurrent use.
type Driver struct {
	topo     *fsm.Topology
	job      fsm.JobSpec
	cfg      fsm.Config
	store    Store
	ownStore bool
	clock    *coreClock
	timer    Timer
	fx       *effector
	rec      *recorder

	in        *ingest // events and requests for the event loop
	onRefused func(fsm.Event, error)
	quit      chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
	closeErr  error

	// Owned by the event loop goroutine.
	core        *fsm.State
	armed       bool
	armedAt     int64
	coreBugSeen bool // a CodeCoreBug warning went out (once per incarnation)
	nextRequest int64
	waiters     map[int64]chan patchResult
	stats       stats
	flink       *flinkState    // Flink's checkpoint statistics and trigger operations (flink.go)
	handles     *handleTracker // the acks' state handles (meta_handles.go); nil without checkpoint storage
}

// ErrClosed is returned by the methods of a closed Driver.
var ErrClosed = errors.New("driver: closed")

// Open opens (or creates) the FileStore in dir and starts a driver on it: when
// the store has state, the core is rebuilt from it with fsm.Resume (a
// coordinator recovery, R50); otherwise the job starts fresh with a start event.
// The flight recorder writes to <dir>/flight unless Options say otherwise.
func Open(dir string, job fsm.JobSpec, cfg fsm.Config, opt Options) (*Driver, error) {
	st, err := OpenFileStore(dir)
	if err != nil {
		return nil, err
	}
	if opt.FlightDir == "" {
		opt.FlightDir = filepath.Join(dir, "flight")
	}
	d, err := newDriver(st, job, cfg, opt)
	if err != nil {
		st.Close()
		return nil, err
	}
	d.ownStore = true
	return d, nil
}

// New starts a driver on a store the caller opened; Close does not close it.
// See Open.
func New(store Store, job fsm.JobSpec, cfg fsm.Config, opt Options) (*Driver, error) {
	return newDriver(store, job, cfg, opt)
}

func newDriver(store Store, job fsm.JobSpec, cfg fsm.Config, opt Options) (*Driver, error) {
	topo, err := fsm.NewTopology(job)
	if err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("driver: %w", err)
	}
	if opt.Clock == nil {
		opt.Clock = RealClock{}
	}
	if opt.Executor == nil {
		opt.Executor = NopExecutor{}
	}
	durable, err := store.Load()
	if err != nil {
		return nil, err
	}
	d := &Driver{
		topo: topo, job: job, cfg: cfg, store: store,
		clock:     newCoreClock(opt.Clock),
		timer:     opt.Clock.NewTimer(),
		in:        newIngest(),
		onRefused: opt.OnRefused,
		quit:      make(chan struct{}),
		loopDone:  make(chan struct{}),
		waiters:   map[int64]chan patchResult{},
		stats:     newStats(),
	}
	d.flink = newFlinkState(topo, cfg, store)
	d.fx = newEffector(d, opt.Executor, durable.NextID)
	if err := d.openCheckpointStorage(opt, durable); err != nil {
		return nil, err
	}
	if hasState(durable) {
		err = d.resume(durable, opt)
	} else {
		err = d.start(opt)
	}
	if err != nil {
		if d.rec != nil {
			d.rec.close()
		}
		return nil, err
	}
	go d.fx.run()
	go d.loop()
	return d, nil
}

// hasState reports whether a store holds anything of an earlier incarnation.
func hasState(d fsm.Durable) bool {
	return d.NextID > 1 || len(d.Known) > 0 || d.Overrides != nil || d.RestoredID > 0
}

// start begins a fresh job: the start event, after the restored snapshot (if
// any) is durable, so that a crash right after start recovers from it.
func (d *Driver) start(opt Options) error {
	core, err := fsm.New(d.topo, d.cfg)
	if err != nil {
		return fmt.Errorf("driver: %w", err)
	}
	d.core = core
	ev := fsm.Event{Type: fsm.EvStart, At: d.clock.now(0), Restore: opt.Restore}
	if opt.InitialDelay != nil {
		ev.HasInitialDelay, ev.InitialDelayMs = true, max(opt.InitialDelay.Milliseconds(), 0)
	}
	effs, err := core.Step(ev)
	if err != nil {
		return fmt.Errorf("driver: start: %w", err)
	}
	effs = copyEffects(effs)
	if err := d.readRestoreMetadata(opt); err != nil {
		return err
	}
	if opt.Restore != nil {
		if err := d.saveRestored(); err != nil {
			return err
		}
		d.stats.restoredFrom(opt.Restore.Checkpoint, ev.At)
	}
	first, err := history.EncodeEvent(d.topo, ev, effs)
	if err != nil {
		return fmt.Errorf("driver: start: %w", err)
	}
	if err := d.openRecorder(opt, d.historyFormat(history.Format), first); err != nil {
		return err
	}
	d.flink.observe(ev, effs)
	d.account(effs)
	d.fx.push(effectItems(effs)...)
	return nil
}

// saveRestored makes a restore durable before the job runs: the metadata of the
// snapshot and of the older checkpoints its refs name, as the start event put
// them into the core, the restore itself and the id counter.
func (d *Driver) saveRestored() error {
	dur := d.core.Durable()
	for _, k := range dur.Known {
		m := Metadata{ID: k.ID, Kind: fsm.KindCheckpoint, Mode: k.Mode, Refs: k.Refs,
			Consecutive: k.Consecutive, Owned: k.Owned, Restored: k.Restored}
		if d.fx.meta != nil {
			m.External = d.fx.meta.pointers[k.ID]
		}
		if err := d.store.Save(m); err != nil {
			return err
		}
	}
	if err := d.store.SaveRestored(dur.RestoredID, dur.NoClaim); err != nil {
		return err
	}
	if err := d.store.SaveNextID(dur.NextID); err != nil {
		return err
	}
	d.fx.savedNext = dur.NextID
	return nil
}

// resume rebuilds the core from the store (R50) with fsm.Resume, which also
// decides which stored checkpoints are no longer needed (R40: a crash came
// between a completion and its discards) and returns their discards: they are
// carried out first, like any effect. The flight file starts with a resume
// record of the store as loaded, with those effects (see recorder).
func (d *Driver) resume(durable fsm.Durable, opt Options) error {
	at := d.clock.now(0)
	core, effs, err := fsm.Resume(d.topo, d.cfg, durable, at)
	if err != nil {
		return fmt.Errorf("driver: the store does not fit this job: %w", err)
	}
	effs = copyEffects(effs)
	d.core = core
	d.account(effs)
	d.fx.push(effectItems(effs)...)
	d.fx.push(forgotten(durable, core.Durable(), effs)...)
	if l, ok := core.LatestCompleted(); ok && d.fx.meta != nil {
		d.fx.meta.setLatest(l.ID)
	}
	if l, ok := core.LatestCompleted(); ok {
		d.stats.restoredFrom(l.ID, core.Now())
		d.flink.tracker.Restored(l.ID, core.Now()) // Flink reports the restore too
	}
	first := history.EncodeResume(d.topo, at, durable, effs)
	return d.openRecorder(opt, d.historyFormat(history.FormatResume), first)
}

// forgotten lists the stored checkpoints Resume dropped without a discard
// effect — ones the job does not own (R41) — so that their metadata leaves the
// store too; their state is not the job's to delete.
func forgotten(stored, kept fsm.Durable, effs []fsm.Effect) []fxItem {
	gone := map[int64]bool{}
	for _, k := range stored.Known {
		gone[k.ID] = true
	}
	for _, k := range kept.Known {
		delete(gone, k.ID)
	}
	for _, e := range effs {
		if e.Type == fsm.EffDiscard {
			delete(gone, e.Checkpoint)
		}
	}
	var items []fxItem
	for _, k := range stored.Known { // in id order
		if gone[k.ID] {
			items = append(items, fxItem{forget: k.ID})
		}
	}
	return items
}

// Topology returns the job. It is immutable and safe to use from any goroutine.
func (d *Driver) Topology() *fsm.Topology { return d.topo }

// FlightFile returns the path of the flight-recorder file being written (the
// latest of this incarnation's files when it rotates), or "" when nothing is
// recorded.
func (d *Driver) FlightFile() string {
	if d.rec == nil {
		return ""
	}
	return d.rec.currentPath()
}

// Close stops the driver and waits for its goroutines. Effects the worker has
// not started are dropped, exactly as a crash would drop them — recovery from
// the store (R50) copes with both — and so are feedback events not yet applied.
// Waiting PatchConfig calls return ErrClosed. Close returns the first error of
// the flight recorder or of closing the store.
func (d *Driver) Close() error {
	d.closeOnce.Do(func() {
		d.in.close()
		close(d.quit)
		<-d.loopDone
		<-d.fx.done
		d.timer.Stop()
		errs := []error{d.rec.close()}
		if d.ownStore {
			errs = append(errs, d.store.Close())
		}
		d.closeErr = errors.Join(errs...)
	})
	return d.closeErr
}
