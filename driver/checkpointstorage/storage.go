package checkpointstorage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/driver/internal/atomicfile"
	"github.com/ckptcore/ckptcore/fsm"
)

// Names in a job's directory (Flink's CHECKPOINT_DIR_PREFIX "chk-"; its
// savepoints are "savepoint-..." directories).
const (
	checkpointPrefix = "chk-"
	savepointsDir    = "savepoints"
	savepointPrefix  = "savepoint-"
	// discardPrefix starts the name a directory is renamed to when its
	// discard begins: from then on no reader sees it under its checkpoint's
	// name, and a crash in the middle of deleting it leaves a name Repair
	// always removes.
	discardPrefix = ".discard-"
)

// Storage is one job's checkpoint storage under a root directory.
type Storage struct {
	root string
	job  string
	dir  string
}

// Open prepares the storage of job under root (creating <root>/<job> and its
// savepoints directory durably). It removes nothing: call Repair for that.
func Open(root, job string) (*Storage, error) {
	if !ValidName(job) {
		return nil, &Error{Field: "job", Value: quote(job), Reason: "want 1 to 256 letters, digits, '.', '_' or '-' (a directory name)"}
	}
	s := &Storage{root: root, job: job, dir: filepath.Join(root, job)}
	if err := os.MkdirAll(filepath.Join(s.dir, savepointsDir), 0o755); err != nil {
		return nil, fmt.Errorf("checkpointstorage: %w", err)
	}
	for _, d := range []string{filepath.Dir(filepath.Clean(root)), root, s.dir} {
		if err := atomicfile.SyncDir(d); err != nil {
			return nil, fmt.Errorf("checkpointstorage: %w", err)
		}
	}
	return s, nil
}

// Job returns the job's name.
func (s *Storage) Job() string { return s.job }

// JobDir returns <root>/<job>.
func (s *Storage) JobDir() string { return s.dir }

// Dir returns the directory of a checkpoint (<job>/chk-<id>) or savepoint
// (<job>/savepoints/savepoint-<id>). A runtime may write a subtask's state
// files in it before the ack: they are deleted with it.
func (s *Storage) Dir(kind fsm.Kind, id int64) string {
	if kind.IsSavepoint() {
		return filepath.Join(s.dir, savepointsDir, savepointPrefix+strconv.FormatInt(id, 10))
	}
	return filepath.Join(s.dir, checkpointPrefix+strconv.FormatInt(id, 10))
}

// MetadataPath returns the path of a checkpoint's or savepoint's _metadata.
func (s *Storage) MetadataPath(kind fsm.Kind, id int64) string {
	return filepath.Join(s.Dir(kind, id), MetadataFile)
}

// WriteMetadata writes m's _metadata file crash-safely (a temporary file,
// fsync, rename, fsync of the directory; the directory itself is made
// durable in its parent first) and returns its path. After a crash the file
// is either absent or complete; a checkpoint directory no store pointer names
// is removed by Repair.
func (s *Storage) WriteMetadata(m *CheckpointMetadata) (string, error) {
	if m.Job != s.job {
		return "", &Error{Field: "job", Value: quote(m.Job), Reason: "this storage is job " + quote(s.job) + "'s"}
	}
	data, err := Encode(m)
	if err != nil {
		return "", err
	}
	dir := s.Dir(m.Kind, m.Checkpoint)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("checkpointstorage: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(dir)); err != nil {
		return "", fmt.Errorf("checkpointstorage: %w", err)
	}
	if err := atomicfile.WriteFile(dir, MetadataFile, data); err != nil {
		return "", fmt.Errorf("checkpointstorage: %w", err)
	}
	return filepath.Join(dir, MetadataFile), nil
}

// Discard deletes a checkpoint's or savepoint's directory — its _metadata and
// every state file in it — exactly as R40's discard asks. It first renames
// the directory to a .discard- name (durably), so a crash in the middle never
// leaves a half-deleted directory under the checkpoint's name, then deletes
// it. Discarding what is not there is not an error (a discard repeated after
// a crash).
func (s *Storage) Discard(kind fsm.Kind, id int64) error {
	dir := s.Dir(kind, id)
	parent := filepath.Dir(dir)
	doomed := filepath.Join(parent, discardPrefix+filepath.Base(dir))
	err := os.Rename(dir, doomed)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpointstorage: discard %s: %w", dir, err)
	}
	if err := atomicfile.SyncDir(parent); err != nil {
		return fmt.Errorf("checkpointstorage: discard %s: %w", dir, err)
	}
	return removeDurably(doomed)
}

func removeDurably(path string) error {
	if err := os.RemoveAll(path); err != nil {
		return fmt.Errorf("checkpointstorage: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("checkpointstorage: %w", err)
	}
	return nil
}

// Entry is a checkpoint or savepoint directory found in storage.
type Entry struct {
	Kind fsm.Kind // KindCheckpoint or KindSavepoint (the directory does not say which savepoint kind)
	ID   int64
}

// List returns the checkpoint directories (chk-<id>) and then the savepoint
// directories of the job, each in id order. Names it does not know are not
// listed.
func (s *Storage) List() ([]Entry, error) {
	var out []Entry
	for _, d := range []struct {
		dir, prefix string
		kind        fsm.Kind
	}{{s.dir, checkpointPrefix, fsm.KindCheckpoint}, {filepath.Join(s.dir, savepointsDir), savepointPrefix, fsm.KindSavepoint}} {
		ids, err := listIDs(d.dir, d.prefix)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			out = append(out, Entry{Kind: d.kind, ID: id})
		}
	}
	return out, nil
}

func listIDs(dir, prefix string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("checkpointstorage: %w", err)
	}
	var ids []int64
	for _, e := range entries {
		if id, ok := parseID(e.Name(), prefix); ok && e.IsDir() {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

func parseID(name, prefix string) (int64, bool) {
	text, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(text, 10, 64)
	if err != nil || id < 1 || id > fsm.MaxSafeInt || strconv.FormatInt(id, 10) != text {
		return 0, false
	}
	return id, true
}

// Repair makes storage agree with the store after a crash; the driver calls
// it when it opens, before any checkpoint is in progress. keep says whether a
// checkpoint or savepoint is still needed: the store has a pointer to it
// (retained, or referenced by a retained checkpoint's regions, R40), or it is
// the restored snapshot (R41). Repair removes:
//   - every directory a discard began (.discard-*), which no pointer names
//     since the driver deletes the pointer first;
//   - every chk-<id> and savepoint-<id> directory keep rejects: a completion
//     a crash interrupted before its pointer was written (its checkpoint never
//     completed), a discard interrupted between the pointer's removal and the
//     rename, or the state of a checkpoint that was aborted;
//   - temporary files an interrupted _metadata write left in kept directories.
//
// It never removes a directory keep accepts, nor names it does not know. It
// returns the paths it removed.
func (s *Storage) Repair(keep func(kind fsm.Kind, id int64) bool) ([]string, error) {
	var removed []string
	for _, d := range []struct {
		dir, prefix string
		kind        fsm.Kind
	}{{s.dir, checkpointPrefix, fsm.KindCheckpoint}, {filepath.Join(s.dir, savepointsDir), savepointPrefix, fsm.KindSavepoint}} {
		entries, err := os.ReadDir(d.dir)
		if err != nil {
			return removed, fmt.Errorf("checkpointstorage: repair: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(d.dir, e.Name())
			if strings.HasPrefix(e.Name(), discardPrefix) {
				if err := removeDurably(path); err != nil {
					return removed, err
				}
				removed = append(removed, path)
				continue
			}
			id, ok := parseID(e.Name(), d.prefix)
			if !ok || !e.IsDir() {
				continue
			}
			if keep(d.kind, id) {
				if err := atomicfile.RemoveTempFiles(path); err != nil {
					return removed, fmt.Errorf("checkpointstorage: repair: %w", err)
				}
				continue
			}
			if err := removeDurably(path); err != nil {
				return removed, err
			}
			removed = append(removed, path)
		}
	}
	return removed, nil
}
