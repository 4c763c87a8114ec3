package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// member is one etcd server of the soak's cluster: a child process of the
// Debian binary on loopback, with its own data directory and ports.
type member struct {
	name, dataDir, logFile string
	clientURL, peerURL     string

	mu  sync.Mutex
	cmd *exec.Cmd
	id  uint64 // etcd's member id, known once it answered a Status
}

// cluster is a 3-member etcd cluster started by the soak. Killing and
// restarting members is how it injects etcd faults.
type cluster struct {
	bin     string
	members []*member
}

// freePorts reserves n loopback ports by listening on port 0 and closing; the
// kernel does not hand a just-closed port out again at once, and a clash makes
// etcd exit at start, which startCluster reports.
func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// startCluster starts size members of bin under dir and waits until the
// cluster answers a linearizable read.
func startCluster(bin, dir string, size int) (*cluster, error) {
	ports, err := freePorts(2 * size)
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin}
	var initial []string
	for i := range size {
		m := &member{name: fmt.Sprintf("m%d", i),
			dataDir:   filepath.Join(dir, fmt.Sprintf("m%d.etcd", i)),
			logFile:   filepath.Join(dir, fmt.Sprintf("m%d.log", i)),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", ports[2*i+1])}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	token := fmt.Sprintf("ckpt-soak-%d-%d", os.Getpid(), time.Now().UnixNano())
	for _, m := range c.members {
		if err := c.start(m, strings.Join(initial, ","), token); err != nil {
			c.stop()
			return nil, err
		}
	}
	if err := c.waitHealthy(30 * time.Second); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

// start runs m. The initial-cluster flags matter on the first start only: a
// restarted member finds its data directory and rejoins with what it holds.
func (c *cluster) start(m *member, initial, token string) error {
	log, err := os.OpenFile(m.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	args := []string{"--name", m.name, "--data-dir", m.dataDir,
		"--listen-client-urls", m.clientURL, "--advertise-client-urls", m.clientURL,
		"--listen-peer-urls", m.peerURL, "--initial-advertise-peer-urls", m.peerURL,
		"--initial-cluster-state", "new", "--log-level", "warn", "--logger", "zap"}
	if initial != "" {
		args = append(args, "--initial-cluster", initial, "--initial-cluster-token", token)
	}
	cmd := exec.Command(c.bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("etcd member %s: %w", m.name, err)
	}
	go func() { cmd.Wait(); log.Close() }()
	m.mu.Lock()
	m.cmd = cmd
	m.mu.Unlock()
	return nil
}

// endpoints are the members' client URLs, for clientv3.
func (c *cluster) endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL)
	}
	return eps
}

// hostPorts are the members' client addresses as `ckpt serve --etcd` takes them.
func (c *cluster) hostPorts() string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, strings.TrimPrefix(m.clientURL, "http://"))
	}
	return strings.Join(eps, ",")
}

// client opens a client on every member.
func (c *cluster) client() (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: c.endpoints(), DialTimeout: 5 * time.Second, Logger: quietLogger()})
}

// waitHealthy waits until a linearizable read succeeds through the cluster.
func (c *cluster) waitHealthy(within time.Duration) error {
	cli, err := c.client()
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, last = cli.Get(ctx, "/ckpt-soak-health")
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("etcd cluster not serving after %v: %v (logs: %s)", within, last, c.members[0].logFile)
}

// running reports whether m's process is alive.
func (m *member) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd != nil && m.cmd.ProcessState == nil && m.cmd.Process.Signal(syscall.Signal(0)) == nil
}

// kill SIGKILLs m and waits until it is gone.
func (c *cluster) kill(m *member) error {
	m.mu.Lock()
	cmd := m.cmd
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return fmt.Errorf("etcd member %s is not running", m.name)
	}
	if err := cmd.Process.Kill(); err != nil {
		return err
	}
	for cmd.Process.Signal(syscall.Signal(0)) == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// restart starts a killed member again on its data directory.
func (c *cluster) restart(m *member) error { return c.start(m, "", "") }

// leader returns the member that etcd's Raft currently has as leader, asking
// each running member; nil when none answers.
func (c *cluster) leader(cli *clientv3.Client) *member {
	for _, m := range c.members {
		if !m.running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		st, err := cli.Status(ctx, m.clientURL)
		cancel()
		if err != nil {
			continue
		}
		m.mu.Lock()
		m.id = st.Header.MemberId
		m.mu.Unlock()
		for _, l := range c.members {
			l.mu.Lock()
			id := l.id
			l.mu.Unlock()
			if id == st.Leader {
				return l
			}
		}
		// The leader's id is not known yet: ask every member for its own id.
		for _, l := range c.members {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			s, err := cli.Status(ctx, l.clientURL)
			cancel()
			if err == nil && s.Header.MemberId == st.Leader {
				l.mu.Lock()
				l.id = s.Header.MemberId
				l.mu.Unlock()
				return l
			}
		}
	}
	return nil
}

// stop kills every member.
func (c *cluster) stop() {
	for _, m := range c.members {
		if m.running() {
			_ = c.kill(m)
		}
	}
}

// errNoEtcd says the soak cannot run: no etcd binary.
var errNoEtcd = errors.New("no etcd on PATH (scripts/install-etcd.sh installs Debian's etcd-server)")

// findEtcd returns the etcd binary to run.
func findEtcd() (string, error) {
	if p, err := exec.LookPath("etcd"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd", nil
	}
	return "", errNoEtcd
}

// memberClient opens a client on m alone.
func (c *cluster) memberClient(m *member) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{m.clientURL}, DialTimeout: 2 * time.Second, Logger: quietLogger()})
}

// serializable reads from the member asked, without going through the leader.
func serializable() clientv3.OpOption { return clientv3.WithSerializable() }
