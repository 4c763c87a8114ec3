package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// node is one `ckpt serve --etcd` process of the soak: a fixed name, REST
// address and state directory, so that a restart is the same node again.
type node struct {
	name, addr, stateDir, logFile string
	args                          []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	paused bool
	exited chan struct{}
}

// url is the node's REST base URL.
func (n *node) url() string { return "http://" + n.addr }

// leaderEvent is a line `ha: job J: leader NODE (rev R) at T` or
// `ha: job J: lost leadership ...` of some node's stdout.
type leaderEvent struct {
	job, node string
	rev       int64
	at        time.Time // the time the line names (when it names one), else when it was read
	lost      bool
}

var (
	leaderLine = regexp.MustCompile(`ha: job (\S+): leader (\S+) \(rev (\d+)\) at (\S+)`)
	lostLine   = regexp.MustCompile(`ha: job (\S+): lost leadership`)
)

// parseLeaderLine reads a leader or lost-leadership line of node; ok false for
// any other line.
func parseLeaderLine(node, line string, read time.Time) (leaderEvent, bool) {
	if m := leaderLine.FindStringSubmatch(line); m != nil {
		rev, _ := strconv.ParseInt(m[3], 10, 64)
		at, err := time.Parse(time.RFC3339Nano, m[4])
		if err != nil {
			at = read
		}
		return leaderEvent{job: m[1], node: m[2], rev: rev, at: at}, true
	}
	if m := lostLine.FindStringSubmatch(line); m != nil {
		return leaderEvent{job: m[1], node: node, at: read, lost: true}, true
	}
	return leaderEvent{}, false
}

// fleet runs the serve processes and follows who leads which job from their
// stdout.
type fleet struct {
	bin   string
	nodes []*node

	mu      sync.Mutex
	events  []leaderEvent
	leaders map[string]string // job -> node, from the latest leader line
	notify  chan struct{}     // closed and replaced at every event
}

// newFleet prepares n nodes serving jobs against the etcd endpoints, under dir.
func newFleet(bin, dir, endpoints string, n int, jobs []string, leaseTTL time.Duration, extra []string) (*fleet, error) {
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	f := &fleet{bin: bin, leaders: map[string]string{}, notify: make(chan struct{})}
	// Checkpoint storage (one _metadata file per completed checkpoint) is
	// shared by every node, as a distributed file system would be; a ckpt
	// without it keeps metadata in the store alone.
	help, _ := exec.Command(bin, "serve", "--help").CombinedOutput()
	storage := strings.Contains(string(help), "--checkpoints-dir")
	for i := range n {
		nd := &node{name: fmt.Sprintf("n%d", i+1), addr: fmt.Sprintf("127.0.0.1:%d", ports[i])}
		nd.stateDir = filepath.Join(dir, nd.name+".state")
		nd.logFile = filepath.Join(dir, nd.name+".log")
		nd.args = append([]string{"serve", "--etcd", endpoints, "--node", nd.name, "--jobs", strings.Join(jobs, ","),
			"--addr", nd.addr, "--lease-ttl", leaseTTL.String(), "--state-dir", nd.stateDir}, extra...)
		if storage {
			nd.args = append(nd.args, "--checkpoints-dir", filepath.Join(dir, "checkpoints"))
		}
		f.nodes = append(f.nodes, nd)
	}
	return f, nil
}

// start runs nd, copying its output to its log file and reading leader lines.
func (f *fleet) start(nd *node) error {
	log, err := os.OpenFile(nd.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "--- soak: start %s %s at %s\n", f.bin, strings.Join(nd.args, " "), time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(f.bin, nd.args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Close()
		return err
	}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("node %s: %w", nd.name, err)
	}
	exited := make(chan struct{})
	nd.mu.Lock()
	nd.cmd, nd.paused, nd.exited = cmd, false, exited
	nd.mu.Unlock()
	go func() {
		f.follow(nd.name, out, log)
		cmd.Wait()
		log.Close()
		close(exited)
	}()
	return nil
}

// follow copies a node's stdout to its log and records its leader lines.
func (f *fleet) follow(name string, out io.Reader, log io.Writer) {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(log, line)
		ev, ok := parseLeaderLine(name, line, time.Now())
		if !ok {
			continue
		}
		f.mu.Lock()
		f.events = append(f.events, ev)
		switch {
		case !ev.lost:
			f.leaders[ev.job] = ev.node
		case f.leaders[ev.job] == name:
			delete(f.leaders, ev.job)
		}
		close(f.notify)
		f.notify = make(chan struct{})
		f.mu.Unlock()
	}
}

// leaderOf returns the node that last said it leads job ("" if none did or
// it since said it lost leadership).
func (f *fleet) leaderOf(job string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leaders[job]
}

// jobsLedBy lists the jobs whose latest leader line is node's.
func (f *fleet) jobsLedBy(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var jobs []string
	for j, n := range f.leaders {
		if n == name {
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// forget drops what node said it leads: it was killed, and its lines are
// no longer true.
func (f *fleet) forget(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for j, n := range f.leaders {
		if n == name {
			delete(f.leaders, j)
		}
	}
}

// nextLeader waits until some leader line for job is dated after since and
// returns it; ok false after timeout.
func (f *fleet) nextLeader(job string, since time.Time, timeout time.Duration) (leaderEvent, bool) {
	deadline := time.After(timeout)
	for {
		f.mu.Lock()
		for _, ev := range f.events {
			if ev.job == job && !ev.lost && ev.at.After(since) {
				f.mu.Unlock()
				return ev, true
			}
		}
		ch := f.notify
		f.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			return leaderEvent{}, false
		}
	}
}

// waitLeaders waits until every job has a leader line.
func (f *fleet) waitLeaders(jobs []string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		f.mu.Lock()
		var missing []string
		for _, j := range jobs {
			if f.leaders[j] == "" {
				missing = append(missing, j)
			}
		}
		ch := f.notify
		f.mu.Unlock()
		if len(missing) == 0 {
			return nil
		}
		for _, nd := range f.nodes {
			if nd.started() && !nd.running() {
				return fmt.Errorf("node %s exited while jobs %v had no leader; its log %s ends:\n%s", nd.name, missing,
					nd.logFile, tail(nd.logFile, 10))
			}
		}
		select {
		case <-ch:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			return fmt.Errorf("no leader line for jobs %v within %v (node logs: %s)", missing, timeout, f.nodes[0].logFile)
		}
	}
}

// started reports whether nd was started and not stopped by the soak since.
func (nd *node) started() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.cmd != nil
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// signal sends sig to nd's process.
func (nd *node) signal(sig syscall.Signal) error {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return fmt.Errorf("node %s is not running", nd.name)
	}
	switch sig {
	case syscall.SIGSTOP:
		nd.paused = true
	case syscall.SIGCONT:
		nd.paused = false
	}
	return nd.cmd.Process.Signal(sig)
}

// running reports whether nd has a live process.
func (nd *node) running() bool {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.cmd == nil {
		return false
	}
	select {
	case <-nd.exited:
		return false
	default:
		return true
	}
}

// stop ends nd with sig (SIGKILL, or SIGTERM for a clean stop that falls back
// to SIGKILL after grace) and waits until it has exited.
func (f *fleet) stop(nd *node, sig syscall.Signal, grace time.Duration) error {
	nd.mu.Lock()
	cmd, exited, paused := nd.cmd, nd.exited, nd.paused
	nd.cmd, nd.paused = nil, false
	nd.mu.Unlock()
	if cmd == nil {
		return nil
	}
	if paused && sig != syscall.SIGKILL {
		_ = cmd.Process.Signal(syscall.SIGCONT)
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
	}
	f.forget(nd.name)
	return nil
}

// stopAll ends every node.
func (f *fleet) stopAll(sig syscall.Signal) {
	for _, nd := range f.nodes {
		_ = f.stop(nd, sig, 5*time.Second)
	}
}

// node returns the node called name.
func (f *fleet) node(name string) *node {
	for _, nd := range f.nodes {
		if nd.name == name {
			return nd
		}
	}
	return nil
}
