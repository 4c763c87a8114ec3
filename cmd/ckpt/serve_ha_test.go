package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ckptcore/ckptcore/driver/etcd/etcdtest"
)

// serveChildEnv, when set in the environment of this test binary, makes it run
// `ckpt` with the JSON array of arguments it holds instead of the tests, so
// that a test can run `ckpt serve --etcd` as real processes and SIGKILL them.
const serveChildEnv = "CKPT_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if raw := os.Getenv(serveChildEnv); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, serveChildEnv+":", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := newApp(os.Stdin, os.Stdout, os.Stderr).run(ctx, args)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// haProcess is one `ckpt serve --etcd` child process and the lines it printed.
type haProcess struct {
	node string
	cmd  *exec.Cmd
	addr string

	mu    sync.Mutex
	lines []string
	ended chan struct{}
}

var restLine = regexp.MustCompile(`REST API: http://([0-9.:]+)/ha/status`)

func startHAProcess(t *testing.T, node string, args ...string) *haProcess {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(append([]string{"serve", "--node", node, "--addr", "127.0.0.1:0"}, args...))
	p := &haProcess{node: node, ended: make(chan struct{})}
	p.cmd = exec.Command(self, "-test.run=^$")
	p.cmd.Env = append(os.Environ(), serveChildEnv+"="+string(raw))
	p.cmd.Stderr = os.Stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.kill)
	addr := make(chan string, 1)
	go func() {
		defer close(p.ended)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			if m := restLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, out)
	}()
	select {
	case p.addr = <-addr:
	case <-p.ended:
		t.Fatalf("%s exited before serving:\n%s", node, p.output())
	case <-time.After(20 * time.Second):
		t.Fatalf("%s not serving after 20s:\n%s", node, p.output())
	}
	return p
}

func (p *haProcess) kill() {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

func (p *haProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// leaderSince returns when p's last "ha: job J: leader" line says it took
// over job, if it has one and has not lost the job since.
func (p *haProcess) leaderSince(job string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prefix := "ha: job " + job + ": "
	for i := len(p.lines) - 1; i >= 0; i-- {
		l := p.lines[i]
		if strings.HasPrefix(l, prefix+"lost leadership") {
			return time.Time{}, false
		}
		if strings.HasPrefix(l, prefix+"leader "+p.node+" (rev ") {
			at, err := time.Parse(time.RFC3339Nano, l[strings.LastIndex(l, " at ")+4:])
			return at, err == nil
		}
	}
	return time.Time{}, false
}

func haGet(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// TestServeHASurvivesLeaderKills runs three `ckpt serve --etcd` processes on
// one etcd (in-process, embed) for two jobs and SIGKILLs the leader of job j1
// twice. Each time a standby takes over within about the lease TTL; requests
// sent to any process reach the leader (307); the last acknowledged PATCH and
// the latest completed checkpoint survive every kill, and the new leader
// completes checkpoints after them; and etcd's history shows
// no write of a deposed leader after its successor's first (leader_rev never
// goes down).
func TestServeHASurvivesLeaderKills(t *testing.T) {
	e, err := etcdtest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ep := etcdtest.Endpoint(e)
	args := []string{"--etcd", ep, "--jobs", "j1,j2", "--lease-ttl", "1s", "--interval", "100",
		"--ack-min", "5", "--ack-max", "20", "--decline", "0", "--fail", "0", "--checkpoints-dir", t.TempDir()}
	procs := []*haProcess{startHAProcess(t, "n1", args...), startHAProcess(t, "n2", args...), startHAProcess(t, "n3", args...)}
	client := &http.Client{Timeout: 10 * time.Second} // follows 307, PATCH body and all
	interval := int64(200)
	var takeovers []time.Duration
	for kill := 1; kill <= 2; kill++ {
		var leader *haProcess
		deadline := time.Now().Add(20 * time.Second)
		for leader == nil {
			for _, p := range procs {
				if _, ok := p.leaderSince("j1"); ok {
					leader = p
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no leader of j1", kill)
			}
			time.Sleep(20 * time.Millisecond)
		}
		via := procs[0]
		if via == leader {
			via = procs[1]
		}
		interval += 10
		req, _ := http.NewRequest(http.MethodPatch, "http://"+via.addr+"/jobs/j1/checkpoints/configuration",
			strings.NewReader(fmt.Sprintf(`{"checkpointInterval": %d}`, interval)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("kill %d: PATCH through %s (leader %s): %s", kill, via.node, leader.node, resp.Status)
		}
		var stats struct {
			Latest struct {
				Completed *struct {
					ID int64 `json:"id"`
				} `json:"completed"`
			} `json:"latest"`
		}
		var completed int64
		for deadline := time.Now().Add(10 * time.Second); completed == 0; time.Sleep(50 * time.Millisecond) {
			if haGet(t, "http://"+leader.addr+"/jobs/j1/checkpoints", &stats) == http.StatusOK && stats.Latest.Completed != nil {
				completed = stats.Latest.Completed.ID
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no completed checkpoint on %s", kill, leader.node)
			}
		}
		killed := time.Now()
		leader.kill()
		var survivors []*haProcess
		for _, p := range procs {
			if p != leader {
				survivors = append(survivors, p)
			}
		}
		procs = survivors
		var next *haProcess
		var at time.Time
		for deadline := time.Now().Add(20 * time.Second); next == nil; time.Sleep(20 * time.Millisecond) {
			for _, p := range procs {
				if t0, ok := p.leaderSince("j1"); ok && t0.After(killed) {
					next, at = p, t0
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("kill %d: no takeover of j1 within 20s", kill)
			}
		}
		takeovers = append(takeovers, at.Sub(killed))
		var cfg struct {
			Interval int64 `json:"interval"`
		}
		if code := haGet(t, "http://"+procs[0].addr+"/jobs/j1/checkpoints/config", &cfg); code != http.StatusOK || cfg.Interval != interval {
			t.Fatalf("kill %d: after the takeover by %s: GET config %d, interval %d, want the acknowledged %d", kill, next.node, code, cfg.Interval, interval)
		}
		stats.Latest.Completed = nil
		if code := haGet(t, "http://"+next.addr+"/jobs/j1/checkpoints", &stats); code != http.StatusOK ||
			stats.Latest.Completed == nil || stats.Latest.Completed.ID < completed {
			t.Fatalf("kill %d: %s's latest completed %+v, want at least %d (completed before the kill)", kill, next.node, stats.Latest.Completed, completed)
		}
		// The new leader goes on: a checkpoint of its own, written under its leader_rev.
		recovered := stats.Latest.Completed.ID
		for deadline := time.Now().Add(10 * time.Second); stats.Latest.Completed.ID <= recovered; time.Sleep(50 * time.Millisecond) {
			if haGet(t, "http://"+next.addr+"/jobs/j1/checkpoints", &stats) != http.StatusOK || time.Now().After(deadline) {
				t.Fatalf("kill %d: %s completes no checkpoint after the recovered %d", kill, next.node, recovered)
			}
		}
	}
	t.Logf("takeover times after SIGKILL of the leader (lease TTL 1s): %v", takeovers)
	checkNoDeposedWrite(t, ep, "j1")
}

// checkNoDeposedWrite reads every write of the job's data keys from etcd's
// history, in revision order: its leader_rev (the writer's election key) must
// never go down, or a deposed leader wrote after its successor had.
func checkNoDeposedWrite(t *testing.T, endpoint, job string) {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	now, err := cli.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	// Every key is under /ckpt/: the history up to now ends with an event at now's revision.
	prefix := "/ckpt/" + job + "/"
	wc := cli.Watch(ctx, "/ckpt/", clientv3.WithPrefix(), clientv3.WithRev(1))
	last, writes, writers, seen := int64(0), 0, map[string]bool{}, int64(0)
	for wr := range wc {
		if err := wr.Err(); err != nil {
			t.Fatal(err)
		}
		for _, ev := range wr.Events {
			seen = ev.Kv.ModRevision
			key := string(ev.Kv.Key)
			if ev.Type != clientv3.EventTypePut || !strings.HasPrefix(key, prefix) || strings.HasPrefix(key, prefix+"leader/") {
				continue
			}
			var v struct {
				Writer    string `json:"writer"`
				LeaderRev int64  `json:"leader_rev"`
			}
			if err := json.Unmarshal(ev.Kv.Value, &v); err != nil || v.Writer == "" || v.LeaderRev <= 0 {
				t.Fatalf("%s at revision %d: %s (%v): want writer and leader_rev", ev.Kv.Key, ev.Kv.ModRevision, ev.Kv.Value, err)
			}
			if v.LeaderRev < last {
				t.Fatalf("%s at revision %d written by %s under leader_rev %d after a write under %d: a deposed leader wrote",
					ev.Kv.Key, ev.Kv.ModRevision, v.Writer, v.LeaderRev, last)
			}
			last, writers[v.Writer] = v.LeaderRev, true
			writes++
		}
		if seen >= now.Header.Revision {
			break
		}
	}
	if len(writers) < 3 {
		t.Fatalf("%d writes by %v: want the three leaders' writes", writes, writers)
	}
}

// HA flags are refused, with the reason, where they cannot work.
func TestServeHAFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--node", "n1"}, "--node and --jobs need --etcd"},
		{[]string{"--jobs", "a,b"}, "--node and --jobs need --etcd"},
		{[]string{"--etcd", "127.0.0.1:1"}, "--etcd needs --node"},
		{[]string{"--etcd", "127.0.0.1:1", "--node", "n", "--jobs", "a,b/c"}, `--jobs: job id "b/c"`},
		{[]string{"--etcd", "127.0.0.1:1", "--node", "n", "--lease-ttl", "500ms"}, "--lease-ttl 500ms: want at least 1s"},
	} {
		code, _, errOut := ckpt(t, "", append([]string{"serve"}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("serve %v: exit %d, stderr %q, want 2 and %q", c.args, code, errOut, c.want)
		}
	}
}

// haDo sends one request to an HA serve without following redirects and
// returns its status, Location and body.
func haDo(t *testing.T, url, host, auth string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// `ckpt serve --etcd --token-file` guards every endpoint with the token, as
// the one-process serve guards the job API: /ha/status and a standby's 307
// answer 401 in Flink's shape without it, and with it (any case of "Bearer")
// answer as before. Without a token, a foreign Host gets 403 on them.
func TestServeHAGuardsEveryEndpoint(t *testing.T) {
	e, err := etcdtest.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ep := etcdtest.Endpoint(e)
	t.Setenv(tokenEnv, "")
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	common := []string{"--etcd", ep, "--jobs", "j1", "--lease-ttl", "1s", "--interval", "100", "--decline", "0", "--fail", "0"}
	addr1, done1 := startServe(ctx, t, append([]string{"--node", "n1", "--token-file", file}, common...)...)
	addr2, done2 := startServe(ctx, t, append([]string{"--node", "n2", "--token-file", file}, common...)...)
	addr3, done3 := startServe(ctx, t, append([]string{"--node", "n3"}, common...)...) // no token: Host check
	defer func() { cancel(); waitServe(t, done1); waitServe(t, done2); waitServe(t, done3) }()

	// Which of n1, n2 leads j1 (n3 may lead too: then both are standbys).
	var status struct {
		Node string `json:"node"`
		Jobs []struct {
			Role   string `json:"role"`
			Leader *struct {
				Node string `json:"node"`
			} `json:"leader"`
		} `json:"jobs"`
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, _, body := haDo(t, "http://"+addr1+"/ha/status", "", "Bearer s3cret")
		if code != 200 {
			t.Fatalf("/ha/status with the token: %d %s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &status); err != nil {
			t.Fatal(err)
		}
		ready := len(status.Jobs) == 1 && status.Jobs[0].Leader != nil
		for _, addr := range []string{addr1, addr2} { // not 503: the leader has opened the job
			if code, _, _ := haDo(t, "http://"+addr+"/jobs/j1/checkpoints", "", "Bearer s3cret"); code != 200 && code != 307 {
				ready = false
			}
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no leader of j1 after 20s: %s", body)
		}
	}
	standby := addr1
	if status.Jobs[0].Role == "leader" {
		standby = addr2
	}
	for _, addr := range []string{addr1, addr2} {
		for _, path := range []string{"/ha/status", "/v1/ha/status", "/jobs/j1/checkpoints"} {
			for _, auth := range []string{"", "Bearer wrong", "s3cret"} {
				code, loc, body := haDo(t, "http://"+addr+path, "", auth)
				if code != 401 || loc != "" || !strings.Contains(body, `{"errors":["missing or wrong bearer token"]}`) {
					t.Errorf("%s GET %s, Authorization %q: %d Location %q %s; want 401 in Flink's shape", addr, path, auth, code, loc, body)
				}
			}
			if code, _, body := haDo(t, "http://"+addr+path, "rebind.example", "bearer s3cret"); code != 200 && code != 307 {
				t.Errorf("%s GET %s with the token: %d %s", addr, path, code, body)
			}
		}
	}
	// The standby's redirect, with the token, names the leader.
	code, loc, body := haDo(t, "http://"+standby+"/jobs/j1/checkpoints", "", "BEARER s3cret")
	if code != 307 || !strings.HasSuffix(loc, "/jobs/j1/checkpoints") {
		t.Errorf("standby with the token: %d Location %q %s", code, loc, body)
	}
	// n3 has no token: the Host decides.
	for _, path := range []string{"/ha/status", "/jobs/j1/checkpoints"} {
		if code, _, body := haDo(t, "http://"+addr3+path, "rebind.example:8081", ""); code != 403 || !strings.Contains(body, "DNS rebinding") {
			t.Errorf("n3 GET %s from a foreign Host: %d %s", path, code, body)
		}
	}
	if code, _, body := haDo(t, "http://"+addr3+"/ha/status", "", ""); code != 200 {
		t.Errorf("n3 /ha/status from its own Host: %d %s", code, body)
	}
}
