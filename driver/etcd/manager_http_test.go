package etcd

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// requestAs sends one request to n's ServeHTTP with the given Host (none: the
// httptest default) and Authorization (none: no header).
func requestAs(n *node, method, path, host, auth string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	if host != "" {
		r.Host = host
	}
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	n.mgr.ServeHTTP(w, r)
	return w
}

// flinkError returns the single reason of a Flink-shaped error body, or fails.
func flinkError(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var e struct {
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || len(e.Errors) != 1 {
		t.Fatalf("%d %q: want Flink's error shape {\"errors\": [reason]} (%v)", w.Code, w.Body, err)
	}
	return e.Errors[0]
}

// With a token, every endpoint of a Manager answers 401 in Flink's shape
// without it: /ha/status, the leader's job API, a standby's 307 (whose
// Location names the leader) and the 503 while no leader is ready. With it
// (the scheme in any case) each answers as without a guard. The job handlers
// the nodes open carry no token of their own: the Manager's guard alone is
// checked.
func TestManagerEndpointsNeedTheToken(t *testing.T) {
	job := freshJob("token")
	opt := ManagerOptions{BalanceInterval: -1, Token: "s3cret"}
	a := startNodeWith(t, "a", []string{job}, opt)
	eventually(t, 10*time.Second, "a leads", func() bool { return a.leads(job) })
	b := startNodeWith(t, "b", []string{job}, opt)
	eventually(t, 10*time.Second, "b campaigns and sees a lead", func() bool {
		return requestAs(b, "GET", "/jobs/"+job+"/checkpoints", "", "Bearer s3cret").Code == http.StatusTemporaryRedirect
	})
	paths := map[string]string{"/ha/status": "status", "/v1/ha/status": "status", "/jobs/" + job + "/checkpoints": "job"}
	for _, n := range []*node{a, b} {
		for path := range paths {
			for _, auth := range []string{"", "Bearer wrong", "Basic czNjcmV0", "s3cret", "Bearer"} {
				w := requestAs(n, "GET", path, "", auth)
				if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") == "" ||
					w.Header().Get("Location") != "" || !strings.Contains(flinkError(t, w), "bearer token") {
					t.Errorf("%s GET %s, Authorization %q: %d %v %s, want 401 without a Location", n.name, path, auth, w.Code, w.Header(), w.Body)
				}
			}
		}
		for _, auth := range []string{"Bearer s3cret", "bearer s3cret", "BEARER s3cret"} {
			w := requestAs(n, "GET", "/ha/status", "", auth)
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"node":"`+n.name+`"`) {
				t.Errorf("%s /ha/status, Authorization %q: %d %s", n.name, auth, w.Code, w.Body)
			}
		}
	}
	if w := requestAs(a, "GET", "/jobs/"+job+"/checkpoints", "", "Bearer s3cret"); w.Code != http.StatusOK {
		t.Errorf("leader with the token: %d %s", w.Code, w.Body)
	}
	w := requestAs(b, "GET", "/jobs/"+job+"/checkpoints", "", "bearer s3cret")
	if w.Code != http.StatusTemporaryRedirect || !strings.HasPrefix(w.Header().Get("Location"), "http://a.invalid:8081/jobs/") {
		t.Errorf("standby with the token: %d %v", w.Code, w.Header())
	}
	// A wrong method on /ha/status is refused by the guard first: a client
	// without the token learns nothing about what the server serves.
	if w := requestAs(a, "DELETE", "/ha/status", "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("DELETE /ha/status without the token: %d", w.Code)
	}
	if w := requestAs(a, "GET", "/nowhere", "", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("unknown path without the token: %d", w.Code)
	}
}

// A standby's 503 (a stale leader key stands first) needs the token too.
func TestManagerNoLeader503NeedsTheToken(t *testing.T) {
	job := freshJob("token503")
	cli := newClient(t)
	sess, _ := campaign(t, cli, job, "ghost", 5)
	defer sess.Close()
	b := startNodeWith(t, "b", []string{job}, ManagerOptions{BalanceInterval: -1, Token: "s3cret"})
	path := "/jobs/" + job + "/checkpoints"
	if w := requestAs(b, "GET", path, "", ""); w.Code != http.StatusUnauthorized || w.Header().Get("Retry-After") != "" {
		t.Fatalf("no leader, no token: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := requestAs(b, "GET", path, "", "Bearer s3cret"); w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("no leader, with the token: %d %v %s", w.Code, w.Header(), w.Body)
	}
}

// Without a token, every endpoint answers only the Hosts the server is bound
// to (403 otherwise, DNS rebinding), /ha/status and the redirects included.
func TestManagerEndpointsCheckTheHost(t *testing.T) {
	job := freshJob("host")
	hosts := []string{"127.0.0.1:8081", "localhost:8081"}
	opt := ManagerOptions{BalanceInterval: -1, Hosts: hosts}
	a := startNodeWith(t, "a", []string{job}, opt)
	eventually(t, 10*time.Second, "a leads", func() bool { return a.leads(job) })
	b := startNodeWith(t, "b", []string{job}, opt)
	eventually(t, 10*time.Second, "b sees a lead", func() bool {
		return requestAs(b, "GET", "/jobs/"+job+"/checkpoints", "localhost:8081", "").Code == http.StatusTemporaryRedirect
	})
	for _, n := range []*node{a, b} {
		for _, path := range []string{"/ha/status", "/jobs/" + job + "/checkpoints"} {
			w := requestAs(n, "GET", path, "rebind.example:8081", "")
			if w.Code != http.StatusForbidden || !strings.Contains(flinkError(t, w), "DNS rebinding") {
				t.Errorf("%s GET %s from a foreign Host: %d %s", n.name, path, w.Code, w.Body)
			}
		}
		if w := requestAs(n, "GET", "/ha/status", "LOCALHOST:8081", ""); w.Code != http.StatusOK {
			t.Errorf("%s /ha/status from its own Host: %d %s", n.name, w.Code, w.Body)
		}
	}
}
