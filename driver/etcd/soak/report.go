package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
)

// result is everything a soak reports: printed as a table, written as JSON.
type result struct {
	Seed             uint64         `json:"seed"`
	Duration         string         `json:"duration"`
	Epochs           int            `json:"epochs"`
	Nodes            int            `json:"nodes"`
	Jobs             int            `json:"jobs"`
	Clients          int            `json:"clients"`
	LeaseTTL         string         `json:"lease_ttl"`
	Faults           map[string]int `json:"faults"`
	TakeoverKill     takeoverStats  `json:"takeover_leader_kill"`
	TakeoverPause    takeoverStats  `json:"takeover_leader_pause"`
	TakeoverAll      takeoverStats  `json:"takeover_all"`
	EtcdFailover     takeoverStats  `json:"etcd_failover"` // etcd leader SIGKILL to the next successful write
	MissingTakeovers []takeover     `json:"missing_takeovers"`
	Requests         requestCounts  `json:"requests"`
	JobResults       []jobResult    `json:"jobs_checked"`
	Fencing          fenceReport    `json:"fencing"`
	Dir              string         `json:"dir,omitempty"` // logs and histories kept here
}

// requestCounts are what the clients sent and got.
type requestCounts struct {
	Patches       int64 `json:"patches"`
	PatchOK       int64 `json:"patch_ok"`
	PatchRejected int64 `json:"patch_rejected"`
	PatchUnknown  int64 `json:"patch_unknown"`
	Gets          int64 `json:"gets"`
	GetFailed     int64 `json:"get_failed"`
	Redirects     int64 `json:"redirects"`
	Unavailable   int64 `json:"unavailable_503"`
}

// violations lists what must not happen; empty when the soak passed.
func (r *result) violations() []string {
	var v []string
	for _, j := range r.JobResults {
		if j.Illegal {
			v = append(v, fmt.Sprintf("job %s not linearizable (%s)", j.Job, j.Check))
		}
		if n := len(j.LostOverrides); n > 0 {
			v = append(v, fmt.Sprintf("job %s: %d acknowledged overrides never held by etcd (first %+v)", j.Job, n, j.LostOverrides[0]))
		}
		if n := len(j.StaleReads); n > 0 {
			v = append(v, fmt.Sprintf("job %s: %d acknowledged overrides contradicted by a later read (first %+v)", j.Job, n, j.StaleReads[0]))
		}
		if j.OverridesMismatch {
			v = append(v, fmt.Sprintf("job %s: etcd's overrides (%s) differ from the last read", j.Job, j.FinalOverrides))
		}
		if n := len(j.LostCheckpoints); n > 0 {
			v = append(v, fmt.Sprintf("job %s: completed checkpoints lost %v", j.Job, j.LostCheckpoints))
		}
	}
	if n := len(r.Fencing.Violations); n > 0 {
		v = append(v, fmt.Sprintf("%d writes by a node not leading the job (first: %+v)", n, r.Fencing.Violations[0]))
	}
	if n := len(r.MissingTakeovers); n > 0 {
		v = append(v, fmt.Sprintf("%d faults with no new leader within %v", n, takeoverLimit))
	}
	return v
}

// print writes the table.
func (r *result) print(out io.Writer) {
	tw := tabwriter.NewWriter(out, 2, 8, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	fmt.Fprintln(tw, "HA soak\t")
	row("seed / duration / epochs", fmt.Sprintf("%d / %s / %d", r.Seed, r.Duration, r.Epochs))
	row("nodes / jobs / clients / lease TTL", fmt.Sprintf("%d / %d / %d / %s", r.Nodes, r.Jobs, r.Clients, r.LeaseTTL))
	kinds := make([]string, 0, len(r.Faults))
	for k := range r.Faults {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		row("faults: "+k, r.Faults[k])
	}
	ts := func(s takeoverStats) string {
		return fmt.Sprintf("n=%d p50 %.0f ms  p99 %.0f ms  max %.0f ms", s.Count, s.P50ms, s.P99ms, s.MaxMs)
	}
	row("takeover after leader SIGKILL", ts(r.TakeoverKill))
	row("takeover after leader SIGSTOP", ts(r.TakeoverPause))
	row("takeover, all", ts(r.TakeoverAll))
	row("etcd failover (leader SIGKILL to a write)", ts(r.EtcdFailover))
	row("takeovers missing (must be 0)", len(r.MissingTakeovers))
	q := r.Requests
	row("PATCH ok / rejected / unknown", fmt.Sprintf("%d / %d / %d", q.PatchOK, q.PatchRejected, q.PatchUnknown))
	row("GET ok / failed", fmt.Sprintf("%d / %d", q.Gets-q.GetFailed, q.GetFailed))
	row("redirects followed / 503s", fmt.Sprintf("%d / %d", q.Redirects, q.Unavailable))
	lost, stale, lostCk, completed, mismatch := 0, 0, 0, 0, 0
	for _, j := range r.JobResults {
		row("job "+j.Job+" linearizable", j.Linearizable)
		row("job "+j.Job+" checkpoints completed (read) / latest in etcd", fmt.Sprintf("%d / %d", j.Completed, j.LatestCompleted))
		lost += len(j.LostOverrides)
		stale += len(j.StaleReads)
		lostCk += len(j.LostCheckpoints)
		completed += j.Completed
		if j.OverridesMismatch {
			mismatch++
		}
	}
	row("checkpoints completed (read by clients)", completed)
	row("acknowledged overrides lost: never in etcd (must be 0)", lost)
	row("acknowledged overrides contradicted by a later read (must be 0)", stale)
	row("final overrides differing from etcd (must be 0)", mismatch)
	row("completed checkpoints lost (must be 0)", lostCk)
	row("etcd writes checked / discards / elections", fmt.Sprintf("%d / %d / %d", r.Fencing.Writes, r.Fencing.Deletes, r.Fencing.Elections))
	row("two leaders writing (must be 0)", len(r.Fencing.Violations))
	if r.Dir != "" {
		row("kept", r.Dir)
	}
	tw.Flush()
}

// writeJSON writes the result to path.
func (r *result) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
