package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
	"github.com/ckptcore/ckptcore/driver/linearizability"
	"github.com/ckptcore/ckptcore/fsm"
)

// The REST field names of a PATCH of the configuration (FLIP-571).
const (
	fieldInterval = "checkpointInterval"
	fieldTimeout  = "checkpointTimeout"
)

// regions is the number of pipelined regions of serve's simulated job
// (src(4) -> map(4) -> sink(4), pointwise): a read of progress has one ref each.
const regions = 4

// jobClients are the clients of one job and the recorder of what they saw:
// one porcupine history per job, since each job's configuration is a
// register of its own.
type jobClients struct {
	job  string
	rec  *linearizability.ClientRecorder
	vals values

	mu        sync.Mutex
	completed map[int64]time.Time // every checkpoint a read reported as latest completed, first seen at
}

// values hands out the values a job's clients patch in, each different from
// every other until a range wraps (as the driver's robustness test does): a
// value then names its patch, which lets linearizability.BoundUnknownPatches
// resolve unknown outcomes and the soak attribute every value a read shows.
type values struct{ interval, timeout atomic.Int64 }

func (v *values) next() (interval, timeout int64) {
	// k·7919 mod m visits all of [0, m) before repeating: 7919 is a prime
	// dividing neither range.
	return 10 + (v.interval.Add(1)*7919)%1990, 200 + (v.timeout.Add(1)*7919)%3800
}

// client is one simulated REST client of a job.
type client struct {
	jc    *jobClients
	nodes []*node
	http  *http.Client
	rnd   *rand.Rand
	id    int
	stats *clientStats
}

// clientStats count what clients saw over the whole soak.
type clientStats struct {
	patches, patchOK, patchRejected, patchUnknown atomic.Int64
	gets, getFailed, redirects, unavailable       atomic.Int64
}

func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout,
		// Redirects are followed by do, which counts them and keeps the body.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport:     &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 5 * time.Second}}
}

// maxRedirects bounds the 307 hops of one request: one hop reaches the leader
// an election value names; more mean leadership moved during the request.
const maxRedirects = 4

// do sends method path to a random node and follows 307 redirects to the
// leader. It returns the final status and body; a transport error or a
// redirect loop is an error.
func (c *client) do(method, path string, body []byte) (int, []byte, error) {
	target := c.nodes[c.rnd.IntN(len(c.nodes))].url() + path
	for hop := 0; ; hop++ {
		req, err := http.NewRequest(method, target, bytes.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, nil, err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return 0, nil, err
		}
		if resp.StatusCode != http.StatusTemporaryRedirect {
			return resp.StatusCode, b, nil
		}
		c.stats.redirects.Add(1)
		if hop >= maxRedirects {
			return 0, nil, fmt.Errorf("%s %s: more than %d redirects", method, path, maxRedirects)
		}
		loc, err := resp.Location()
		if err != nil {
			return 0, nil, fmt.Errorf("307 without a Location: %w", err)
		}
		target = resolve(target, loc)
	}
}

// resolve makes a redirect's Location absolute against the URL it answered.
func resolve(from string, loc *url.URL) string {
	base, err := url.Parse(from)
	if err != nil {
		return loc.String()
	}
	return base.ResolveReference(loc).String()
}

// patchInput draws a patch: mostly both fields, sometimes one, sometimes an
// invalid value (R60: rejected, changes nothing).
func (c *client) patchInput() linearizability.ConfigInput {
	in := linearizability.ConfigInput{Op: linearizability.ConfigPatch}
	interval, timeout := c.jc.vals.next()
	switch k := c.rnd.IntN(20); {
	case k < 12:
		in.IntervalMs, in.TimeoutMs = &interval, &timeout
	case k < 15:
		in.IntervalMs = &interval
	case k < 18:
		in.TimeoutMs = &timeout
	case k == 18:
		bad := 1 + c.rnd.Int64N(9) // below §2's minimum (0 would be valid)
		in.IntervalMs, in.TimeoutMs = &bad, &timeout
	default:
		bad := maxTimeoutMs + 1 + c.rnd.Int64N(1000) // above max_timeout_ms
		in.TimeoutMs = &bad
	}
	return in
}

// step runs one operation and records it. It returns an error only for what
// no fault explains: a harness bug or a node answering nonsense.
func (c *client) step() error {
	switch k := c.rnd.IntN(20); {
	case k < 7:
		return c.patch()
	case k < 15:
		_, err := c.getConfig()
		return err
	default:
		_, err := c.getProgress()
		return err
	}
}

func (c *client) patch() error {
	in := c.patchInput()
	body := map[string]int64{}
	if in.IntervalMs != nil {
		body[fieldInterval] = *in.IntervalMs
	}
	if in.TimeoutMs != nil {
		body[fieldTimeout] = *in.TimeoutMs
	}
	b, _ := json.Marshal(body)
	c.stats.patches.Add(1)
	call, err := c.jc.rec.Call(c.id, in)
	if err != nil {
		return err
	}
	status, resp, err := c.do(http.MethodPatch, "/jobs/"+c.jc.job+"/checkpoints/configuration", b)
	switch {
	case err == nil && status == http.StatusOK:
		if _, derr := decodeConfig(resp); derr != nil {
			return fmt.Errorf("job %s: PATCH answer %s: %v", c.jc.job, resp, derr)
		}
		c.stats.patchOK.Add(1)
		return c.jc.rec.Return(call, linearizability.ConfigOutput{Outcome: linearizability.OutcomeOK})
	case err == nil && status == http.StatusBadRequest:
		c.stats.patchRejected.Add(1)
		return c.jc.rec.Return(call, linearizability.ConfigOutput{Outcome: linearizability.OutcomeRejected})
	case err == nil && status < 500:
		return fmt.Errorf("job %s: PATCH %s: %d %s", c.jc.job, b, status, resp)
	}
	// A transport error, a timeout (a paused node), or a 5xx: the patch may
	// still take effect — even a 503 "no leader known" is counted unknown,
	// since a leader whose store write failed answers 503 too.
	if status == http.StatusServiceUnavailable {
		c.stats.unavailable.Add(1)
	}
	c.stats.patchUnknown.Add(1)
	c.id, err = c.jc.rec.Unknown(call, linearizability.ConfigOutput{Outcome: linearizability.OutcomeUnknown})
	c.backOff()
	return err
}

// backOff waits after a failed request, as a real client would (a 503 asks
// for Retry-After: 1; a shorter wait keeps takeovers busy with requests).
func (c *client) backOff() { time.Sleep(time.Duration(50+c.rnd.IntN(150)) * time.Millisecond) }

// get sends a GET; a failed one tells nothing, so its call is dropped from
// the history, counted, and the client backs off before its next request.
func (c *client) get(path string, call *linearizability.Call) ([]byte, bool) {
	status, resp, err := c.do(http.MethodGet, path, nil)
	if err != nil || status != http.StatusOK {
		c.jc.rec.Drop(call)
		c.stats.getFailed.Add(1)
		if status == http.StatusServiceUnavailable {
			c.stats.unavailable.Add(1)
		}
		c.backOff()
		return nil, false
	}
	return resp, true
}

// getConfig reads the configuration; a failed read tells nothing and is dropped.
func (c *client) getConfig() (ok bool, err error) {
	c.stats.gets.Add(1)
	call, err := c.jc.rec.Call(c.id, linearizability.ConfigInput{Op: linearizability.ConfigGet})
	if err != nil {
		return false, err
	}
	resp, ok := c.get("/jobs/"+c.jc.job+"/checkpoints/config", call)
	if !ok {
		return false, nil
	}
	out, err := decodeConfig(resp)
	if err != nil {
		return false, fmt.Errorf("job %s: GET config %s: %v", c.jc.job, resp, err)
	}
	return true, c.jc.rec.Return(call, out)
}

// getProgress reads the checkpoint statistics; a failed read is dropped.
func (c *client) getProgress() (ok bool, err error) {
	c.stats.gets.Add(1)
	call, err := c.jc.rec.Call(c.id, linearizability.ProgressInput{Job: c.jc.job})
	if err != nil {
		return false, err
	}
	resp, ok := c.get("/jobs/"+c.jc.job+"/checkpoints", call)
	if !ok {
		return false, nil
	}
	out, err := decodeProgress(resp)
	if err != nil {
		return false, fmt.Errorf("job %s: GET checkpoints: %v", c.jc.job, err)
	}
	if out.Latest > 0 {
		c.jc.mu.Lock()
		if _, seen := c.jc.completed[out.Latest]; !seen {
			c.jc.completed[out.Latest] = time.Now()
		}
		c.jc.mu.Unlock()
	}
	return true, c.jc.rec.Return(call, out)
}

// decodeConfig reads GET .../checkpoints/config (Flink's CheckpointConfig);
// an interval of "never" (Long.MAX_VALUE in Flink) is 0, periodic
// checkpointing off.
func decodeConfig(b []byte) (linearizability.ConfigOutput, error) {
	var cfg flinkapi.CheckpointConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return linearizability.ConfigOutput{}, err
	}
	interval := cfg.Interval
	if interval == math.MaxInt64 {
		interval = 0
	}
	return linearizability.ConfigOutput{Outcome: linearizability.OutcomeOK, IntervalMs: interval, TimeoutMs: cfg.Timeout,
		OverridesActive: cfg.OverridesActive.Get()}, nil
}

// decodeProgress reads GET .../checkpoints (Flink's CheckpointingStatistics):
// the latest completed checkpoint and its per-region refs.
func decodeProgress(b []byte) (linearizability.ProgressOutput, error) {
	var body flinkapi.CheckpointingStatistics
	if err := json.Unmarshal(b, &body); err != nil {
		return linearizability.ProgressOutput{}, err
	}
	c := body.Latest.Completed
	if c == nil {
		return linearizability.ProgressOutput{}, nil
	}
	out := linearizability.ProgressOutput{Latest: c.ID, Refs: make([]int64, regions)}
	refs := c.Refs.Get()
	for r := range regions {
		ref, ok := refs[fsm.RegionName(r)]
		if !ok {
			return out, fmt.Errorf("latest completed %d has no ref for %s: %s", c.ID, fsm.RegionName(r), b)
		}
		out.Refs[r] = ref
	}
	return out, nil
}
