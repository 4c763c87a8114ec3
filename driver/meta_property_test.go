package driver

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
	"github.com/ckptcore/ckptcore/fsm"
)

// threeRegions is src(3, fallback coordinator) -> sink(3), pointwise: regions
// r_i = {src/i, sink/i}.
func threeRegions() fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 3, Coordinator: fsm.CoordinatorFallback}, {ID: "sink", Parallelism: 3}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	}
}

// metaRun drives a driver with checkpoint storage through random regional
// histories and checks, after every checkpoint ends, the properties of issue
// 15 §1 against its own record of what it sent.
type metaRun struct {
	t        *testing.T
	rnd      *rand.Rand
	dir      string // the store
	root     string // the checkpoints directory
	cfg      fsm.Config
	topo     *fsm.Topology
	clock    *fakeClock
	h        *harness
	sent     map[int64][]StateHandle // by checkpoint, by subtask: what the acks carried
	content  map[string][]byte       // state file path -> what was written
	complete []fsm.Effect            // completed checkpoints (kind checkpoint), in order
	last     int64                   // the last checkpoint triggered
	// The model of the store (R40): the retained completions, oldest first,
	// and every id the store holds (the retained ones and what they use).
	retained []fsm.Effect
	stored   map[int64]bool
	restarts []int // num-retained after each restart
}

func newMetaRun(t *testing.T, seed uint64) *metaRun {
	cfg := regionalConfig(3_600_000) // manual triggers only
	cfg.Retained = 1 + int(seed%3)
	cfg.TolerableFailures = 1 << 20
	cfg.Regional.MaxConsecutive = 2 + int(seed%3)
	topo, _ := fsm.NewTopology(threeRegions())
	r := &metaRun{t: t, rnd: rand.New(rand.NewPCG(seed, 15)), dir: t.TempDir(), root: t.TempDir(), cfg: cfg,
		topo: topo, clock: newFakeClock(), sent: map[int64][]StateHandle{}, content: map[string][]byte{}, stored: map[int64]bool{}}
	r.open()
	return r
}

func (r *metaRun) open() {
	r.t.Helper()
	h := &harness{t: r.t, dir: r.dir, clock: r.clock, exec: newRecExec()}
	d, err := Open(r.dir, threeRegions(), r.cfg, Options{Clock: r.clock, Executor: h.exec, CheckpointsDir: r.root, Job: "prop"})
	if err != nil {
		r.t.Fatal(err)
	}
	h.d = d
	r.t.Cleanup(func() { d.Close() })
	r.h = h
}

// restart closes the driver and opens it again with num-retained changed
// (up, down or not), as an operator may between runs.
func (r *metaRun) restart() {
	r.t.Helper()
	if err := r.h.d.Close(); err != nil {
		r.t.Fatal(err)
	}
	// Down to 1, or up from 1 to 2..4.
	if r.cfg.Retained > 1 {
		r.cfg.Retained = 1
	} else {
		r.cfg.Retained = 2 + r.rnd.IntN(3)
	}
	r.restarts = append(r.restarts, r.cfg.Retained)
	// fsm.Resume's retention: from the newest stored completion down, the
	// first num-retained whose every reference the store still holds (R40,
	// I-RetentionSafety).
	byID := map[int64]fsm.Effect{}
	for _, c := range r.complete {
		byID[c.Checkpoint] = c
	}
	var ids []int64
	for id := range r.stored {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var kept []fsm.Effect
	for i := len(ids) - 1; i >= 0 && len(kept) < r.cfg.Retained; i-- {
		c := byID[ids[i]]
		whole := true
		for reg := 0; reg < r.topo.NumRegions(); reg++ {
			whole = whole && r.stored[c.RefOf(reg)]
		}
		if whole {
			kept = append(kept, c)
		}
	}
	slices.Reverse(kept)
	r.setRetained(kept)
	r.open()
}

// setRetained makes kept the model's retained completions; the store then
// holds them and what they use.
func (r *metaRun) setRetained(kept []fsm.Effect) {
	r.retained = kept
	clear(r.stored)
	for _, c := range kept {
		for reg := 0; reg < r.topo.NumRegions(); reg++ {
			r.stored[c.RefOf(reg)] = true
		}
	}
}

// checkpoint triggers one checkpoint and ends it: every subtask acks with a
// random handle (a state file in the checkpoint's directory, inline bytes, or
// none), except that up to two subtasks decline first.
func (r *metaRun) checkpoint() {
	t := r.t
	t.Helper()
	if err := r.h.d.Trigger(fsm.KindCheckpoint); err != nil {
		t.Fatal(err)
	}
	trig := r.h.exec.wait(t, "trigger", func(e fsm.Effect) bool { return e.Type == fsm.EffTrigger && e.Checkpoint > r.last })
	id := trig.Checkpoint
	r.last = id
	st := r.h.d.CheckpointStorage()
	n := r.topo.NumSubtasks()
	declined := map[fsm.TaskID]bool{}
	if r.rnd.IntN(4) == 0 {
		// One subtask of one region declines: a regional completion
		// unless tier 2 forces a global one (R25).
		tasks := r.topo.RegionTasks(r.rnd.IntN(r.topo.NumRegions()))
		declined[tasks[r.rnd.IntN(len(tasks))]] = true
	} else {
		for k := r.rnd.IntN(5) - 2; k > 0; k-- { // 0 (60%), 1 or 2 declines
			declined[fsm.TaskID(r.rnd.IntN(n))] = true
		}
	}
	handles := make([]StateHandle, n)
	var acks []Ack
	for i := 0; i < n; i++ {
		task := fsm.TaskID(i)
		if declined[task] {
			continue
		}
		switch r.rnd.IntN(3) {
		case 0:
			dir := st.Dir(fsm.KindCheckpoint, id)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, strings.ReplaceAll(r.topo.TaskName(task), "/", "-"))
			data := fmt.Appendf(nil, "state of %s at checkpoint %d", r.topo.TaskName(task), id)
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			r.content[path] = data
			handles[i] = StateHandle{URI: "file://" + path, Size: int64(len(data))}
		case 1:
			b := make([]byte, r.rnd.IntN(40))
			for k := range b {
				b[k] = byte(r.rnd.IntN(256))
			}
			handles[i] = StateHandle{Inline: b, Size: int64(len(b))}
		}
		acks = append(acks, Ack{Checkpoint: id, Task: task, Handle: handles[i]})
	}
	r.sent[id] = handles
	// The state files are written before any decline: a decline may abort
	// the checkpoint, whose directory then goes (a runtime writes state
	// before it acks, too).
	for task := range declined {
		if err := r.h.d.Decline(id, task, ""); err != nil {
			t.Fatal(err)
		}
	}
	r.rnd.Shuffle(len(acks), func(a, b int) { acks[a], acks[b] = acks[b], acks[a] })
	if err := r.h.d.AckBatch(acks); err != nil {
		t.Fatal(err)
	}
	end := r.h.exec.wait(t, "end of the checkpoint", func(e fsm.Effect) bool {
		return (e.Type == fsm.EffCompleted || e.Type == fsm.EffAbort) && e.Checkpoint == id
	})
	r.h.flush()
	if end.Type == fsm.EffCompleted {
		r.complete = append(r.complete, end)
		kept := append(r.retained, end)
		r.setRetained(kept[max(0, len(kept)-r.cfg.Retained):])
	}
}

// check: the core retains what the model does, and never a checkpoint one of
// whose references the store no longer holds (I-RetentionSafety); every
// retained checkpoint restores every region from its one file, each subtask's
// handle being the one acked in the checkpoint its ref names (and its state
// file still there); exactly the retained and referenced checkpoints have a
// directory; the store points to each retained file.
func (r *metaRun) check() {
	t := r.t
	t.Helper()
	retained := r.retained
	var wantRetained []int64
	for _, c := range retained {
		wantRetained = append(wantRetained, c.Checkpoint)
	}
	durable, err := r.h.d.store.Load()
	if err != nil {
		t.Fatal(err)
	}
	inStore := map[int64]bool{}
	for _, k := range durable.Known {
		inStore[k.ID] = true
	}
	got := r.h.status().Retained
	for _, k := range durable.Known {
		if !slices.Contains(got, k.ID) {
			continue
		}
		for _, ref := range k.Refs {
			if !inStore[ref.Checkpoint] {
				t.Fatalf("retained checkpoint %d: region %s uses checkpoint %d, which the store no longer holds (restarts with num-retained %v)",
					k.ID, fsm.RegionName(ref.Region), ref.Checkpoint, r.restarts)
			}
		}
	}
	if !slices.Equal(got, wantRetained) {
		t.Fatalf("retained %v, want %v (restarts with num-retained %v)", got, wantRetained, r.restarts)
	}
	want := map[int64]bool{}
	for _, c := range retained {
		want[c.Checkpoint] = true
		for reg := 0; reg < r.topo.NumRegions(); reg++ {
			want[c.RefOf(reg)] = true
		}
	}
	st := r.h.d.CheckpointStorage()
	entries, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	var have, wantIDs []int64
	for _, e := range entries {
		have = append(have, e.ID)
	}
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	slices.Sort(wantIDs)
	if !reflect.DeepEqual(have, wantIDs) {
		t.Fatalf("directories %v, want exactly the retained and referenced checkpoints %v", have, wantIDs)
	}
	pointers := map[int64]string{}
	ms, err := r.h.d.store.(MetadataLister).ListMetadata()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		pointers[m.ID] = m.External
	}
	for _, c := range retained {
		path := st.MetadataPath(fsm.KindCheckpoint, c.Checkpoint)
		if pointers[c.Checkpoint] != path {
			t.Fatalf("store pointer of checkpoint %d is %q, want %q", c.Checkpoint, pointers[c.Checkpoint], path)
		}
		m, err := checkpointstorage.ReadMetadata(path)
		if err != nil {
			t.Fatal(err)
		}
		if m.Mode != c.Mode || m.Consecutive != c.Consecutive {
			t.Fatalf("checkpoint %d: file says %s/%d, the core %s/%d", c.Checkpoint, m.Mode, m.Consecutive, c.Mode, c.Consecutive)
		}
		for reg := 0; reg < r.topo.NumRegions(); reg++ {
			subs, err := m.RestoreRegion(reg)
			if err != nil {
				t.Fatal(err)
			}
			if len(subs) != len(r.topo.RegionTasks(reg)) {
				t.Fatalf("checkpoint %d region %d: %d subtasks restored, want %d", c.Checkpoint, reg, len(subs), len(r.topo.RegionTasks(reg)))
			}
			for _, s := range subs {
				task, _ := r.topo.ParseTask(s.Task)
				if s.Ref != c.RefOf(reg) {
					t.Fatalf("checkpoint %d %s: ref %d, the core says %d", c.Checkpoint, s.Task, s.Ref, c.RefOf(reg))
				}
				if got, sent := s.Handle, r.sent[s.Ref][task]; !reflect.DeepEqual(got, sent) {
					t.Fatalf("checkpoint %d %s: handle %+v, but checkpoint %d's ack carried %+v", c.Checkpoint, s.Task, got, s.Ref, sent)
				}
				if p, ok := strings.CutPrefix(s.Handle.URI, "file://"); ok {
					data, err := os.ReadFile(p)
					if err != nil || !bytes.Equal(data, r.content[p]) {
						t.Fatalf("checkpoint %d %s: state file %s: %q, %v", c.Checkpoint, s.Task, p, data, err)
					}
				}
			}
		}
	}
}

// TestMetadataProperty: random regional histories (declines fail regions;
// random restarts) through a driver with a real checkpoints directory; after
// every checkpoint, check() holds.
func TestMetadataProperty(t *testing.T) {
	seeds, steps := 6, 25
	if os.Getenv("CKPT_META_LONG") != "" {
		seeds, steps = 60, 80
	}
	for seed := 0; seed < seeds; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			r := newMetaRun(t, uint64(seed))
			regional := 0
			for step := 0; step < steps; step++ {
				// Restarts come at random, most often right after a
				// regional completion: retention then holds an older
				// checkpoint for its references, the case a raised
				// num-retained must not re-admit whole (I-RetentionSafety).
				odds := 8
				if n := len(r.complete); n > 0 && r.complete[n-1].Mode == fsm.ModeRegional && r.complete[n-1].Checkpoint == r.last {
					odds = 2
				}
				if r.rnd.IntN(odds) == 0 {
					r.restart()
				}
				r.checkpoint()
				r.clock.Advance(time.Millisecond)
				if len(r.complete) > 0 {
					r.check()
				}
			}
			for _, c := range r.complete {
				if c.Mode == fsm.ModeRegional {
					regional++
				}
			}
			if regional == 0 || regional == len(r.complete) {
				t.Fatalf("%d regional of %d completions: the history does not exercise both", regional, len(r.complete))
			}
		})
	}
}
