package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// The kinds of fault the soak injects.
const (
	faultLeaderKill  = "leader SIGKILL"      // SIGKILL of the process leading a job, restarted after a while
	faultLeaderPause = "leader SIGSTOP"      // a paused leader: its lease expires, it resumes later (fencing)
	faultEtcdLeader  = "etcd leader SIGKILL" // SIGKILL of etcd's Raft leader, restarted after a while
	faultEtcdMember  = "etcd member SIGKILL" // SIGKILL of another etcd member, restarted after a while
	faultFullRestart = "all nodes SIGTERM"   // every serve process stopped and started again (epoch boundary)
)

// takeover is one measured takeover: from the kill or pause of a job's leader
// to the first `ha: job J: leader` line after it.
type takeover struct {
	Kind   string        `json:"kind"`
	Job    string        `json:"job"`
	From   string        `json:"from"` // the deposed node
	To     string        `json:"to"`   // the new leader ("" if none came)
	Millis float64       `json:"ms"`
	dur    time.Duration // Millis as a duration
}

// injector injects faults, one at a time, at random times drawn from a seed.
type injector struct {
	rnd      *rand.Rand
	cl       *cluster
	etcd     *clientv3.Client
	fl       *fleet
	jobs     []string
	leaseTTL time.Duration
	gapMin   time.Duration
	gapMax   time.Duration
	note     func(start, end time.Time, what string) // records a fault in every job's history

	mu        sync.Mutex
	counts    map[string]int
	takeovers []takeover
	missing   []takeover // takeovers that never came within takeoverLimit
	etcdDown  []takeover // after etcd leader kills: until a write through the cluster succeeds
	wg        sync.WaitGroup
}

// takeoverLimit bounds how long the soak waits for a new leader after a
// fault; longer is reported as a missing takeover (a violation).
const takeoverLimit = 60 * time.Second

// run injects faults until stop is closed; it returns with every fault
// healed (processes resumed and restarted, members restarted).
func (in *injector) run(stop <-chan struct{}) error {
	for {
		gap := in.gapMin + time.Duration(in.rnd.Int64N(int64(in.gapMax-in.gapMin)+1))
		select {
		case <-stop:
			return nil
		case <-time.After(gap):
		}
		var err error
		switch k := in.rnd.IntN(10); {
		case k < 4:
			err = in.killLeader()
		case k < 7:
			err = in.pauseLeader()
		default:
			err = in.killEtcd(in.rnd.IntN(2) == 0)
		}
		if err != nil {
			return err
		}
	}
}

// victim picks the node leading a random job; "" when no job has a known
// leader.
func (in *injector) victim() string {
	for _, i := range in.rnd.Perm(len(in.jobs)) {
		if n := in.fl.leaderOf(in.jobs[i]); n != "" {
			return n
		}
	}
	return ""
}

// measure waits, in the background, for the next leader of each job in jobs
// after at, and records the takeover.
func (in *injector) measure(kind, from string, jobs []string, at time.Time) {
	for _, job := range jobs {
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			ev, ok := in.fl.nextLeader(job, at, takeoverLimit)
			t := takeover{Kind: kind, Job: job, From: from}
			in.mu.Lock()
			defer in.mu.Unlock()
			if !ok {
				in.missing = append(in.missing, t)
				return
			}
			t.To, t.dur = ev.node, ev.at.Sub(at)
			t.Millis = float64(t.dur.Microseconds()) / 1000
			in.takeovers = append(in.takeovers, t)
		}()
	}
}

func (in *injector) count(kind string) {
	in.mu.Lock()
	in.counts[kind]++
	in.mu.Unlock()
}

// hold waits a random time in [lo, hi], the length of an outage.
func (in *injector) hold(lo, hi time.Duration) {
	time.Sleep(lo + time.Duration(in.rnd.Int64N(int64(hi-lo)+1)))
}

// killLeader SIGKILLs the process leading a random job and restarts it.
func (in *injector) killLeader() error {
	name := in.victim()
	if name == "" {
		return nil
	}
	nd := in.fl.node(name)
	jobs := in.fl.jobsLedBy(name)
	at := time.Now()
	if err := in.fl.stop(nd, syscall.SIGKILL, time.Second); err != nil {
		return err
	}
	in.measure(faultLeaderKill, name, jobs, at)
	in.count(faultLeaderKill)
	in.hold(500*time.Millisecond, in.leaseTTL+time.Second)
	err := in.fl.start(nd)
	in.note(at, time.Now(), fmt.Sprintf("%s of %s (leading %v), restarted", faultLeaderKill, name, jobs))
	return err
}

// pauseLeader SIGSTOPs the process leading a random job past its lease, then
// lets it go on: a standby must take over, and the resumed process must not
// write (fencing) nor answer as leader.
func (in *injector) pauseLeader() error {
	name := in.victim()
	if name == "" {
		return nil
	}
	nd := in.fl.node(name)
	jobs := in.fl.jobsLedBy(name)
	at := time.Now()
	if err := nd.signal(syscall.SIGSTOP); err != nil {
		return nil // it died meanwhile
	}
	in.measure(faultLeaderPause, name, jobs, at)
	in.count(faultLeaderPause)
	in.hold(in.leaseTTL+500*time.Millisecond, 2*in.leaseTTL+2*time.Second)
	if err := nd.signal(syscall.SIGCONT); err != nil {
		return err
	}
	in.note(at, time.Now(), fmt.Sprintf("%s of %s (leading %v), resumed", faultLeaderPause, name, jobs))
	return nil
}

// killEtcd SIGKILLs etcd's Raft leader (leader true) or another member, and
// restarts it after a while.
func (in *injector) killEtcd(leader bool) error {
	var m *member
	kind := faultEtcdMember
	if l := in.cl.leader(in.etcd); l != nil && leader {
		m, kind = l, faultEtcdLeader
	} else {
		var others []*member
		for _, x := range in.cl.members {
			if x != l && x.running() {
				others = append(others, x)
			}
		}
		if len(others) == 0 {
			return nil
		}
		m = others[in.rnd.IntN(len(others))]
	}
	at := time.Now()
	if err := in.cl.kill(m); err != nil {
		return err
	}
	in.count(kind)
	if kind == faultEtcdLeader {
		in.measureEtcd(at)
	}
	in.hold(time.Second, 4*time.Second)
	err := in.cl.restart(m)
	in.note(at, time.Now(), fmt.Sprintf("%s %s, restarted", kind, m.name))
	return err
}

// probeKey is written to measure etcd's own failover; it is outside every
// job's keys.
const probeKey = "/ckpt-soak/probe"

// measureEtcd writes, in the background, until a write through the cluster
// succeeds after etcd's leader was killed at at: etcd's own failover time.
func (in *injector) measureEtcd(at time.Time) {
	in.wg.Add(1)
	go func() {
		defer in.wg.Done()
		for time.Since(at) < takeoverLimit {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			_, err := in.etcd.Put(ctx, probeKey, at.String())
			cancel()
			if err == nil {
				d := time.Since(at)
				in.mu.Lock()
				in.etcdDown = append(in.etcdDown, takeover{Kind: faultEtcdLeader, dur: d, Millis: float64(d.Microseconds()) / 1000})
				in.mu.Unlock()
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		in.mu.Lock()
		in.missing = append(in.missing, takeover{Kind: faultEtcdLeader})
		in.mu.Unlock()
	}()
}

// wait waits for every pending takeover measurement.
func (in *injector) wait() { in.wg.Wait() }

// percentile returns the q-quantile (nearest rank) of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// takeoverStats summarizes takeover times by kind: count, p50, p99, max.
type takeoverStats struct {
	Count int     `json:"count"`
	P50ms float64 `json:"p50_ms"`
	P99ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
}

func summarize(ts []takeover) takeoverStats {
	var ds []time.Duration
	for _, t := range ts {
		ds = append(ds, t.dur)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s := takeoverStats{Count: len(ds)}
	if len(ds) > 0 {
		s.P50ms, s.P99ms, s.MaxMs = ms(percentile(ds, 0.5)), ms(percentile(ds, 0.99)), ms(ds[len(ds)-1])
	}
	return s
}
