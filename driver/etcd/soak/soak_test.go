package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestSoakShort is the soak in make test: 40 s, two epochs, three nodes, two
// jobs, faults every one to three seconds — the whole pipeline (cluster,
// nodes, clients, faults, every check) on a budget CI affords. make soak-ha
// runs it for minutes. Skipped, saying why, without an etcd binary
// (scripts/install-etcd.sh installs Debian's).
func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: runs an etcd cluster and three ckpt serve processes for 40 s")
	}
	needEtcd(t)
	p := defaultParams()
	p.duration, p.epoch = 40*time.Second, 20*time.Second
	p.jobs, p.clientsPerJob = []string{"j1", "j2"}, 2
	p.gapMin, p.gapMax = time.Second, 3*time.Second
	p.checkTimeout = 30 * time.Second
	dir, err := os.MkdirTemp("", "ckpt-soak-test-")
	if err != nil {
		t.Fatal(err)
	}
	p.keep = dir
	defer func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	}()
	var out bytes.Buffer
	res, err := run(p, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(res.violations()) == 0 {
		res.Dir = "" // removed when the test passes
	}
	var table bytes.Buffer
	res.print(&table)
	t.Logf("\n%s", table.String())
	if v := res.violations(); len(v) > 0 {
		t.Errorf("violations (logs kept in %s):\n%s", p.keep, strings.Join(v, "\n"))
		if os.Getenv("CI") != "" {
			t.Logf("soak output:\n%s", out.String())
		}
	}
	// The soak must have done what it claims: faults injected, takeovers
	// measured, checkpoints completed and read, writes checked.
	if n := res.Faults[faultLeaderKill] + res.Faults[faultLeaderPause]; n == 0 || res.TakeoverAll.Count == 0 {
		t.Errorf("no leader fault or no takeover measured: faults %v, takeovers %d", res.Faults, res.TakeoverAll.Count)
	}
	for _, j := range res.JobResults {
		if j.Completed == 0 || j.ConfigOps == 0 {
			t.Errorf("job %s: %d checkpoints read completed, %d config operations", j.Job, j.Completed, j.ConfigOps)
		}
	}
	if res.Fencing.Writes == 0 {
		t.Error("no write in etcd's history was checked")
	}
}
