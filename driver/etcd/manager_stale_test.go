package etcd

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestDeposedLeaderDoesNotAnswer: a node whose election key is gone from etcd
// (its lease expired while the process was paused, and it has not noticed
// yet) must not answer a job's requests from memory: a standby may already
// lead and have acknowledged newer writes, and such an answer is a stale read
// (found by the HA soak, seed 2: a resumed leader served GET config with the
// configuration of before its pause).
func TestDeposedLeaderDoesNotAnswer(t *testing.T) {
	job := freshJob("deposed")
	a := startNode(t, "a", []string{job})
	eventually(t, 10*time.Second, "a leads", func() bool { return a.leads(job) })
	// No periodic checkpoint: no write of a's would find out it is fenced.
	patch(t, a, job, 0)
	if w := a.request(http.MethodGet, "/jobs/"+job+"/checkpoints/config", ""); w.Code != http.StatusOK {
		t.Fatalf("GET on the leader: %d %s", w.Code, w.Body)
	}
	// What etcd does when a's lease expires: its election key goes.
	a.mgr.mu.Lock()
	lead := a.mgr.jobs[job].lead
	a.mgr.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.cli.Delete(ctx, lead.Key); err != nil {
		t.Fatal(err)
	}
	if !a.leads(job) {
		t.Fatal("a noticed the deletion by itself: the test no longer shows the stale window")
	}
	if w := a.request(http.MethodGet, "/jobs/"+job+"/checkpoints/config", ""); w.Code == http.StatusOK {
		t.Fatalf("GET on a deposed leader answered from memory: %d %s", w.Code, w.Body)
	}
}
