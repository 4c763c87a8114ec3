package driver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history/timeline"
)

// Flink's REST API as far as the checkpoint coordinator can answer it: the
// shapes are Flink 1.19's (package flinkapi), so Flink's web UI, the
// kubernetes operator, StreamPark and the like read them.
//
//	GET  /config                                                   the web UI's configuration
//	GET  /jobs/overview                                            the job
//	GET  /jobs/:jobid                                              its vertices, their subtasks' states, the plan
//	GET  /jobs/:jobid/checkpoints                                  counts, summary, latest, history
//	POST /jobs/:jobid/checkpoints                                  trigger a checkpoint (202, request-id)
//	GET  /jobs/:jobid/checkpoints/:triggerid                       its status
//	GET  /jobs/:jobid/checkpoints/config                           the configuration in force
//	GET  /jobs/:jobid/checkpoints/details/:checkpointid            one checkpoint, per vertex
//	GET  /jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid
//	POST /jobs/:jobid/savepoints                                   trigger a savepoint
//	GET  /jobs/:jobid/savepoints/:triggerid                        its status (also of a stop)
//	POST /jobs/:jobid/stop                                         stop-with-savepoint
//	GET  /metrics                                                  Prometheus exposition
//	GET  /timeline                                                 the latest checkpoints as an HTML timeline
//
// Every path may also start with /v1, as Flink's REST client sends them.
//
// :jobid is the job's Flink id (32 hexadecimal characters, flinkapi.HexID of
// the id the handler was made with) or that id itself.

// flinkRoute is one Flink endpoint under /jobs/:jobid/.
type flinkRoute struct {
	parts  []string // path segments after the job id; "{}" matches any segment
	method string
	serve  func(h *handler, w http.ResponseWriter, r *http.Request, args []string)
}

var flinkRoutes = []flinkRoute{
	{nil, http.MethodGet, (*handler).getJob},
	{[]string{"checkpoints"}, http.MethodGet, (*handler).getCheckpoints},
	{[]string{"checkpoints"}, http.MethodPost, (*handler).postCheckpoint},
	{[]string{"checkpoints", "config"}, http.MethodGet, (*handler).getConfig},
	{[]string{"checkpoints", "details", "{}"}, http.MethodGet, (*handler).getDetails},
	{[]string{"checkpoints", "details", "{}", "subtasks", "{}"}, http.MethodGet, (*handler).getSubtaskDetails},
	{[]string{"checkpoints", "{}"}, http.MethodGet, (*handler).getCheckpointStatus},
	{[]string{"savepoints"}, http.MethodPost, (*handler).postSavepoint},
	{[]string{"savepoints", "{}"}, http.MethodGet, (*handler).getSavepointStatus},
	{[]string{"stop"}, http.MethodPost, (*handler).postStop},
}

// serveFlink answers the Flink endpoints; false leaves the request to the
// FLIP-571 endpoint (or a 404).
func (h *handler) serveFlink(w http.ResponseWriter, r *http.Request) bool {
	switch r.URL.Path {
	case "/config":
		return h.only(w, r, http.MethodGet, func() { writeJSON(w, http.StatusOK, h.dashboardConfig()) })
	case "/jobs/overview":
		return h.only(w, r, http.MethodGet, func() { h.getOverview(w) })
	case "/metrics":
		return h.only(w, r, http.MethodGet, func() { h.metrics.ServeHTTP(w, r) })
	case "/timeline":
		return h.only(w, r, http.MethodGet, func() { h.getTimeline(w) })
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/jobs/")
	if !ok {
		return false
	}
	segs := strings.Split(rest, "/")
	job, segs := segs[0], segs[1:]
	if len(segs) == 2 && segs[0] == "checkpoints" && segs[1] == "configuration" {
		return false // FLIP-571's PATCH (http.go)
	}
	var allow []string
	for _, rt := range flinkRoutes {
		args, ok := match(rt.parts, segs)
		if !ok || len(rt.parts) == 2 && rt.parts[1] == "{}" && segs[1] == "config" {
			continue // "config" is not a trigger id
		}
		if r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead) {
			allow = append(allow, rt.method)
			if rt.method == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
			continue
		}
		if !h.isJob(job) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("job %s not found", job))
			return true
		}
		rt.serve(h, w, r, args)
		return true
	}
	if allow != nil {
		a := strings.Join(allow, ", ")
		w.Header().Set("Allow", a)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, a))
		return true
	}
	return false
}

func match(parts, segs []string) ([]string, bool) {
	if len(parts) != len(segs) {
		return nil, false
	}
	var args []string
	for i, p := range parts {
		switch {
		case p == "{}":
			args = append(args, segs[i])
		case p != segs[i]:
			return nil, false
		}
	}
	return args, true
}

func (h *handler) only(w http.ResponseWriter, r *http.Request, method string, serve func()) bool {
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		allow := method
		if method == http.MethodGet {
			allow += ", " + http.MethodHead
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow))
		return true
	}
	serve()
	return true
}

// isJob accepts the job's Flink id and the id the handler was made with.
func (h *handler) isJob(job string) bool { return job == h.jobID || job == h.flinkJobID }

func (h *handler) getCheckpoints(w http.ResponseWriter, _ *http.Request, _ []string) {
	var body flinkapi.CheckpointingStatistics
	// One snapshot on the event loop: the statistics and the store agree.
	if err := h.d.call(func() { body = checkpointsBody(h.d.flink.tracker, h.d.status()) }); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func (h *handler) getConfig(w http.ResponseWriter, _ *http.Request, _ []string) {
	st, err := h.d.configStatus() // h.d.Status() unless built with ckpt_nonatomic
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, configBody(st))
}

func (h *handler) getDetails(w http.ResponseWriter, _ *http.Request, args []string) {
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("checkpointid %q: want a checkpoint id (a long)", args[0]))
		return
	}
	c, ok := h.d.flink.tracker.Details(id)
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("could not find checkpointing statistics for checkpoint %d: only the latest %d are kept (web.checkpoints.history)", id, flinkapi.HistorySize))
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (h *handler) getSubtaskDetails(w http.ResponseWriter, _ *http.Request, args []string) {
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("checkpointid %q: want a checkpoint id (a long)", args[0]))
		return
	}
	v, ok := flinkapi.FindVertex(h.d.Topology(), args[1])
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("vertex %s not found", args[1]))
		return
	}
	d, err := h.d.flink.tracker.SubtaskDetails(id, v)
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// readBody decodes an optional JSON body strictly, as Flink's REST mapper does
// (an unknown field is an error); an empty body is an empty object.
func (h *handler) readBody(w http.ResponseWriter, r *http.Request, dst any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit))
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	if k := duplicateKey(body); k != "" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid request body: duplicate field %q", k))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		writeError(w, http.StatusBadRequest, "invalid request body: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "invalid request body: more than one JSON value")
		return false
	}
	return true
}

func validTriggerID(w http.ResponseWriter, id string) bool {
	if id != "" && !flinkapi.IsHexID(id) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("triggerId %q: want 32 lowercase hexadecimal characters", id))
		return false
	}
	return true
}

func validFormat(w http.ResponseWriter, format string) bool {
	if format != "" && format != "CANONICAL" && format != "NATIVE" {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("formatType %q: want CANONICAL or NATIVE", format))
		return false
	}
	return true
}

// postCheckpoint is Flink 1.19's manual checkpoint. The coordinator does not
// tell full from incremental checkpoints (that is the state backend's
// business), so every checkpointType makes the same request.
func (h *handler) postCheckpoint(w http.ResponseWriter, r *http.Request, _ []string) {
	var body flinkapi.CheckpointTriggerRequest
	if !h.readBody(w, r, &body) || !validTriggerID(w, body.TriggerID) {
		return
	}
	switch body.CheckpointType {
	case "", "CONFIGURED", "FULL", "INCREMENTAL":
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("checkpointType %q: want CONFIGURED, FULL or INCREMENTAL", body.CheckpointType))
		return
	}
	h.trigger(w, fsm.KindCheckpoint, body.TriggerID)
}

// postSavepoint triggers a savepoint. Where it is written is the runtime's
// store's decision, so target-directory is accepted and not used; the status
// names the location. Cancelling the job afterwards is stop's job.
func (h *handler) postSavepoint(w http.ResponseWriter, r *http.Request, _ []string) {
	var body flinkapi.SavepointTriggerRequest
	if !h.readBody(w, r, &body) || !validTriggerID(w, body.TriggerID) || !validFormat(w, body.FormatType) {
		return
	}
	if body.CancelJob {
		writeError(w, http.StatusBadRequest, "cancel-job is not supported: use POST /jobs/:jobid/stop (stop-with-savepoint)")
		return
	}
	h.trigger(w, fsm.KindSavepoint, body.TriggerID)
}

// postStop is stop-with-savepoint (R24). drain concerns the tasks (a
// MAX_WATERMARK before the barrier); the coordinator's part is the same.
func (h *handler) postStop(w http.ResponseWriter, r *http.Request, _ []string) {
	var body flinkapi.StopWithSavepointRequest
	if !h.readBody(w, r, &body) || !validTriggerID(w, body.TriggerID) || !validFormat(w, body.FormatType) {
		return
	}
	h.trigger(w, fsm.KindStopWithSavepoint, body.TriggerID)
}

func (h *handler) trigger(w http.ResponseWriter, kind fsm.Kind, triggerID string) {
	id, op, fresh, err := h.d.flink.newOp(triggerID, kind)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if fresh {
		if err := h.d.request(kind, op); err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
	} else if op.kind != kind {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("triggerId %s is already used by a %s request", id, op.kind))
		return
	}
	writeJSON(w, http.StatusAccepted, flinkapi.TriggerResponse{RequestID: id})
}

func (h *handler) getCheckpointStatus(w http.ResponseWriter, _ *http.Request, args []string) {
	h.operationStatus(w, args[0], false)
}

func (h *handler) getSavepointStatus(w http.ResponseWriter, _ *http.Request, args []string) {
	h.operationStatus(w, args[0], true)
}

// operationStatus answers Flink's AsynchronousOperationResult: IN_PROGRESS
// until the checkpoint ends, then COMPLETED with its id (checkpoints) or
// location (savepoints), or with the failure.
func (h *handler) operationStatus(w http.ResponseWriter, triggerID string, savepoint bool) {
	op, ok := h.d.flink.operation(triggerID)
	if !ok || op.kind.IsSavepoint() != savepoint {
		writeError(w, http.StatusNotFound, fmt.Sprintf("operation not found under trigger id %s", triggerID))
		return
	}
	if !op.done {
		writeJSON(w, http.StatusOK, flinkapi.AsynchronousOperationResult{Status: flinkapi.QueueStatus{ID: flinkapi.QueueInProgress}})
		return
	}
	out := &flinkapi.OperationOutcome{}
	cause := flinkapi.SerializedThrowable{Class: "org.apache.flink.runtime.checkpoint.CheckpointException",
		StackTrace: "org.apache.flink.runtime.checkpoint.CheckpointException: " + op.failure}
	switch {
	case op.failure != "" && savepoint:
		out.SavepointFailure = flinkapi.Some(cause)
	case op.failure != "":
		out.FailureCause = flinkapi.Some(cause)
	case savepoint:
		if d, ok := h.d.flink.tracker.Details(op.checkpoint); ok && d.ExternalPath.Value != nil {
			out.Location = d.ExternalPath
		}
	default:
		out.CheckpointID = flinkapi.Some(op.checkpoint)
	}
	writeJSON(w, http.StatusOK, flinkapi.AsynchronousOperationResult{
		Status: flinkapi.QueueStatus{ID: flinkapi.QueueCompleted}, Operation: out})
}

// checkpointsBody is GET .../checkpoints: the tracker's statistics plus the
// completed store's ids. The latest completed checkpoint is the store's: after
// a restart (R50) the tracker starts empty, as Flink's does, but the
// coordinator knows the checkpoint it recovered from, and a reader must never
// see the latest completed checkpoint go back.
func checkpointsBody(t *flinkapi.Tracker, st Status) flinkapi.CheckpointingStatistics {
	s := t.Statistics()
	retained := st.Retained
	if retained == nil {
		retained = []int64{}
	}
	s.Retained = flinkapi.Some(retained)
	if l := st.LatestCompleted; l != nil && (s.Latest.Completed == nil || s.Latest.Completed.ID != l.ID) {
		c := storedCheckpoint(l, st.Regions)
		s.Latest.Completed = &c
	}
	return s
}

// storedCheckpoint renders a completed checkpoint the tracker did not see
// complete (it completed before this incarnation): what its metadata says.
func storedCheckpoint(l *CompletedCheckpoint, regions int) flinkapi.CheckpointStatistics {
	refs := make(map[string]int64, regions)
	for r := 0; r < regions; r++ {
		refs[fsm.RegionName(r)] = l.RefOf(r)
	}
	return flinkapi.CheckpointStatistics{Class: flinkapi.ClassCompleted, ID: l.ID, Status: flinkapi.StatusCompleted,
		TriggerTimestamp: l.TriggerAt, LatestAckTimestamp: -1,
		CheckpointedSize: flinkapi.Some(l.CheckpointedSize), StateSize: l.StateSize, EndToEndDuration: -1,
		CheckpointType: flinkapi.CheckpointType(fsm.KindCheckpoint), Tasks: map[string]flinkapi.TaskCheckpointStatistics{},
		Discarded: flinkapi.Some(false), Kind: flinkapi.Some(fsm.KindCheckpoint.String()),
		Mode: flinkapi.Some(l.Mode.String()), Refs: flinkapi.Some(refs), Consecutive: flinkapi.Some(l.Consecutive)}
}

// flinkInterval is Flink's spelling of "no periodic checkpoints": Long.MAX_VALUE.
func flinkInterval(ms int64) int64 {
	if ms == 0 {
		return math.MaxInt64
	}
	return ms
}

// getTimeline draws the latest checkpoints of this incarnation (package
// history/timeline), with the summary beside them.
func (h *handler) getTimeline(w http.ResponseWriter) {
	var buf bytes.Buffer
	if err := h.d.flink.timeline.Render(&buf, timeline.Options{Title: "job " + h.jobID + " (" + h.flinkJobID + ")"}); err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes()) // an error means the client is gone
}

// withoutVersion strips Flink's API version prefix: Flink's own clients (the
// CLI, the kubernetes operator) call /v1/jobs/…, and Flink serves both forms.
func withoutVersion(r *http.Request) *http.Request {
	p, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		return r
	}
	r = r.Clone(r.Context())
	r.URL.Path = "/" + p
	return r
}
