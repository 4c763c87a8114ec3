package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/ckptcore/ckptcore/driver"
)

// LedJob is what a Manager runs for a job while this node leads it: the job's
// REST API, and Close, which stops it (the driver, its executor).
type LedJob interface {
	http.Handler
	Close() error
}

// OpenFunc starts a job as its leader on store: typically driver.New(store, …),
// which loads what etcd holds (guarded) and recovers from it (R50).
type OpenFunc func(job string, store *Store) (LedJob, error)

// ManagerOptions configures a Manager.
type ManagerOptions struct {
	// Node names this process in election values and in every value it writes.
	Node string
	// URL is this node's REST base URL (e.g. "http://127.0.0.1:8081"): the
	// other nodes redirect a job's requests to its leader's URL.
	URL string
	// Jobs are the jobs this node campaigns for.
	Jobs []string
	// LeaseTTL is the time-to-live of each job's session lease: a leader that
	// dies is replaced within about this long. etcd counts leases in whole
	// seconds, so it is rounded up (at least 1s; etcd may raise it to its own
	// minimum, about 1.5 election timeouts).
	LeaseTTL time.Duration
	// Open starts a job this node won.
	Open OpenFunc
	// Logf receives the "ha: ..." lines (leadership taken and lost); nil discards them.
	Logf func(format string, args ...any)
	// RetryDelay is how long a job waits before campaigning again after an
	// error (etcd unreachable, Open failed); 0 means one second.
	RetryDelay time.Duration
	// BalanceInterval is how often the Manager checks whether it leads more
	// than its share of the jobs and hands one over (balance.go); 0 means
	// DefaultBalanceInterval, a negative value turns balancing off (every
	// node then leads whatever it wins).
	BalanceInterval time.Duration
	// Token and Hosts guard every endpoint of ServeHTTP as they guard the job
	// API (driver.Guard, driver.HandlerOptions): with a Token, /ha/status, the
	// 307s and the 503s answer 401 without "Authorization: Bearer <Token>";
	// without one, a Host outside Hosts (when listed) gets 403.
	Token string
	Hosts []string
}

// Manager campaigns for every job of its options, runs the jobs it wins (Open)
// and stands by for the others; a job whose session lease is lost, or whose
// Store was fenced, is closed at once and campaigned for again. Its ServeHTTP
// routes a job's REST requests to the job when this node leads it, and
// otherwise redirects them to the leader (307) or answers 503 when no leader is
// known; GET /ha/status lists every job's leader. It registers itself as a live
// node and hands over a job it leads beyond its share when another node waits
// for it (balance.go), so jobs spread over the processes.
type Manager struct {
	cli *clientv3.Client
	opt ManagerOptions
	ttl int // seconds

	won chan struct{} // a job was won: balance now (capacity 1)

	front http.Handler // route behind driver.Guard (manager_http.go)

	mu   sync.Mutex
	jobs map[string]*jobState
	// handing is the job this node asked to hand over whose term has not yet
	// left it in etcd ("" if none): until its key is gone, etcd still counts
	// the job as this node's, so balancing waits (balance.go).
	handing string
}

// jobState is what the Manager knows of one job's leadership.
type jobState struct {
	led   LedJob // nil while standing by
	lead  Leadership
	lease clientv3.LeaseID
	since time.Time
	// handover asks the term to resign the job (balancing); capacity 1.
	handover chan string
}

// electionValue is the value of an election key: who campaigns and where its
// REST API is.
type electionValue struct {
	Node string `json:"node"`
	URL  string `json:"url"`
}

// NewManager checks the options; Run starts the campaigns.
func NewManager(cli *clientv3.Client, opt ManagerOptions) (*Manager, error) {
	if opt.Node == "" || opt.Open == nil {
		return nil, errors.New("etcd: manager: want a node name and an Open function")
	}
	if len(opt.Jobs) == 0 {
		return nil, errors.New("etcd: manager: no jobs")
	}
	m := &Manager{cli: cli, opt: opt, jobs: map[string]*jobState{}, won: make(chan struct{}, 1)}
	for _, j := range opt.Jobs {
		if err := CheckJobID(j); err != nil {
			return nil, fmt.Errorf("etcd: manager: %w", err)
		}
		if m.jobs[j] != nil {
			return nil, fmt.Errorf("etcd: manager: job %s listed twice", j)
		}
		m.jobs[j] = &jobState{}
	}
	m.ttl = max(1, int(math.Ceil(opt.LeaseTTL.Seconds())))
	if m.opt.RetryDelay <= 0 {
		m.opt.RetryDelay = time.Second
	}
	if m.opt.BalanceInterval == 0 {
		m.opt.BalanceInterval = DefaultBalanceInterval
	}
	if m.opt.Logf == nil {
		m.opt.Logf = func(string, ...any) {}
	}
	m.front = driver.Guard(http.HandlerFunc(m.route), driver.HandlerOptions{Token: opt.Token, Hosts: opt.Hosts})
	return m, nil
}

// Run campaigns for every job until ctx is done, then closes the jobs it leads
// and resigns (revoking its leases, so that a standby takes over at once).
func (m *Manager) Run(ctx context.Context) {
	var wg sync.WaitGroup
	if m.opt.BalanceInterval > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.balancer(ctx)
		}()
	}
	for _, job := range m.opt.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := m.leadOnce(ctx, job); err != nil && ctx.Err() == nil {
					m.opt.Logf("ha: job %s: %v; campaigning again in %v", job, err, m.opt.RetryDelay)
					select {
					case <-ctx.Done():
					case <-time.After(m.opt.RetryDelay):
					}
				}
			}
		}()
	}
	wg.Wait()
}

// leadOnce is one term: a new session, a campaign, and if won, the job runs
// until the session is lost, the Store is fenced or ctx is done.
func (m *Manager) leadOnce(ctx context.Context, job string) error {
	// Deferred first, so it runs last: after the resign or the session's
	// close has deleted the election key, a handover of this term is done.
	defer m.handedOver(job)
	// The session is not tied to ctx: closing it after ctx is done must still
	// revoke the lease.
	sess, err := concurrency.NewSession(m.cli, concurrency.WithTTL(m.ttl))
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer sess.Close() // revokes the lease: the next standby's campaign ends at once
	val, err := json.Marshal(electionValue{Node: m.opt.Node, URL: m.opt.URL})
	if err != nil {
		return err
	}
	// A standby whose lease expires while it waits (a paused process) must not
	// go on waiting with a dead key: the campaign ends with the session.
	campaign, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel()
		case <-campaign.Done():
		}
	}()
	el := concurrency.NewElection(sess, ElectionPrefix(job))
	if err := el.Campaign(campaign, string(val)); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("campaign: %w", err)
	}
	lead := Leadership{Node: m.opt.Node, Key: el.Key(), Rev: el.Rev()}
	store, err := NewStore(m.cli, job, lead)
	if err != nil {
		return err
	}
	// Open loads under the guard: if the key died meanwhile, this fails with
	// ErrFenced and nothing was written.
	led, err := m.opt.Open(job, store)
	if err != nil {
		return fmt.Errorf("open as leader (rev %d): %w", lead.Rev, err)
	}
	handover := make(chan string, 1)
	m.setLed(job, led, lead, sess.Lease(), handover)
	m.opt.Logf("ha: job %s: leader %s (rev %d) at %s", job, m.opt.Node, lead.Rev, time.Now().UTC().Format(time.RFC3339Nano))
	select {
	case m.won <- struct{}{}:
	default: // a balancing round is already due
	}
	var why string
	resign := false
	for why == "" {
		select {
		case <-sess.Done():
			why = "session lease expired or lost"
		case <-store.Fenced():
			why = "a write failed its leader guard (fenced)"
		case <-ctx.Done():
			why = "shutting down"
		case share := <-handover:
			// Never leave the job without a leader: hand it over only if
			// another candidate still waits.
			if q, err := m.queue(ctx, job); err == nil && len(q) > 1 {
				why, resign = "handed over to balance", true
				m.opt.Logf("ha: job %s: handed over to balance (%s)", job, share)
			} else {
				m.handedOver(job) // declined: this node keeps the job
			}
		}
	}
	m.setLed(job, nil, Leadership{}, 0, nil)
	cerr := led.Close()
	if resign {
		// The driver is closed, so every write of this term is done: now the
		// next candidate may take over. The deferred sess.Close would delete
		// the key too; Resign does it before a new term campaigns again (at
		// the back of the line).
		rctx, rcancel := context.WithTimeout(context.Background(), DefaultOpTimeout)
		if err := el.Resign(rctx); err != nil {
			m.opt.Logf("ha: job %s: resign: %v", job, err)
		}
		rcancel()
	}
	m.opt.Logf("ha: job %s: lost leadership (%s) at %s", job, why, time.Now().UTC().Format(time.RFC3339Nano))
	if cerr != nil {
		m.opt.Logf("ha: job %s: close: %v", job, cerr)
	}
	return nil
}

func (m *Manager) setLed(job string, led LedJob, lead Leadership, lease clientv3.LeaseID, handover chan string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs[job] = &jobState{led: led, lead: lead, lease: lease, since: time.Now(), handover: handover}
}

// led returns the job this node leads, or nil.
func (m *Manager) led(job string) (LedJob, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.jobs[job]
	if !ok {
		return nil, false
	}
	return st.led, true
}

// LeaderInfo is a job's current leader as etcd holds it: the first created
// election key.
type LeaderInfo struct {
	Node  string `json:"node"`
	URL   string `json:"url"`
	Lease int64  `json:"lease"`
	Rev   int64  `json:"rev"` // the create revision of its election key
}

// Leader reads a job's leader from etcd; ok is false when no node campaigns.
func (m *Manager) Leader(ctx context.Context, job string) (LeaderInfo, bool, error) {
	resp, err := m.cli.Get(ctx, ElectionPrefix(job), clientv3.WithFirstCreate()...)
	if err != nil {
		return LeaderInfo{}, false, err
	}
	if len(resp.Kvs) == 0 {
		return LeaderInfo{}, false, nil
	}
	kv := resp.Kvs[0]
	var v electionValue
	if err := json.Unmarshal(kv.Value, &v); err != nil {
		return LeaderInfo{}, false, fmt.Errorf("election key %s: %w", kv.Key, err)
	}
	return LeaderInfo{Node: v.Node, URL: v.URL, Lease: kv.Lease, Rev: kv.CreateRevision}, true, nil
}

// JobStatus is one job's entry of GET /ha/status.
type JobStatus struct {
	Job string `json:"job"`
	// Role is this node's: "leader" (it runs the job) or "standby".
	Role string `json:"role"`
	// Leader is the job's leader as etcd holds it; nil when none is known.
	Leader *LeaderInfo `json:"leader"`
	// Since is when this node took over, if it leads.
	Since string `json:"since,omitempty"`
	// Error says why the leader could not be read, if it could not.
	Error string `json:"error,omitempty"`
}

// Status lists every job of this node: its role and the leader in etcd.
func (m *Manager) Status(ctx context.Context) []JobStatus {
	out := make([]JobStatus, 0, len(m.opt.Jobs))
	for _, job := range m.opt.Jobs {
		m.mu.Lock()
		st := *m.jobs[job]
		m.mu.Unlock()
		js := JobStatus{Job: job, Role: "standby"}
		if st.led != nil {
			js.Role, js.Since = "leader", st.since.UTC().Format(time.RFC3339Nano)
		}
		if li, ok, err := m.Leader(ctx, job); err != nil {
			js.Error = err.Error()
		} else if ok {
			js.Leader = &li
		}
		out = append(out, js)
	}
	return out
}
