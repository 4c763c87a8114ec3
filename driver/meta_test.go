package driver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// An ack with a handle needs checkpoint storage, and a handle out of bounds is
// refused before the core sees it (Options.OnRefused hears of it): nothing
// changes either way.
func TestAckHandleRefused(t *testing.T) {
	var mu sync.Mutex
	var refused []error
	onRefused := func(_ fsm.Event, err error) {
		mu.Lock()
		refused = append(refused, err)
		mu.Unlock()
	}
	for _, c := range []struct {
		name    string
		storage bool
		handle  StateHandle
		want    func(error) bool
	}{
		{"no storage", false, StateHandle{URI: "file:///x", Size: 1}, func(err error) bool { return errors.Is(err, ErrNoCheckpointStorage) }},
		{"bad handle", true, StateHandle{Inline: []byte("ab"), Size: 3}, func(err error) bool {
			var ee *fsm.EventError
			return errors.As(err, &ee) && ee.Field == "state" && strings.Contains(err.Error(), "inline state has 2 bytes")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			refused = nil
			exec := newRecExec()
			opt := Options{Clock: newFakeClock(), Executor: exec, OnRefused: onRefused}
			if c.storage {
				opt.CheckpointsDir = t.TempDir()
			}
			d, err := Open(t.TempDir(), twoRegions(), testConfig(1000), opt)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Trigger(fsm.KindCheckpoint); err != nil {
				t.Fatal(err)
			}
			exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
			if err := d.AckBatch([]Ack{{Checkpoint: 1, Task: 0, Handle: c.handle}}); err != nil {
				t.Fatal(err)
			}
			if err := d.Sync(); err != nil { // the ack is applied (or refused) ...
				t.Fatal(err)
			}
			(&harness{t: t, d: d, exec: exec}).flush() // ... and OnRefused has run
			mu.Lock()
			defer mu.Unlock()
			if len(refused) != 1 || !c.want(refused[0]) {
				t.Fatalf("refusals %v", refused)
			}
			if data, err := os.ReadFile(d.FlightFile()); err != nil || strings.Contains(string(data), `"type":"ack"`) {
				t.Fatalf("a refused ack reached the core (recorded): %v\n%s", err, data)
			}
		})
	}
}

// The flight file of a driver with checkpoint storage is v1.2 and records the
// handles; it replays with exit 0 (the core never saw them), and the
// checkpoint's _metadata has them.
func TestFlightFileRecordsHandles(t *testing.T) {
	root := t.TempDir()
	clock, exec := newFakeClock(), newRecExec()
	d, err := Open(t.TempDir(), twoRegions(), testConfig(1000), Options{Clock: clock, Executor: exec, CheckpointsDir: root, Job: "j"})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	hs := []StateHandle{{URI: "s3://b/1/0", Size: 5}, {Inline: []byte("xyz"), Size: 3}, {}, {Size: 9}}
	var acks []Ack
	for i, hd := range hs {
		acks = append(acks, Ack{Checkpoint: 1, Task: fsm.TaskID(i), Handle: hd})
	}
	if err := d.AckBatch(acks); err != nil {
		t.Fatal(err)
	}
	exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	path := d.FlightFile()
	d.Close()
	hist, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if hist.Header.Format != history.FormatState {
		t.Fatalf("flight file format %q", hist.Header.Format)
	}
	var got []StateHandle
	for _, rec := range hist.Records {
		if rec.Event.Type == fsm.EvAck {
			got = append(got, rec.Handle)
		}
	}
	if len(got) != 4 || got[0].URI != "s3://b/1/0" || string(got[1].Inline) != "xyz" || !got[2].IsZero() || got[3].Size != 9 {
		t.Fatalf("recorded handles %+v", got)
	}
	replayFile(t, path)
	m, err := checkpointstorage.ReadMetadata(filepath.Join(root, "j", "chk-1", "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range m.Subtasks {
		if s.Ref != 1 || s.Handle.URI != hs[i].URI || string(s.Handle.Inline) != string(hs[i].Inline) || s.Handle.Size != hs[i].Size {
			t.Fatalf("subtask %d: %+v, want %+v", i, s, hs[i])
		}
	}
}

// Open repairs checkpoint storage: directories no store pointer names (a
// completion or a discard a crash interrupted, an aborted checkpoint's state)
// go; those the store points to stay.
func TestOpenRepairsStorage(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	clock, exec := newFakeClock(), newRecExec()
	opt := Options{Clock: clock, Executor: exec, CheckpointsDir: root}
	d, err := Open(dir, twoRegions(), testConfig(1000), opt)
	if err != nil {
		t.Fatal(err)
	}
	d.Trigger(fsm.KindCheckpoint)
	exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	d.AckBatch([]Ack{{Checkpoint: 1, Task: 0}, {Checkpoint: 1, Task: 1}, {Checkpoint: 1, Task: 2}, {Checkpoint: 1, Task: 3}})
	exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	d.Close()
	job := filepath.Join(root, DefaultJob)
	for _, orphan := range []string{"chk-2", ".discard-chk-0", "savepoints/savepoint-3"} {
		if err := os.MkdirAll(filepath.Join(job, orphan), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exec = newRecExec()
	opt.Executor = exec
	d, err = Open(dir, twoRegions(), testConfig(1000), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	h := &harness{t: t, d: d, exec: exec}
	h.flush()
	entries, _ := os.ReadDir(job)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "chk-1,savepoints" {
		t.Fatalf("after repair the job directory holds %v", names)
	}
	if sp, _ := os.ReadDir(filepath.Join(job, "savepoints")); len(sp) != 0 {
		t.Fatalf("savepoint directory no pointer names kept: %v", sp)
	}
	if !strings.Contains(strings.Join(exec.warnings, "\n"), CodeStorageRepaired) {
		t.Fatalf("no %s warning: %v", CodeStorageRepaired, exec.warnings)
	}
}

// A job restored from a snapshot's _metadata (another job's checkpoint 10,
// whose region r1 uses checkpoint 7's state): a regional completion that falls
// back to the snapshot copies its handles from that file, also after a
// restart; a file that does not match the restore is refused at Open.
func TestRestoreMetadata(t *testing.T) {
	root := t.TempDir()
	old, err := checkpointstorage.Open(root, "old-job")
	if err != nil {
		t.Fatal(err)
	}
	snap := &checkpointstorage.CheckpointMetadata{Job: "old-job", Checkpoint: 10, Kind: fsm.KindCheckpoint, Mode: fsm.ModeRegional,
		TriggeredMs: 1, CompletedMs: 2, Consecutive: 1,
		Vertices: []checkpointstorage.Vertex{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Subtasks: []checkpointstorage.SubtaskState{
			{Task: "src/0", Region: 0, Ref: 10, Handle: StateHandle{URI: "s3://b/10/src-0", Size: 1}},
			{Task: "src/1", Region: 1, Ref: 7, Handle: StateHandle{URI: "s3://b/7/src-1", Size: 2}},
			{Task: "sink/0", Region: 0, Ref: 10, Handle: StateHandle{Inline: []byte("s0"), Size: 2}},
			{Task: "sink/1", Region: 1, Ref: 7, Handle: StateHandle{Inline: []byte("s1@7"), Size: 4}},
		}}
	snapPath, err := old.WriteMetadata(snap)
	if err != nil {
		t.Fatal(err)
	}
	restore := &fsm.Restore{Checkpoint: 10, Mode: fsm.NoClaim, Refs: []fsm.RegionRef{{Region: 1, Checkpoint: 7}}}
	dir, clock := t.TempDir(), newFakeClock()
	open := func(restore *fsm.Restore, path string) (*Driver, *recExec, error) {
		exec := newRecExec()
		d, err := Open(dir, twoRegions(), regionalConfig(3_600_000), Options{Clock: clock, Executor: exec,
			CheckpointsDir: root, Job: "new-job", Restore: restore, RestoreMetadata: path})
		return d, exec, err
	}
	if _, _, err := open(&fsm.Restore{Checkpoint: 10, Mode: fsm.NoClaim}, snapPath); err == nil ||
		!strings.Contains(err.Error(), "src/1's state is checkpoint 7's in the file, 10's by the restore's refs") {
		t.Fatalf("a file that disagrees with the restore: %v", err)
	}
	// A regional completion: region r1 (src/1, sink/1) fails in checkpoint id.
	regional := func(d *Driver, exec *recExec, id int64) *checkpointstorage.CheckpointMetadata {
		t.Helper()
		if err := d.Trigger(fsm.KindCheckpoint); err != nil {
			t.Fatal(err)
		}
		exec.wait(t, "trigger", isEffect(fsm.EffTrigger, id))
		d.Decline(id, 1, "")
		d.AckBatch([]Ack{{Checkpoint: id, Task: 0, Handle: StateHandle{URI: fmt.Sprint("s3://b/", id, "/src-0"), Size: 5}}, {Checkpoint: id, Task: 2}})
		if e := exec.wait(t, "completed", isEffect(fsm.EffCompleted, id)); e.Mode != fsm.ModeRegional {
			t.Fatalf("checkpoint %d completed %s", id, e.Mode)
		}
		m, err := checkpointstorage.ReadMetadata(filepath.Join(root, "new-job", fmt.Sprint("chk-", id), "_metadata"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	d, exec, err := open(restore, snapPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regional(d, exec, 11)
	for _, i := range []int{1, 3} {
		if !reflect.DeepEqual(m.Subtasks[i], snap.Subtasks[i]) {
			t.Fatalf("checkpoint 11 %s: %+v, want the snapshot's %+v", m.Subtasks[i].Task, m.Subtasks[i], snap.Subtasks[i])
		}
	}
	if m.Subtasks[0].Ref != 11 || m.Subtasks[0].Handle.URI != "s3://b/11/src-0" {
		t.Fatalf("checkpoint 11 src/0: %+v", m.Subtasks[0])
	}
	d.Close()
	d, exec, err = open(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	m = regional(d, exec, 12)
	if !reflect.DeepEqual(m.Subtasks[3], snap.Subtasks[3]) || m.Subtasks[0].Handle.URI != "s3://b/12/src-0" {
		t.Fatalf("after a restart, checkpoint 12: %+v", m.Subtasks)
	}
	if _, err := os.Stat(snapPath); err != nil {
		t.Fatalf("the restored snapshot's file (no_claim) is gone: %v", err)
	}
}
