package driver

import (
	"errors"
	"os"
	"path/filepath"
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
