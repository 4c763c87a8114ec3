package flinkapi

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Gauges are the values behind the metrics: Flink's checkpoint metrics
// (CheckpointStatsTracker's gauges; -1 where Flink reports -1 for "none yet"),
// the regional ones (FLIP-600) and the dynamic configuration (FLIP-571).
type Gauges struct {
	Total, InProgress, Completed, Failed int64

	LastRestoreTimestamp int64 // -1: never restored
	LastCompletedID      int64 // -1: none completed; likewise below
	LastSize             int64 // checkpointed size of the latest completed checkpoint
	LastFullSize         int64 // its full state size
	LastDuration         int64 // its end-to-end duration
	LastProcessedData    int64
	LastPersistedData    int64

	RegionalCompletions int64 // completions with a region falling back (R21)
	Consecutive         int   // consecutive regional completions now (R25)
	LastMaxRefAge       int64 // the latest completed checkpoint's oldest reference, in ids (-1: none)
	DriftWarnings       int64 // ref_drift warnings (§11)

	OverridesActive bool  // FLIP-571 overrides in force (R63)
	IntervalMs      int64 // the interval in force; 0 = no periodic checkpoints
	TimeoutMs       int64 // the timeout in force
}

// Gauges returns the tracker's part of the gauges; the core's part
// (Consecutive, OverridesActive, IntervalMs, TimeoutMs) is left to the caller.
func (t *Tracker) Gauges() Gauges {
	t.mu.Lock()
	defer t.mu.Unlock()
	g := Gauges{Total: t.counts.Total, InProgress: int64(len(t.pending)), Completed: t.counts.Completed,
		Failed: t.counts.Failed, LastRestoreTimestamp: -1, LastCompletedID: -1, LastSize: -1,
		LastFullSize: -1, LastDuration: -1, LastProcessedData: -1, LastPersistedData: -1,
		RegionalCompletions: t.regionalCompletions, LastMaxRefAge: -1, DriftWarnings: t.driftWarnings}
	if r := t.restored; r != nil {
		g.LastRestoreTimestamp = r.RestoreTimestamp
	}
	if r := t.latestCompleted; r != nil {
		g.LastCompletedID, g.LastSize, g.LastFullSize, g.LastDuration = r.id, r.ckpt, r.state, r.endToEnd()
		g.LastProcessedData, g.LastPersistedData = 0, 0
		g.LastMaxRefAge = 0
		for _, ref := range r.refs {
			g.LastMaxRefAge = max(g.LastMaxRefAge, r.id-ref.Checkpoint)
		}
	}
	return g
}

// MetricPrefix is how Flink's Prometheus reporter names a job-scoped metric of
// the JobManager: the scope (jobmanager, job) joined with underscores after
// "flink", then Flink's own metric name unchanged.
const MetricPrefix = "flink_jobmanager_job_"

// Collector exports Gauges as Prometheus gauges named as Flink's Prometheus
// reporter names Flink's checkpoint metrics, with its job_id, job_name and
// host labels.
type Collector struct {
	source func() Gauges
	labels []string
	descs  []gaugeDesc
}

type gaugeDesc struct {
	desc  *prometheus.Desc
	value func(*Gauges) float64
}

// NewCollector returns a collector that reads source at every scrape.
func NewCollector(jobID, jobName, host string, source func() Gauges) *Collector {
	c := &Collector{source: source, labels: []string{jobID, jobName, host}}
	add := func(name string, value func(*Gauges) float64) {
		c.descs = append(c.descs, gaugeDesc{prometheus.NewDesc(MetricPrefix+name,
			name+" (scope: jobmanager_job)", []string{"job_id", "job_name", "host"}, nil), value})
	}
	i := func(f func(*Gauges) int64) func(*Gauges) float64 {
		return func(g *Gauges) float64 { return float64(f(g)) }
	}
	// Flink's checkpoint metrics (CheckpointStatsTracker).
	add("totalNumberOfCheckpoints", i(func(g *Gauges) int64 { return g.Total }))
	add("numberOfInProgressCheckpoints", i(func(g *Gauges) int64 { return g.InProgress }))
	add("numberOfCompletedCheckpoints", i(func(g *Gauges) int64 { return g.Completed }))
	add("numberOfFailedCheckpoints", i(func(g *Gauges) int64 { return g.Failed }))
	add("lastCheckpointRestoreTimestamp", i(func(g *Gauges) int64 { return g.LastRestoreTimestamp }))
	add("lastCheckpointSize", i(func(g *Gauges) int64 { return g.LastSize }))
	add("lastCheckpointFullSize", i(func(g *Gauges) int64 { return g.LastFullSize }))
	add("lastCheckpointDuration", i(func(g *Gauges) int64 { return g.LastDuration }))
	add("lastCheckpointProcessedData", i(func(g *Gauges) int64 { return g.LastProcessedData }))
	add("lastCheckpointPersistedData", i(func(g *Gauges) int64 { return g.LastPersistedData }))
	add("lastCompletedCheckpointId", i(func(g *Gauges) int64 { return g.LastCompletedID }))
	// Regional checkpoints (FLIP-600).
	add("numberOfRegionalCheckpoints", i(func(g *Gauges) int64 { return g.RegionalCompletions }))
	add("consecutiveRegionalCheckpoints", i(func(g *Gauges) int64 { return int64(g.Consecutive) }))
	add("lastCheckpointMaxReferenceAge", i(func(g *Gauges) int64 { return g.LastMaxRefAge }))
	add("numberOfReferenceDriftWarnings", i(func(g *Gauges) int64 { return g.DriftWarnings }))
	// Dynamic configuration (FLIP-571).
	add("checkpointOverridesActive", func(g *Gauges) float64 {
		if g.OverridesActive {
			return 1
		}
		return 0
	})
	add("checkpointInterval", i(func(g *Gauges) int64 { return g.IntervalMs }))
	add("checkpointTimeout", i(func(g *Gauges) int64 { return g.TimeoutMs }))
	return c
}

// Describe sends every metric's description.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d.desc
	}
}

// Collect reads the gauges once and sends every metric.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	g := c.source()
	for _, d := range c.descs {
		ch <- prometheus.MustNewConstMetric(d.desc, prometheus.GaugeValue, d.value(&g), c.labels...)
	}
}
