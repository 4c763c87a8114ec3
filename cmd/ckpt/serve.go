package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/driver"
	"github.com/ckptcore/ckptcore/fsm"
)

const serveLong = `Run the checkpoint coordinator (package driver) on a simulated job, so that a
person can watch checkpoints complete and change the checkpoint configuration at
runtime (FLIP-571) with curl.

The job is src(4) -> map(4) -> sink(4), pointwise and pipelined: four pipelined
regions, so regional checkpoints (FLIP-600) apply. Its subtasks live in this
process: each acknowledges a trigger after a random delay (--seed) and
sometimes declines it or fails (its region then restarts). Every effect of the
coordinator is printed as one line.

State. The coordinator's durable store (completed checkpoints, the id counter,
confirmed configuration overrides) and its flight recorder (a history per
incarnation, replayable with ckpt replay) go to a state directory. Without
--state-dir every run starts clean in a new directory under the user's cache
directory ($XDG_CACHE_HOME/ckptcore/serve or its OS equivalent), and prints
where. Run again with --state-dir on that directory and the coordinator
recovers its checkpoints and overrides (R50), saying so. The REST API listens on
a loopback address only:

  curl -s localhost:8081/jobs/demo/checkpoints/config
  curl -s -X PATCH localhost:8081/jobs/demo/checkpoints/configuration \
       -H 'Content-Type: application/json' -d '{"checkpointInterval": 500, "checkpointTimeout": 2000}'
  curl -s localhost:8081/jobs/demo/checkpoints

High availability: with --etcd, the durable state goes to etcd instead, and
several processes share the jobs of --jobs: each campaigns for every job, leads
some and stands by for the others; a request for a job another process leads
gets 307 to it (503 while no leader is ready); GET /ha/status lists the leaders.
A standby takes over within --lease-ttl when the leader dies (README, "High
availability (etcd)"):

  ckpt serve --etcd 127.0.0.1:2379 --node a --jobs j1,j2 --addr 127.0.0.1:8081
  ckpt serve --etcd 127.0.0.1:2379 --node b --jobs j1,j2 --addr 127.0.0.1:8082

Exit status: 0 stopped (interrupt or --duration); 2 it could not start or serve
(bad flags, address in use, unreadable state directory).`

// serveOptions are serve's flags.
type serveOptions struct {
	addr, stateDir, job, tokenFile string
	checkpointsDir                 string
	duration                       time.Duration
	seed                           uint64
	interval, timeout              int64
	maxTimeout                     int64
	regional                       bool
	tolerable                      int
	sim                            simParams
	flightMaxBytes                 int64
	flightMaxCheckpoints           int
	flightFormat                   driver.FlightFormat
	ha                             haOptions
}

func (a *app) serveCmd() *cobra.Command {
	var o serveOptions
	c := &cobra.Command{
		Use:   "serve [flags]",
		Short: "Run the coordinator on a simulated job, with its REST API (FLIP-571)",
		Long:  serveLong,
		Example: `  ckpt serve --duration 60s
  ckpt serve --state-dir /tmp/ckpt-demo      # run it again with the same flag to recover`,
		Args: noArgs,
	}
	fs := c.Flags()
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8081", "loopback `address` of the REST API (port 0 picks one)")
	fs.StringVar(&o.stateDir, "state-dir", "", "state `directory`, created if missing and recovered from if not empty (default: a new directory under the user's cache directory)")
	fs.StringVar(&o.job, "job", "demo", "job `id` in the REST paths")
	fs.StringVar(&o.checkpointsDir, "checkpoints-dir", "", "checkpoint storage `directory`: each completed checkpoint's state handles in <dir>/<job>/chk-<id>/_metadata (ckpt metadata prints one), the simulated subtasks' state files beside it (default: <state-dir>/storage)")
	fs.StringVar(&o.tokenFile, "token-file", "", "require the bearer token in this `file` on every request (or set "+tokenEnv+"; never on the command line, which other users can read)")
	fs.DurationVar(&o.duration, "duration", 0, "stop after this long (default: until interrupted)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the simulated subtasks' randomness")
	fs.Int64Var(&o.interval, "interval", 2000, "checkpoint interval in `ms` (the default a PATCH overrides)")
	fs.Int64Var(&o.timeout, "timeout", 10000, "checkpoint timeout in `ms`")
	fs.Int64Var(&o.maxTimeout, "max-timeout", 0, "largest checkpoint timeout in `ms` a PATCH may set (max_timeout_ms, the FLIP-571 guardrail; 0: no bound)")
	fs.BoolVar(&o.regional, "regional", true, "enable regional checkpoints (FLIP-600)")
	fs.IntVar(&o.tolerable, "tolerable", 10, "tolerable failed checkpoints before the job fails")
	fs.Int64Var(&o.flightMaxBytes, "flight-max-bytes", driver.DefaultFlightMaxBytes, "rotate the flight file once its events take this many `bytes` (the next starts with a snapshot of the core); negative: no size limit")
	fs.IntVar(&o.flightMaxCheckpoints, "flight-max-checkpoints", driver.DefaultFlightMaxCheckpoints, "rotate the flight file once it has recorded this many completed checkpoints; negative: no limit")
	fs.Var(flightFormatFlag{&o.flightFormat}, "flight-format", "flight files' `format`: ndjson (flight-<n>.jsonl) or binary (flight-<n>.bin, a few bytes per batch of acks; ckpt convert turns it into NDJSON)")
	fs.Int64Var(&o.sim.ackMinMs, "ack-min", 20, "shortest ack delay of a subtask in `ms`")
	fs.Int64Var(&o.sim.ackMaxMs, "ack-max", 400, "longest ack delay of a subtask in `ms`")
	fs.Float64Var(&o.sim.decline, "decline", 0.02, "probability that a subtask declines a checkpoint")
	fs.Float64Var(&o.sim.fail, "fail", 0.005, "probability that a subtask fails during a checkpoint")
	fs.Int64Var(&o.sim.restartMs, "restart", 800, "how long a failed region takes to restart, in `ms`")
	fs.StringVar(&o.ha.endpoints, "etcd", "", "high availability: etcd `endpoints` (host:port[,host:port...]); the durable state goes to etcd, this process leads some --jobs and stands by for the others")
	fs.StringVar(&o.ha.node, "node", "", "with --etcd: this process's `name` in elections and in every value it writes")
	fs.StringVar(&o.ha.jobs, "jobs", "", "with --etcd: the `ids` of the jobs to campaign for, comma-separated (default: --job)")
	fs.DurationVar(&o.ha.leaseTTL, "lease-ttl", 5*time.Second, "with --etcd: the session lease's time-to-live, which bounds a takeover (whole seconds)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if err := o.check(); err != nil {
			return usageErrorf("%v", err)
		}
		if err := a.serve(c.Context(), o); err != nil {
			return invalidInput(err)
		}
		return nil
	}
	return c
}

// check refuses flag values the simulation cannot honour.
func (o serveOptions) check() error {
	if err := checkLoopback(o.addr); err != nil {
		return err
	}
	if err := o.checkHA(); err != nil {
		return err
	}
	if o.sim.ackMinMs < 0 || o.sim.ackMaxMs < o.sim.ackMinMs || o.sim.restartMs < 0 {
		return errors.New("want 0 <= --ack-min <= --ack-max and --restart >= 0")
	}
	for _, p := range []float64{o.sim.decline, o.sim.fail} {
		if !(p >= 0 && p <= 1) {
			return errors.New("--decline and --fail are probabilities between 0 and 1")
		}
	}
	return nil
}

// checkLoopback refuses an address other hosts could reach: the API changes
// the coordinator's configuration and the simulator is a demo, not a service.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %v", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %q: only a loopback address (127.0.0.1, ::1, localhost) is allowed", addr)
}

// newStateDir makes a fresh state directory for a run without --state-dir,
// under the user's cache directory (the OS temporary directory when there is
// none), so that no run inherits another's overrides unless asked to.
func newStateDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	parent := filepath.Join(base, "ckptcore", "serve")
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", err
	}
	return os.MkdirTemp(parent, time.Now().UTC().Format("20060102-150405-"))
}

func (a *app) serve(ctx context.Context, o serveOptions) error {
	log := newPrinter(a.stdout)
	cfg := fsm.DefaultConfig()
	cfg.IntervalMs, cfg.TimeoutMs, cfg.TolerableFailures = o.interval, o.timeout, o.tolerable
	cfg.MaxTimeoutMs = o.maxTimeout
	if err := cfg.Validate(); err != nil {
		return err
	}
	token, err := readToken(o.tokenFile)
	if err != nil {
		return err
	}
	cfg.Regional.Enabled, cfg.Regional.MaxFailureRatio = o.regional, 0.5
	if o.ha.endpoints != "" {
		return a.serveHA(ctx, o, cfg, token)
	}
	fresh := true
	if o.stateDir == "" {
		dir, err := newStateDir()
		if err != nil {
			return fmt.Errorf("state directory: %w (choose one with --state-dir)", err)
		}
		o.stateDir = dir
	} else if entries, err := os.ReadDir(o.stateDir); err == nil && len(entries) > 0 {
		fresh = false // driver.Open recovers from what is there
	}
	sim := newSimExecutor(o.sim, o.seed, log)
	if o.checkpointsDir == "" {
		o.checkpointsDir = filepath.Join(o.stateDir, "storage") // not "checkpoints": the FileStore's pointers live there
	}
	d, err := driver.Open(o.stateDir, simJob(), cfg, driver.Options{Executor: sim,
		FlightMaxBytes: o.flightMaxBytes, FlightMaxCheckpoints: o.flightMaxCheckpoints, FlightFormat: o.flightFormat,
		CheckpointsDir: o.checkpointsDir, Job: o.job})
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
	// Timeouts and a connection cap (driver.NewServer); without a token, only
	// requests naming this loopback address (DNS rebinding).
	h := driver.NewHandler(d, o.job, driver.HandlerOptions{Token: token, PatchTimeout: driver.DefaultPatchTimeout,
		Hosts: driver.LoopbackHosts(ln.Addr().String())})
	srv, limit := driver.NewServer(h, driver.ServerOptions{})
	ln = limit(ln)
	st, _ := d.Status()
	how := "reused"
	if fresh {
		how = "new"
	}
	log.printf("state directory (%s): %s", how, o.stateDir)
	log.printf("  flight recorder: %s; to continue this run later: ckpt serve --state-dir %s", d.FlightFile(), shellQuote(o.stateDir))
	log.printf("  checkpoint storage: %s (ckpt metadata %s prints a checkpoint's _metadata)", d.CheckpointStorage().JobDir(),
		shellQuote(filepath.Join(d.CheckpointStorage().JobDir(), "chk-<id>")))
	log.printf("%s", describeStart(st))
	base := "http://" + ln.Addr().String() + "/jobs/" + o.job + "/checkpoints"
	log.printf("REST API: GET %s  GET %s/config  PATCH %s/configuration", base, base, base)
	if a.listening != nil {
		a.listening <- ln.Addr().String()
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

// tokenEnv is the environment variable serve reads the bearer token from
// when --token-file is not given.
const tokenEnv = "CKPT_SERVE_TOKEN"

// readToken reads the bearer token from a file (its first line) or tokenEnv;
// "" means none. A token file readable by other users is refused.
func readToken(file string) (string, error) {
	if file == "" {
		return strings.TrimSpace(os.Getenv(tokenEnv)), nil
	}
	st, err := os.Stat(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("--token-file %s: readable by others (mode %v): chmod 600 it", file, st.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w", err)
	}
	tok, _, _ := strings.Cut(string(b), "\n")
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", fmt.Errorf("--token-file %s: empty", file)
	}
	return tok, nil
}

// describeStart says what the coordinator starts from: the configuration in
// force and, after a restart on the same state directory, what it recovered —
// so that inherited overrides are never silent.
func describeStart(st driver.Status) string {
	s := fmt.Sprintf("interval %d ms, timeout %d ms", st.Effective.IntervalMs, st.Effective.TimeoutMs)
	if st.Effective.OverridesActive {
		s += " (overrides from the state directory)"
	}
	if st.LatestCompleted != nil {
		s += fmt.Sprintf("; recovered, latest completed checkpoint %d", st.LatestCompleted.ID)
	}
	return s
}

// shellQuote quotes a path for the command line it is printed in.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
