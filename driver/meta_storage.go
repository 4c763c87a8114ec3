package driver

import (
	"errors"
	"fmt"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// metaWriter is the metadata builder and the physical side of discards
// (issue 15 §1), owned by the effect worker: it turns the core's persist
// effect (refs, consecutive count) and the handles the acks carried into the
// checkpoint's one _metadata file, and deletes a checkpoint's directory when
// the core discards it (R40). The protocol, and why it is crash-safe, is in
// docs/DECISIONS.md ("Checkpoint storage").
type metaWriter struct {
	st       *checkpointstorage.Storage
	topo     *fsm.Topology
	vertices []checkpointstorage.Vertex
	// written holds the metadata of checkpoints persisted and not yet
	// completed; latest is the latest completed checkpoint's (latestID), read
	// from its file when first needed after an open. A failed region's handles
	// are copied from latest: its entries for that region already name the
	// checkpoint that holds the state (R21: refs are never chains).
	written  map[int64]*checkpointstorage.CheckpointMetadata
	latest   *checkpointstorage.CheckpointMetadata
	latestID int64
	pointers map[int64]string // External pointers of stored checkpoints, as loaded at open
}

// openMetaWriter opens the checkpoint storage of job under root and repairs
// it against the store (Repair: see DECISIONS.md): a directory is kept when
// the store has a pointer to its checkpoint or savepoint, or when its id is at
// or below the restored snapshot's (R41: what the job started from is not its
// to delete unless the core discards it).
func openMetaWriter(root, job string, topo *fsm.Topology, store Store, durable fsm.Durable) (*metaWriter, []string, error) {
	st, err := checkpointstorage.Open(root, job)
	if err != nil {
		return nil, nil, fmt.Errorf("driver: checkpoint storage: %w", err)
	}
	w := &metaWriter{st: st, topo: topo, written: map[int64]*checkpointstorage.CheckpointMetadata{},
		pointers: map[int64]string{}}
	for _, v := range topo.Vertices() {
		w.vertices = append(w.vertices, checkpointstorage.Vertex{ID: v.ID, Parallelism: v.Parallelism})
	}
	keepCheckpoint := map[int64]bool{}
	for _, k := range durable.Known {
		keepCheckpoint[k.ID] = true
	}
	keepSavepoint := map[int64]bool{}
	lister, listed := store.(MetadataLister)
	if listed {
		ms, err := lister.ListMetadata()
		if err != nil {
			return nil, nil, err
		}
		for _, m := range ms {
			if m.Kind.IsSavepoint() {
				keepSavepoint[m.ID] = true
			}
			if m.External != "" {
				w.pointers[m.ID] = m.External
			}
		}
	}
	removed, err := st.Repair(func(kind fsm.Kind, id int64) bool {
		switch {
		case id <= durable.RestoredID:
			return true
		case kind.IsSavepoint():
			return !listed || keepSavepoint[id]
		}
		return keepCheckpoint[id]
	})
	if err != nil {
		return nil, removed, fmt.Errorf("driver: checkpoint storage: %w", err)
	}
	return w, removed, nil
}

// setLatest names the latest completed checkpoint after an open (R50); its
// file is read when a regional completion first needs it.
func (w *metaWriter) setLatest(id int64) { w.latest, w.latestID = nil, id }

// metadataPath is where checkpoint id's _metadata is: the store's pointer,
// else the storage layout.
func (w *metaWriter) metadataPath(kind fsm.Kind, id int64) string {
	if p, ok := w.pointers[id]; ok {
		return p
	}
	return w.st.MetadataPath(kind, id)
}

// build assembles a persist effect's metadata: each subtask of a region that
// uses this checkpoint's state gets the handle its ack carried; each subtask
// of a region that falls back to an older checkpoint (R21) gets that state's
// handle copied from the latest completed checkpoint's file.
func (w *metaWriter) build(e fsm.Effect, acked *ackedState) (*checkpointstorage.CheckpointMetadata, error) {
	m := &checkpointstorage.CheckpointMetadata{Job: w.st.Job(), Checkpoint: e.Checkpoint, Kind: e.Kind, Mode: e.Mode,
		CompletedMs: max(e.At, 0), Consecutive: e.Consecutive, Vertices: w.vertices,
		Subtasks: make([]checkpointstorage.SubtaskState, w.topo.NumSubtasks())}
	if acked != nil {
		m.TriggeredMs = min(max(acked.triggeredAt, 0), m.CompletedMs)
	}
	var from *checkpointstorage.CheckpointMetadata
	for i := range m.Subtasks {
		task := fsm.TaskID(i)
		r := w.topo.RegionOf(task)
		s := checkpointstorage.SubtaskState{Task: w.topo.TaskName(task), Region: r, Ref: e.RefOf(r)}
		switch {
		case s.Ref == e.Checkpoint:
			if acked != nil {
				s.Handle = acked.handles[i]
			}
		default:
			if from == nil {
				var err error
				if from, err = w.latestMetadata(); err != nil {
					return nil, fmt.Errorf("region %s falls back to checkpoint %d: %w", fsm.RegionName(r), s.Ref, err)
				}
			}
			old := from.Subtasks[i]
			if old.Task != s.Task || old.Ref != s.Ref {
				return nil, fmt.Errorf("region %s falls back to checkpoint %d, but the latest completed checkpoint %d has %s at checkpoint %d",
					fsm.RegionName(r), s.Ref, from.Checkpoint, old.Task, old.Ref)
			}
			s.Handle = old.Handle
		}
		m.Subtasks[i] = s
	}
	return m, nil
}

// latestMetadata returns the latest completed checkpoint's metadata, reading
// its file once after an open, and checks that it is this job's.
func (w *metaWriter) latestMetadata() (*checkpointstorage.CheckpointMetadata, error) {
	if w.latest != nil {
		return w.latest, nil
	}
	if w.latestID == 0 {
		return nil, fmt.Errorf("no completed checkpoint to copy the state from")
	}
	m, err := checkpointstorage.ReadMetadata(w.metadataPath(fsm.KindCheckpoint, w.latestID))
	if err != nil {
		return nil, err
	}
	if m.Checkpoint != w.latestID || len(m.Subtasks) != w.topo.NumSubtasks() {
		return nil, fmt.Errorf("%s is checkpoint %d with %d subtasks, want checkpoint %d of this job (%d subtasks)",
			w.metadataPath(fsm.KindCheckpoint, w.latestID), m.Checkpoint, len(m.Subtasks), w.latestID, w.topo.NumSubtasks())
	}
	w.latest = m
	return m, nil
}

// write builds and writes a persist effect's _metadata and returns its path
// (the store's pointer). It runs before the store's Save, so a pointer never
// names a file that is not complete (R23).
func (w *metaWriter) write(e fsm.Effect, acked *ackedState) (string, error) {
	m, err := w.build(e, acked)
	if err != nil {
		return "", fmt.Errorf("checkpoint %d: metadata: %w", e.Checkpoint, err)
	}
	path, err := w.st.WriteMetadata(m)
	if err != nil {
		return "", err
	}
	w.written[e.Checkpoint] = m
	return path, nil
}

// completed makes a completed checkpoint the one later regional completions
// copy from; savepoints never are (R24).
func (w *metaWriter) completed(e fsm.Effect) {
	m := w.written[e.Checkpoint]
	delete(w.written, e.Checkpoint)
	if e.Kind == fsm.KindCheckpoint && m != nil {
		w.latest, w.latestID = m, e.Checkpoint
		w.pointers[e.Checkpoint] = w.st.MetadataPath(e.Kind, e.Checkpoint)
	}
}

// remove deletes a checkpoint's directory (its _metadata and every state file
// in it). The caller has deleted the store's pointer first, so a crash in
// between leaves a directory no pointer names, which Repair removes.
func (w *metaWriter) remove(id int64) error {
	delete(w.written, id)
	delete(w.pointers, id)
	// Ids are unique across kinds (R14): at most one of the two exists.
	if err := w.st.Discard(fsm.KindCheckpoint, id); err != nil {
		return err
	}
	return w.st.Discard(fsm.KindSavepoint, id)
}

// DefaultJob is the job's name in checkpoint storage when Options.Job is "".
const DefaultJob = "job"

// openCheckpointStorage turns checkpoint storage on when Options ask for it:
// the storage is repaired against the store before anything runs (see
// openMetaWriter), and the flight recorder records handles (historyFormat).
func (d *Driver) openCheckpointStorage(opt Options, durable fsm.Durable) error {
	if opt.CheckpointsDir == "" {
		return nil
	}
	job := opt.Job
	if job == "" {
		job = DefaultJob
	}
	w, removed, err := openMetaWriter(opt.CheckpointsDir, job, d.topo, d.store, durable)
	if err != nil {
		return err
	}
	d.fx.meta = w
	d.handles = newHandleTracker(d.topo)
	if len(removed) > 0 {
		d.fx.push(fxItem{warn: &warning{code: CodeStorageRepaired, message: fmt.Sprintf(
			"checkpoint storage: removed %d directories a crash left behind (no store pointer names them): %v", len(removed), removed)}})
	}
	return nil
}

// CodeStorageRepaired is the warning code of a repair at open that removed
// directories an interrupted completion or discard left in checkpoint storage.
const CodeStorageRepaired = "storage_repaired"

// historyFormat is the flight file's format: v1.2 when acks may carry state
// handles (checkpoint storage on), else the format the file needs anyway.
func (d *Driver) historyFormat(format string) string {
	if d.handles != nil {
		return history.FormatState
	}
	return format
}

// CheckpointStorage returns the job's checkpoint storage, or nil when
// Options.CheckpointsDir is "". Its Dir(kind, id) is where a runtime may
// write a subtask's state files for a checkpoint: they go with the
// checkpoint's directory when it is discarded.
func (d *Driver) CheckpointStorage() *checkpointstorage.Storage {
	if d.fx.meta == nil {
		return nil
	}
	return d.fx.meta.st
}

// readRestoreMetadata reads Options.RestoreMetadata at a fresh start: the
// restored snapshot becomes the checkpoint failed regions copy their handles
// from until the job completes one of its own, and its path the store's
// pointer for it (saveRestored).
func (d *Driver) readRestoreMetadata(opt Options) error {
	if opt.RestoreMetadata == "" {
		return nil
	}
	if d.fx.meta == nil || opt.Restore == nil {
		return errors.New("driver: Options.RestoreMetadata needs CheckpointsDir and Restore")
	}
	m, err := checkpointstorage.ReadMetadata(opt.RestoreMetadata)
	if err != nil {
		return fmt.Errorf("driver: restore: %w", err)
	}
	if err := checkRestoreMetadata(d.topo, opt.Restore, m); err != nil {
		return fmt.Errorf("driver: restore: %s: %w", opt.RestoreMetadata, err)
	}
	w := d.fx.meta
	w.latest, w.latestID = m, m.Checkpoint
	w.pointers[m.Checkpoint] = opt.RestoreMetadata
	return nil
}

// checkRestoreMetadata checks that a snapshot's file is the one Restore
// names, for this job: the same id, the same vertices and regions, and each
// region's state in the checkpoint Restore's refs say (R21).
func checkRestoreMetadata(topo *fsm.Topology, r *fsm.Restore, m *checkpointstorage.CheckpointMetadata) error {
	if m.Checkpoint != r.Checkpoint {
		return fmt.Errorf("the file is checkpoint %d, the restore names %d", m.Checkpoint, r.Checkpoint)
	}
	vs := topo.Vertices()
	if len(vs) != len(m.Vertices) {
		return fmt.Errorf("the file's job has %d vertices, this job %d", len(m.Vertices), len(vs))
	}
	for i, v := range vs {
		if m.Vertices[i].ID != v.ID || m.Vertices[i].Parallelism != v.Parallelism {
			return fmt.Errorf("vertex %d is %s(%d) in the file, %s(%d) in this job", i, m.Vertices[i].ID, m.Vertices[i].Parallelism, v.ID, v.Parallelism)
		}
	}
	for i, s := range m.Subtasks {
		reg := topo.RegionOf(fsm.TaskID(i))
		if s.Region != reg {
			return fmt.Errorf("%s is in region %d in the file, %s in this job", s.Task, s.Region, fsm.RegionName(reg))
		}
		want := r.Checkpoint
		for _, ref := range r.Refs {
			if ref.Region == reg {
				want = ref.Checkpoint
			}
		}
		if s.Ref != want {
			return fmt.Errorf("%s's state is checkpoint %d's in the file, %d's by the restore's refs", s.Task, s.Ref, want)
		}
	}
	return nil
}
