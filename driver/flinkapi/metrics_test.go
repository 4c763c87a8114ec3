package flinkapi

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsScrapedMatchReplay replays a regional history with sizes,
// failovers, a FLIP-571 patch and a coordinator recovery into a tracker,
// serves the collector over HTTP, scrapes it with Prometheus' text parser and
// checks every metric against what replay's summary and the history itself
// say (computed here independently of the tracker).
func TestMetricsScrapedMatchReplay(t *testing.T) {
	path := filepath.Join("testdata", "regional-sizes.jsonl")
	h, err := history.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	res, err := history.Replay(h, history.Options{Check: true})
	if err != nil || !res.OK() {
		t.Fatalf("replay: %v %+v", err, res)
	}
	sum := res.Summary

	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTracker(h.Topology, TrackerOptions{})
	for _, rec := range h.Records {
		effs, err := s.Step(rec.Event)
		if err != nil {
			t.Fatal(err)
		}
		tr.Observe(rec.Event, effs)
	}
	source := func() Gauges {
		g := tr.Gauges()
		g.Consecutive = s.Consecutive()
		eff := s.Effective()
		g.OverridesActive, g.IntervalMs, g.TimeoutMs = eff.OverridesActive, eff.IntervalMs, eff.TimeoutMs
		return g
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(HexID("regional-sizes"), "regional-sizes", "jm-0", source))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}

	// What the summary and the history say.
	triggerFailures := int64(0)
	for _, tf := range sum.TriggerFailures {
		if tf.Reason != string(fsm.ReasonMinPause) && tf.Reason != string(fsm.ReasonTooManyRequests) {
			triggerFailures++
		}
	}
	var last history.Completed
	regional := int64(0)
	for _, c := range sum.Completed {
		if c.Kind == "checkpoint" {
			last = c
		}
		if c.Mode == "regional" {
			regional++
		}
	}
	var triggerAt, restoreAt int64
	for _, tg := range sum.Triggered {
		if tg.ID == last.ID {
			triggerAt = tg.At
		}
	}
	maxAge, latestAck := int64(0), int64(-1)
	acked := map[fsm.TaskID]bool{}
	for _, rec := range h.Records {
		ev := rec.Event
		switch {
		case ev.Type == fsm.EvRecover, ev.Type == fsm.EvStart && ev.Restore != nil:
			restoreAt = ev.At
		case ev.Type == fsm.EvAck && ev.Checkpoint == last.ID && !acked[ev.Task] &&
			last.Refs[h.Topology.RegionOf(ev.Task)] == last.ID:
			acked[ev.Task] = true // the first ack of a subtask whose region kept its own state
			latestAck = max(latestAck, ev.At)
		}
	}
	for _, ref := range last.Refs {
		maxAge = max(maxAge, last.ID-ref)
	}
	if last.ID == 0 || regional == 0 || maxAge == 0 || last.StateSize == 0 || !sum.Config.OverridesActive {
		t.Fatalf("the fixture no longer covers what this test checks: %+v", last)
	}
	want := map[string]float64{
		"totalNumberOfCheckpoints":       float64(int64(len(sum.Triggered)) + triggerFailures),
		"numberOfInProgressCheckpoints":  float64(len(sum.Triggered) - len(sum.Completed) - len(sum.Aborted)),
		"numberOfCompletedCheckpoints":   float64(len(sum.Completed)),
		"numberOfFailedCheckpoints":      float64(int64(len(sum.Aborted)) + triggerFailures),
		"lastCheckpointRestoreTimestamp": float64(restoreAt),
		"lastCheckpointSize":             float64(last.CheckpointedSize),
		"lastCheckpointFullSize":         float64(last.StateSize),
		"lastCheckpointDuration":         float64(latestAck - triggerAt),
		"lastCheckpointProcessedData":    0,
		"lastCheckpointPersistedData":    0,
		"lastCompletedCheckpointId":      float64(last.ID),
		"numberOfRegionalCheckpoints":    float64(regional),
		"consecutiveRegionalCheckpoints": float64(s.Consecutive()),
		"lastCheckpointMaxReferenceAge":  float64(maxAge),
		"numberOfReferenceDriftWarnings": 0,
		"checkpointOverridesActive":      1,
		"checkpointInterval":             float64(sum.Config.IntervalMs),
		"checkpointTimeout":              float64(sum.Config.TimeoutMs),
	}
	if len(families) != len(want) {
		t.Errorf("%d metric families scraped, want %d", len(families), len(want))
	}
	for name, v := range want {
		mf := families[MetricPrefix+name]
		if mf == nil || mf.GetType() != dto.MetricType_GAUGE || len(mf.Metric) != 1 {
			t.Errorf("%s%s: missing or not one gauge: %v", MetricPrefix, name, mf)
			continue
		}
		m := mf.Metric[0]
		if got := m.GetGauge().GetValue(); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
		labels := map[string]string{}
		for _, l := range m.Label {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["job_id"] != HexID("regional-sizes") || labels["job_name"] != "regional-sizes" || labels["host"] != "jm-0" {
			t.Errorf("%s labels %v", name, labels)
		}
	}
}
