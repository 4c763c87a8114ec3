package driver

import "github.com/ckptcore/ckptcore/fsm"

// Status is a consistent snapshot of the coordinator, taken on the event loop:
// what the REST API shows. Counts and latest entries cover this incarnation
// (Flink's checkpoint statistics also start over after a JobManager failover).
type Status struct {
	Now          int64 // core time, Unix milliseconds
	Job          fsm.JobStatus
	FailReason   fsm.Reason
	Base         fsm.Config          // the configuration the job started with
	Effective    fsm.EffectiveConfig // base plus confirmed overrides (R63)
	RegionalMode bool                // regional checkpoints are on (R4 and regional.enabled)
	// PendingPatches counts accepted patches whose overrides are not durable yet.
	PendingPatches int
	Counts         Counts
	Pending        []PendingCheckpoint
	Retained       []int64 // the completed store, ascending (R40)
	// LatestCompleted is the latest completed checkpoint in the store; nil if none.
	LatestCompleted *CompletedCheckpoint
	// LatestSavepoint is the latest savepoint completed by this incarnation.
	LatestSavepoint *CompletedCheckpoint
	// LatestFailed is the latest checkpoint aborted in this incarnation.
	LatestFailed *FailedCheckpoint
	// Restored is the checkpoint this incarnation started from, if any.
	Restored *RestoredCheckpoint
	// Consecutive is the consecutive regional count (R25); Regions the job's
	// number of regions; Storage the store's type (e.g. "FileStore").
	Consecutive int
	Regions     int
	Storage     string
	// RefusedEvents counts the events the core refused in this incarnation
	// (invalid input, an *fsm.EventError each; see Options.OnRefused).
	RefusedEvents int64
}

// Counts are Flink's checkpoint counts.
type Counts struct {
	Total      int // checkpoints and savepoints triggered (given an id)
	InProgress int
	Completed  int
	Failed     int // aborted, for any reason
	Restored   int // 1 when this incarnation started from a checkpoint
}

// PendingCheckpoint is a checkpoint in progress.
type PendingCheckpoint struct {
	ID         int64
	Kind       fsm.Kind
	TriggerAt  int64
	Deadline   int64
	Persisting bool // every ack is in, the metadata is being written (R23)
}

// CompletedCheckpoint is a completed checkpoint or savepoint.
type CompletedCheckpoint struct {
	ID   int64
	Kind fsm.Kind
	Mode fsm.Mode
	// Refs lists the regions that use an older checkpoint's state, sorted by
	// region; every other region uses ID itself (R21). RefOf resolves a region.
	Refs        []fsm.RegionRef
	Consecutive int
	TriggerAt   int64 // 0 when unknown (completed by an earlier incarnation)
	CompletedAt int64 // 0 when unknown
	// StateSize and CheckpointedSize total the sizes its kept acks reported
	// (bytes; 0 when unknown or none reported).
	StateSize        int64
	CheckpointedSize int64
}

// RefOf returns the checkpoint whose state region r uses.
func (c *CompletedCheckpoint) RefOf(r int) int64 {
	for _, ref := range c.Refs {
		if ref.Region == r {
			return ref.Checkpoint
		}
	}
	return c.ID
}

// FailedCheckpoint is an aborted checkpoint.
type FailedCheckpoint struct {
	ID        int64
	Kind      fsm.Kind
	Reason    fsm.Reason
	Message   string
	Counted   bool // counted against tolerable_failures (R30)
	TriggerAt int64
	FailedAt  int64
}

// RestoredCheckpoint is the checkpoint an incarnation started from.
type RestoredCheckpoint struct {
	ID         int64
	RestoredAt int64
}

// Status returns a snapshot of the coordinator.
func (d *Driver) Status() (Status, error) {
	var s Status
	err := d.call(func() { s = d.status() })
	return s, err
}

func (d *Driver) status() Status {
	c := d.core
	s := Status{Now: c.Now(), Job: c.Job(), FailReason: c.FailReason(), Base: c.Config(),
		Effective: c.Effective(), RegionalMode: c.RegionalMode(), PendingPatches: len(c.PendingPatches()),
		Retained: c.Retained(), Counts: d.stats.counts, Consecutive: c.Consecutive(),
		Regions: d.topo.NumRegions(), Storage: storageName(d.store), RefusedEvents: d.stats.refused}
	for _, p := range c.Pending() {
		s.Pending = append(s.Pending, PendingCheckpoint{ID: p.ID, Kind: p.Kind, TriggerAt: p.TriggerAt,
			Deadline: p.Deadline, Persisting: p.Persisting})
	}
	s.Counts.InProgress = len(s.Pending)
	if l, ok := c.LatestCompleted(); ok {
		lc := &CompletedCheckpoint{ID: l.ID, Kind: fsm.KindCheckpoint, Mode: l.Mode, Refs: l.Refs, Consecutive: l.Consecutive}
		if t := d.stats.lastCompleted; t != nil && t.ID == l.ID {
			lc.TriggerAt, lc.CompletedAt = t.TriggerAt, t.CompletedAt
			lc.StateSize, lc.CheckpointedSize = t.StateSize, t.CheckpointedSize
		}
		s.LatestCompleted = lc
	}
	if sp := d.stats.lastSavepoint; sp != nil {
		cp := *sp
		s.LatestSavepoint = &cp
	}
	if f := d.stats.lastFailed; f != nil {
		cp := *f
		s.LatestFailed = &cp
	}
	if r := d.stats.restored; r != nil {
		cp := *r
		s.Restored = &cp
	}
	return s
}

// stats is the bookkeeping behind Status, fed with every effect on the loop.
type stats struct {
	counts        Counts
	triggerAt     map[int64]int64
	lastCompleted *CompletedCheckpoint
	lastSavepoint *CompletedCheckpoint
	lastFailed    *FailedCheckpoint
	restored      *RestoredCheckpoint
	refused       int64 // events the core refused
}

func newStats() stats { return stats{triggerAt: map[int64]int64{}} }

func (s *stats) restoredFrom(id, at int64) {
	s.counts.Restored = 1
	s.restored = &RestoredCheckpoint{ID: id, RestoredAt: at}
}

// observe accounts for one effect. Times are the effect's own (Effect.At):
// a periodic checkpoint due before the event that applied it was triggered at
// its due time (R10), not at the event's.
func (s *stats) observe(e fsm.Effect) {
	switch e.Type {
	case fsm.EffTrigger:
		s.counts.Total++
		s.triggerAt[e.Checkpoint] = e.At
	case fsm.EffCompleted:
		s.counts.Completed++
		c := &CompletedCheckpoint{ID: e.Checkpoint, Kind: e.Kind, Mode: e.Mode, Refs: e.Refs,
			Consecutive: e.Consecutive, TriggerAt: s.triggerAt[e.Checkpoint], CompletedAt: e.At,
			StateSize: e.StateSize, CheckpointedSize: e.CheckpointedSize}
		delete(s.triggerAt, e.Checkpoint)
		if e.Kind == fsm.KindCheckpoint {
			s.lastCompleted = c
		} else {
			s.lastSavepoint = c
		}
	case fsm.EffAbort:
		s.counts.Failed++
		s.lastFailed = &FailedCheckpoint{ID: e.Checkpoint, Kind: e.Kind, Reason: e.Reason, Message: e.Message,
			Counted: e.Counted, TriggerAt: s.triggerAt[e.Checkpoint], FailedAt: e.At}
		delete(s.triggerAt, e.Checkpoint)
	}
}
