package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// needEtcd returns the etcd binary, or skips saying why there is none.
func needEtcd(t *testing.T) string {
	t.Helper()
	bin, err := findEtcd()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	return bin
}

// TestClusterSurvivesMemberKill starts a real 3-member cluster, kills its
// Raft leader, and checks that the two others still serve linearizable
// writes and that the killed member rejoins and catches up.
func TestClusterSurvivesMemberKill(t *testing.T) {
	bin := needEtcd(t)
	dir := t.TempDir()
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
	})
	c, err := startCluster(bin, dir, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	cli, err := c.client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	// put retries: a write in flight when the leader dies fails ("request
	// timed out, possibly due to previous leader failure") and clientv3 does
	// not retry a non-idempotent request; the cluster must accept it again
	// within a few election timeouts.
	put := func(v string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := cli.Put(ctx, "/soak-test/k", v)
			cancel()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("put %s: %v", v, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	put("before")
	l := c.leader(cli)
	if l == nil {
		t.Fatal("no etcd leader known")
	}
	if err := c.kill(l); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		put(fmt.Sprint("after-", i))
	}
	if nl := c.leader(cli); nl == nil || nl == l {
		t.Fatalf("leader after killing %s: %v", l.name, nl)
	}
	if err := c.restart(l); err != nil {
		t.Fatal(err)
	}
	// The restarted member catches up: a serializable read on it alone shows the last write.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		st, err := cli.Status(ctx, l.clientURL)
		cancel()
		if err == nil && st.RaftIndex > 0 {
			if one, err := c.memberClient(l); err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				r, err := one.Get(ctx, "/soak-test/k", serializable())
				cancel()
				one.Close()
				if err == nil && len(r.Kvs) == 1 && string(r.Kvs[0].Value) == "after-4" {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted member %s did not catch up", l.name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func dumpLogs(t *testing.T, dir string) {
	for i := range 3 {
		b, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("m%d.log", i)))
		t.Logf("m%d.log:\n%s", i, b)
	}
}
