package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

// node is one Manager of a test, as one `ckpt serve --etcd` process would run
// it: its own etcd client, drivers with acking executors, the "ha:" lines.
type node struct {
	name string
	cli  *clientv3.Client
	mgr  *Manager
	stop context.CancelFunc
	done chan struct{}

	mu        sync.Mutex
	lines     []string
	leaderAt  map[string]time.Time       // job -> when this node last took it over
	recovered map[string]fsm.Durable     // job -> what the last takeover loaded from etcd
	execs     map[string]*ackingExecutor // job -> the executor of the driver it runs
	// beforeClose, if set, runs when a term of this node starts closing a
	// job's driver (a test holds the close there).
	beforeClose func(job string)
}

// startNode starts a node that does not balance: it leads whatever it wins.
func startNode(t *testing.T, name string, jobs []string) *node {
	t.Helper()
	return startNodeBalancing(t, name, jobs, -1)
}

// startNodeBalancing starts a node that balances every period (negative: off).
func startNodeBalancing(t *testing.T, name string, jobs []string, period time.Duration) *node {
	t.Helper()
	return startNodeWith(t, name, jobs, ManagerOptions{BalanceInterval: period})
}

// startNodeWith starts a node with opt's BalanceInterval, Token and Hosts.
func startNodeWith(t *testing.T, name string, jobs []string, opt ManagerOptions) *node {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, cli: cli, done: make(chan struct{}), leaderAt: map[string]time.Time{},
		recovered: map[string]fsm.Durable{}, execs: map[string]*ackingExecutor{}}
	n.mgr, err = NewManager(cli, ManagerOptions{
		Node: name, URL: "http://" + name + ".invalid:8081", Jobs: jobs, LeaseTTL: time.Second,
		RetryDelay: 50 * time.Millisecond, Open: n.open, Logf: n.logf, BalanceInterval: opt.BalanceInterval,
		Token: opt.Token, Hosts: opt.Hosts,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stop = cancel
	go func() {
		n.mgr.Run(ctx)
		close(n.done)
	}()
	t.Cleanup(func() {
		n.stop()
		<-n.done
		n.cli.Close()
	})
	return n
}

func (n *node) open(job string, store *Store) (LedJob, error) {
	// What the driver is about to recover from, read the way it reads it.
	durable, err := store.Load()
	if err != nil {
		return nil, err
	}
	x := &ackingExecutor{}
	d, err := driver.New(store, testJob(), testConfig(), driver.Options{Executor: x, NoFlightRecorder: true})
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.recovered[job], n.execs[job], n.leaderAt[job] = durable, x, time.Now()
	n.mu.Unlock()
	stop := func() {
		n.mu.Lock()
		f := n.beforeClose
		n.mu.Unlock()
		if f != nil {
			f(job)
		}
	}
	return &DriverJob{Driver: d, Handler: driver.NewHandler(d, job, driver.HandlerOptions{PatchTimeout: 5 * time.Second}), Stop: stop}, nil
}

func (n *node) logf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lines = append(n.lines, fmt.Sprintf(format, args...))
}

// crash stops the node as a killed process stops: its etcd client goes away
// without revoking its leases, so a standby waits for them to expire.
func (n *node) crash() {
	n.cli.Close()
	n.stop()
	<-n.done
}

func (n *node) leads(job string) bool {
	led, _ := n.mgr.led(job)
	return led != nil
}

func (n *node) exec(job string) *ackingExecutor {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.execs[job]
}

func (n *node) request(method, path, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	n.mgr.ServeHTTP(w, r)
	return w
}

func patch(t *testing.T, n *node, job string, interval int64) {
	t.Helper()
	w := n.request(http.MethodPatch, "/jobs/"+job+"/checkpoints/configuration", fmt.Sprintf(`{"checkpointInterval": %d}`, interval))
	if w.Code != http.StatusOK {
		t.Fatalf("PATCH on %s: %d %s", n.name, w.Code, w.Body)
	}
}

// TestFailover: two managers on one etcd; the leader crashes (its lease is
// not revoked); the standby takes over within about the lease TTL and recovers
// exactly what the leader acknowledged: the last PATCH it answered 200 and
// every checkpoint it had notified complete.
func TestFailover(t *testing.T) {
	job := freshJob("failover")
	a := startNode(t, "a", []string{job})
	eventually(t, 10*time.Second, "a leads", func() bool { return a.leads(job) })
	b := startNode(t, "b", []string{job})
	// The standby redirects to the leader.
	eventually(t, 5*time.Second, "b campaigns", func() bool {
		w := b.request(http.MethodGet, "/jobs/"+job+"/checkpoints/config", "")
		return w.Code == http.StatusTemporaryRedirect &&
			w.Header().Get("Location") == "http://a.invalid:8081/jobs/"+job+"/checkpoints/config"
	})
	for _, iv := range []int64{60, 70, 50} {
		patch(t, a, job, iv)
	}
	eventually(t, 10*time.Second, "a completes checkpoints", func() bool { return a.exec(job).lastCompleted() >= 3 })
	killed := time.Now()
	a.crash()
	lastAcked := a.exec(job).lastCompleted() // final: a writes nothing after its client is gone
	eventually(t, 15*time.Second, "b takes over", func() bool { return b.leads(job) })
	b.mu.Lock()
	took, got := b.leaderAt[job].Sub(killed), b.recovered[job]
	b.mu.Unlock()
	t.Logf("takeover %v after the leader's crash (lease TTL 1s); b recovered %d checkpoints (latest %d), a had notified %d",
		took.Round(time.Millisecond), len(got.Known), knownIDs(got)[len(got.Known)-1], lastAcked)
	if got.Overrides == nil || got.Overrides.IntervalMs != 50 {
		t.Fatalf("b recovered overrides %+v, want the last acknowledged PATCH (interval 50)", got.Overrides)
	}
	if ids := knownIDs(got); len(ids) == 0 || ids[len(ids)-1] < lastAcked {
		t.Fatalf("b recovered checkpoints %v; a had notified %d complete", ids, lastAcked)
	}
	// b now serves the job, with the configuration a confirmed.
	w := b.request(http.MethodGet, "/jobs/"+job+"/checkpoints/config", "")
	var cfg struct {
		Interval int64 `json:"interval"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &cfg) != nil || cfg.Interval != 50 {
		t.Fatalf("GET config on b: %d %s", w.Code, w.Body)
	}
	eventually(t, 10*time.Second, "b completes a checkpoint", func() bool { return b.exec(job).lastCompleted() > lastAcked })
	b.mu.Lock()
	lines := strings.Join(b.lines, "\n")
	b.mu.Unlock()
	if !strings.Contains(lines, "ha: job "+job+": leader b (rev ") {
		t.Errorf("b's lines do not announce its leadership:\n%s", lines)
	}
}

// TestManyJobs: two managers share jobs; each job has exactly one leader, a
// manager leads some and stands by for others, requests reach the leader
// through redirects, and when one manager stops gracefully (revoking its
// leases) the other takes its jobs at once.
func TestManyJobs(t *testing.T) {
	m := freshJob("many")
	jobs := []string{m + "-1", m + "-2", m + "-3", m + "-4"}
	a := startNode(t, "a", jobs[:3]) // many-4 is b's alone
	eventually(t, 10*time.Second, "a leads its jobs", func() bool {
		return a.leads(jobs[0]) && a.leads(jobs[1]) && a.leads(jobs[2])
	})
	b := startNode(t, "b", jobs[1:]) // many-1 is a's alone
	eventually(t, 10*time.Second, "b leads many-4", func() bool { return b.leads(jobs[3]) })
	for _, j := range jobs {
		if a.leads(j) && b.leads(j) {
			t.Fatalf("two leaders of %s", j)
		}
	}
	if w := b.request(http.MethodGet, "/jobs/"+jobs[1]+"/checkpoints", ""); w.Code != http.StatusTemporaryRedirect ||
		!strings.HasPrefix(w.Header().Get("Location"), "http://a.invalid:8081/jobs/"+jobs[1]+"/") {
		t.Fatalf("b on many-2 (led by a): %d %v", w.Code, w.Header())
	}
	if w := b.request(http.MethodGet, "/jobs/"+jobs[0]+"/checkpoints", ""); w.Code != http.StatusNotFound {
		t.Fatalf("b on many-1 (not its job): %d", w.Code)
	}
	var st struct {
		Node string      `json:"node"`
		Jobs []JobStatus `json:"jobs"`
	}
	w := b.request(http.MethodGet, "/ha/status", "")
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Node != "b" || len(st.Jobs) != 3 {
		t.Fatalf("/ha/status: %d %s %v", w.Code, w.Body, err)
	}
	for _, js := range st.Jobs {
		want := map[bool]string{true: "b", false: "a"}[js.Job == jobs[3]]
		if js.Leader == nil || js.Leader.Node != want || js.Leader.Rev <= 0 || js.Leader.Lease == 0 ||
			(js.Role == "leader") != (want == "b") {
			t.Errorf("/ha/status %s: %+v, want leader %s", js.Job, js, want)
		}
	}
	patch(t, a, jobs[2], 80)
	start := time.Now()
	a.stop() // graceful: a closes its jobs and revokes its leases
	<-a.done
	eventually(t, 5*time.Second, "b takes many-2 and many-3", func() bool { return b.leads(jobs[1]) && b.leads(jobs[2]) })
	t.Logf("graceful handover of two jobs in %v", time.Since(start).Round(time.Millisecond))
	b.mu.Lock()
	got := b.recovered[jobs[2]]
	b.mu.Unlock()
	if got.Overrides == nil || got.Overrides.IntervalMs != 80 {
		t.Fatalf("many-3 recovered overrides %+v, want interval 80", got.Overrides)
	}
	if w := b.request(http.MethodGet, "/jobs/"+jobs[0]+"/checkpoints", ""); w.Code != http.StatusNotFound {
		t.Fatalf("b on many-1: %d", w.Code)
	}
}

// TestNoLeaderIs503: a job whose only campaigner is gone has no leader; a
// node that campaigns but has not won (another node's stale key is first)
// answers 503 with Retry-After.
func TestNoLeaderIs503(t *testing.T) {
	job := freshJob("noleader")
	cli := newClient(t)
	// A stale leader key without a URL stands first in line until its lease ends.
	sess, _ := campaign(t, cli, job, "ghost", 5)
	b := startNode(t, "b", []string{job})
	w := b.request(http.MethodGet, "/jobs/"+job+"/checkpoints", "")
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" || !strings.Contains(w.Body.String(), `"errors"`) {
		t.Fatalf("no leader ready: %d %v %s", w.Code, w.Header(), w.Body)
	}
	sess.Close() // the ghost resigns
	eventually(t, 5*time.Second, "b leads", func() bool { return b.leads(job) })
}

// TestFencedLeaderStepsDown: when a write fails its guard (the leader's key
// was deleted behind its back), the manager closes the job's driver at once and
// campaigns again; the job comes back under a new election key.
func TestFencedLeaderStepsDown(t *testing.T) {
	job := freshJob("stepdown")
	a := startNode(t, "a", []string{job})
	eventually(t, 10*time.Second, "a leads", func() bool { return a.leads(job) })
	a.mgr.mu.Lock()
	first := a.mgr.jobs[job].lead
	a.mgr.mu.Unlock()
	// Delete the election key only: the session (lease) lives on, so only the
	// Store's guard can notice.
	if _, err := a.cli.Delete(context.Background(), first.Key); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a steps down and leads again under a new key", func() bool {
		a.mgr.mu.Lock()
		defer a.mgr.mu.Unlock()
		st := a.mgr.jobs[job]
		return st.led != nil && st.lead.Rev != first.Rev
	})
	a.mu.Lock()
	lines := strings.Join(a.lines, "\n")
	a.mu.Unlock()
	if !strings.Contains(lines, "lost leadership (a write failed its leader guard (fenced))") {
		t.Fatalf("lines:\n%s", lines)
	}
	if i := slices.IndexFunc(a.lines, func(s string) bool { return strings.Contains(s, "lost leadership") }); i < 1 {
		t.Fatalf("lines:\n%s", lines)
	}
}

// leaderOf returns the node that leads job, or nil.
func leaderOf(job string, nodes []*node) *node {
	for _, n := range nodes {
		if n != nil && n.leads(job) {
			return n
		}
	}
	return nil
}

// TestRepeatedLeaderKills: three managers; the leader is killed three times
// (each time a fresh node joins as the new standby) after PATCHes and
// checkpoints; every takeover recovers the last acknowledged PATCH and every
// checkpoint the dead leader notified complete, and never are there two leaders.
func TestRepeatedLeaderKills(t *testing.T) {
	job := freshJob("kills")
	nodes := []*node{startNode(t, "n1", []string{job}), startNode(t, "n2", []string{job}), startNode(t, "n3", []string{job})}
	interval := int64(100)
	var takeovers []time.Duration
	for kill := 0; kill < 3; kill++ {
		var leader *node
		eventually(t, 15*time.Second, "a leader", func() bool { leader = leaderOf(job, nodes); return leader != nil })
		acked := int64(0)
		for i := 0; i < 5; i++ {
			interval++
			patch(t, leader, job, interval)
			acked = interval
		}
		eventually(t, 10*time.Second, "a checkpoint completes", func() bool { return leader.exec(job).lastCompleted() > 0 })
		killed := time.Now()
		leader.crash()
		notified := leader.exec(job).lastCompleted()
		for i, n := range nodes {
			if n == leader {
				nodes[i] = startNode(t, fmt.Sprintf("n%d", 4+kill), []string{job})
			}
		}
		var next *node
		eventually(t, 15*time.Second, "a standby takes over", func() bool { next = leaderOf(job, nodes); return next != nil })
		next.mu.Lock()
		took, got := next.leaderAt[job].Sub(killed), next.recovered[job]
		next.mu.Unlock()
		takeovers = append(takeovers, took)
		if got.Overrides == nil || got.Overrides.IntervalMs != acked {
			t.Fatalf("kill %d: %s recovered overrides %+v, want the last acknowledged interval %d", kill+1, next.name, got.Overrides, acked)
		}
		if ids := knownIDs(got); len(ids) == 0 || ids[len(ids)-1] < notified {
			t.Fatalf("kill %d: %s recovered checkpoints %v; %s had notified %d complete", kill+1, next.name, ids, leader.name, notified)
		}
		for _, n := range nodes {
			if n != next && n.leads(job) {
				t.Fatalf("kill %d: %s and %s both lead", kill+1, n.name, next.name)
			}
		}
	}
	t.Logf("takeover times after a leader crash (lease TTL 1s): %v", takeovers)
}
