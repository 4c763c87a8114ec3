package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type result struct {
	code           int
	stdout, stderr string
}

// start runs the command in the background on a free loopback port.
func start(ctx context.Context, t *testing.T, args ...string) (addr string, done <-chan result) {
	t.Helper()
	listening := make(chan string, 1)
	ch := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), &out, &errb, listening)
		ch <- result{code, out.String(), errb.String()}
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

// The simulator completes checkpoints, takes a PATCH over HTTP, prints every
// effect, and a second run on the same store recovers.
func TestSimulatorRunsAndRecovers(t *testing.T) {
	store := filepath.Join(t.TempDir(), "store")
	fast := []string{"-store", store, "-interval", "30", "-ack-min", "1", "-ack-max", "5", "-seed", "7"}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := start(ctx, t, fast...)
	base := "http://" + addr + "/jobs/demo/checkpoints"

	req, _ := http.NewRequest(http.MethodPatch, base+"/configuration", strings.NewReader(`{"checkpointInterval": 20, "checkpointTimeout": 5000}`))
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
		OverridesActive bool  `json:"overridesActive"`
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
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"REST API: GET http://" + addr, "trigger 1 checkpoint", "  completed ", "notify_complete ",
		"persist_overrides request=1 interval=20 timeout=5000", "config_applied request=1", "interrupted: shutting down"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	// Second run: -duration stops it by itself; it recovers from the store.
	_, done = start(context.Background(), t, append(fast, "-duration", "100ms")...)
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("-duration did not stop the simulator")
	}
	if r.code != 0 || !strings.Contains(r.stdout, "overrides from the store") || !strings.Contains(r.stdout, "recovered, latest completed checkpoint") ||
		!strings.Contains(r.stdout, "ran for 100ms") ||
		// The flight file goes on (flight-1) when the store and the previous file agree, else a new one starts.
		!strings.Contains(r.stdout, "flight-1.jsonl") && !strings.Contains(r.stdout, "flight-2.jsonl") {
		t.Fatalf("second run, exit %d:\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestSimulatorRefusesNonLoopbackAndBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:8081"},
		{"-addr", ":8081"},
		{"-addr", "[::]:8081"},
		{"-addr", "192.0.2.1:8081"},
		{"-addr", "example.com:8081"},
		{"-addr", "nonsense"},
		{"-decline", "2"},
		{"-ack-min", "10", "-ack-max", "5"},
		{"extra"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "-store", t.TempDir()), &out, &errb, nil); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, errb.String())
		}
		if errb.Len() == 0 {
			t.Errorf("%v: no reason given", args)
		}
	}
	var errb bytes.Buffer
	run(context.Background(), []string{"-addr", "0.0.0.0:1"}, &bytes.Buffer{}, &errb, nil)
	if !strings.Contains(errb.String(), "only a loopback address") {
		t.Errorf("message: %s", errb.String())
	}
}
