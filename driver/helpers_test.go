package driver

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

// epoch is where every fake clock starts: core times in tests are epochMs + offset.
var epoch = time.UnixMilli(1_000_000)

const epochMs = 1_000_000

// waitTimeout bounds every wait for the driver's goroutines; tests normally
// finish their waits in microseconds.
const waitTimeout = 2 * time.Second

// fakeClock is a Clock that moves only when the test advances it. Its timers
// fire, like time.Timer, by a non-blocking send when the clock reaches them.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	timers  []*fakeTimer
	changed chan struct{} // closed and replaced whenever a timer is armed or stopped
}

type fakeTimer struct {
	c      *fakeClock
	ch     chan time.Time
	when   time.Time
	active bool
}

func newFakeClock() *fakeClock { return &fakeClock{now: epoch, changed: make(chan struct{})} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer() Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Reset(at time.Time) {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	select { // a value of an earlier arming is never delivered after Reset
	case <-t.ch:
	default:
	}
	t.when, t.active = at, true
	c.fire()
	c.notify()
}

func (t *fakeTimer) Stop() {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-t.ch:
	default:
	}
	t.active = false
	c.notify()
}

// notify wakes waitArmed; c.mu is held.
func (c *fakeClock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// fire delivers every due timer; c.mu is held.
func (c *fakeClock) fire() {
	for _, t := range c.timers {
		if t.active && !t.when.After(c.now) {
			t.active = false
			select {
			case t.ch <- c.now:
			default:
			}
		}
	}
}

// Advance moves the clock (backwards too, for the clamp test) and fires due timers.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.fire()
}

// armedAt returns when the (single) armed timer fires, in core ms, or -1.
func (c *fakeClock) armedAt() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.timers {
		if t.active {
			return t.when.UnixMilli()
		}
	}
	return -1
}

// waitArmed waits until the driver has armed its timer for core time at.
func (c *fakeClock) waitArmed(t *testing.T, at int64) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		c.mu.Lock()
		ch := c.changed
		c.mu.Unlock()
		if c.armedAt() == at {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timer armed at %d, want %d", c.armedAt(), at)
		}
	}
}

// recExec is an Executor that records every effect and the calls it gets, and
// can react to triggers (ack them through the driver, for instance).
type recExec struct {
	NopExecutor
	mu        sync.Mutex
	effects   []fsm.Effect
	discards  []int64
	warnings  []string
	refusals  []refusal // Options.OnRefused's calls
	changed   chan struct{}
	onTrigger func(id int64, tasks fsm.TaskSet)
}

func newRecExec() *recExec { return &recExec{changed: make(chan struct{})} }

func (x *recExec) ObserveEffect(e fsm.Effect) {
	x.mu.Lock()
	x.effects = append(x.effects, e)
	close(x.changed)
	x.changed = make(chan struct{})
	x.mu.Unlock()
}

func (x *recExec) TriggerCheckpoint(id int64, _ fsm.Kind, _ bool, tasks fsm.TaskSet, _ time.Time) {
	x.mu.Lock()
	f := x.onTrigger
	x.mu.Unlock()
	if f != nil {
		f(id, tasks)
	}
}

func (x *recExec) Discard(id int64) {
	x.mu.Lock()
	x.discards = append(x.discards, id)
	x.mu.Unlock()
}

func (x *recExec) Warn(code, msg string) {
	x.mu.Lock()
	x.warnings = append(x.warnings, code+": "+msg)
	x.mu.Unlock()
}

// refuse is the harness's Options.OnRefused.
func (x *recExec) refuse(ev fsm.Event, err error) {
	x.mu.Lock()
	x.refusals = append(x.refusals, refusal{ev: ev, err: err})
	x.mu.Unlock()
}

// refused returns OnRefused's calls so far.
func (x *recExec) refused() []refusal {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]refusal(nil), x.refusals...)
}

func (x *recExec) discarded() []int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]int64(nil), x.discards...)
}

func (x *recExec) snapshot() []fsm.Effect {
	x.mu.Lock()
	defer x.mu.Unlock()
	return append([]fsm.Effect(nil), x.effects...)
}

// wait returns the first recorded effect matching pred, waiting for it.
func (x *recExec) wait(t *testing.T, what string, pred func(fsm.Effect) bool) fsm.Effect {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		x.mu.Lock()
		ch := x.changed
		for _, e := range x.effects {
			if pred(e) {
				x.mu.Unlock()
				return e
			}
		}
		x.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			var b strings.Builder
			for _, e := range x.snapshot() {
				b.WriteString(fsm.DescribeEffect(testTopo, e) + "\n")
			}
			if os.Getenv("DRIVER_TEST_STACKS") != "" {
				buf := make([]byte, 1<<20)
				b.WriteString(string(buf[:runtime.Stack(buf, true)]))
			}
			t.Fatalf("no %s effect after %v; effects so far:\n%s", what, waitTimeout, b.String())
		}
	}
}

func isEffect(typ fsm.EffectType, id int64) func(fsm.Effect) bool {
	return func(e fsm.Effect) bool { return e.Type == typ && (id == 0 || e.Checkpoint == id) }
}

// twoRegions is src(2, fallback coordinator) -> sink(2), pointwise pipelined:
// regions r0 = {src/0, sink/0} (tasks 0, 2) and r1 = {src/1, sink/1} (tasks 1, 3).
func twoRegions() fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2, Coordinator: fsm.CoordinatorFallback}, {ID: "sink", Parallelism: 2}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	}
}

var testTopo, _ = fsm.NewTopology(twoRegions())

func testConfig(intervalMs int64) fsm.Config {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = intervalMs
	return cfg
}

func regionalConfig(intervalMs int64) fsm.Config {
	cfg := testConfig(intervalMs)
	cfg.Regional.Enabled = true
	cfg.Regional.MaxFailureRatio = 0.5
	return cfg
}

// harness is a driver on a fake clock with a recording executor.
type harness struct {
	t     *testing.T
	dir   string
	clock *fakeClock
	exec  *recExec
	d     *Driver
}

func openHarness(t *testing.T, dir string, cfg fsm.Config) *harness {
	t.Helper()
	return reopenHarness(t, dir, cfg, newFakeClock())
}

// reopenHarness opens a driver on dir with a clock that goes on from an earlier
// incarnation's, as a real one does across a restart.
func reopenHarness(t *testing.T, dir string, cfg fsm.Config, clock *fakeClock) *harness {
	t.Helper()
	h := &harness{t: t, dir: dir, clock: clock, exec: newRecExec()}
	d, err := Open(dir, twoRegions(), cfg, Options{Clock: h.clock, Executor: h.exec, OnRefused: h.exec.refuse})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { d.Close() })
	return h
}

func (h *harness) ackAll(id int64, tasks ...fsm.TaskID) {
	h.t.Helper()
	for _, task := range tasks {
		if err := h.d.Ack(id, task); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *harness) status() Status {
	h.t.Helper()
	st, err := h.d.Status()
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func ptrTo[T any](v T) *T { return &v }

// flush waits until the event loop has applied every event submitted so far
// and the effect worker has carried out every effect queued by then (the observer sees an effect before it is carried out).
func (h *harness) flush() {
	h.t.Helper()
	b := make(chan struct{})
	// Pushed from the loop, after every event queued so far is applied.
	if err := h.d.call(func() { h.d.fx.push(fxItem{barrier: b}) }); err != nil {
		h.t.Fatal(err)
	}
	select {
	case <-b:
	case <-time.After(waitTimeout):
		h.t.Fatal("the effect worker did not drain")
	}
}
