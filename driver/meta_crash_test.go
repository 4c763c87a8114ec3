package driver

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/driver/checkpointstorage"
	"github.com/ckptcore/ckptcore/fsm"
)

// The checkpoint-storage crash test (issue 15 §1) runs a driver with a real
// checkpoints directory in a child process — this test binary again, selected
// by metaCrashDirEnv — and kills it with SIGKILL at random points, which
// land in completions (state files, _metadata, pointer) and discards
// (pointer, rename, removal) alike.
const (
	metaCrashDirEnv  = "CKPTCORE_META_CRASH_DIR"
	metaCrashSeedEnv = "CKPTCORE_META_CRASH_SEED"
	// metaCrashKillsEnv sets the number of kills (8 by default; make
	// crash-meta runs 200).
	metaCrashKillsEnv = "CKPTCORE_META_CRASH_KILLS"
)

func metaCrashConfig() fsm.Config {
	cfg := regionalConfig(10)
	cfg.Retained = 2
	cfg.TolerableFailures = 1 << 20
	return cfg
}

// metaHandle is the handle subtask task acks checkpoint id with: chosen by
// (id, task) so that the parent knows, for any ref, what the file must hold —
// a state file in the checkpoint's directory, inline bytes, or nothing.
func metaHandle(st *checkpointstorage.Storage, topo *fsm.Topology, id int64, task fsm.TaskID) (StateHandle, []byte) {
	name := topo.TaskName(task)
	data := fmt.Appendf(nil, "state of %s at %d", name, id)
	switch (id + int64(task)) % 3 {
	case 0:
		path := filepath.Join(st.Dir(fsm.KindCheckpoint, id), strings.ReplaceAll(name, "/", "-"))
		return StateHandle{URI: "file://" + path, Size: int64(len(data))}, data
	case 1:
		return StateHandle{Inline: data, Size: int64(len(data))}, nil
	}
	return StateHandle{}, nil
}

// metaCrashExec writes each subtask's state and acks with its handle as soon
// as a checkpoint is triggered; a third of the checkpoints see a decline
// (a region fails: a regional completion, or an abort).
type metaCrashExec struct {
	NopExecutor
	d   *Driver
	mu  sync.Mutex
	rnd *rand.Rand
}

func (x *metaCrashExec) Attach(d *Driver) { x.d = d }

func (x *metaCrashExec) TriggerCheckpoint(id int64, kind fsm.Kind, _ bool, tasks fsm.TaskSet, _ time.Time) {
	if kind != fsm.KindCheckpoint {
		return
	}
	st, topo := x.d.CheckpointStorage(), x.d.Topology()
	x.mu.Lock()
	decline := fsm.TaskID(-1)
	if x.rnd.IntN(3) == 0 {
		decline = fsm.TaskID(x.rnd.IntN(topo.NumSubtasks()))
	}
	x.mu.Unlock()
	var acks []Ack
	tasks.All(func(task fsm.TaskID) bool {
		h, file := metaHandle(st, topo, id, task)
		if file != nil {
			path := strings.TrimPrefix(h.URI, "file://")
			if os.MkdirAll(filepath.Dir(path), 0o755) != nil || os.WriteFile(path, file, 0o644) != nil {
				return true // the checkpoint was aborted meanwhile: no ack
			}
		}
		if task != decline {
			acks = append(acks, Ack{Checkpoint: id, Task: task, Handle: h})
		}
		return true
	})
	if decline >= 0 {
		x.d.Decline(id, decline, "")
	}
	x.d.AckBatch(acks)
}

func (x *metaCrashExec) ObserveEffect(e fsm.Effect) {
	if e.Type == fsm.EffCompleted && e.Kind == fsm.KindCheckpoint {
		fmt.Fprintf(os.Stdout, "completed %d\n", e.Checkpoint)
	}
}

// TestMetaCrashChild is the child process; run alone it skips.
func TestMetaCrashChild(t *testing.T) {
	dir := os.Getenv(metaCrashDirEnv)
	if dir == "" {
		t.Skip("the child process of TestMetaCrashRecovery")
	}
	seed, _ := strconv.ParseUint(os.Getenv(metaCrashSeedEnv), 10, 64)
	x := &metaCrashExec{rnd: rand.New(rand.NewPCG(seed, 1))}
	_, err := Open(filepath.Join(dir, "store"), threeRegions(), metaCrashConfig(),
		Options{Executor: x, CheckpointsDir: filepath.Join(dir, "checkpoints")})
	if err != nil {
		fmt.Fprintf(os.Stdout, "open failed: %v\n", err)
		os.Exit(3)
	}
	fmt.Fprintln(os.Stdout, "ready")
	time.Sleep(30 * time.Second) // the parent kills it long before
	os.Exit(0)
}

// TestMetaCrashRecovery kills a driver with checkpoint storage at random
// points; after each kill a driver opens the storage again (Repair, then the
// discards the resumed core decides) and then: every retained checkpoint
// restores every region from its one file, each subtask's handle being the
// one acked in the checkpoint its ref names (its state file still there);
// exactly the stored (retained and referenced) checkpoints have a directory;
// no completed checkpoint is lost.
func TestMetaCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	seed := uint64(1)
	if s := os.Getenv(metaCrashSeedEnv); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	kills, budget := 8, 25*time.Second
	if n, err := strconv.Atoi(os.Getenv(metaCrashKillsEnv)); err == nil && n > 0 {
		kills, budget = n, time.Duration(n)*3*time.Second
	}
	t.Logf("seed %d (set %s to repeat), %d kills", seed, metaCrashSeedEnv, kills)
	rnd := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	var maxCompleted int64
	var seen metaCrashSeen
	deadline := time.Now().Add(budget)
	i := 0
	for ; i < kills && time.Now().Before(deadline); i++ {
		lines := runMetaChild(t, dir, seed+uint64(i), time.Duration(20+rnd.IntN(200))*time.Millisecond)
		for _, l := range lines {
			if id, ok := strings.CutPrefix(l, "completed "); ok {
				n, _ := strconv.ParseInt(id, 10, 64)
				maxCompleted = max(maxCompleted, n)
			}
		}
		seen.observe(t, filepath.Join(dir, "checkpoints", DefaultJob), filepath.Join(dir, "store"))
		checkMetaCrash(t, dir, maxCompleted)
	}
	if maxCompleted == 0 {
		t.Fatal("no checkpoint completed in any run")
	}
	t.Logf("%d kills: checkpoints completed up to %d; the kills left %d directories without a pointer "+
		"(completions or discards cut short), %d half-discarded (.discard-*), %d temporary _metadata files; "+
		"every retained checkpoint restored every region from its one file after the repair",
		i, maxCompleted, seen.orphans, seen.discarding, seen.temps)
}

// metaCrashSeen counts what the kills left behind before the repair: the
// cases the repair exists for.
type metaCrashSeen struct{ orphans, discarding, temps int }

func (s *metaCrashSeen) observe(t *testing.T, jobDir, storeDir string) {
	t.Helper()
	pointed := map[string]bool{}
	files, _ := filepath.Glob(filepath.Join(storeDir, checkpointDir, "chk-*.json"))
	for _, f := range files {
		pointed[strings.TrimSuffix(filepath.Base(f), ".json")] = true
	}
	entries, _ := os.ReadDir(jobDir)
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), ".discard-"):
			s.discarding++
		case strings.HasPrefix(e.Name(), "chk-") && !pointed[e.Name()]:
			s.orphans++
		}
		if tmp, _ := filepath.Glob(filepath.Join(jobDir, e.Name(), tmpPrefix+"*")); len(tmp) > 0 {
			s.temps++
		}
	}
}

func runMetaChild(t *testing.T, dir string, seed uint64, d time.Duration) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestMetaCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), metaCrashDirEnv+"="+dir, metaCrashSeedEnv+"="+strconv.FormatUint(seed, 10))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	read := make(chan struct{})
	var lines []string
	go func() {
		defer close(read)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if sc.Text() == "ready" {
				close(ready)
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case <-ready:
		time.Sleep(d)
	case <-read:
	case <-time.After(waitTimeout * 5):
	}
	cmd.Process.Kill() // SIGKILL
	<-read
	cmd.Wait()
	for _, l := range lines {
		if strings.HasPrefix(l, "open failed") {
			t.Fatalf("child: %s", l)
		}
	}
	return lines
}

// checkMetaCrash opens a driver on what the kill left (on a fake clock, so
// nothing new is triggered), lets it repair and carry out the discards its
// resumed core decides, and checks storage against the store.
func checkMetaCrash(t *testing.T, dir string, maxCompleted int64) {
	t.Helper()
	exec := newRecExec()
	d, err := Open(filepath.Join(dir, "store"), threeRegions(), metaCrashConfig(),
		Options{Clock: newFakeClock(), Executor: exec, NoFlightRecorder: true, CheckpointsDir: filepath.Join(dir, "checkpoints")})
	if err != nil {
		t.Fatalf("open after a crash: %v", err)
	}
	defer d.Close()
	(&harness{t: t, d: d, exec: exec}).flush()
	for _, w := range exec.warnings {
		if strings.HasPrefix(w, CodeStoreFailed) {
			t.Fatalf("after a crash: %s", w)
		}
	}
	st, topo := d.CheckpointStorage(), d.Topology()
	status, err := d.Status()
	if err != nil {
		t.Fatal(err)
	}
	retained := map[int64]bool{}
	for _, id := range status.Retained {
		retained[id] = true
	}
	ms, err := d.store.(MetadataLister).ListMetadata()
	if err != nil {
		t.Fatal(err)
	}
	var stored []int64
	for _, m := range ms {
		if m.Kind.IsSavepoint() {
			continue
		}
		stored = append(stored, m.ID)
		if m.External != st.MetadataPath(fsm.KindCheckpoint, m.ID) {
			t.Fatalf("checkpoint %d: pointer %q", m.ID, m.External)
		}
		md, err := checkpointstorage.ReadMetadata(m.External)
		if err != nil {
			t.Fatalf("a stored checkpoint's metadata does not read: %v", err)
		}
		if !retained[m.ID] {
			// Kept only because a retained checkpoint references some of its
			// regions (R40): those are checked through the retained one's
			// file; its other regions may name state already discarded.
			continue
		}
		for r := 0; r < topo.NumRegions(); r++ {
			subs, err := md.RestoreRegion(r)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range subs {
				task, _ := topo.ParseTask(s.Task)
				want, data := metaHandle(st, topo, s.Ref, task)
				if !reflect.DeepEqual(s.Handle, want) {
					t.Fatalf("checkpoint %d %s (ref %d): handle %+v, want the one acked in %d: %+v", m.ID, s.Task, s.Ref, s.Handle, s.Ref, want)
				}
				if data != nil {
					got, err := os.ReadFile(strings.TrimPrefix(s.Handle.URI, "file://"))
					if err != nil || string(got) != string(data) {
						t.Fatalf("checkpoint %d %s: referenced state file gone or wrong: %q, %v", m.ID, s.Task, got, err)
					}
				}
			}
		}
	}
	if maxCompleted > 0 && (len(stored) == 0 || stored[len(stored)-1] < maxCompleted) {
		t.Fatalf("completed checkpoint %d lost: the store holds %v", maxCompleted, stored)
	}
	entries, err := st.List()
	if err != nil {
		t.Fatal(err)
	}
	var dirs []int64
	for _, e := range entries {
		dirs = append(dirs, e.ID)
	}
	if !reflect.DeepEqual(dirs, stored) {
		t.Fatalf("directories %v after the repair, want exactly the stored checkpoints %v", dirs, stored)
	}
	left, _ := filepath.Glob(filepath.Join(st.JobDir(), ".discard-*"))
	tmps, _ := filepath.Glob(filepath.Join(st.JobDir(), "*", tmpPrefix+"*"))
	if len(left)+len(tmps) > 0 {
		t.Fatalf("left after the repair: %v %v", left, tmps)
	}
}
