package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// NodesPrefix is the prefix of the live-node keys: each running Manager holds
// NodesPrefix+node+"/"+lease on a session lease of its own, so the set of live
// nodes is what etcd holds there. It is outside "/ckpt/" so that no job's keys
// (and no check over every job's keys) see it.
const NodesPrefix = "/ckpt-nodes/"

// DefaultBalanceInterval is how often a Manager checks whether it leads more
// than its share of jobs.
const DefaultBalanceInterval = 3 * time.Second

// balancer keeps this node registered as live and, every period and after
// each job it wins, hands over at most one job when it leads more than its
// share (docs/DECISIONS.md, "High availability on etcd": balancing).
func (m *Manager) balancer(ctx context.Context) {
	var sess *concurrency.Session
	defer func() {
		if sess != nil {
			sess.Close() // revokes the lease: the node key goes at once
		}
	}()
	tick := time.NewTicker(m.opt.BalanceInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-m.won:
		}
		if sess != nil {
			select {
			case <-sess.Done():
				sess.Close()
				sess = nil
			default:
			}
		}
		if sess == nil {
			s, err := m.register(ctx)
			if err != nil {
				if ctx.Err() == nil {
					m.opt.Logf("ha: node %s: registering as live: %v", m.opt.Node, err)
				}
				continue
			}
			sess = s
		}
		if err := m.balanceOnce(ctx); err != nil && ctx.Err() == nil {
			m.opt.Logf("ha: node %s: balancing: %v", m.opt.Node, err)
		}
	}
}

// register puts this node's live key on a new session lease.
func (m *Manager) register(ctx context.Context) (*concurrency.Session, error) {
	sess, err := concurrency.NewSession(m.cli, concurrency.WithTTL(m.ttl))
	if err != nil {
		return nil, err
	}
	val, err := json.Marshal(electionValue{Node: m.opt.Node, URL: m.opt.URL})
	if err != nil {
		sess.Close()
		return nil, err
	}
	key := fmt.Sprintf("%s%s/%x", NodesPrefix, m.opt.Node, int64(sess.Lease()))
	if _, err := m.cli.Put(ctx, key, string(val), clientv3.WithLease(sess.Lease())); err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// queue is a job's election line as etcd holds it: the nodes of its keys,
// first created (the leader) first.
func (m *Manager) queue(ctx context.Context, job string) ([]string, error) {
	resp, err := m.cli.Get(ctx, ElectionPrefix(job), clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return nil, err
	}
	nodes := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var v electionValue
		_ = json.Unmarshal(kv.Value, &v) // a key that is no JSON names no node ("")
		nodes = append(nodes, v.Node)
	}
	return nodes, nil
}

// balanceOnce hands over at most one job: when this node leads K jobs, more
// than ceil(N/M) (N its jobs, M the live nodes), it resigns the first job it
// leads whose next candidate in line is another live node leading at most K-2
// of these jobs. The receiver then leads at most K-1, so every handover makes
// the spread strictly more even (the sum of squares of the lead counts falls)
// and balancing cannot flap; a job with nobody waiting is never handed over.
//
// That argument needs counts with every handover this node asked for done:
// until the term has closed its driver and resigned, etcd still shows this
// node leading the job, and rounds on that count hand over more than the
// spread calls for (4 jobs, 2 nodes, closes held 1.5 s: all four jobs on
// "leading 4", then the other node hands two back, the flap ruled out above).
// So while a handover is in flight (m.handing) no round runs.
func (m *Manager) balanceOnce(ctx context.Context) error {
	m.mu.Lock()
	busy := m.handing != ""
	m.mu.Unlock()
	if busy {
		return nil
	}
	live, err := m.cli.Get(ctx, NodesPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	nodes := map[string]bool{}
	for _, kv := range live.Kvs {
		rest := strings.TrimPrefix(string(kv.Key), NodesPrefix)
		if i := strings.LastIndex(rest, "/"); i > 0 {
			nodes[rest[:i]] = true
		}
	}
	nodes[m.opt.Node] = true // registered a moment ago, or about to be again
	n := len(m.opt.Jobs)
	share := (n + len(nodes) - 1) / len(nodes)
	leads := map[string]int{}
	next := map[string]string{} // job this node leads -> its next candidate
	var mine []string
	for _, job := range m.opt.Jobs {
		q, err := m.queue(ctx, job)
		if err != nil {
			return err
		}
		if len(q) == 0 {
			continue
		}
		leads[q[0]]++
		if q[0] == m.opt.Node {
			if led, _ := m.led(job); led != nil {
				mine = append(mine, job)
				if len(q) > 1 {
					next[job] = q[1]
				}
			}
		}
	}
	if job, ok := pickHandover(m.opt.Node, share, mine, next, leads, nodes); ok {
		m.handOver(job, fmt.Sprintf("leading %d of %d jobs, %d live nodes", leads[m.opt.Node], n, len(nodes)))
	}
	return nil
}

// pickHandover is balanceOnce's choice: the first of the jobs self leads
// (mine) to hand over, if self leads more than share; next is each job's next
// candidate, leads the jobs each node leads, nodes the live nodes.
func pickHandover(self string, share int, mine []string, next map[string]string, leads map[string]int, nodes map[string]bool) (string, bool) {
	k := leads[self]
	if k <= share {
		return "", false
	}
	for _, job := range mine {
		to, ok := next[job]
		// The next candidate must be a live node (a crashed one's keys wait
		// for their leases to expire) that gains less than this node loses.
		if !ok || to == self || !nodes[to] || leads[to] > k-2 {
			continue
		}
		return job, true
	}
	return "", false
}

// handOver asks the job's term to resign, saying why, and marks the handover
// in flight; nothing if this node does not lead it (any more) or was asked
// already.
func (m *Manager) handOver(job, why string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.jobs[job]; st.led != nil && st.handover != nil {
		select {
		case st.handover <- why:
			m.handing = job
		default:
		}
	}
}

// handedOver ends the handover of job in flight, if any: its term declined
// it, or ended and its election key is gone from etcd.
func (m *Manager) handedOver(job string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.handing == job {
		m.handing = ""
	}
}
