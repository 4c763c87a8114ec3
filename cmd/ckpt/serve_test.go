package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/history"
)

type serveResult struct {
	code           int
	stdout, stderr string
}

// startServe runs `ckpt serve` in the background on a free loopback port.
func startServe(ctx context.Context, t *testing.T, args ...string) (addr string, done <-chan serveResult) {
	t.Helper()
	listening := make(chan string, 1)
	ch := make(chan serveResult, 1)
	go func() {
		var out, errb bytes.Buffer
		a := newApp(strings.NewReader(""), &out, &errb)
		a.listening = listening
		code := a.run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...))
		ch <- serveResult{code, out.String(), errb.String()}
	}()
	select {
	case addr = <-listening:
		return addr, ch
	case r := <-ch:
		t.Fatalf("exited %d before listening: %s%s", r.code, r.stdout, r.stderr)
	case <-time.After(10 * time.Second):
		t.Fatal("not listening after 10s")
	}
	return "", nil
}

// waitServe waits for a run that stops by itself (--duration).
func waitServe(t *testing.T, done <-chan serveResult) serveResult {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("--duration did not stop ckpt serve")
	}
	return serveResult{}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// replayAll replays every flight-recorder file in dir: each must replay with
// exit 0, as `ckpt replay` would.
func replayAll(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "flight", "*.jsonl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no flight files in %s: %v", dir, err)
	}
	for _, f := range files {
		if code, _, stderr := ckpt(t, "", "replay", "-o", "json", f); code != 0 {
			var comments []string
			for _, line := range strings.Split(fixture(t, f), "\n") {
				if strings.HasPrefix(line, "//") {
					comments = append(comments, line)
				}
			}
			t.Errorf("ckpt replay %s: exit %d\n%s%s", f, code, stderr, strings.Join(comments, "\n"))
		}
	}
	return len(files)
}

// The coordinator completes checkpoints, takes a PATCH over HTTP, prints every
// effect, and its flight file replays; a second run on the same state
// directory recovers, saying so, and every file the flight recorder wrote over
// both runs still replays (the README's stop-and-start-again flow).
func TestServeRunsAndRecovers(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	// Rotating after every completed checkpoint: the files after the first of
	// an incarnation start with a snapshot record, and each replays alone.
	fast := []string{"--state-dir", state, "--interval", "30", "--ack-min", "1", "--ack-max", "5", "--seed", "7",
		"--flight-max-checkpoints", "1"}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := startServe(ctx, t, fast...)
	base := "http://" + addr + "/jobs/demo/checkpoints"

	req, _ := http.NewRequest(http.MethodPatch, base+"/configuration", strings.NewReader(`{"checkpointInterval": 20, "checkpointTimeout": 5000}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH: %s", resp.Status)
	}
	var cfg struct {
		Interval        int64 `json:"interval"`
		OverridesActive bool  `json:"overrides_active"`
	}
	getJSON(t, base+"/config", &cfg)
	if cfg.Interval != 20 || !cfg.OverridesActive {
		t.Fatalf("config after PATCH: %+v", cfg)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct {
			Counts struct {
				Completed int `json:"completed"`
			} `json:"counts"`
		}
		getJSON(t, base, &st)
		if st.Counts.Completed >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fewer than 3 checkpoints completed in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	r := <-done
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if n := replayAll(t, state); n < 3 {
		t.Errorf("%d flight files after 3 completions with --flight-max-checkpoints 1", n)
	}
	for _, want := range []string{"state directory (new): " + state, "ckpt serve --state-dir " + state,
		"REST API: GET http://" + addr, "trigger 1 checkpoint", "  completed ", "notify_complete ",
		"persist_overrides request=1 interval=20 timeout=5000", "config_applied request=1", "interrupted: shutting down"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	replayAll(t, state)

	// Second run: --duration stops it by itself; it recovers from the state
	// directory and says that the overrides come from there.
	r = waitServe(t, second(t, fast))
	if r.code != 0 || !strings.Contains(r.stdout, "state directory (reused): "+state) || !strings.Contains(r.stdout, "overrides from the state directory") || !strings.Contains(r.stdout, "recovered, latest completed checkpoint") ||
		!strings.Contains(r.stdout, "ran for 300ms") {
		t.Fatalf("second run, exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
	replayAll(t, state)
}

func second(t *testing.T, fast []string) <-chan serveResult {
	_, done := startServe(context.Background(), t, append(fast, "--duration", "300ms")...)
	return done
}

// Without --state-dir every run starts clean in a new directory under the
// user's cache directory and says where: a second run does not inherit the
// first one's state.
func TestServeDefaultStateDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", t.TempDir()) // the cache directory's fallback on other systems
	stateLine := regexp.MustCompile(`state directory \(new\): (\S+)`)
	var dirs []string
	for range 2 {
		_, done := startServe(context.Background(), t, "--duration", "50ms", "--interval", "20", "--ack-min", "1", "--ack-max", "2")
		r := waitServe(t, done)
		m := stateLine.FindStringSubmatch(r.stdout)
		if r.code != 0 || m == nil {
			t.Fatalf("exit %d, no state directory printed:\n%s%s", r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "recovered") || strings.Contains(r.stdout, "overrides from") {
			t.Errorf("a run without --state-dir inherited state:\n%s", r.stdout)
		}
		if dir, _ := os.UserCacheDir(); !strings.HasPrefix(m[1], filepath.Join(dir, "ckptcore", "serve")+string(filepath.Separator)) {
			t.Errorf("state directory %s is not under the user's cache directory %s", m[1], dir)
		}
		if _, err := history.ReadFile(filepath.Join(m[1], "flight", "flight-1.jsonl")); err != nil {
			t.Errorf("the flight recorder did not write where it said: %v", err)
		}
		dirs = append(dirs, m[1])
	}
	if dirs[0] == dirs[1] {
		t.Errorf("two runs shared the state directory %s", dirs[0])
	}
}

func TestServeRefusesNonLoopbackAndBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--addr", "0.0.0.0:8081"},
		{"--addr", ":8081"},
		{"--addr", "[::]:8081"},
		{"--addr", "192.0.2.1:8081"},
		{"--addr", "example.com:8081"},
		{"--addr", "nonsense"},
		{"--decline", "2"},
		{"--ack-min", "10", "--ack-max", "5"},
		{"extra"},
		{"-store", "x"},
	} {
		code, _, errOut := ckpt(t, "", append([]string{"serve", "--state-dir", t.TempDir()}, args...)...)
		if code != 2 || errOut == "" || strings.Count(errOut, "\n") != 2 {
			t.Errorf("%v: exit %d, want 2 with one reason and the pointer to the help (%q)", args, code, errOut)
		}
	}
	_, _, errOut := ckpt(t, "", "serve", "--addr", "0.0.0.0:1")
	if !strings.Contains(errOut, "only a loopback address") {
		t.Errorf("message: %s", errOut)
	}
}
