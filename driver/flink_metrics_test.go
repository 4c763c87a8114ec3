package driver

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsEndpoint: GET /metrics is Prometheus' text format with Flink's
// names and the job's Flink id, and follows the core: a completion, the sizes
// its acks reported, a FLIP-571 patch.
func TestMetricsEndpoint(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	scrape := func() map[string]float64 {
		t.Helper()
		r := a.do("GET", "/metrics", "")
		if r.status != 200 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for name, f := range fams {
			m := f.Metric[0]
			for _, l := range m.Label {
				if l.GetName() == "job_id" && l.GetValue() != flinkapi.HexID(jobID) {
					t.Fatalf("%s: job_id %s", name, l.GetValue())
				}
			}
			out[name[len(flinkapi.MetricPrefix):]] = m.GetGauge().GetValue()
		}
		return out
	}
	if m := scrape(); m["numberOfCompletedCheckpoints"] != 0 || m["lastCompletedCheckpointId"] != -1 || m["checkpointInterval"] != 1000 {
		t.Fatalf("before: %v", m)
	}
	a.clock.Advance(time.Second)
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	for task := fsm.TaskID(0); task < 4; task++ {
		if err := a.d.AckWithSizes(1, task, 100, 10); err != nil {
			t.Fatal(err)
		}
	}
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	if r := a.do("PATCH", "/jobs/"+jobID+"/checkpoints/configuration", `{"checkpointInterval":3000}`); r.status != 200 {
		t.Fatalf("PATCH %d %s", r.status, r.body)
	}
	m := scrape()
	if m["numberOfCompletedCheckpoints"] != 1 || m["lastCompletedCheckpointId"] != 1 || m["lastCheckpointFullSize"] != 400 ||
		m["lastCheckpointSize"] != 40 || m["checkpointOverridesActive"] != 1 || m["checkpointInterval"] != 3000 {
		t.Fatalf("after: %v", m)
	}
}

// TestTimelinePage: GET /timeline is the HTML timeline of the checkpoints so far.
func TestTimelinePage(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	a.clock.Advance(time.Second)
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	a.ackAll(1, 0, 1, 2, 3)
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	r := a.do("GET", "/timeline", "")
	if r.status != 200 || r.header.Get("Content-Type") != "text/html; charset=utf-8" ||
		!bytes.Contains(r.body, []byte(`class="ck completed global" data-id="1"`)) {
		t.Fatalf("%d %s", r.status, r.body)
	}
}

// TestVersionedPaths: Flink's clients call /v1/…; the answers are the same.
func TestVersionedPaths(t *testing.T) {
	a := openAPI(t, HandlerOptions{})
	for _, p := range []string{"/jobs/overview", "/jobs/" + jobID + "/checkpoints", "/jobs/" + jobID + "/checkpoints/config"} {
		plain, v1 := a.do("GET", p, ""), a.do("GET", "/v1"+p, "")
		if plain.status != 200 || v1.status != 200 || !bytes.Equal(plain.body, v1.body) {
			t.Errorf("%s: %d vs /v1 %d: %s", p, plain.status, v1.status, v1.body)
		}
	}
	if r := a.do("PATCH", "/v1/jobs/"+jobID+"/checkpoints/configuration", `{"checkpointTimeout":20000}`); r.status != 200 {
		t.Errorf("PATCH /v1: %d %s", r.status, r.body)
	}
}

// TestFlinkStatisticsAfterRestart: after a restart (R50) the statistics start
// over, as Flink's do, with the recovered checkpoint as latest.restored, and
// latest.completed is still the store's (it never goes back).
func TestFlinkStatisticsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	h := openHarness(t, dir, testConfig(1000))
	h.clock.Advance(time.Second)
	h.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	h.ackAll(1, 0, 1, 2, 3)
	h.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	h.flush()
	if err := h.d.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := reopenHarness(t, dir, testConfig(1000), h.clock)
	a := &apiHarness{harness: h2, h: NewHandler(h2.d, jobID, HandlerOptions{})}
	var s flinkapi.CheckpointingStatistics
	r := a.do("GET", "/jobs/"+jobID+"/checkpoints", "")
	if err := json.Unmarshal(r.body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Counts.Restored != 1 || s.Counts.Completed != 0 || s.Latest.Restored == nil || s.Latest.Restored.ID != 1 ||
		s.Latest.Completed == nil || s.Latest.Completed.ID != 1 || len(s.History) != 0 {
		t.Fatalf("after a restart: %s", r.body)
	}
}
