package driver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// File layout of a FileStore directory. Every file is one JSON object with a
// "format" field, so that a file from another version is refused, not misread.
const (
	lockFile      = "LOCK"
	nextIDFile    = "next-id.json"
	overridesFile = "overrides.json"
	restoredFile  = "restored.json"
	checkpointDir = "checkpoints" // chk-<id>.json, one per completed checkpoint
	savepointDir  = "savepoints"  // sp-<id>.json, one per completed savepoint

	metadataFormat  = "ckpt-metadata/v1"
	nextIDFormat    = "ckpt-next-id/v1"
	overridesFormat = "ckpt-overrides/v1"
	restoredFormat  = "ckpt-restored/v1"
)

// maxID bounds ids: they travel through JSON as numbers (HISTORY.md). The
// id counter may be one above it once every id was allocated (R14).
const maxID = fsm.MaxSafeInt

// FileStore is a Store in a local directory. Every write is crash-safe (a
// temporary file, fsync, rename, fsync of the directory), so after a crash each
// file holds a complete old or new version; Load validates every file and names
// the one that is not. The directory is locked while the store is open.
type FileStore struct {
	dir  string
	lock *os.File
}

// OpenFileStore opens (creating if needed) the store in dir, locks it and
// removes temporary files a crash left behind.
func OpenFileStore(dir string) (*FileStore, error) {
	for _, d := range []string{dir, filepath.Join(dir, checkpointDir), filepath.Join(dir, savepointDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("driver: store: %w", err)
		}
	}
	lock, err := lockDir(filepath.Join(dir, lockFile))
	if err != nil {
		return nil, fmt.Errorf("driver: store: %w", err)
	}
	s := &FileStore{dir: dir, lock: lock}
	// Make the directories themselves durable before anything is written in
	// them, and drop what a crash interrupted.
	if err := syncDir(filepath.Dir(filepath.Clean(dir))); err != nil {
		s.Close()
		return nil, fmt.Errorf("driver: store: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, checkpointDir), filepath.Join(dir, savepointDir)} {
		err := removeTempFiles(d)
		if err == nil {
			err = syncDir(d)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("driver: store: %w", err)
		}
	}
	return s, nil
}

// Dir returns the store's directory.
func (s *FileStore) Dir() string { return s.dir }

// Close releases the lock.
func (s *FileStore) Close() error { return s.lock.Close() }

// metadataFile is the on-disk form of Metadata.
type metadataFile struct {
	Format      *string          `json:"format"`
	ID          *int64           `json:"id"`
	Kind        *string          `json:"kind"`
	Mode        *string          `json:"mode"`
	Refs        map[string]int64 `json:"refs"`
	Consecutive *int             `json:"consecutive"`
	Owned       *bool            `json:"owned"`
	Restored    *bool            `json:"restored"`
	External    *string          `json:"external,omitempty"` // the _metadata pointer (docs/spec/METADATA.md)
}

type nextIDFileBody struct {
	Format *string `json:"format"`
	NextID *int64  `json:"next_id"`
}

type overridesFileBody struct {
	Format     *string `json:"format"`
	IntervalMs *int64  `json:"interval_ms"`
	TimeoutMs  *int64  `json:"timeout_ms"`
}

type restoredFileBody struct {
	Format     *string `json:"format"`
	Checkpoint *int64  `json:"checkpoint"`
	Mode       *string `json:"mode"`
}

func ptr[T any](v T) *T { return &v }

func metadataName(kind fsm.Kind, id int64) (dir, name string) {
	if kind.IsSavepoint() {
		return savepointDir, "sp-" + strconv.FormatInt(id, 10) + ".json"
	}
	return checkpointDir, "chk-" + strconv.FormatInt(id, 10) + ".json"
}

// Save writes the metadata of a checkpoint or savepoint.
func (s *FileStore) Save(m Metadata) error {
	refs := make(map[string]int64, len(m.Refs))
	for _, r := range m.Refs {
		refs[fsm.RegionName(r.Region)] = r.Checkpoint
	}
	f := metadataFile{Format: ptr(metadataFormat), ID: &m.ID, Kind: ptr(m.Kind.String()),
		Mode: ptr(m.Mode.String()), Refs: refs, Consecutive: &m.Consecutive, Owned: &m.Owned, Restored: &m.Restored}
	if m.External != "" {
		f.External = &m.External
	}
	body, err := json.Marshal(f)
	if err != nil {
		return err
	}
	dir, name := metadataName(m.Kind, m.ID)
	return s.write(filepath.Join(s.dir, dir), name, body)
}

// Delete removes the metadata of a checkpoint or savepoint; a missing file is fine.
func (s *FileStore) Delete(kind fsm.Kind, id int64) error {
	dir, name := metadataName(kind, id)
	if err := removeFile(filepath.Join(s.dir, dir), name); err != nil {
		return fmt.Errorf("driver: store: %w", err)
	}
	return nil
}

// SaveOverrides writes the FLIP-571 overrides.
func (s *FileStore) SaveOverrides(intervalMs, timeoutMs int64) error {
	body, err := json.Marshal(overridesFileBody{ptr(overridesFormat), &intervalMs, &timeoutMs})
	if err != nil {
		return err
	}
	return s.write(s.dir, overridesFile, body)
}

// SaveNextID writes the id counter.
func (s *FileStore) SaveNextID(next int64) error {
	body, err := json.Marshal(nextIDFileBody{ptr(nextIDFormat), &next})
	if err != nil {
		return err
	}
	return s.write(s.dir, nextIDFile, body)
}

// SaveRestored records the snapshot the job started from.
func (s *FileStore) SaveRestored(id int64, noClaim bool) error {
	mode := fsm.Claim
	if noClaim {
		mode = fsm.NoClaim
	}
	body, err := json.Marshal(restoredFileBody{ptr(restoredFormat), &id, ptr(mode.String())})
	if err != nil {
		return err
	}
	return s.write(s.dir, restoredFile, body)
}

func (s *FileStore) write(dir, name string, body []byte) error {
	if err := writeFileAtomic(dir, name, append(body, '\n')); err != nil {
		return fmt.Errorf("driver: store: %w", err)
	}
	return nil
}

// Load reads and validates every file of the store. Temporary files are
// ignored; any other file that is not exactly what the store writes — bad JSON,
// an unknown or missing field, an id that does not match the file name, a
// reference that is not older than its checkpoint — is an error naming the file.
func (s *FileStore) Load() (fsm.Durable, error) {
	d := fsm.Durable{NextID: 1}
	var b nextIDFileBody
	switch ok, err := s.readJSON(s.dir, nextIDFile, &b); {
	case err != nil:
		return d, err
	case ok:
		if err := checkFormat(b.Format, nextIDFormat); err != nil {
			return d, s.fileError(s.dir, nextIDFile, err)
		}
		if b.NextID == nil || *b.NextID < 1 || *b.NextID > maxID+1 {
			return d, s.fileError(s.dir, nextIDFile, errors.New("next_id: want an integer in [1, 2^53]"))
		}
		d.NextID = *b.NextID
	}
	var o overridesFileBody
	switch ok, err := s.readJSON(s.dir, overridesFile, &o); {
	case err != nil:
		return d, err
	case ok:
		if err := checkOverrides(o); err != nil {
			return d, s.fileError(s.dir, overridesFile, err)
		}
		d.Overrides = &fsm.EffectiveConfig{IntervalMs: *o.IntervalMs, TimeoutMs: *o.TimeoutMs, OverridesActive: true}
	}
	var r restoredFileBody
	switch ok, err := s.readJSON(s.dir, restoredFile, &r); {
	case err != nil:
		return d, err
	case ok:
		if err := checkFormat(r.Format, restoredFormat); err != nil {
			return d, s.fileError(s.dir, restoredFile, err)
		}
		if r.Checkpoint == nil || *r.Checkpoint < 1 || *r.Checkpoint > maxID {
			return d, s.fileError(s.dir, restoredFile, errors.New("checkpoint: want an id in [1, 2^53)"))
		}
		if r.Mode == nil || (*r.Mode != fsm.Claim.String() && *r.Mode != fsm.NoClaim.String()) {
			return d, s.fileError(s.dir, restoredFile, errors.New(`mode: want "claim" or "no_claim"`))
		}
		d.RestoredID, d.NoClaim = *r.Checkpoint, *r.Mode == fsm.NoClaim.String()
		d.NextID = max(d.NextID, d.RestoredID+1)
	}
	for _, sub := range []string{checkpointDir, savepointDir} {
		ms, err := s.loadMetadata(sub)
		if err != nil {
			return d, err
		}
		for _, m := range ms {
			d.NextID = max(d.NextID, m.ID+1)
			if sub == checkpointDir {
				d.Known = append(d.Known, fsm.StoredCheckpoint{ID: m.ID, Refs: m.Refs, Mode: m.Mode,
					Consecutive: m.Consecutive, Owned: m.Owned, Restored: m.Restored})
			}
		}
	}
	return d, nil
}

// ListMetadata returns the metadata of every stored checkpoint and then of
// every stored savepoint, each in id order, validated as Load validates them
// (MetadataLister).
func (s *FileStore) ListMetadata() ([]Metadata, error) {
	var out []Metadata
	for _, sub := range []string{checkpointDir, savepointDir} {
		ms, err := s.loadMetadata(sub)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

func checkOverrides(o overridesFileBody) error {
	if err := checkFormat(o.Format, overridesFormat); err != nil {
		return err
	}
	if o.IntervalMs == nil || (*o.IntervalMs != 0 && *o.IntervalMs < fsm.MinIntervalMs) || *o.IntervalMs > maxID {
		return errors.New("interval_ms: want 0 or an integer in [10, 2^53)")
	}
	if o.TimeoutMs == nil || *o.TimeoutMs < fsm.MinTimeoutMs || *o.TimeoutMs > maxID {
		return errors.New("timeout_ms: want an integer in [10, 2^53)")
	}
	return nil
}

// loadMetadata reads every metadata file of one subdirectory, in id order.
func (s *FileStore) loadMetadata(sub string) ([]Metadata, error) {
	dir := filepath.Join(s.dir, sub)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("driver: store: %w", err)
	}
	prefix := "chk-"
	if sub == savepointDir {
		prefix = "sp-"
	}
	var out []Metadata
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			continue // a write a crash interrupted: the target still holds its old version
		}
		idText, ok := strings.CutPrefix(name, prefix)
		idText, ok2 := strings.CutSuffix(idText, ".json")
		id, err := strconv.ParseInt(idText, 10, 64)
		if !ok || !ok2 || err != nil || id < 1 || id > maxID || strconv.FormatInt(id, 10) != idText {
			return nil, s.fileError(dir, name, fmt.Errorf("unexpected file: want %s<id>.json", prefix))
		}
		var f metadataFile
		if _, err := s.readJSON(dir, name, &f); err != nil {
			return nil, err
		}
		m, err := checkMetadata(f, id, sub == savepointDir)
		if err != nil {
			return nil, s.fileError(dir, name, err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// checkMetadata validates a metadata file against the rules the core relies on
// (R21, I-RegionConsistency): refs name regions once and point to older ids, and
// the mode is regional exactly when some region uses older state.
func checkMetadata(f metadataFile, id int64, savepoint bool) (Metadata, error) {
	var m Metadata
	if err := checkFormat(f.Format, metadataFormat); err != nil {
		return m, err
	}
	switch {
	case f.ID == nil || f.Kind == nil || f.Mode == nil || f.Consecutive == nil || f.Owned == nil || f.Restored == nil:
		return m, errors.New("missing field: want format, id, kind, mode, consecutive, owned, restored (refs and external optional)")
	case *f.ID != id:
		return m, fmt.Errorf("id %d does not match the file name", *f.ID)
	case *f.Consecutive < 0:
		return m, fmt.Errorf("consecutive %d: want >= 0", *f.Consecutive)
	}
	kind, ok := fsm.ParseKind(*f.Kind)
	if !ok || kind.IsSavepoint() != savepoint {
		return m, fmt.Errorf("kind %q does not belong in this directory", *f.Kind)
	}
	m = Metadata{ID: id, Kind: kind, Consecutive: *f.Consecutive, Owned: *f.Owned, Restored: *f.Restored}
	if f.External != nil {
		if *f.External == "" || len(*f.External) > 4096 {
			return m, fmt.Errorf("external %q: want the path of a _metadata file (1 to 4096 bytes), or no field", *f.External)
		}
		m.External = *f.External
	}
	switch *f.Mode {
	case fsm.ModeGlobal.String():
		m.Mode = fsm.ModeGlobal
	case fsm.ModeRegional.String():
		m.Mode = fsm.ModeRegional
	default:
		return m, fmt.Errorf("mode %q: want global or regional", *f.Mode)
	}
	for name, ref := range f.Refs {
		r, err := fsm.ParseRegion(name, math.MaxInt32)
		if err != nil {
			return m, fmt.Errorf("refs: %v", err)
		}
		if ref < 1 || ref >= id {
			return m, fmt.Errorf("refs: %s -> %d: a reference must be an older checkpoint id", name, ref)
		}
		m.Refs = append(m.Refs, fsm.RegionRef{Region: r, Checkpoint: ref})
	}
	sort.Slice(m.Refs, func(i, j int) bool { return m.Refs[i].Region < m.Refs[j].Region })
	if (len(m.Refs) > 0) != (m.Mode == fsm.ModeRegional) {
		return m, fmt.Errorf("mode %s with %d older refs: a checkpoint is regional exactly when it has some", *f.Mode, len(m.Refs))
	}
	return m, nil
}

func checkFormat(got *string, want string) error {
	if got == nil {
		return fmt.Errorf("format: missing (want %q)", want)
	}
	if *got != want {
		return fmt.Errorf("format %q: want %q", *got, want)
	}
	return nil
}

// readJSON decodes dir/name strictly into v: one JSON object, no unknown field,
// nothing after it. A missing file is (false, nil).
func (s *FileStore) readJSON(dir, name string, v any) (bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("driver: store: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false, s.fileError(dir, name, fmt.Errorf("corrupt: %w", err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return false, s.fileError(dir, name, errors.New("corrupt: data after the JSON object"))
	}
	return true, nil
}

// StoreError is a store file that does not load: its path and what is wrong.
type StoreError struct {
	File   string
	Reason error
}

// Error returns "driver: store: FILE: REASON".
func (e *StoreError) Error() string { return "driver: store: " + e.File + ": " + e.Reason.Error() }

// Unwrap returns the reason.
func (e *StoreError) Unwrap() error { return e.Reason }

func (s *FileStore) fileError(dir, name string, err error) error {
	return &StoreError{File: filepath.Join(dir, name), Reason: err}
}
