package driver

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
	"github.com/ckptcore/ckptcore/fsm"
)

// pausingExec is a recExec whose worker stops before carrying out the
// discard of checkpoint pauseAt until release is closed.
type pausingExec struct {
	*recExec
	pauseAt int64
	paused  chan struct{}
	release chan struct{}
}

func (x *pausingExec) ObserveEffect(e fsm.Effect) {
	x.recExec.ObserveEffect(e)
	if e.Type == fsm.EffDiscard && e.Checkpoint == x.pauseAt {
		close(x.paused)
		<-x.release
	}
}

// A completion's discards cut short by Close: checkpoint 3 completes and the
// core discards 1 and then 2 (R40, id order), where 2 fell back to 1 for
// region r1. Close after discard 1 drops discard 2, as a crash would
// (Close). The store then still points to 2, whose _metadata names 1's
// deleted state: transient, since 2 is neither retained nor referenced. The
// next open discards 2 again (Resume) — pointer and directory — and what
// the store points to then restores every subtask. ckpt serve's
// TestServeWritesMetadata saw this state after its --duration Close.
func TestDiscardCutShortByClose(t *testing.T) {
	dir, root := t.TempDir(), t.TempDir()
	exec := &pausingExec{recExec: newRecExec(), pauseAt: 1, paused: make(chan struct{}), release: make(chan struct{})}
	opt := Options{Clock: newFakeClock(), Executor: exec, CheckpointsDir: root, NoFlightRecorder: true}
	cfg := regionalConfig(1000) // Retained 1
	d, err := Open(dir, twoRegions(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	st, topo := d.CheckpointStorage(), d.Topology()
	ack := func(id int64, tasks ...fsm.TaskID) {
		t.Helper()
		var acks []Ack
		for _, task := range tasks {
			h, data := fileHandle(st, topo, id, task)
			path := strings.TrimPrefix(h.URI, "file://")
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			acks = append(acks, Ack{Checkpoint: id, Task: task, Handle: h})
		}
		if err := d.AckBatch(acks); err != nil {
			t.Fatal(err)
		}
	}
	d.Trigger(fsm.KindCheckpoint)
	exec.wait(t, "trigger 1", isEffect(fsm.EffTrigger, 1))
	ack(1, 0, 1, 2, 3)
	exec.wait(t, "completed 1", isEffect(fsm.EffCompleted, 1))
	d.Trigger(fsm.KindCheckpoint)
	exec.wait(t, "trigger 2", isEffect(fsm.EffTrigger, 2))
	ack(2, 0, 2) // region r0
	d.Decline(2, 1, fsm.ReasonDeclined)
	if e := exec.wait(t, "persist 2", isEffect(fsm.EffPersist, 2)); !reflect.DeepEqual(e.Refs, []fsm.RegionRef{{Region: 1, Checkpoint: 1}}) {
		t.Fatalf("checkpoint 2's refs %v, want r1->1", e.Refs)
	}
	exec.wait(t, "completed 2", isEffect(fsm.EffCompleted, 2))
	d.Trigger(fsm.KindCheckpoint)
	exec.wait(t, "trigger 3", isEffect(fsm.EffTrigger, 3))
	ack(3, 0, 1, 2, 3)
	<-exec.paused // the worker is about to discard 1; discard 2 is queued
	closed := make(chan error)
	go func() { closed <- d.Close() }()
	<-d.quit
	close(exec.release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}

	// What the Close left: a pointer to 2, whose file names 1's deleted state.
	if got := storedIDs(t, dir); !reflect.DeepEqual(got, []int64{2, 3}) {
		t.Fatalf("after the Close the store points to %v, want [2 3] (discard 2 dropped)", got)
	}
	m2, err := checkpointstorage.ReadMetadata(st.MetadataPath(fsm.KindCheckpoint, 2))
	if err != nil {
		t.Fatal(err)
	}
	if s := m2.Subtasks[1]; s.Ref != 1 || !strings.Contains(s.Handle.URI, "chk-1") {
		t.Fatalf("checkpoint 2's %s: ref %d handle %+v, want checkpoint 1's", s.Task, s.Ref, s.Handle)
	}
	if _, err := os.Stat(st.Dir(fsm.KindCheckpoint, 1)); !os.IsNotExist(err) {
		t.Fatalf("checkpoint 1's directory after its discard: %v", err)
	}

	// The next open finishes the job: 2 is discarded, 3 restores.
	exec2 := newRecExec()
	opt.Executor = exec2
	d, err = Open(dir, twoRegions(), cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	(&harness{t: t, d: d, exec: exec2}).flush()
	if got := exec2.discarded(); !reflect.DeepEqual(got, []int64{2}) {
		t.Fatalf("the open discarded %v, want [2]", got)
	}
	ms, err := d.store.(MetadataLister).ListMetadata()
	if err != nil {
		t.Fatal(err)
	}
	if got := checkpointIDs(ms); !reflect.DeepEqual(got, []int64{3}) {
		t.Fatalf("after the open the store points to %v, want [3]", got)
	}
	entries, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(entries, []checkpointstorage.Entry{{Kind: fsm.KindCheckpoint, ID: 3}}) {
		t.Fatalf("after the open the storage holds %v, want chk-3 only", entries)
	}
	m3, err := checkpointstorage.ReadMetadata(st.MetadataPath(fsm.KindCheckpoint, 3))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range m3.Subtasks {
		want, data := fileHandle(st, topo, 3, fsm.TaskID(i))
		if s.Ref != 3 || !reflect.DeepEqual(s.Handle, want) {
			t.Fatalf("checkpoint 3's %s: ref %d handle %+v, want %+v", s.Task, s.Ref, s.Handle, want)
		}
		if got, err := os.ReadFile(strings.TrimPrefix(s.Handle.URI, "file://")); err != nil || string(got) != string(data) {
			t.Fatalf("checkpoint 3's %s: %q, %v", s.Task, got, err)
		}
	}
}

// fileHandle is the state file subtask task writes for checkpoint id, in
// the checkpoint's directory, and the handle its ack carries.
func fileHandle(st *checkpointstorage.Storage, topo *fsm.Topology, id int64, task fsm.TaskID) (StateHandle, []byte) {
	name := topo.TaskName(task)
	data := fmt.Appendf(nil, "state of %s at %d", name, id)
	path := filepath.Join(st.Dir(fsm.KindCheckpoint, id), strings.ReplaceAll(name, "/", "-"))
	return StateHandle{URI: "file://" + path, Size: int64(len(data))}, data
}

// storedIDs returns the ids of the checkpoints the FileStore in dir points
// to (no driver has it open).
func storedIDs(t *testing.T, dir string) []int64 {
	t.Helper()
	s, err := OpenFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, err := s.ListMetadata()
	if err != nil {
		t.Fatal(err)
	}
	return checkpointIDs(ms)
}

// checkpointIDs returns the ids of the checkpoints (not savepoints) in ms.
func checkpointIDs(ms []Metadata) []int64 {
	var ids []int64
	for _, m := range ms {
		if m.Kind == fsm.KindCheckpoint {
			ids = append(ids, m.ID)
		}
	}
	return ids
}
