package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
)

// leaderLookupTimeout bounds the etcd read behind a redirect or /ha/status.
const leaderLookupTimeout = 2 * time.Second

// ServeHTTP is the REST API of every job of the Manager (OWNERS.md's contract):
//
//	GET /ha/status                 every job: this node's role, the leader in etcd (node, URL, lease, revision)
//	/jobs/{job}/... (and /v1/...)  the job's API (driver.NewHandler) when this node leads it;
//	                               307 to the leader's URL when another node does;
//	                               503 with Retry-After: 1 when no leader is known
//
// {job} may be the job id or its Flink form (flinkapi.HexID). Other paths and
// jobs this node does not campaign for get 404. Errors are Flink's shape,
// {"errors": ["reason"]}. Every request, whatever its path, first passes the
// job API's guard (ManagerOptions.Token and Hosts, driver.Guard): a standby's
// redirect names the leader's address and /ha/status its lease and revision,
// which only a client holding the token may learn.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.front.ServeHTTP(w, r)
}

// route answers a request that passed the guard.
func (m *Manager) route(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	if p, ok := strings.CutPrefix(path, "/v1/"); ok {
		path = "/" + p
	}
	if path == "/ha/status" {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET")
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on /ha/status (allowed: GET)", r.Method))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), leaderLookupTimeout)
		defer cancel()
		writeJSON(w, http.StatusOK, struct {
			Node string      `json:"node"`
			Jobs []JobStatus `json:"jobs"`
		}{m.opt.Node, m.Status(ctx)})
		return
	}
	rest, ok := strings.CutPrefix(path, "/jobs/")
	seg, _, _ := strings.Cut(rest, "/")
	job, known := m.jobOf(seg)
	if !ok || !known {
		writeError(w, http.StatusNotFound, fmt.Sprintf("not found: %s (this node serves /ha/status and /jobs/{job}/... for jobs %s)",
			r.URL.Path, strings.Join(m.opt.Jobs, ", ")))
		return
	}
	if led, lead := m.leading(job); led != nil {
		// A node paused past its lease (SIGSTOP, a long stall) still holds the
		// job in memory until its session notices, and a standby may already
		// lead and have acknowledged newer writes: answering from memory would
		// be a stale read (found by the HA soak). Confirm the election key
		// first, with a linearizable read: the answer is then the leader's as
		// of that read.
		ctx, cancel := context.WithTimeout(r.Context(), leaderLookupTimeout)
		still, err := m.stillLeads(ctx, lead)
		cancel()
		if err != nil || !still {
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("job %s: this node's leadership (rev %d) is not confirmed by etcd", job, lead.Rev))
			return
		}
		led.ServeHTTP(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), leaderLookupTimeout)
	defer cancel()
	li, ok, err := m.Leader(ctx, job)
	switch {
	case err != nil:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("job %s: its leader cannot be read from etcd: %v", job, err))
	case !ok || li.Node == m.opt.Node || li.URL == "":
		// No campaigner, or this node won and is still opening the job.
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("job %s: no leader ready (election or recovery in progress)", job))
	default:
		w.Header().Set("Location", strings.TrimSuffix(li.URL, "/")+r.URL.RequestURI())
		writeError(w, http.StatusTemporaryRedirect, fmt.Sprintf("job %s is led by %s at %s", job, li.Node, li.URL))
	}
}

// jobOf maps a path segment (a job id or its Flink hex form) to a job of this Manager.
func (m *Manager) jobOf(seg string) (string, bool) {
	for _, j := range m.opt.Jobs {
		if seg == j || seg == flinkapi.HexID(j) {
			return j, true
		}
	}
	return "", false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string][]string{"errors": {reason}})
}

// leading returns the job this node leads and its leadership (nil when it
// does not lead it).
func (m *Manager) leading(job string) (LedJob, Leadership) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.jobs[job]
	if !ok {
		return nil, Leadership{}
	}
	return st.led, st.lead
}

// stillLeads reports whether lead's election key still exists in etcd with its
// create revision: while it does, no other node can lead the job.
func (m *Manager) stillLeads(ctx context.Context, lead Leadership) (bool, error) {
	resp, err := m.cli.Get(ctx, lead.Key)
	if err != nil {
		return false, err
	}
	return len(resp.Kvs) == 1 && resp.Kvs[0].CreateRevision == lead.Rev, nil
}
