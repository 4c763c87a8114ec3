package driver

import (
	"bytes"
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
