package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/driver/etcd"
	"github.com/ckptcore/ckptcore/fsm"
)

// haOptions are serve's high-availability flags (README, "High availability").
type haOptions struct {
	endpoints string // --etcd host:port[,host:port...]; "" runs the one-process default
	node      string
	jobs      string
	leaseTTL  time.Duration
}

// haJobs is the --jobs list, or the --job alone.
func (o serveOptions) haJobs() ([]string, error) {
	if o.ha.jobs == "" {
		return []string{o.job}, etcd.CheckJobID(o.job)
	}
	var jobs []string
	for _, j := range strings.Split(o.ha.jobs, ",") {
		j = strings.TrimSpace(j)
		if err := etcd.CheckJobID(j); err != nil {
			return nil, fmt.Errorf("--jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// checkHA refuses HA flags without --etcd and an --etcd without a node name.
func (o serveOptions) checkHA() error {
	if o.ha.endpoints == "" {
		if o.ha.node != "" || o.ha.jobs != "" {
			return errors.New("--node and --jobs need --etcd")
		}
		return nil
	}
	if o.ha.node == "" {
		return errors.New("--etcd needs --node NAME (this process's name in elections and in every value it writes)")
	}
	if o.ha.leaseTTL < time.Second {
		return fmt.Errorf("--lease-ttl %v: want at least 1s (etcd counts leases in whole seconds)", o.ha.leaseTTL)
	}
	_, err := o.haJobs()
	return err
}

// serveHA runs serve on etcd: for every job of --jobs this process campaigns;
// it runs the simulated job and its REST API for the jobs it leads and
// redirects the others' requests to their leaders (etcd.Manager).
func (a *app) serveHA(ctx context.Context, o serveOptions, cfg fsm.Config, token string) error {
	log := newPrinter(a.stdout)
	jobs, err := o.haJobs()
	if err != nil {
		return err
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: strings.Split(o.ha.endpoints, ","), DialTimeout: 5 * time.Second,
		Logger: zap.NewNop()}) // failures reach the "ha:" lines through the Manager
	if err != nil {
		return fmt.Errorf("--etcd %s: %w", o.ha.endpoints, err)
	}
	defer cli.Close()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	hosts := driver.LoopbackHosts(addr)
	open := func(job string, store *etcd.Store) (etcd.LedJob, error) {
		jlog := log.withPrefix("[" + job + "] ")
		sim := newSimExecutor(o.sim, o.seed+uint64(indexOf(jobs, job)), jlog)
		opt := driver.Options{Executor: sim, NoFlightRecorder: o.stateDir == "",
			FlightMaxBytes: o.flightMaxBytes, FlightMaxCheckpoints: o.flightMaxCheckpoints, FlightFormat: o.flightFormat,
			// Checkpoint storage must be shared by every node (Flink: a DFS), so
			// there is no per-node default: without --checkpoints-dir, no state.
			CheckpointsDir: o.checkpointsDir, Job: job}
		if o.stateDir != "" {
			opt.FlightDir = filepath.Join(o.stateDir, job, "flight")
		}
		d, err := driver.New(store, simJob(), cfg, opt)
		if err != nil {
			sim.stop()
			return nil, err
		}
		if st, err := d.Status(); err == nil {
			jlog.printf("%s", describeStart(st))
		}
		h := driver.NewHandler(d, job, driver.HandlerOptions{Token: token, PatchTimeout: driver.DefaultPatchTimeout, Hosts: hosts})
		return &etcd.DriverJob{Driver: d, Handler: h, Stop: sim.stop}, nil
	}
	mgr, err := etcd.NewManager(cli, etcd.ManagerOptions{Node: o.ha.node, URL: "http://" + addr, Jobs: jobs,
		LeaseTTL: o.ha.leaseTTL, Open: open, Logf: func(format string, args ...any) { log.line(fmt.Sprintf(format, args...)) },
		// /ha/status, the redirects and the 503s pass the job API's guard too.
		Token: token, Hosts: hosts})
	if err != nil {
		ln.Close()
		return err
	}
	srv, limit := driver.NewServer(mgr, driver.ServerOptions{})
	ln = limit(ln)
	log.printf("ha: node %s on etcd %s: campaigning for jobs %s (lease TTL %v)", o.ha.node, o.ha.endpoints, strings.Join(jobs, ","), o.ha.leaseTTL)
	if o.checkpointsDir == "" {
		log.printf("  no --checkpoints-dir: no checkpoint storage (give every node the same shared directory)")
	} else {
		log.printf("  checkpoint storage (shared by every node): %s", filepath.Join(o.checkpointsDir, "<job>"))
	}
	if o.stateDir == "" {
		log.printf("  no --state-dir: no flight recorder (the durable state is in etcd)")
	} else {
		log.printf("  flight recorder: %s", filepath.Join(o.stateDir, "<job>", "flight"))
	}
	log.printf("REST API: http://%s/ha/status, http://%s/jobs/<job>/checkpoints (307 to the leader, 503 while none)", addr, addr)
	if a.listening != nil {
		a.listening <- addr
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	run, stop := context.WithCancel(context.Background())
	managed := make(chan struct{})
	go func() {
		mgr.Run(run)
		close(managed)
	}()
	var timeout <-chan time.Time
	if o.duration > 0 {
		timeout = time.After(o.duration)
	}
	var serveErr error
	select {
	case <-ctx.Done():
		log.printf("interrupted: closing the jobs this node leads and resigning")
	case <-timeout:
		log.printf("ran for %v: closing the jobs this node leads and resigning", o.duration)
	case serveErr = <-errc:
	}
	// Resign first (each job's driver closes, its lease is revoked, a standby
	// takes over at once), then stop answering.
	stop()
	<-managed
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); serveErr == nil {
		serveErr = err
	}
	return serveErr
}

func indexOf(xs []string, x string) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}
