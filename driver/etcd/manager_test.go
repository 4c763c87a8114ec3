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

// The lease TTLs of the test nodes. etcd drops a lease whose keep-alives (one
// every TTL/3) stop for a TTL, so a process a loaded machine stalls for about
// a TTL (this one: the embedded etcd shares it) loses its jobs although
// nothing crashed: with 1 s leases, stalls of 0.7 s under load 15+ did, and
// the balancing tests then saw handovers and two local leaders that lease
// expiries, not balancing, caused. So every test runs its nodes on stableTTL,
// which a stall of seconds does not end, except the tests that crash a leader
// and wait for its lease to run out: those run on crashTTL and tolerate a
// spurious expiry (they ask whichever node leads at the moment, and check
// etcd's history for two leaders writing, not the nodes' views).
const (
	stableTTL = 5 * time.Second
	crashTTL  = time.Second
)

// takeoverWithin bounds every wait for a leader to take over after a crash
// (or a lease lost to a stall): one crashTTL for the lease to run out, the
// rest for a starved process to campaign, load and open.
const takeoverWithin = 15 * crashTTL

// startNode starts a node that does not balance: it leads whatever it wins.
func startNode(t *testing.T, name string, jobs []string) *node {
	t.Helper()
	return startNodeBalancing(t, name, jobs, -1)
}

// startCrashable starts a node that does not balance, on crashTTL leases: a
// standby takes over about a second after it crashes.
func startCrashable(t *testing.T, name string, jobs []string) *node {
	t.Helper()
	return startNodeWith(t, name, jobs, ManagerOptions{BalanceInterval: -1, LeaseTTL: crashTTL})
}

// startNodeBalancing starts a node that balances every period (negative: off).
func startNodeBalancing(t *testing.T, name string, jobs []string, period time.Duration) *node {
	t.Helper()
	return startNodeWith(t, name, jobs, ManagerOptions{BalanceInterval: period})
}

// startNodeWith starts a node with opt's BalanceInterval, Token, Hosts and
// LeaseTTL (0: stableTTL).
func startNodeWith(t *testing.T, name string, jobs []string, opt ManagerOptions) *node {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{name: name, cli: cli, done: make(chan struct{}), leaderAt: map[string]time.Time{},
		recovered: map[string]fsm.Durable{}, execs: map[string]*ackingExecutor{}}
	if opt.LeaseTTL == 0 {
		opt.LeaseTTL = stableTTL
	}
	n.mgr, err = NewManager(cli, ManagerOptions{
		Node: name, URL: "http://" + name + ".invalid:8081", Jobs: jobs, LeaseTTL: opt.LeaseTTL,
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

// patchLeader PATCHes job's interval on whichever of nodes leads it, and
// again (on the node leading then) until one answers 200: a leader whose
// crashTTL lease ran out while the machine stalled it answers 503 or 307
// until a standby has taken over, within takeoverWithin.
func patchLeader(t *testing.T, nodes []*node, job string, interval int64) {
	t.Helper()
	deadline := time.Now().Add(takeoverWithin)
	for {
		last := "no node leads"
		if l := leaderOf(job, nodes); l != nil {
			w := l.request(http.MethodPatch, "/jobs/"+job+"/checkpoints/configuration", fmt.Sprintf(`{"checkpointInterval": %d}`, interval))
			if w.Code == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s: %d %s", l.name, w.Code, w.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("PATCH interval %d: no leader answered 200 within %v; last: %s", interval, takeoverWithin, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// other returns the node of the pair that is not n.
func other(pair [2]*node, n *node) *node {
	if pair[0] == n {
		return pair[1]
	}
	return pair[0]
}

// TestFailover: two managers on one etcd; the leader crashes (its lease is
// not revoked); the standby takes over within about the lease TTL and recovers
// exactly what the leader acknowledged: the last PATCH it answered 200 and
// every checkpoint it had notified complete. a leads first; should a stalled
// process lose its lease before the crash, the roles swap, and whichever node
// leads when the crash comes is crashed.
func TestFailover(t *testing.T) {
	job := freshJob("failover")
	a := startCrashable(t, "a", []string{job})
	eventually(t, 10*time.Second, "a leads", func() bool { return a.leads(job) })
	b := startCrashable(t, "b", []string{job})
	pair := [2]*node{a, b}
	// The standby redirects to the leader.
	eventually(t, takeoverWithin, "the standby redirects to the leader", func() bool {
		l := leaderOf(job, pair[:])
		if l == nil {
			return false
		}
		w := other(pair, l).request(http.MethodGet, "/jobs/"+job+"/checkpoints/config", "")
		return w.Code == http.StatusTemporaryRedirect &&
			w.Header().Get("Location") == "http://"+l.name+".invalid:8081/jobs/"+job+"/checkpoints/config"
	})
	for _, iv := range []int64{60, 70, 50} {
		patchLeader(t, pair[:], job, iv)
	}
	var leader *node
	eventually(t, takeoverWithin, "the leader completes checkpoints", func() bool {
		leader = leaderOf(job, pair[:])
		return leader != nil && leader.exec(job).lastCompleted() >= 3
	})
	standby := other(pair, leader)
	killed := time.Now()
	leader.crash()
	lastAcked := leader.exec(job).lastCompleted() // final: it writes nothing after its client is gone
	eventually(t, takeoverWithin, standby.name+" takes over", func() bool { return confirmedLeads(standby, job) })
	standby.mu.Lock()
	took, got := standby.leaderAt[job].Sub(killed), standby.recovered[job]
	standby.mu.Unlock()
	t.Logf("takeover %v after the leader's crash (lease TTL %v); %s recovered %d checkpoints (latest %d), %s had notified %d",
		took.Round(time.Millisecond), crashTTL, standby.name, len(got.Known), knownIDs(got)[len(got.Known)-1], leader.name, lastAcked)
	if got.Overrides == nil || got.Overrides.IntervalMs != 50 {
		t.Fatalf("%s recovered overrides %+v, want the last acknowledged PATCH (interval 50)", standby.name, got.Overrides)
	}
	if ids := knownIDs(got); len(ids) == 0 || ids[len(ids)-1] < lastAcked {
		t.Fatalf("%s recovered checkpoints %v; %s had notified %d complete", standby.name, ids, leader.name, lastAcked)
	}
	// The standby now serves the job, with the configuration the leader
	// confirmed (again after a term of its own lost to a stall, if any).
	eventually(t, takeoverWithin, standby.name+" answers GET config", func() bool {
		w := standby.request(http.MethodGet, "/jobs/"+job+"/checkpoints/config", "")
		if w.Code != http.StatusOK {
			return false // 503 while a term lost to a stall is replaced
		}
		var cfg struct {
			Interval int64 `json:"interval"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &cfg); err != nil || cfg.Interval != 50 {
			t.Fatalf("GET config on %s: %d %s, want interval 50", standby.name, w.Code, w.Body)
		}
		return true
	})
	eventually(t, 10*time.Second, standby.name+" completes a checkpoint", func() bool {
		return standby.leads(job) && standby.exec(job).lastCompleted() > lastAcked
	})
	standby.mu.Lock()
	lines := strings.Join(standby.lines, "\n")
	standby.mu.Unlock()
	if !strings.Contains(lines, "ha: job "+job+": leader "+standby.name+" (rev ") {
		t.Errorf("%s's lines do not announce its leadership:\n%s", standby.name, lines)
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

// confirmedLeads says whether n leads job with the election key etcd holds
// first: a node stalled past its lease may still believe it leads (and what
// it recovered then may predate later leaders' writes) until it notices.
func confirmedLeads(n *node, job string) bool {
	n.mgr.mu.Lock()
	st := *n.mgr.jobs[job]
	n.mgr.mu.Unlock()
	if st.led == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	li, ok, err := n.mgr.Leader(ctx, job)
	return err == nil && ok && li.Node == n.name && li.Rev == st.lead.Rev
}

// TestRepeatedLeaderKills: three managers; the leader is killed three times
// (each time a fresh node joins as the new standby) after PATCHes and
// checkpoints; every takeover recovers the last acknowledged PATCH and every
// checkpoint the dead leader notified complete, and etcd's history shows every
// write made by the leader of the moment (never two leaders writing). That is
// read from etcd, not from the nodes' views: a node stalled past its lease
// believes it leads until it notices, while another already does, and only
// the fencing keeps it from writing.
func TestRepeatedLeaderKills(t *testing.T) {
	m := freshJob("kills")
	job := m + "-1"
	nodes := []*node{startCrashable(t, "n1", []string{job}), startCrashable(t, "n2", []string{job}), startCrashable(t, "n3", []string{job})}
	interval := int64(100)
	var takeovers []time.Duration
	for kill := 0; kill < 3; kill++ {
		acked := int64(0)
		for i := 0; i < 5; i++ {
			interval++
			patchLeader(t, nodes, job, interval)
			acked = interval
		}
		var leader *node
		eventually(t, takeoverWithin, "the leader completes a checkpoint", func() bool {
			leader = leaderOf(job, nodes)
			return leader != nil && leader.exec(job).lastCompleted() > 0
		})
		killed := time.Now()
		leader.crash()
		notified := leader.exec(job).lastCompleted()
		for i, n := range nodes {
			if n == leader {
				nodes[i] = startCrashable(t, fmt.Sprintf("n%d", 4+kill), []string{job})
			}
		}
		var next *node
		eventually(t, takeoverWithin, "a standby takes over", func() bool {
			next = leaderOf(job, nodes)
			return next != nil && confirmedLeads(next, job)
		})
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
	}
	t.Logf("takeover times after a leader crash (lease TTL %v): %v", crashTTL, takeovers)
	if writes := checkWritesByLeader(t, newClient(t), m, []string{job}); writes[job] == 0 {
		t.Fatalf("no write of %s in etcd's history: the check checked nothing", job)
	}
}
