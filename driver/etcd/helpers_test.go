package etcd

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.uber.org/zap"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/driver/etcd/etcdtest"
	"github.com/ckptcore/ckptcore/fsm"
)

// jobSeq numbers the jobs of the tests: the etcd lives as long as the test
// binary, so each run of a test (-count) gets jobs of its own.
var jobSeq atomic.Int64

// freshJob returns a job id no earlier test of this process used.
func freshJob(base string) string { return fmt.Sprintf("%s-%d", base, jobSeq.Add(1)) }

// endpoint is the client URL of the one etcd server every test of the package
// shares (TestMain); tests keep apart by job name.
var endpoint string

// TestMain starts a real etcd in-process (embed) on free loopback ports with a
// temporary data directory (etcdtest: 1 s leases are allowed).
func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "ckpt-etcd-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		e, err := etcdtest.Start(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "embedded etcd:", err)
			return 1
		}
		defer e.Close()
		endpoint = etcdtest.Endpoint(e)
		return m.Run()
	}())
}

func newClient(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// campaign makes node the leader of job on a session of ttl seconds and
// returns the session and the leadership.
func campaign(t *testing.T, cli *clientv3.Client, job, node string, ttl int) (*concurrency.Session, Leadership) {
	t.Helper()
	sess, err := concurrency.NewSession(cli, concurrency.WithTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	el := concurrency.NewElection(sess, ElectionPrefix(job))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := el.Campaign(ctx, `{"node":"`+node+`","url":""}`); err != nil {
		t.Fatal(err)
	}
	return sess, Leadership{Node: node, Key: el.Key(), Rev: el.Rev()}
}

func leaderStore(t *testing.T, cli *clientv3.Client, job, node string) (*Store, *concurrency.Session) {
	t.Helper()
	sess, lead := campaign(t, cli, job, node, 5)
	s, err := NewStore(cli, job, lead)
	if err != nil {
		t.Fatal(err)
	}
	return s, sess
}

// testJob is src(2) -> sink(2), pointwise: two regions.
func testJob() fsm.JobSpec {
	return fsm.JobSpec{
		Vertices: []fsm.VertexSpec{{ID: "src", Parallelism: 2}, {ID: "sink", Parallelism: 2}},
		Edges:    []fsm.EdgeSpec{{From: "src", To: "sink"}},
	}
}

func testConfig() fsm.Config {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs, cfg.TimeoutMs = 40, 5000
	return cfg
}

// ackingExecutor acknowledges every trigger at once, from its own goroutine,
// and records which checkpoints were notified complete.
type ackingExecutor struct {
	driver.NopExecutor
	mu        sync.Mutex
	d         *driver.Driver
	completed []int64
}

func (x *ackingExecutor) Attach(d *driver.Driver) {
	x.mu.Lock()
	x.d = d
	x.mu.Unlock()
}

func (x *ackingExecutor) TriggerCheckpoint(id int64, _ fsm.Kind, _ bool, tasks fsm.TaskSet, _ time.Time) {
	x.mu.Lock()
	d := x.d
	x.mu.Unlock()
	var ts []fsm.TaskID
	tasks.All(func(t fsm.TaskID) bool { ts = append(ts, t); return true })
	go func() {
		for _, t := range ts {
			d.Ack(id, t) // ErrClosed once the driver is closed: nothing to do
		}
	}()
}

func (x *ackingExecutor) NotifyComplete(id int64, _ fsm.TaskSet, _ []fsm.RefGroup) {
	x.mu.Lock()
	x.completed = append(x.completed, id)
	x.mu.Unlock()
}

func (x *ackingExecutor) lastCompleted() int64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if len(x.completed) == 0 {
		return 0
	}
	return x.completed[len(x.completed)-1]
}

// eventually polls cond until it holds or the time is up.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
