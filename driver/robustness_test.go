package driver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/ckptcore/ckptcore/driver/linearizability"
	"github.com/ckptcore/ckptcore/fsm"
)

// The robustness test, after etcd's tests/robustness: a real driver serves its
// REST API on a loopback port while concurrent clients PATCH and GET it and a
// fault injector restarts it from its store, fails store writes and slows
// effects down. Every client operation is recorded with its call and return
// time; porcupine then checks the history against the models in
// driver/linearizability. A failed check keeps the history and porcupine's
// HTML under a temporary directory.
//
// Knobs (environment):
//
//	CKPT_LIN_DURATION  how long the clients run (default 3s; e.g. 2m for a soak)
//	CKPT_LIN_SEED      the seed of every random choice (default 1); the timing is real
//	CKPT_LIN_CLIENTS   concurrent clients (default 8)
//	CKPT_LIN_KEEP      keep the history (and write clients.json) even when it checks Ok
const (
	linDurationEnv = "CKPT_LIN_DURATION"
	linSeedEnv     = "CKPT_LIN_SEED"
	linClientsEnv  = "CKPT_LIN_CLIENTS"
	linKeepEnv     = "CKPT_LIN_KEEP"
)

// linJobID is the job the API serves.
const linJobID = "robust"

// linJob is src(4, fallback coordinator) -> sink(4), pointwise and pipelined:
// four regions {src/i, sink/i}, so regional completions have refs to show.
func linJob() fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 4, Coordinator: fsm.CoordinatorFallback}, {ID: "sink", Parallelism: 4}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	}
}

func linConfig() fsm.Config {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs = 20
	// Short, so a checkpoint whose trigger was never sent (the id counter write
	// failed) expires soon and progress goes on.
	cfg.TimeoutMs = 500
	cfg.MaxTimeoutMs = 4000 // a patch above it is rejected (R60)
	cfg.Retained = 2
	cfg.TolerableFailures = 1 << 20 // injected failures must not fail the job
	cfg.Regional.Enabled = true
	cfg.Regional.MaxFailureRatio = 0.5
	cfg.Regional.MaxConsecutive = 3
	return cfg
}

// faults is what the injector turns up and down; the store and the tasks read it.
type faults struct {
	mu        sync.Mutex
	rnd       *rand.Rand
	failRate  float64       // share of store writes that fail
	maxDelay  time.Duration // each store write and trigger sleeps up to this
	declines  float64       // share of triggers a region declines
	taskFails float64       // share of triggers a subtask fails over in
}

func (f *faults) draw() (fail, failAfterWrite bool, delay time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.maxDelay > 0 {
		delay = time.Duration(f.rnd.Int64N(int64(f.maxDelay)))
	}
	fail = f.rnd.Float64() < f.failRate
	// Half of the failures come after the write reached the disk (an fsync of
	// the directory that failed): the outcome is unknown to the driver too.
	return fail, fail && f.rnd.IntN(2) == 0, delay
}

func (f *faults) set(failRate float64, maxDelay time.Duration) {
	f.mu.Lock()
	f.failRate, f.maxDelay = failRate, maxDelay
	f.mu.Unlock()
}

func (f *faults) intN(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rnd.IntN(n)
}

func (f *faults) chance(p float64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rnd.Float64() < p
}

var errInjected = errors.New("injected store failure")

// faultyStore is a FileStore whose writes are slowed down and sometimes fail,
// before or after they reach the disk. Deletes are left alone: a failed
// delete after a failed persist leaves an aborted checkpoint's metadata
// behind, which the next Open takes for completed (driver/effector.go warns
// about it) — a store question, not one of what clients observe.
type faultyStore struct {
	*FileStore
	f *faults
}

func (s *faultyStore) write(do func() error) error {
	fail, after, delay := s.f.draw()
	time.Sleep(delay)
	if fail && !after {
		return errInjected
	}
	if err := do(); err != nil {
		return err
	}
	if fail {
		return errInjected
	}
	return nil
}

func (s *faultyStore) Save(m Metadata) error {
	return s.write(func() error { return s.FileStore.Save(m) })
}

func (s *faultyStore) SaveOverrides(intervalMs, timeoutMs int64) error {
	return s.write(func() error { return s.FileStore.SaveOverrides(intervalMs, timeoutMs) })
}

func (s *faultyStore) SaveNextID(next int64) error {
	return s.write(func() error { return s.FileStore.SaveNextID(next) })
}

// simTasks are the job's subtasks, in process: they ack every trigger after a
// short delay, sometimes with a region declining (a regional completion then
// refers to older state) or a subtask failing over and coming back. A trigger
// also blocks the effect worker for up to a quarter of the injected delay,
// which holds up every later effect: persists, overrides writes, PATCH answers.
type simTasks struct {
	NopExecutor
	f  *faults
	wg *sync.WaitGroup
	d  atomic.Pointer[Driver]
}

func (x *simTasks) Attach(d *Driver) { x.d.Store(d) }

func (x *simTasks) TriggerCheckpoint(id int64, _ fsm.Kind, _ bool, tasks fsm.TaskSet, _ time.Time) {
	_, _, delay := x.f.draw()
	time.Sleep(delay / 4)
	decline, fail := fsm.TaskID(-1), fsm.TaskID(-1)
	if x.f.chance(x.f.declines) {
		decline = fsm.TaskID(x.f.intN(8))
	}
	if x.f.chance(x.f.taskFails) {
		fail = fsm.TaskID(x.f.intN(8))
	}
	d := x.d.Load()
	ackDelay := time.Duration(x.f.intN(3)) * time.Millisecond
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		time.Sleep(ackDelay)
		// Errors are expected: a closed driver (a restart), a subtask that is
		// not running. The core decides; the test only watches the API.
		tasks.All(func(task fsm.TaskID) bool {
			switch task {
			case decline:
				_ = d.Decline(id, task, "")
			case fail:
				_ = d.TaskFailed(task)
				time.Sleep(time.Millisecond)
				_ = d.TaskRunning(task)
			default:
				_ = d.Ack(id, task)
			}
			return true
		})
	}()
}

// swapHandler serves whichever driver's handler is current.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

// linWorld is the system under test: the store directory, the current driver
// incarnation and the HTTP server in front of it.
type linWorld struct {
	dir  string
	f    *faults
	sw   swapHandler
	wg   sync.WaitGroup // simulated subtasks' goroutines
	addr string

	cur atomic.Pointer[Driver] // the incarnation serving now

	mu    sync.Mutex // guards what follows, changed by the injector only
	d     *Driver
	fs    *FileStore
	srv   *http.Server
	serve chan error
}

func (w *linWorld) open() error {
	fs, err := OpenFileStore(w.dir)
	if err != nil {
		return err
	}
	d, err := New(&faultyStore{FileStore: fs, f: w.f}, linJob(), linConfig(),
		Options{Executor: &simTasks{f: w.f, wg: &w.wg}})
	if err != nil {
		fs.Close()
		return err
	}
	w.d, w.fs = d, fs
	w.cur.Store(d)
	w.sw.set(NewHandler(d, linJobID, HandlerOptions{PatchTimeout: 300 * time.Millisecond}))
	return nil
}

func (w *linWorld) current() *Driver { return w.cur.Load() }

// closeDriver stops the current incarnation; its handler answers 503 (the
// driver is closed) until open replaces it.
func (w *linWorld) closeDriver() {
	w.d.Close()
	w.fs.Close()
}

func (w *linWorld) listen() error {
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago; retry briefly if it lingers
		if ln, err = net.Listen("tcp", w.addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	w.addr = ln.Addr().String()
	w.srv = &http.Server{Handler: &w.sw, ReadHeaderTimeout: 5 * time.Second}
	w.serve = make(chan error, 1)
	go func(srv *http.Server, done chan error) { done <- srv.Serve(ln) }(w.srv, w.serve)
	return nil
}

func (w *linWorld) stopServer() {
	w.srv.Close() // in-flight requests see their connection drop
	<-w.serve
}

// restart closes the driver and opens it again on the same directory (R50);
// with down, the HTTP server goes away too, so clients see connection errors
// rather than 503, and in-flight requests are cut.
func (w *linWorld) restart(down bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if down {
		w.stopServer()
	}
	w.closeDriver()
	if err := w.open(); err != nil {
		return err
	}
	if down {
		return w.listen()
	}
	return nil
}

func (w *linWorld) shutdown() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopServer()
	w.closeDriver()
	w.wg.Wait()
}

// linValues hands out the values clients patch in, each one different from
// every other until a range wraps: a torn pair is then one no patch wrote, and
// linearizability.BoundUnknownPatches can resolve nearly every unknown outcome (a
// value nobody read was not in force; a value only one patch wrote and some
// get read was). Intervals run up to 2 s, timeouts up to max_timeout_ms.
type linValues struct{ interval, timeout atomic.Int64 }

func (v *linValues) next() (interval, timeout int64) {
	// k·7919 mod m visits all of [0, m) before repeating: 7919 is a prime
	// dividing neither range.
	return 10 + (v.interval.Add(1)*7919)%1990, 200 + (v.timeout.Add(1)*7919)%3800
}

// linClient is one simulated REST client.
type linClient struct {
	rec  *linearizability.ClientRecorder
	http *http.Client
	base string
	rnd  *rand.Rand
	vals *linValues
	id   int
}

// patchInput draws a patch: mostly both fields, sometimes one, sometimes an
// invalid value (R60: rejected, changes nothing).
func (c *linClient) patchInput() linearizability.ConfigInput {
	in := linearizability.ConfigInput{Op: linearizability.ConfigPatch}
	interval, timeout := c.vals.next()
	switch k := c.rnd.IntN(20); {
	case k < 12:
		in.IntervalMs, in.TimeoutMs = &interval, &timeout
	case k < 15:
		in.IntervalMs = &interval
	case k < 18:
		in.TimeoutMs = &timeout
	case k == 18:
		bad := 1 + c.rnd.Int64N(9) // below §2's minimum (0 would be valid)
		in.IntervalMs, in.TimeoutMs = &bad, &timeout
	default:
		bad := 4001 + c.rnd.Int64N(1000) // above max_timeout_ms
		in.TimeoutMs = &bad
	}
	return in
}

func (c *linClient) do(method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func decodeConfig(b []byte) (linearizability.ConfigOutput, error) {
	var cfg configJSON
	if err := json.Unmarshal(b, &cfg); err != nil {
		return linearizability.ConfigOutput{}, err
	}
	return linearizability.ConfigOutput{Outcome: linearizability.OutcomeOK, IntervalMs: cfg.Interval, TimeoutMs: cfg.Timeout,
		OverridesActive: cfg.OverridesActive.Get()}, nil
}

func decodeProgress(b []byte, regions int) (linearizability.ProgressOutput, error) {
	var body checkpointsJSON
	if err := json.Unmarshal(b, &body); err != nil {
		return linearizability.ProgressOutput{}, err
	}
	c := body.Latest.Completed
	if c == nil {
		return linearizability.ProgressOutput{}, nil
	}
	out := linearizability.ProgressOutput{Latest: c.ID, Refs: make([]int64, regions)}
	for r := range regions {
		ref, ok := c.Refs.Get()[fsm.RegionName(r)]
		if !ok {
			return out, fmt.Errorf("latest completed %d has no ref for %s: %s", c.ID, fsm.RegionName(r), b)
		}
		out.Refs[r] = ref
	}
	return out, nil
}

// step runs one operation and records it. It returns an error only for what
// no fault explains (a harness bug or a driver answering nonsense).
func (c *linClient) step() error {
	prefix := "/jobs/" + linJobID + "/checkpoints"
	switch k := c.rnd.IntN(20); {
	case k < 7:
		in := c.patchInput()
		body := map[string]int64{}
		if in.IntervalMs != nil {
			body[fieldInterval] = *in.IntervalMs
		}
		if in.TimeoutMs != nil {
			body[fieldTimeout] = *in.TimeoutMs
		}
		b, _ := json.Marshal(body)
		call, err := c.rec.Call(c.id, in)
		if err != nil {
			return err
		}
		status, resp, err := c.do(http.MethodPatch, prefix+"/configuration", b)
		switch {
		case err == nil && status == http.StatusOK:
			// The answer carries the configuration the driver read after the
			// patch applied, in a step of its own. It is not recorded: as a get
			// spanning the whole PATCH it multiplies porcupine's search (25
			// times the steps, measured), and GETs check the same thing.
			if _, derr := decodeConfig(resp); derr != nil {
				return fmt.Errorf("PATCH answer %s: %v", resp, derr)
			}
			return c.rec.Return(call, linearizability.ConfigOutput{Outcome: linearizability.OutcomeOK})
		case err == nil && status == http.StatusBadRequest:
			return c.rec.Return(call, linearizability.ConfigOutput{Outcome: linearizability.OutcomeRejected})
		case err == nil && status < 500:
			return fmt.Errorf("PATCH %s: %d %s", b, status, resp)
		}
		// A transport error, 503 (store failure, restart) or 504: the patch
		// may still take effect.
		c.id, err = c.rec.Unknown(call, linearizability.ConfigOutput{Outcome: linearizability.OutcomeUnknown})
		c.backOff()
		return err
	case k < 16:
		_, err := c.getConfig()
		return err
	default:
		_, err := c.getProgress()
		return err
	}
}

// backOff waits a little after a failed request, as a real client would:
// during a restart a client that retried at once would fill the history with
// thousands of failed calls.
func (c *linClient) backOff() { time.Sleep(2 * time.Millisecond) }

// getConfig reads the configuration; a failed read is dropped (ok false).
func (c *linClient) getConfig() (ok bool, err error) {
	call, err := c.rec.Call(c.id, linearizability.ConfigInput{Op: linearizability.ConfigGet})
	if err != nil {
		return false, err
	}
	status, resp, err := c.do(http.MethodGet, "/jobs/"+linJobID+"/checkpoints/config", nil)
	if err != nil || status != http.StatusOK {
		c.rec.Drop(call)
		c.backOff()
		return false, nil
	}
	out, err := decodeConfig(resp)
	if err != nil {
		return false, fmt.Errorf("GET config %s: %v", resp, err)
	}
	return true, c.rec.Return(call, out)
}

// getProgress reads the checkpoint statistics; a failed read is dropped.
func (c *linClient) getProgress() (ok bool, err error) {
	call, err := c.rec.Call(c.id, linearizability.ProgressInput{Job: linJobID})
	if err != nil {
		return false, err
	}
	status, resp, err := c.do(http.MethodGet, "/jobs/"+linJobID+"/checkpoints", nil)
	if err != nil || status != http.StatusOK {
		c.rec.Drop(call)
		c.backOff()
		return false, nil
	}
	out, err := decodeProgress(resp, 4)
	if err != nil {
		return false, err
	}
	return true, c.rec.Return(call, out)
}

// linParams shape one run.
type linParams struct {
	duration time.Duration
	clients  int
	seed     uint64
}

func linParamsFromEnv(t *testing.T) linParams {
	p := linParams{duration: 3 * time.Second, clients: 8, seed: 1}
	if s := os.Getenv(linDurationEnv); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s=%q: %v", linDurationEnv, s, err)
		}
		p.duration = d
	}
	if s := os.Getenv(linSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", linSeedEnv, s, err)
		}
		p.seed = seed
	}
	if s := os.Getenv(linClientsEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", linClientsEnv, s)
		}
		p.clients = n
	}
	return p
}

// linStats counts what happened in a run, to show the faults did bite.
type linStats struct {
	epochs, restarts, downs, failBursts, delayBursts int
}

// linEpoch is how long clients run between two pauses. A run longer than one
// epoch pauses every client, restarts the driver with nothing in flight —
// which settles every unknown outcome (ClientRecorder.Settle) — and pins the
// state with a read of each endpoint, so that the checker can cut the history
// there: porcupine's cost grows with the square of an unbroken history.
const linEpoch = 3 * time.Second

// runLinearizability runs the clients against a faulty driver for p.duration
// and returns the recorded history.
func runLinearizability(t *testing.T, p linParams) (linearizability.ClientHistory, linStats) {
	t.Helper()
	f := &faults{rnd: rand.New(rand.NewPCG(p.seed, 0xfa)), failRate: 0.05, maxDelay: time.Millisecond,
		declines: 0.3, taskFails: 0.05}
	w := &linWorld{dir: t.TempDir(), f: f, addr: "127.0.0.1:0"}
	if err := w.open(); err != nil {
		t.Fatal(err)
	}
	if err := w.listen(); err != nil {
		t.Fatal(err)
	}
	rec := linearizability.NewClientRecorder()
	vals := &linValues{}
	var clients []*linClient
	for i := range p.clients {
		clients = append(clients, &linClient{rec: rec, base: "http://" + w.addr, vals: vals, id: rec.NewClient(),
			rnd:  rand.New(rand.NewPCG(p.seed, uint64(i))),
			http: &http.Client{Timeout: time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1}}})
	}
	injector := rand.New(rand.NewPCG(p.seed, 0x1ec7))
	var st linStats
	for left := p.duration; left > 0; left -= linEpoch {
		if st.epochs > 0 {
			// Every client has returned: restart, settle, pin.
			if err := w.restart(false); err != nil {
				t.Fatal(err)
			}
			rec.Settle(rec.Now())
			pin := &linClient{rec: rec, base: "http://" + w.addr, id: rec.NewClient(), http: &http.Client{Timeout: 5 * time.Second}}
			for _, read := range []func() (bool, error){pin.getConfig, pin.getProgress} {
				if ok, err := read(); err != nil || !ok {
					t.Fatalf("pinning read after a restart: ok %v, %v", ok, err)
				}
			}
		}
		st.epochs++
		if err := runEpoch(w, rec, clients, injector, min(left, linEpoch), &st); err != nil {
			w.shutdown()
			t.Fatal(err)
		}
	}
	w.shutdown()
	for _, c := range clients {
		c.http.CloseIdleConnections()
	}
	cfg := linConfig()
	h, err := rec.History(linearizability.ConfigBase{IntervalMs: cfg.IntervalMs, TimeoutMs: cfg.TimeoutMs, MaxTimeoutMs: cfg.MaxTimeoutMs})
	if err != nil {
		t.Fatal(err)
	}
	return h, st
}

// runEpoch runs the clients, the fault injector and the checkpoint requests for
// d, and returns once all of them stopped (nothing is in flight then).
func runEpoch(w *linWorld, rec *linearizability.ClientRecorder, clients []*linClient, rnd *rand.Rand, d time.Duration, st *linStats) error {
	stop := make(chan struct{})
	errs := make(chan error, len(clients)+1)
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.step(); err != nil {
					errs <- err
					return
				}
				// Think time: a few hundred operations per second per client keep
				// histories checkable in seconds.
				time.Sleep(time.Duration(c.rnd.IntN(1500)) * time.Microsecond)
			}
		}()
	}
	// Checkpoints are requested by hand too (R12), so that progress does not
	// hang on the intervals clients patch in: those are mostly long, because
	// their values must be unique (linValues).
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			_ = w.current().Trigger(fsm.KindCheckpoint) // ErrClosed during a restart
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(50+rnd.IntN(200)) * time.Millisecond):
			}
			start := rec.Now()
			var what string
			switch k := rnd.IntN(10); {
			case k < 4:
				down := rnd.IntN(2) == 0
				if err := w.restart(down); err != nil {
					errs <- fmt.Errorf("restart: %w", err)
					return
				}
				st.restarts++
				what = "restart (503 meanwhile)"
				if down {
					st.downs++
					what = "restart with the HTTP server down"
				}
			case k < 7:
				w.f.set(0.5, time.Millisecond)
				time.Sleep(time.Duration(50+rnd.IntN(150)) * time.Millisecond)
				w.f.set(0.05, time.Millisecond)
				st.failBursts++
				what = "half the store writes fail"
			default:
				w.f.set(0.05, 20*time.Millisecond)
				time.Sleep(time.Duration(50+rnd.IntN(150)) * time.Millisecond)
				w.f.set(0.05, time.Millisecond)
				st.delayBursts++
				what = "store writes and triggers delayed up to 20ms"
			}
			rec.Fault(start, rec.Now(), what)
		}
	}()
	var err error
	select {
	case <-time.After(d):
	case err = <-errs:
	}
	close(stop)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errs:
		default:
		}
	}
	return err
}

// linCheckTimeout bounds porcupine per object; a check that times out is
// reported, and its history kept, but does not fail the test.
const linCheckTimeout = 20 * time.Second

// TestLinearizability is the robustness test. In the ckpt_nonatomic build GET
// reads a configuration published in two steps, and the test passes only if
// the check catches the torn read.
func TestLinearizability(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a driver under faults for seconds")
	}
	p := linParamsFromEnv(t)
	t.Logf("%s=%v %s=%d %s=%d", linDurationEnv, p.duration, linSeedEnv, p.seed, linClientsEnv, p.clients)
	attempts := 1
	if nonatomicConfig {
		attempts = 3 // the torn window is a millisecond wide: give it a few runs
	}
	for attempt := 1; attempt <= attempts; attempt++ {
		h, st := runLinearizability(t, p)
		began := time.Now()
		res := linearizability.CheckClientHistory(h, linCheckTimeout)
		t.Logf("run %d: %s; checked in %v; %d epochs, %d restarts (%d with the server down), %d write-failure bursts, %d delay bursts",
			attempt, res, time.Since(began).Round(time.Millisecond), st.epochs, st.restarts, st.downs, st.failBursts, st.delayBursts)
		logOutcomes(t, h)
		if nonatomicConfig {
			if res.Config == porcupine.Illegal {
				dir := t.TempDir() // Keep still runs, proving it works; the files go with the test
				if os.Getenv(linKeepEnv) != "" {
					var err error
					if dir, err = os.MkdirTemp("", "ckpt-linearizability-"); err != nil {
						t.Fatal(err)
					}
				}
				paths := keepHistory(t, res, dir)
				t.Logf("ckpt_nonatomic: the torn configuration read was caught, as it must be (kept %s)", strings.Join(paths, ", "))
				return
			}
			p.seed++
			continue
		}
		if res.Illegal() || res.Config == porcupine.Unknown || res.Progress == porcupine.Unknown || os.Getenv(linKeepEnv) != "" {
			dir, err := os.MkdirTemp("", "ckpt-linearizability-")
			if err != nil {
				t.Fatal(err)
			}
			paths := keepHistory(t, res, dir)
			msg := fmt.Sprintf("%s\nhistory and visualization kept:\n  %s", res, strings.Join(paths, "\n  "))
			if res.Illegal() {
				t.Fatalf("not linearizable: %s", msg)
			}
			if res.Config == porcupine.Unknown || res.Progress == porcupine.Unknown {
				t.Logf("check timed out (not a failure): %s", msg)
			} else {
				t.Logf("%s set: %s", linKeepEnv, msg)
			}
		}
		return
	}
	t.Fatalf("ckpt_nonatomic: %d runs and the torn configuration read was never caught", attempts)
}

func keepHistory(t *testing.T, res linearizability.ClientCheck, dir string) []string {
	t.Helper()
	paths, err := res.Keep(dir)
	if err != nil {
		t.Fatalf("keeping the history: %v", err)
	}
	for _, p := range paths {
		t.Logf("kept %s", p)
	}
	return paths
}

// logOutcomes shows what the clients saw, so that a run in which no fault bit
// (or no checkpoint completed) is visible.
func logOutcomes(t *testing.T, h linearizability.ClientHistory) {
	t.Helper()
	counts := map[string]int{}
	for _, op := range h.ConfigOps {
		in, out := op.Input.(linearizability.ConfigInput), op.Output.(linearizability.ConfigOutput)
		counts[string(in.Op)+" "+string(out.Outcome)]++
	}
	var latest int64
	for _, op := range h.ProgressOps {
		latest = max(latest, op.Output.(linearizability.ProgressOutput).Latest)
	}
	t.Logf("config operations %v; %d progress reads, latest completed checkpoint seen %d", counts, len(h.ProgressOps), latest)
	if latest == 0 {
		t.Errorf("no checkpoint completed: the progress model checked nothing")
	}
}

// TestLinearizabilitySavedHistories re-checks the histories kept under
// testdata/linearizability: a file named legal-*.json must check Ok, one named
// illegal-*.json must be reported illegal — a failing history saved there
// stays a regression test, and the illegal ones prove the checker still bites.
func TestLinearizabilitySavedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "linearizability", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var legal, illegal int
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			h, err := linearizability.ReadClientHistory(path)
			if err != nil {
				t.Fatal(err)
			}
			res := linearizability.CheckClientHistory(h, linCheckTimeout)
			switch {
			case strings.HasPrefix(name, "legal-"):
				legal++
				if res.Config != porcupine.Ok || res.Progress != porcupine.Ok {
					t.Fatalf("want linearizable: %s", res)
				}
			case strings.HasPrefix(name, "illegal-"):
				illegal++
				if !res.Illegal() {
					t.Fatalf("want not linearizable: %s", res)
				}
			default:
				t.Fatalf("name it legal-*.json or illegal-*.json to say what the check must conclude")
			}
		})
	}
	if legal == 0 || illegal == 0 {
		t.Fatalf("want at least one legal and one illegal saved history, have %d and %d", legal, illegal)
	}
}

// TestLinearizabilityShrink cuts a kept history down for testdata: with
// CKPT_LIN_SHRINK=<clients.json> it writes <clients.json>.min.json, a
// sub-history that is still illegal. It first keeps the shortest illegal
// prefix (by call time), then drops, one at a time, every get and every patch
// none of whose values a remaining get shows, keeping a drop only if the rest
// stays illegal. Dropping only those never makes a history illegal that was
// not (a read keeps the writer of every value it shows), so what is left
// fails for the reason the original did.
func TestLinearizabilityShrink(t *testing.T) {
	in := os.Getenv("CKPT_LIN_SHRINK")
	if in == "" {
		t.Skip("set CKPT_LIN_SHRINK to a kept clients.json")
	}
	h, err := linearizability.ReadClientHistory(in)
	if err != nil {
		t.Fatal(err)
	}
	illegal := func(ops []porcupine.Operation) bool {
		return linearizability.CheckClientHistory(linearizability.ClientHistory{Config: h.Config, ConfigOps: ops}, linCheckTimeout).Config == porcupine.Illegal
	}
	ops := append([]porcupine.Operation(nil), h.ConfigOps...)
	sort.Slice(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	if !illegal(ops) {
		t.Fatal("the configuration history is not illegal")
	}
	n := sort.Search(len(ops), func(n int) bool { return illegal(ops[:n]) })
	ops = ops[:n]
	read := func(ops []porcupine.Operation, interval bool, v int64) bool {
		for _, op := range ops {
			in, out := op.Input.(linearizability.ConfigInput), op.Output.(linearizability.ConfigOutput)
			if in.Op == linearizability.ConfigGet && ((interval && out.IntervalMs == v) || (!interval && out.TimeoutMs == v)) {
				return true
			}
		}
		return false
	}
	for i := len(ops) - 1; i >= 0; i-- {
		rest := append(append([]porcupine.Operation(nil), ops[:i]...), ops[i+1:]...)
		if in := ops[i].Input.(linearizability.ConfigInput); in.Op == linearizability.ConfigPatch &&
			((in.IntervalMs != nil && read(rest, true, *in.IntervalMs)) || (in.TimeoutMs != nil && read(rest, false, *in.TimeoutMs))) {
			continue
		}
		if illegal(rest) {
			ops = rest
		}
	}
	out := in + ".min.json"
	if err := linearizability.WriteClientHistory(out, linearizability.ClientHistory{Config: h.Config, ConfigOps: ops}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d configuration operations are enough: %s", len(ops), len(h.ConfigOps), out)
}
