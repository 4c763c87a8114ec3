package driver

import "github.com/ckptcore/ckptcore/fsm"

// Store is the driver's durable state: everything fsm.Durable holds (R50).
// FileStore is the implementation for a local filesystem; a program may supply
// another (a database, a replicated log) through New.
//
// The driver calls the Save and Delete methods from its effect worker only, one
// at a time, in the order of the effects that caused them; Load is called once,
// before the first write. Every method returns only when its change is durable
// (or has failed): the driver tells the core that a checkpoint completed, or a
// PATCH caller that its overrides apply, only after that.
type Store interface {
	// Load returns the durable state: the id counter, every checkpoint whose
	// metadata the store holds, in id order, the confirmed overrides and the
	// restored snapshot. Retained is false in every StoredCheckpoint: which
	// checkpoints are retained is the num-retained policy, which the driver
	// applies when it opens the store (R40). Savepoints are not in Known, but
	// their ids count for NextID (R14).
	Load() (fsm.Durable, error)
	// Save writes the metadata of a checkpoint or savepoint (a persist effect,
	// R23), replacing any earlier version.
	Save(m Metadata) error
	// Delete removes the metadata of a checkpoint or savepoint. Deleting what is
	// not there is not an error: after a crash a delete may be repeated.
	Delete(kind fsm.Kind, id int64) error
	// SaveOverrides writes the FLIP-571 overrides (a persist_overrides effect, R63).
	SaveOverrides(intervalMs, timeoutMs int64) error
	// SaveNextID writes the id counter: no id below next is ever handed out again (R14).
	SaveNextID(next int64) error
	// SaveRestored records the snapshot a job started from and its mode (R41).
	SaveRestored(id int64, noClaim bool) error
	// Close releases the store.
	Close() error
}

// Metadata is what the driver persists for a completed checkpoint or savepoint:
// the persist effect's fields (HISTORY.md) and the ownership flags of
// fsm.StoredCheckpoint.
type Metadata struct {
	ID   int64
	Kind fsm.Kind
	Mode fsm.Mode
	// Refs lists the regions whose state lives in an older checkpoint, sorted by
	// region; every other region uses ID itself (R21).
	Refs        []fsm.RegionRef
	Consecutive int  // consecutive regional completions (R21, R25)
	Owned       bool // the job may discard it (false for a no_claim restore, R41)
	Restored    bool // the restored snapshot or a checkpoint its refs name
	// External points to the checkpoint's _metadata file in checkpoint
	// storage (docs/spec/METADATA.md), which holds every subtask's state
	// handle; "" when the driver has no checkpoint storage. Flink's HA stores
	// keep such pointers to completed checkpoints.
	External string
}

// MetadataLister is a Store that can list the metadata it holds, savepoints
// included, with their pointers (FileStore does). The driver uses it to find
// the _metadata files of stored checkpoints and, at open, to know which
// savepoint directories of checkpoint storage are still needed; with a store
// that lacks it, those are located by the storage layout and kept.
type MetadataLister interface {
	ListMetadata() ([]Metadata, error)
}
