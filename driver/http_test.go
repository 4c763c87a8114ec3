package driver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/fsm"
)

const jobID = "a1b2c3"

// hookStore is a FileStore whose overrides write runs a hook first: the tests
// block it (PATCH must wait for durability) or fail it.
type hookStore struct {
	*FileStore
	mu   sync.Mutex
	hook func() error
}

func (s *hookStore) SaveOverrides(intervalMs, timeoutMs int64) error {
	s.mu.Lock()
	hook := s.hook
	s.mu.Unlock()
	if hook != nil {
		if err := hook(); err != nil {
			return err
		}
	}
	return s.FileStore.SaveOverrides(intervalMs, timeoutMs)
}

func (s *hookStore) setHook(f func() error) {
	s.mu.Lock()
	s.hook = f
	s.mu.Unlock()
}

type apiHarness struct {
	*harness
	store *hookStore
	h     http.Handler
}

func openAPI(t *testing.T, opts HandlerOptions) *apiHarness {
	t.Helper()
	fs := openStore(t, t.TempDir())
	st := &hookStore{FileStore: fs}
	h := &harness{t: t, clock: newFakeClock(), exec: newRecExec()}
	d, err := New(st, twoRegions(), regionalConfig(1000), Options{Clock: h.clock, Executor: h.exec})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { d.Close() })
	return &apiHarness{harness: h, store: st, h: NewHandler(d, jobID, opts)}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (a *apiHarness) do(method, path, body string, header ...string) response {
	a.t.Helper()
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			r.Host = header[i+1]
			continue
		}
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return response{w.Code, w.Header(), w.Body.Bytes()}
}

// errorsOf decodes Flink's error shape and checks it has a reason.
func errorsOf(t *testing.T, r response) string {
	t.Helper()
	var body struct {
		Errors []string `json:"errors"`
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	if err := json.Unmarshal(r.body, &body); err != nil || len(body.Errors) != 1 || body.Errors[0] == "" {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return body.Errors[0]
}

func TestHTTPBadRequests(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	patch := "/jobs/" + jobID + "/checkpoints/configuration"
	cases := []struct {
		name, method, path, body string
		status                   int
		reason, allow            string
	}{
		{"invalid JSON", "PATCH", patch, `{"checkpointInterval":`, 400, "invalid JSON", ""},
		{"not an object", "PATCH", patch, `[1000]`, 400, "want a JSON object, got an array", ""},
		{"null body", "PATCH", patch, `null`, 400, "got null", ""},
		{"empty body", "PATCH", patch, ``, 400, "empty request body", ""},
		{"unknown field", "PATCH", patch, `{"interval":1000}`, 400, `unknown field "interval"`, ""},
		{"wrong type string", "PATCH", patch, `{"checkpointInterval":"1000"}`, 400, "checkpointInterval: want an integer number of milliseconds, got a string", ""},
		{"wrong type bool", "PATCH", patch, `{"checkpointTimeout":true}`, 400, "got a boolean", ""},
		{"null value", "PATCH", patch, `{"checkpointTimeout":null}`, 400, "got null", ""},
		{"fraction", "PATCH", patch, `{"checkpointInterval":1000.5}`, 400, "not an integer", ""},
		{"beyond int64", "PATCH", patch, `{"checkpointInterval":99999999999999999999}`, 400, "out of range", ""},
		{"beyond 2^53", "PATCH", patch, `{"checkpointTimeout":9007199254740993}`, 400, "below 2^53", ""},
		{"interval out of range", "PATCH", patch, `{"checkpointInterval":5}`, 400, "interval_ms = 5: must be 0 (no periodic checkpoints) or >= 10", ""},
		{"negative timeout", "PATCH", patch, `{"checkpointTimeout":-1}`, 400, "timeout_ms = -1: must be >= 10", ""},
		{"empty patch", "PATCH", patch, `{}`, 400, "empty patch", ""},
		{"trailing data", "PATCH", patch, `{"checkpointInterval":1000} {}`, 400, "invalid JSON", ""},
		{"too large", "PATCH", patch, `{"checkpointInterval":1000` + strings.Repeat(" ", 70<<10) + `}`, 413, "larger than 65536 bytes", ""},
		{"GET on PATCH endpoint", "GET", patch, ``, 405, "method GET not allowed", "PATCH"},
		{"DELETE on checkpoints", "DELETE", "/jobs/" + jobID + "/checkpoints", `{}`, 405, "method DELETE not allowed", "GET, HEAD, POST"},
		{"POST on GET endpoint", "POST", "/jobs/" + jobID + "/checkpoints/details/1", `{}`, 405, "method POST not allowed", "GET, HEAD"},
		{"PATCH on config", "PATCH", "/jobs/" + jobID + "/checkpoints/config", `{}`, 405, "not allowed", "GET, HEAD"},
		{"unknown job", "GET", "/jobs/nope/checkpoints/config", ``, 404, "job nope not found", ""},
		{"unknown job PATCH", "PATCH", "/jobs/nope/checkpoints/configuration", `{"checkpointInterval":1000}`, 404, "job nope not found", ""},
		{"unknown path", "GET", "/jobs/" + jobID + "/checkpoints/nothing", ``, 404, "not found", ""},
		{"root", "GET", "/", ``, 404, "not found", ""},
		{"no job id", "GET", "/jobs//checkpoints", ``, 404, "not found", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(c.method, c.path, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if reason := errorsOf(t, r); !strings.Contains(reason, c.reason) {
				t.Fatalf("reason %q, want it to contain %q", reason, c.reason)
			}
			if got := r.header.Get("Allow"); got != c.allow {
				t.Fatalf("Allow %q, want %q", got, c.allow)
			}
		})
	}
	// Nothing above changed the configuration.
	if st := a.status(); st.Effective.OverridesActive || st.PendingPatches != 0 {
		t.Fatalf("a bad request changed the configuration: %+v", st)
	}
}

func TestHTTPToken(t *testing.T) {
	a := openAPI(t, HandlerOptions{Token: "s3cret"})
	path := "/jobs/" + jobID + "/checkpoints/config"
	for _, auth := range []string{"", "Bearer wrong", "Basic s3cret", "Bearer s3cret "} {
		r := a.do("GET", path, "", "Authorization", auth)
		if r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("auth %q: %d %v", auth, r.status, r.header)
		}
		errorsOf(t, r)
	}
	// An unknown path is 401 too: without the token nothing is revealed.
	if r := a.do("GET", "/nothing", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("unknown path without token: %d", r.status)
	}
	if r := a.do("GET", path, "", "Authorization", "Bearer s3cret"); r.status != http.StatusOK {
		t.Fatalf("right token: %d %s", r.status, r.body)
	}
}

func TestHTTPGetConfigAndCheckpoints(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	var cfg map[string]any
	r := a.do("GET", "/jobs/"+jobID+"/checkpoints/config", "")
	if r.status != 200 || json.Unmarshal(r.body, &cfg) != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for key, want := range map[string]any{"interval": 1000.0, "timeout": 600000.0, "overrides_active": false,
		"min_pause": 0.0, "max_concurrent": 1.0, "regional_enabled": true, "regional_active": true, "pending_overrides": 0.0} {
		if cfg[key] != want {
			t.Errorf("config %s = %v, want %v (%s)", key, cfg[key], want, r.body)
		}
	}
	if r := a.do("HEAD", "/jobs/"+jobID+"/checkpoints/config", ""); r.status != 200 {
		t.Fatalf("HEAD: %d", r.status)
	}

	r = a.do("GET", "/jobs/"+jobID+"/checkpoints", "")
	if r.status != 200 || !strings.Contains(string(r.body), `"completed":null`) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// Checkpoint 1 global, checkpoint 2 regional (r1 declines).
	a.clock.Advance(time.Second)
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	a.ackAll(1, 0, 1, 2, 3)
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	a.clock.Advance(time.Second)
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 2))
	a.clock.Advance(7 * time.Millisecond)
	a.ackAll(2, 0, 2)
	if err := a.d.Decline(2, 3, ""); err != nil {
		t.Fatal(err)
	}
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 2))
	var body struct {
		Counts map[string]int `json:"counts"`
		Latest struct {
			Completed *struct {
				ID               int64            `json:"id"`
				Kind             string           `json:"kind"`
				Mode             string           `json:"mode"`
				Refs             map[string]int64 `json:"refs"`
				Consecutive      int              `json:"consecutive"`
				TriggerTimestamp int64            `json:"trigger_timestamp"`
				EndToEnd         int64            `json:"end_to_end_duration"`
				Class            string           `json:"@class"`
			} `json:"completed"`
		} `json:"latest"`
	}
	r = a.do("GET", "/jobs/"+jobID+"/checkpoints", "")
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatal(err)
	}
	c := body.Latest.Completed
	if c == nil || c.ID != 2 || c.Kind != "checkpoint" || c.Mode != "regional" || c.Consecutive != 1 ||
		c.Refs["r0"] != 2 || c.Refs["r1"] != 1 || len(c.Refs) != 2 || c.TriggerTimestamp != epochMs+2000 || c.EndToEnd != 7 || c.Class != "completed" {
		t.Fatalf("latest completed: %s", r.body)
	}
	want := map[string]int{"total": 2, "in_progress": 0, "completed": 2, "failed": 0, "restored": 0}
	for k, v := range want {
		if body.Counts[k] != v {
			t.Fatalf("counts %v, want %v", body.Counts, want)
		}
	}
}

// The PATCH answer comes only once the overrides are durable (R63); until
// then the old configuration is in force and GET says a patch is pending.
func TestHTTPPatchWaitsForDurability(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	started, release := make(chan struct{}), make(chan struct{})
	a.store.setHook(func() error {
		close(started)
		<-release
		return nil
	})
	done := make(chan response, 1)
	go func() {
		done <- a.do("PATCH", "/jobs/"+jobID+"/checkpoints/configuration", `{"checkpointInterval":2000,"checkpointTimeout":30000}`)
	}()
	<-started
	var cfg configJSON
	r := a.do("GET", "/jobs/"+jobID+"/checkpoints/config", "")
	if err := json.Unmarshal(r.body, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Interval != 1000 || cfg.OverridesActive.Get() || cfg.PendingOverrides.Get() != 1 {
		t.Fatalf("while the write blocks: %s", r.body)
	}
	select {
	case r := <-done:
		t.Fatalf("PATCH answered before its overrides were durable: %d %s", r.status, r.body)
	default:
	}
	close(release)
	r = <-done
	if r.status != 200 || json.Unmarshal(r.body, &cfg) != nil || cfg.Interval != 2000 || cfg.Timeout != 30000 || !cfg.OverridesActive.Get() {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	d, err := a.store.Load()
	if err != nil || d.Overrides == nil || d.Overrides.IntervalMs != 2000 {
		t.Fatalf("stored overrides %+v %v", d.Overrides, err)
	}
}

func TestHTTPPatchStoreFailure(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	a.store.setHook(func() error { return errors.New("disk full") })
	r := a.do("PATCH", "/jobs/"+jobID+"/checkpoints/configuration", `{"checkpointInterval":2000}`)
	if r.status != http.StatusServiceUnavailable || !strings.Contains(errorsOf(t, r), "disk full") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if st := a.status(); st.Effective.IntervalMs != 1000 || st.PendingPatches != 1 {
		t.Fatalf("after a failed write: %+v pending %d", st.Effective, st.PendingPatches)
	}
	// The next patch's write carries the pending one: both apply (R63).
	a.store.setHook(nil)
	eff, err := a.d.PatchConfig(context.Background(), ConfigPatch{TimeoutMs: ptrTo[int64](20000)})
	if err != nil || eff.IntervalMs != 2000 || eff.TimeoutMs != 20000 {
		t.Fatal(eff, err)
	}
}

func TestHTTPPatchTimeout(t *testing.T) {
	a := openAPI(t, HandlerOptions{PatchTimeout: 20 * time.Millisecond})
	release := make(chan struct{})
	defer close(release)
	a.store.setHook(func() error { <-release; return nil })
	r := a.do("PATCH", "/jobs/"+jobID+"/checkpoints/configuration", `{"checkpointInterval":2000}`)
	if r.status != http.StatusGatewayTimeout || !strings.Contains(errorsOf(t, r), "not durable yet") {
		t.Fatalf("%d %s", r.status, r.body)
	}
}
