package driver

import (
	"net/http"
	"os"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// FlinkVersion is the Flink version whose REST API the driver speaks (GET
// /config's flink-version): the shapes are Flink 1.19's.
const FlinkVersion = "1.19.0"

// executionStates are Flink's ExecutionState values, every one of which Flink
// lists in a vertex's task counts.
var executionStates = []string{"CREATED", "SCHEDULED", "DEPLOYING", "RUNNING", "FINISHED", "CANCELING",
	"CANCELED", "FAILED", "RECONCILING", "INITIALIZING"}

// jobStatuses are Flink's JobStatus values, every one of which Flink lists in
// a job's timestamps.
var jobStatuses = []string{"INITIALIZING", "CREATED", "RUNNING", "FAILING", "FAILED", "CANCELLING",
	"CANCELED", "FINISHED", "RESTARTING", "SUSPENDED", "RECONCILING"}

// jobView is what the job endpoints show, read on the event loop.
type jobView struct {
	now, startAt, endAt int64
	job                 fsm.JobStatus
	states              [][]string // per vertex, per subtask: Flink's ExecutionState
}

func (d *Driver) jobView() (jobView, error) {
	var v jobView
	err := d.call(func() {
		c := d.core
		v.now, v.job = c.Now(), c.Job()
		d.flink.mu.Lock()
		v.startAt, v.endAt = d.flink.startAt, d.flink.endAt
		d.flink.mu.Unlock()
		for _, vx := range d.topo.Vertices() {
			states := make([]string, vx.Parallelism)
			for i := range states {
				id := vx.First + fsm.TaskID(i)
				switch {
				case c.TaskFinished(id):
					states[i] = "FINISHED"
				case c.TaskRunning(id) && v.job == fsm.JobRunning:
					states[i] = "RUNNING"
				case v.job == fsm.JobFailed:
					states[i] = "FAILED"
				default: // restarting after a failover (R19)
					states[i] = "DEPLOYING"
				}
			}
			v.states = append(v.states, states)
		}
	})
	return v, err
}

func flinkJobState(s fsm.JobStatus) string {
	switch s {
	case fsm.JobRunning:
		return "RUNNING"
	case fsm.JobFailed:
		return "FAILED"
	case fsm.JobFinished:
		return "FINISHED"
	}
	return "INITIALIZING"
}

// times returns start, end (-1 while running) and duration as Flink does.
func (v *jobView) times() (int64, int64, int64) {
	if v.endAt > 0 {
		return v.startAt, v.endAt, v.endAt - v.startAt
	}
	return v.startAt, -1, v.now - v.startAt
}

func (h *handler) dashboardConfig() flinkapi.DashboardConfiguration {
	return flinkapi.DashboardConfiguration{RefreshInterval: 3000, TimezoneName: "Coordinated Universal Time",
		TimezoneOffset: 0, FlinkVersion: FlinkVersion, FlinkRevision: "ckptcore"}
}

func (h *handler) getOverview(w http.ResponseWriter) {
	v, err := h.d.jobView()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	tasks := map[string]int{"total": 0}
	for _, s := range executionStates {
		tasks[lower(s)] = 0
	}
	for _, states := range v.states {
		for _, s := range states {
			tasks[lower(s)]++
			tasks["total"]++
		}
	}
	start, end, dur := v.times()
	writeJSON(w, http.StatusOK, flinkapi.MultipleJobsDetails{Jobs: []flinkapi.JobDetails{{JID: h.flinkJobID,
		Name: h.jobID, State: flinkJobState(v.job), StartTime: start, EndTime: end, Duration: dur,
		LastModification: v.now, Tasks: tasks}}})
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func (h *handler) getJob(w http.ResponseWriter, _ *http.Request, _ []string) {
	v, err := h.d.jobView()
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	topo := h.d.Topology()
	ids := flinkapi.VertexIDs(topo)
	start, end, dur := v.times()
	info := flinkapi.JobDetailsInfo{JID: h.flinkJobID, Name: h.jobID, State: flinkJobState(v.job),
		JobType: "STREAMING", StartTime: start, EndTime: end, Duration: dur, MaxParallelism: -1, Now: v.now,
		Timestamps: map[string]int64{}, StatusCounts: map[string]int{},
		Plan: flinkapi.JobPlan{JID: h.flinkJobID, Name: h.jobID, Type: "STREAMING"}}
	for _, s := range jobStatuses {
		info.Timestamps[s] = 0
	}
	info.Timestamps["INITIALIZING"], info.Timestamps["CREATED"], info.Timestamps["RUNNING"] = start, start, start
	if v.endAt > 0 {
		info.Timestamps[flinkJobState(v.job)] = v.endAt
	}
	for _, s := range executionStates {
		info.StatusCounts[s] = 0
	}
	edges := h.d.job.Edges
	for i, vx := range topo.Vertices() {
		counts := map[string]int{}
		for _, s := range executionStates {
			counts[s] = 0
		}
		for _, s := range v.states[i] {
			counts[s]++
		}
		status := "DEPLOYING"
		switch {
		case counts["FINISHED"] == vx.Parallelism:
			status = "FINISHED"
		case counts["FAILED"] > 0:
			status = "FAILED"
		case counts["RUNNING"] > 0:
			status = "RUNNING"
		}
		info.StatusCounts[status]++
		info.Vertices = append(info.Vertices, flinkapi.JobVertex{ID: ids[i], Name: vx.ID,
			MaxParallelism: vx.Parallelism, Parallelism: vx.Parallelism, Status: status, StartTime: start,
			EndTime: end, Duration: dur, Tasks: counts, Metrics: flinkapi.IOMetrics{ReadBytesComplete: true,
				WriteBytesComplete: true, ReadRecordsComplete: true, WriteRecordsComplete: true}})
		node := flinkapi.PlanNode{ID: ids[i], Parallelism: vx.Parallelism, Operator: "", OperatorStrategy: "",
			Description: vx.ID, OptimizerProperties: map[string]any{}}
		for _, e := range edges {
			if e.To != vx.ID {
				continue
			}
			from, _ := topo.VertexIndex(e.From)
			ship := "FORWARD"
			if e.Pattern == fsm.AllToAll {
				ship = "HASH"
			}
			exchange := "pipelined_bounded"
			if e.Exchange == fsm.Blocking {
				exchange = "blocking"
			} else if e.Exchange == fsm.Hybrid {
				exchange = "hybrid_full"
			}
			node.Inputs = append(node.Inputs, flinkapi.PlanInput{Num: len(node.Inputs), ID: ids[from],
				ShipStrategy: ship, Exchange: exchange})
		}
		info.Plan.Nodes = append(info.Plan.Nodes, node)
	}
	writeJSON(w, http.StatusOK, info)
}

// metricsHandler serves the checkpoint metrics in Prometheus' text format, as
// Flink's Prometheus reporter would (flink_jobmanager_job_<name> with job_id,
// job_name and host labels). The registry holds only these metrics.
func (d *Driver) metricsHandler(jobID string) http.Handler {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(flinkapi.NewCollector(flinkapi.HexID(jobID), jobID, host, d.flinkGauges))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// flinkGauges completes the tracker's gauges with the core's part; a closed
// driver reports the tracker's alone.
func (d *Driver) flinkGauges() flinkapi.Gauges {
	g := d.flink.tracker.Gauges()
	if st, err := d.Status(); err == nil {
		g.Consecutive = st.Consecutive
		g.OverridesActive = st.Effective.OverridesActive
		g.IntervalMs, g.TimeoutMs = st.Effective.IntervalMs, st.Effective.TimeoutMs
	}
	return g
}
