// Command ckptsim runs the checkpoint coordinator (package driver) on a
// simulated job so that a person can watch checkpoints complete and change
// the checkpoint configuration at runtime (FLIP-571) with curl.
//
// The job is src(4) -> map(4) -> sink(4), pointwise and pipelined: four
// pipelined regions, so regional checkpoints (FLIP-600) apply. Its subtasks
// live in this process: each acknowledges a trigger after a random delay and
// sometimes declines it or fails (its region then restarts). Randomness comes
// from -seed. Every effect of the coordinator is printed as one line.
//
// The REST API listens on a loopback address only:
//
//	curl -s localhost:8081/jobs/demo/checkpoints/config
//	curl -s -X PATCH localhost:8081/jobs/demo/checkpoints/configuration \
//	     -d '{"checkpointInterval": 500, "checkpointTimeout": 2000}'
//	curl -s localhost:8081/jobs/demo/checkpoints
//
// The store (-store) survives a restart: run ckptsim again on the same
// directory and the coordinator recovers its checkpoints and overrides.
//
// Usage:
//
//	ckptsim [-addr 127.0.0.1:8081] [-store DIR] [-duration 30s] [-seed 1] [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil))
}

// options are the command's flags.
type options struct {
	addr, store, job, token string
	duration                time.Duration
	seed                    uint64
	interval, timeout       int64
	regional                bool
	tolerable               int
	sim                     simParams
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("ckptsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "loopback `address` of the REST API (port 0 picks one)")
	fs.StringVar(&o.store, "store", "ckptsim-data", "store `directory` (created if missing; reused across runs)")
	fs.StringVar(&o.job, "job", "demo", "job `id` in the REST paths")
	fs.StringVar(&o.token, "token", "", "require this bearer `token` on every request")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (0 = until interrupted)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the simulated subtasks' randomness")
	fs.Int64Var(&o.interval, "interval", 2000, "checkpoint interval in `ms` (the default a PATCH overrides)")
	fs.Int64Var(&o.timeout, "timeout", 10000, "checkpoint timeout in `ms`")
	fs.BoolVar(&o.regional, "regional", true, "enable regional checkpoints (FLIP-600)")
	fs.IntVar(&o.tolerable, "tolerable", 10, "tolerable failed checkpoints before the job fails")
	fs.Int64Var(&o.sim.ackMinMs, "ack-min", 20, "shortest ack delay of a subtask in `ms`")
	fs.Int64Var(&o.sim.ackMaxMs, "ack-max", 400, "longest ack delay of a subtask in `ms`")
	fs.Float64Var(&o.sim.decline, "decline", 0.02, "probability that a subtask declines a checkpoint")
	fs.Float64Var(&o.sim.fail, "fail", 0.005, "probability that a subtask fails during a checkpoint")
	fs.Int64Var(&o.sim.restartMs, "restart", 800, "how long a failed region takes to restart, in `ms`")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := checkLoopback(o.addr); err != nil {
		return o, err
	}
	if o.sim.ackMinMs < 0 || o.sim.ackMaxMs < o.sim.ackMinMs || o.sim.restartMs < 0 {
		return o, errors.New("want 0 <= -ack-min <= -ack-max and -restart >= 0")
	}
	for _, p := range []float64{o.sim.decline, o.sim.fail} {
		if !(p >= 0 && p <= 1) {
			return o, errors.New("-decline and -fail are probabilities between 0 and 1")
		}
	}
	return o, nil
}

// checkLoopback refuses an address other hosts could reach: the API changes
// the coordinator's configuration and the simulator is a demo, not a service.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-addr %q: only a loopback address (127.0.0.1, ::1, localhost) is allowed", addr)
}

// run is the command; listening, when not nil, gets the API's address once it
// listens (for tests). It returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, listening chan<- string) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ckptsim:", err)
		return 2
	}
	if err := serve(ctx, o, stdout, listening); err != nil {
		fmt.Fprintln(stderr, "ckptsim:", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, o options, stdout io.Writer, listening chan<- string) error {
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs, cfg.TimeoutMs, cfg.TolerableFailures = o.interval, o.timeout, o.tolerable
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio = o.regional, 0.5
	log := newPrinter(stdout)
	sim := newSim(o.sim, o.seed, log)
	d, err := driver.Open(o.store, simJob(), cfg, driver.Options{Executor: sim})
	if err != nil {
		return err
	}
	defer func() {
		sim.stop()
		if err := d.Close(); err != nil {
			log.printf("close: %v", err)
		}
	}()
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           driver.NewHandler(d, o.job, driver.HandlerOptions{Token: o.token, PatchTimeout: 30 * time.Second}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	base := "http://" + ln.Addr().String() + "/jobs/" + o.job + "/checkpoints"
	st, _ := d.Status()
	log.printf("store %s (flight recorder: %s); %s", o.store, relPath(d.FlightFile()), describeStart(st))
	log.printf("REST API: GET %s  GET %s/config  PATCH %s/configuration", base, base, base)
	if listening != nil {
		listening <- ln.Addr().String()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var timeout <-chan time.Time
	if o.duration > 0 {
		timeout = time.After(o.duration)
	}
	select {
	case <-ctx.Done():
		log.printf("interrupted: shutting down")
	case <-timeout:
		log.printf("ran for %v: shutting down", o.duration)
	case err := <-errc:
		return err
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

func describeStart(st driver.Status) string {
	s := fmt.Sprintf("interval %d ms, timeout %d ms", st.Effective.IntervalMs, st.Effective.TimeoutMs)
	if st.Effective.OverridesActive {
		s += " (overrides from the store)"
	}
	if st.LatestCompleted != nil {
		s += fmt.Sprintf("; recovered, latest completed checkpoint %d", st.LatestCompleted.ID)
	}
	return s
}

func relPath(p string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, p); err == nil {
			return r
		}
	}
	return p
}
