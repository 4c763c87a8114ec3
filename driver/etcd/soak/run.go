package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/anishathalye/porcupine"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/driver/linearizability"
)

// The job configuration every node serves with: what a GET shows before any
// override, and the max_timeout_ms guardrail that makes some patches invalid.
const (
	baseIntervalMs = 1000
	baseTimeoutMs  = 3000
	maxTimeoutMs   = 4000
)

// serveArgs are the flags of `ckpt serve` the soak adds to the HA ones.
func serveArgs() []string {
	return []string{"--interval", fmt.Sprint(baseIntervalMs), "--timeout", fmt.Sprint(baseTimeoutMs),
		"--max-timeout", fmt.Sprint(maxTimeoutMs)}
}

// findRepo returns the repository root: the nearest directory above the
// working directory holding cmd/ckpt.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "cmd", "ckpt")); err == nil && st.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no cmd/ckpt above the working directory: run from the repository or pass -ckpt")
		}
		dir = parent
	}
}

// buildCkpt builds the ckpt binary of this repository into dir.
func buildCkpt(dir string) (string, error) {
	repo, err := findRepo()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ckpt")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ckpt")
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/ckpt: %v\n%s", err, out)
	}
	return bin, nil
}

// world is everything a soak runs.
type world struct {
	p     params
	log   func(format string, args ...any)
	dir   string
	cl    *cluster
	etcd  *clientv3.Client
	fl    *fleet
	jobs  []*jobClients
	cs    []*client
	stats clientStats
	in    *injector
}

// run runs one soak and checks it.
func run(p params, out io.Writer) (*result, error) {
	logf := func(format string, args ...any) {
		fmt.Fprintf(out, "%s soak: %s\n", time.Now().UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
	}
	etcdBin, err := findEtcd()
	if err != nil {
		return nil, err
	}
	w := &world{p: p, log: logf}
	if p.keep != "" {
		w.dir = p.keep
		err = os.MkdirAll(w.dir, 0o755)
	} else {
		w.dir, err = os.MkdirTemp("", "ckpt-soak-")
	}
	if err != nil {
		return nil, err
	}
	bin := p.ckpt
	if bin == "" {
		logf("building ckpt")
		if bin, err = buildCkpt(w.dir); err != nil {
			return nil, err
		}
	}
	logf("starting a 3-member etcd cluster (%s) under %s", etcdBin, w.dir)
	if w.cl, err = startCluster(etcdBin, w.dir, 3); err != nil {
		return nil, err
	}
	defer w.cl.stop()
	if w.etcd, err = w.cl.client(); err != nil {
		return nil, err
	}
	defer w.etcd.Close()
	if w.fl, err = newFleet(bin, w.dir, w.cl.hostPorts(), p.nodes, p.jobs, p.leaseTTL, serveArgs()); err != nil {
		return nil, err
	}
	defer w.fl.stopAll(syscall.SIGKILL)
	if err := w.startNodes(); err != nil {
		return nil, err
	}
	res, err := w.soak()
	if err == nil && p.keep == "" && len(res.violations()) == 0 {
		defer os.RemoveAll(w.dir)
	} else {
		res.Dir = w.dir
	}
	return res, err
}

// startNodes starts every serve process and waits until every job has a leader.
func (w *world) startNodes() error {
	for _, nd := range w.fl.nodes {
		if err := w.fl.start(nd); err != nil {
			return err
		}
	}
	return w.fl.waitLeaders(w.p.jobs, time.Minute)
}

// soak runs the clients and the faults epoch by epoch, then checks.
func (w *world) soak() (*result, error) {
	p := w.p
	for i, job := range p.jobs {
		jc := &jobClients{job: job, rec: linearizability.NewClientRecorder(), completed: map[int64]time.Time{}}
		w.jobs = append(w.jobs, jc)
		for k := range p.clientsPerJob {
			w.cs = append(w.cs, &client{jc: jc, nodes: w.fl.nodes, id: jc.rec.NewClient(), stats: &w.stats,
				rnd:  rand.New(rand.NewPCG(p.seed, uint64(i*1000+k))),
				http: newHTTPClient(1500 * time.Millisecond)})
		}
	}
	w.in = &injector{rnd: rand.New(rand.NewPCG(p.seed, 0xfa17)), cl: w.cl, etcd: w.etcd, fl: w.fl, jobs: p.jobs,
		leaseTTL: p.leaseTTL, gapMin: p.gapMin, gapMax: p.gapMax, counts: map[string]int{}, note: w.note}
	started := time.Now()
	epochs := 0
	for left := p.duration; left > 0; left -= p.epoch {
		epochs++
		d := min(left, p.epoch)
		w.log("epoch %d: clients and faults for %v", epochs, d)
		if err := w.epoch(d); err != nil {
			return nil, err
		}
		if err := w.settle(); err != nil {
			return nil, err
		}
	}
	w.in.wait()
	ran := time.Since(started)
	w.log("checking")
	return w.check(ran, epochs)
}

// note records a fault in every job's history, for porcupine's visualization.
func (w *world) note(start, end time.Time, what string) {
	w.log("fault: %s", what)
	for _, jc := range w.jobs {
		now := jc.rec.Now()
		jc.rec.Fault(now-time.Since(start).Nanoseconds(), now-time.Since(end).Nanoseconds(), what)
	}
}

// epoch runs the clients and the injector for d and returns once they all
// stopped, every fault healed.
func (w *world) epoch(d time.Duration) error {
	stop := make(chan struct{})
	errs := make(chan error, len(w.cs)+1)
	var wg sync.WaitGroup
	for _, c := range w.cs {
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
				// Think time: tens of operations per second per client keep a
				// job's history checkable in seconds.
				time.Sleep(time.Duration(20+c.rnd.IntN(80)) * time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := w.in.run(stop); err != nil {
			errs <- fmt.Errorf("fault injection: %w", err)
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

// settle ends an epoch with nothing in flight: every node stopped cleanly and
// started again, which drops any patch a node still held unwritten — so that
// every unknown outcome so far is decided (ClientRecorder.Settle) — then a
// read of each job's configuration and progress pins the state, and
// porcupine can check the history in segments.
func (w *world) settle() error {
	for _, nd := range w.fl.nodes {
		if nd.running() {
			_ = nd.signal(syscall.SIGCONT)
		}
	}
	for _, m := range w.cl.members {
		if !m.running() {
			if err := w.cl.restart(m); err != nil {
				return err
			}
		}
	}
	if err := w.cl.waitHealthy(time.Minute); err != nil {
		return err
	}
	w.fl.stopAll(syscall.SIGTERM)
	w.in.count(faultFullRestart)
	if err := w.startNodes(); err != nil {
		return err
	}
	for _, jc := range w.jobs {
		jc.rec.Settle(jc.rec.Now())
		pin := &client{jc: jc, nodes: w.fl.nodes, id: jc.rec.NewClient(), stats: &w.stats,
			rnd: rand.New(rand.NewPCG(w.p.seed, 0x919)), http: newHTTPClient(5 * time.Second)}
		for _, read := range []func() (bool, error){pin.getConfig, pin.getProgress} {
			deadline := time.Now().Add(time.Minute)
			for {
				ok, err := read()
				if err != nil {
					return err
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("job %s: no pinning read succeeded within a minute after a restart", jc.job)
				}
			}
		}
		pin.http.CloseIdleConnections()
	}
	return nil
}

// jobResult is what the checks found for one job.
type jobResult struct {
	Job                string      `json:"job"`
	Linearizable       string      `json:"linearizable"` // porcupine's verdict on both objects
	Illegal            bool        `json:"illegal"`      // either verdict is Illegal (a timeout is Unknown: reported, not a violation)
	Check              string      `json:"check"`        // its summary
	ConfigOps          int         `json:"config_ops"`
	ProgressReads      int         `json:"progress_reads"`
	LostOverrides      []lostPatch `json:"acknowledged_overrides_lost"`         // acknowledged, never held by etcd
	StaleReads         []lostPatch `json:"acknowledged_overrides_contradicted"` // a later read showed an older value
	FinalOverrides     string      `json:"final_overrides"`                     // etcd's against the last read
	OverridesMismatch  bool        `json:"overrides_mismatch"`
	Completed          int         `json:"checkpoints_completed"` // distinct ids reads reported completed
	LatestCompleted    int64       `json:"latest_completed"`      // in etcd at the end
	LostCheckpoints    []int64     `json:"lost_checkpoints"`
	CheckpointsInStore int         `json:"checkpoints_in_store"`
	KeptHistory        []string    `json:"kept_history,omitempty"`
}

// check runs every check once the soak is over and every node stopped.
func (w *world) check(ran time.Duration, epochs int) (*result, error) {
	// The final reads were the last epoch's pinning reads; stop every node so
	// that etcd holds still while it is read.
	w.fl.stopAll(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res := &result{Seed: w.p.seed, Duration: ran.Round(time.Second).String(), Epochs: epochs, Nodes: w.p.nodes,
		Jobs: len(w.p.jobs), Clients: len(w.cs), LeaseTTL: w.p.leaseTTL.String(), Faults: map[string]int{}}
	w.in.mu.Lock()
	for k, n := range w.in.counts {
		res.Faults[k] = n
	}
	var kill, pause []takeover
	for _, t := range w.in.takeovers {
		if t.Kind == faultLeaderKill {
			kill = append(kill, t)
		} else {
			pause = append(pause, t)
		}
	}
	res.TakeoverKill, res.TakeoverPause = summarize(kill), summarize(pause)
	res.TakeoverAll = summarize(append(append([]takeover(nil), kill...), pause...))
	res.MissingTakeovers = append([]takeover(nil), w.in.missing...)
	res.EtcdFailover = summarize(w.in.etcdDown)
	w.in.mu.Unlock()
	res.Requests = requestCounts{Patches: w.stats.patches.Load(), PatchOK: w.stats.patchOK.Load(),
		PatchRejected: w.stats.patchRejected.Load(), PatchUnknown: w.stats.patchUnknown.Load(),
		Gets: w.stats.gets.Load(), GetFailed: w.stats.getFailed.Load(), Redirects: w.stats.redirects.Load(),
		Unavailable: w.stats.unavailable.Load()}
	fc, err := checkFencing(ctx, w.etcd)
	if err != nil {
		return nil, err
	}
	res.Fencing = fc.rep
	base := linearizability.ConfigBase{IntervalMs: baseIntervalMs, TimeoutMs: baseTimeoutMs, MaxTimeoutMs: maxTimeoutMs}
	for _, jc := range w.jobs {
		h, err := jc.rec.History(base)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", jc.job, err)
		}
		jr := jobResult{Job: jc.job, ConfigOps: len(h.ConfigOps), ProgressReads: len(h.ProgressOps)}
		chk := linearizability.CheckClientHistory(h, w.p.checkTimeout)
		jr.Linearizable = fmt.Sprintf("config %s, progress %s", chk.Config, chk.Progress)
		jr.Check, jr.Illegal = chk.String(), chk.Illegal()
		if chk.Config != porcupine.Ok || chk.Progress != porcupine.Ok {
			paths, err := chk.Keep(filepath.Join(w.dir, "history-"+jc.job))
			if err != nil {
				w.log("job %s: keeping the history: %v", jc.job, err)
			}
			jr.KeptHistory = paths
		}
		jr.LostOverrides = notInEtcd(h.ConfigOps, fc.overrides[jc.job])
		jr.StaleReads = contradicted(base, h.ConfigOps)
		fs, err := readFinalStore(ctx, w.etcd, jc.job)
		if err != nil {
			return nil, fmt.Errorf("job %s: reading etcd: %w", jc.job, err)
		}
		lastCfg, lastProg := lastReads(h)
		jr.FinalOverrides, jr.OverridesMismatch = compareOverrides(fs, lastCfg)
		jc.mu.Lock()
		var reported []int64
		for id := range jc.completed {
			reported = append(reported, id)
		}
		jc.mu.Unlock()
		sort.Slice(reported, func(i, j int) bool { return reported[i] < reported[j] })
		jr.Completed = len(reported)
		jr.CheckpointsInStore = len(fs.checkpoints)
		final := fs.latest
		jr.LatestCompleted = final.Latest
		if lastProg.Latest > final.Latest {
			// The last read showed a checkpoint etcd no longer holds as latest.
			reported = append(reported, lastProg.Latest)
		}
		jr.LostCheckpoints = lostCheckpoints(reported, final, fs.checkpoints)
		res.JobResults = append(res.JobResults, jr)
	}
	return res, nil
}

// lastReads returns the last configuration and progress reads of h (by call
// time): the pinning reads after the last restart.
func lastReads(h linearizability.ClientHistory) (linearizability.ConfigOutput, linearizability.ProgressOutput) {
	var cfg linearizability.ConfigOutput
	var prog linearizability.ProgressOutput
	var cfgAt, progAt int64 = -1, -1
	for _, op := range h.ConfigOps {
		if op.Input.(linearizability.ConfigInput).Op == linearizability.ConfigGet && op.Call > cfgAt {
			cfg, cfgAt = op.Output.(linearizability.ConfigOutput), op.Call
		}
	}
	for _, op := range h.ProgressOps {
		if op.Call > progAt {
			prog, progAt = op.Output.(linearizability.ProgressOutput), op.Call
		}
	}
	return cfg, prog
}

// compareOverrides compares the overrides etcd holds with the last read of
// the configuration: after the last restart nothing wrote, so they agree.
func compareOverrides(fs finalStore, last linearizability.ConfigOutput) (string, bool) {
	if fs.overrides == nil {
		return "none", last.OverridesActive
	}
	s := fmt.Sprintf("interval %d timeout %d", fs.overrides[0], fs.overrides[1])
	return s, !last.OverridesActive || last.IntervalMs != fs.overrides[0] || last.TimeoutMs != fs.overrides[1]
}

// metadataOf decodes the metadata of a checkpoint value (driver/etcd's
// envelope carries driver.Metadata's own JSON).
func metadataOf(value []byte) (driver.Metadata, error) {
	var v struct {
		Metadata *driver.Metadata `json:"metadata"`
	}
	if err := json.Unmarshal(value, &v); err != nil || v.Metadata == nil {
		return driver.Metadata{}, fmt.Errorf("no metadata in %s", value)
	}
	return *v.Metadata, nil
}
