package fuzz

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// The step watchdog: a Step that does not return (a core bug that loops, as an
// injected off-by-one in the min-pause check once did) would otherwise hang
// the test binary until go test's timeout, naming no history. The watchdog
// notices a step running longer than CKPT_STEP_WATCHDOG (default 60s), writes
// the history that leads to it under testdata/watchdog/, prints
// "step watchdog: ..." naming it, and exits the test binary.
var watchdog struct {
	startMu sync.Mutex // guards started
	started bool
	mu      sync.Mutex
	busy    bool
	since   time.Time
	m       *machine
	ev      fsm.Event
}

func watchdogLimit() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CKPT_STEP_WATCHDOG")); err == nil && d > 0 {
		return d
	}
	return time.Minute
}

// watchStep marks a step of m as running until the returned function is called.
func watchStep(m *machine, ev fsm.Event) func() {
	watchdog.startMu.Lock()
	if !watchdog.started {
		watchdog.started = true
		go watchLoop(watchdogLimit())
	}
	watchdog.startMu.Unlock()
	watchdog.mu.Lock()
	watchdog.busy, watchdog.since, watchdog.m, watchdog.ev = true, time.Now(), m, ev
	watchdog.mu.Unlock()
	return func() {
		watchdog.mu.Lock()
		watchdog.busy, watchdog.m = false, nil
		watchdog.mu.Unlock()
	}
}

func watchLoop(limit time.Duration) {
	for {
		time.Sleep(limit / 10)
		watchdog.mu.Lock()
		if !watchdog.busy || time.Since(watchdog.since) < limit {
			watchdog.mu.Unlock()
			continue
		}
		m, ev := watchdog.m, watchdog.ev
		// The stuck goroutine is inside Step and touches none of this.
		path, err := writeStuck(m, ev)
		if err != nil {
			path = "(not written: " + err.Error() + ")"
		}
		fmt.Fprintf(os.Stderr, "step watchdog: Step did not return within %v on %s; history: %s\n",
			limit, fsm.DescribeEvent(m.topo, ev), path)
		os.Exit(3)
	}
}

func writeStuck(m *machine, ev fsm.Event) (string, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "// step watchdog: the last event's Step did not return\n")
	w, err := history.NewWriter(&buf, history.Header{Format: history.Format, Job: m.spec, Config: m.cfg})
	if err != nil {
		return "", err
	}
	for _, e := range append(append([]fsm.Event(nil), m.evs...), ev) {
		if err := w.WriteEvent(e, nil); err != nil {
			return "", err
		}
	}
	dir := filepath.Join("testdata", "watchdog")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("stuck-%d.jsonl", os.Getpid()))
	return filepath.Join("fuzz", path), os.WriteFile(path, buf.Bytes(), 0o644)
}

// TestWatchdogWritesTheHistory: the history the watchdog writes for a stuck
// step decodes and ends with the event whose Step did not return.
func TestWatchdogWritesTheHistory(t *testing.T) {
	spec := fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2}}}
	topo, err := fsm.NewTopology(spec)
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{spec: spec, cfg: fsm.DefaultConfig(), topo: topo,
		evs: []fsm.Event{{At: 0, Type: fsm.EvStart}, {At: 5, Type: fsm.EvTrigger}}}
	path, err := writeStuck(m, fsm.Event{At: 9, Type: fsm.EvAck, Checkpoint: 1, Task: 1})
	if err != nil {
		t.Fatal(err)
	}
	local := strings.TrimPrefix(path, "fuzz/")
	t.Cleanup(func() { os.Remove(local); os.Remove(filepath.Dir(local)) })
	h, err := history.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(h.Records); n != 3 || h.Records[2].Event.Type != fsm.EvAck {
		t.Fatalf("%d events, last %+v", n, h.Records[n-1].Event)
	}
}
