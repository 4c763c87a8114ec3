package fuzz

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

// FuzzHTTP sends arbitrary requests to the driver's REST API (FLIP-571 PATCH,
// Flink's checkpoint endpoints and triggers, /metrics, /timeline) of a fresh
// driver per input:
//
//	go test -run=NONE -fuzz=FuzzHTTP -fuzztime=$(FUZZTIME) ./fuzz/
//
// Every answer must be one of the documented statuses with a JSON body
// (Flink's {"errors": [...]} shape for errors, Allow on 405); a 200 PATCH must
// be what a GET of the configuration says right after, with the patched values
// in force (R63: answered only once durable); a refused PATCH must change
// nothing (R60). The seeds (testdata/fuzz/FuzzHTTP) cover each endpoint,
// valid, out-of-range, mistyped and unauthorized patches.
func FuzzHTTP(f *testing.F) {
	spec := fsm.JobSpec{Vertices: []fsm.VertexSpec{{ID: "a", Parallelism: 2, Coordinator: fsm.CoordinatorFallback}}}
	cfg := fsm.DefaultConfig()
	cfg.TimeoutMs, cfg.MaxTimeoutMs = 1000, 60000
	cfg.Regional.Enabled = true
	methods := []string{http.MethodPatch, http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodDelete, "BREW"}
	f.Fuzz(func(t *testing.T, method byte, path string, body []byte, auth bool) {
		d, err := driver.New(&memStore{}, spec, cfg, driver.Options{NoFlightRecorder: true})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		h := driver.NewHandler(d, "j1", driver.HandlerOptions{Token: "s3cret", PatchTimeout: 5 * time.Second,
			MaxBodyBytes: 1 << 12})
		serve := func(method, path string, body []byte, auth bool) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
			req.Method, req.URL.Path = method, path // any bytes, as a raw client could send
			if auth {
				req.Header.Set("Authorization", "Bearer s3cret")
			}
			if len(body) > 0 { // a body that is not declared JSON gets 415 before it is read
				req.Header.Set("Content-Type", "application/json")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			return w
		}
		getConfig := func() []byte {
			w := serve(http.MethodGet, "/jobs/j1/checkpoints/config", nil, true)
			if w.Code != http.StatusOK {
				t.Fatalf("GET config: %d %s", w.Code, w.Body)
			}
			return w.Body.Bytes()
		}
		before := getConfig()
		m := methods[int(method)%len(methods)]
		w := serve(m, path, body, auth)
		checkAnswer(t, m, w)
		if m != http.MethodPatch || path != "/jobs/j1/checkpoints/configuration" || !auth {
			return
		}
		after := getConfig()
		switch w.Code {
		case http.StatusOK:
			if !bytes.Equal(w.Body.Bytes(), after) {
				t.Fatalf("PATCH answered %s but GET then says %s", w.Body, after)
			}
			var patch map[string]int64
			var got struct{ Interval, Timeout int64 }
			if json.Unmarshal(body, &patch) == nil && json.Unmarshal(after, &got) == nil {
				if v, ok := patch["checkpointInterval"]; ok && v != got.Interval {
					t.Fatalf("PATCH interval %d answered 200, but %d is in force", v, got.Interval)
				}
				if v, ok := patch["checkpointTimeout"]; ok && v != got.Timeout {
					t.Fatalf("PATCH timeout %d answered 200, but %d is in force", v, got.Timeout)
				}
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if !bytes.Equal(before, after) {
				t.Fatalf("a refused PATCH (%d) changed the configuration:\n%s\n%s", w.Code, before, after)
			}
		}
	})
}

// checkAnswer checks the shape every answer of the API must have.
func checkAnswer(t *testing.T, method string, w *httptest.ResponseRecorder) {
	t.Helper()
	switch w.Code {
	case http.StatusOK, http.StatusAccepted, http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
	default:
		t.Fatalf("%s: status %d is not one the API documents here: %s", method, w.Code, w.Body)
	}
	ct := w.Header().Get("Content-Type")
	if w.Code == http.StatusOK && (strings.HasPrefix(ct, "text/plain") || strings.HasPrefix(ct, "text/html")) {
		return // GET /metrics (Prometheus' text format) and GET /timeline (a page)
	}
	if ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", method, ct)
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatalf("%s: body is not JSON: %q", method, w.Body)
	}
	if w.Code == http.StatusMethodNotAllowed && w.Header().Get("Allow") == "" {
		t.Fatalf("%s: 405 without Allow", method)
	}
	if w.Code >= 400 {
		var e struct{ Errors []string }
		if json.Unmarshal(w.Body.Bytes(), &e) != nil || len(e.Errors) == 0 || e.Errors[0] == "" {
			t.Fatalf("%s: %d without Flink's {\"errors\": [...]}: %s", method, w.Code, w.Body)
		}
	}
}

// memStore is a driver.Store in memory: every write is durable at once.
type memStore struct {
	mu sync.Mutex
	d  fsm.Durable
}

func (s *memStore) Load() (fsm.Durable, error) { return s.d, nil }
func (s *memStore) Save(driver.Metadata) error { return nil }
func (s *memStore) Delete(fsm.Kind, int64) error {
	return nil
}
func (s *memStore) SaveOverrides(intervalMs, timeoutMs int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d.Overrides = &fsm.EffectiveConfig{IntervalMs: intervalMs, TimeoutMs: timeoutMs, OverridesActive: true}
	return nil
}
func (s *memStore) SaveNextID(next int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d.NextID = next
	return nil
}
func (s *memStore) SaveRestored(id int64, noClaim bool) error { return nil }
func (s *memStore) Close() error                              { return nil }
