// Command soak is the high-availability soak of `ckpt serve --etcd` (issue 15
// §2, `make soak-ha`): a real 3-member etcd cluster from the Debian binary,
// two or three serve processes sharing several jobs, REST clients patching
// and reading every job through any process, and faults at random times from
// a seed — SIGKILL and SIGSTOP of job leaders, SIGKILL of etcd members
// including etcd's leader. At the end it checks, per job, that the clients'
// history is linearizable across leader changes (porcupine), that no
// acknowledged override and no completed checkpoint was lost, and that etcd's
// revision history shows no write by a node that was not the job's leader at
// that revision; it prints a table with takeover times and writes it as JSON.
// It exits 1 on any violation, 2 when it cannot run.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	p := defaultParams()
	flag.DurationVar(&p.duration, "duration", p.duration, "how long clients and faults run (SOAK_DURATION in make soak-ha)")
	flag.DurationVar(&p.epoch, "epoch", p.epoch, "clients pause, every node restarts and reads pin the state this often (bounds porcupine's work)")
	flag.Uint64Var(&p.seed, "seed", p.seed, "seed of the clients' and the fault injector's randomness")
	flag.IntVar(&p.nodes, "nodes", p.nodes, "number of `ckpt serve` processes")
	flag.IntVar(&p.clientsPerJob, "clients", p.clientsPerJob, "REST clients per job")
	jobs := flag.String("jobs", strings.Join(p.jobs, ","), "comma-separated job ids every node serves")
	flag.DurationVar(&p.leaseTTL, "lease-ttl", p.leaseTTL, "the nodes' etcd lease TTL (--lease-ttl of ckpt serve)")
	flag.DurationVar(&p.gapMin, "fault-gap-min", p.gapMin, "shortest quiet time between two faults")
	flag.DurationVar(&p.gapMax, "fault-gap-max", p.gapMax, "longest quiet time between two faults")
	flag.StringVar(&p.ckpt, "ckpt", "", "ckpt binary to run (default: go build ./cmd/ckpt of this repository)")
	flag.StringVar(&p.jsonOut, "json", "", "also write the result table as JSON to this `file`")
	flag.StringVar(&p.keep, "keep", "", "keep logs, etcd data and the client history in this `directory` (default: a temporary one, removed when the soak passes)")
	flag.Parse()
	p.jobs = strings.Split(*jobs, ",")
	if err := p.check(); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	res, err := run(p, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	res.print(os.Stdout)
	if p.jsonOut != "" {
		if err := res.writeJSON(p.jsonOut); err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
	}
	if v := res.violations(); len(v) > 0 {
		fmt.Printf("soak: FAIL (seed %d): %s\n", p.seed, strings.Join(v, "; "))
		os.Exit(1)
	}
	fmt.Printf("soak: PASS (seed %d)\n", p.seed)
}

// params shape one soak.
type params struct {
	duration, epoch time.Duration
	seed            uint64
	nodes           int
	clientsPerJob   int
	jobs            []string
	leaseTTL        time.Duration
	gapMin, gapMax  time.Duration
	ckpt            string
	jsonOut, keep   string
	checkTimeout    time.Duration
}

func defaultParams() params {
	return params{duration: 3 * time.Minute, epoch: 30 * time.Second, seed: 1, nodes: 3, clientsPerJob: 3,
		jobs: []string{"j1", "j2", "j3"}, leaseTTL: 2 * time.Second, gapMin: time.Second, gapMax: 4 * time.Second,
		checkTimeout: time.Minute}
}

func (p params) check() error {
	switch {
	case p.duration <= 0 || p.epoch <= 0:
		return fmt.Errorf("-duration %v, -epoch %v: want both positive", p.duration, p.epoch)
	case p.nodes < 2:
		return fmt.Errorf("-nodes %d: want at least 2 (a leader and a standby)", p.nodes)
	case p.clientsPerJob < 1:
		return fmt.Errorf("-clients %d: want at least 1", p.clientsPerJob)
	case p.leaseTTL < time.Second:
		return fmt.Errorf("-lease-ttl %v: want at least 1s (etcd's lease granularity)", p.leaseTTL)
	case p.gapMin <= 0 || p.gapMax < p.gapMin:
		return fmt.Errorf("-fault-gap-min %v, -fault-gap-max %v: want 0 < min <= max", p.gapMin, p.gapMax)
	}
	for _, j := range p.jobs {
		if j == "" {
			return fmt.Errorf("-jobs %q: an empty job id", strings.Join(p.jobs, ","))
		}
	}
	return nil
}
