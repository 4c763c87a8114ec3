package driver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
	"github.com/ckptcore/ckptcore/fsm"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// flinkDoc is the committed excerpt of Flink's OpenAPI document.
const flinkDoc = "flinkapi/testdata/rest_v1_dispatcher.yml"

// loadFlinkDoc loads Flink's OpenAPI document; adapted, with the places where
// Flink's generated document disagrees with what Flink sends corrected as
// adaptWire says.
func loadFlinkDoc(t *testing.T, adapted bool) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(flinkDoc)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("Flink's document does not validate: %v", err)
	}
	if adapted {
		adaptWire(doc)
	}
	return doc
}

// adaptWire corrects Flink's generated document where Flink's wire format
// differs from it. Each correction is proven necessary by a recorded Flink
// response (TestFlinkDocAdaptationsAreNeeded) or, for the last, by the
// document itself:
//  1. Jackson writes the type of a CheckpointStatistics (and a subtask's) as
//     "@class", which the generator calls "className".
//  2. A percentile of no values is the string "NaN" (Jackson writes a NaN
//     double as a string); the document says number.
//  3. latest.completed/savepoint/failed/restored are null when there is none.
//  4. The processing mode is written in lower case (at_least_once).
//  5. AsynchronousOperationResult.operation is oneOf three object schemas
//     without required fields: every object matches all three, so oneOf can
//     never hold; anyOf is what the generator meant.
func adaptWire(doc *openapi3.T) {
	schemas := doc.Components.Schemas
	for _, name := range []string{"CheckpointStatistics", "SubtaskCheckpointStatistics"} {
		s := schemas[name].Value
		s.Required = []string{"@class"}
		s.Properties["@class"] = openapi3.NewStringSchema().NewRef()
		s.Discriminator.PropertyName = "@class"
	}
	nan := openapi3.NewStringSchema()
	nan.Enum = []any{"NaN", "Infinity", "-Infinity"}
	for _, p := range []string{"p50", "p90", "p95", "p99", "p999"} {
		schemas["StatsSummaryDto"].Value.Properties[p] = openapi3.NewOneOfSchema(openapi3.NewFloat64Schema(), nan).NewRef()
	}
	latest := schemas["LatestCheckpoints"].Value
	for name, ref := range latest.Properties {
		latest.Properties[name] = openapi3.NewAllOfSchema(ref.Value).WithNullable().NewRef()
	}
	schemas["ProcessingMode"].Value.Enum = append(schemas["ProcessingMode"].Value.Enum, "at_least_once", "exactly_once")
	op := schemas["AsynchronousOperationResult"].Value.Properties["operation"].Value
	op.AnyOf, op.OneOf = op.OneOf, nil
}

// flinkValidator checks requests and responses against the document.
type flinkValidator struct {
	t       *testing.T
	doc     *openapi3.T
	checked map[string]int // "METHOD template" -> responses checked
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// route finds the document's operation for a concrete path, preferring
// literal segments over parameters (…/checkpoints/config is not a trigger id).
func (v *flinkValidator) route(method, path string) (*routers.Route, map[string]string) {
	segs := strings.Split(path, "/")
	var best *routers.Route
	var bestParams map[string]string
	bestLiterals := -1
	for tmpl, item := range v.doc.Paths.Map() {
		tsegs := strings.Split(tmpl, "/")
		if len(tsegs) != len(segs) || item.GetOperation(method) == nil {
			continue
		}
		params, literals, ok := map[string]string{}, 0, true
		for i, ts := range tsegs {
			switch {
			case pathParam.MatchString(ts):
				params[strings.Trim(ts, "{}")] = segs[i]
			case ts == segs[i]:
				literals++
			default:
				ok = false
			}
		}
		if ok && literals > bestLiterals {
			best = &routers.Route{Spec: v.doc, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}
			bestParams, bestLiterals = params, literals
		}
	}
	if best == nil {
		v.t.Fatalf("%s %s: Flink's document has no such operation", method, path)
	}
	return best, bestParams
}

// check validates one exchange: the request (path parameters, body) and the
// response (status, content type, body).
func (v *flinkValidator) check(method, path, reqBody string, status int, header http.Header, body []byte) {
	v.t.Helper()
	route, params := v.route(method, path)
	var rb io.Reader
	if reqBody != "" {
		rb = strings.NewReader(reqBody)
	}
	req := httptest.NewRequest(method, path, rb)
	if reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx := context.Background()
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		v.t.Errorf("%s %s %s: request does not validate: %v", method, path, reqBody, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		v.t.Errorf("%s %s: response %d does not validate: %v\n%s", method, path, status, err, body)
	}
	v.checked[method+" "+route.Path]++
}

// TestFlinkEndpointsValidateAgainstOpenAPI drives a driver through global,
// regional, failed, manual, savepoint and stop-with-savepoint checkpoints and
// validates every answer of every Flink endpoint against Flink's OpenAPI
// document with kin-openapi; each operation of the document must have been
// checked with a 2xx answer.
func TestFlinkEndpointsValidateAgainstOpenAPI(t *testing.T) {
	v := &flinkValidator{t: t, doc: loadFlinkDoc(t, true), checked: map[string]int{}}
	cfg := regionalConfig(1000)
	cfg.TolerableFailures = 5 // the expiry below must not fail the job
	a := openFlinkAPI(t, cfg)
	fid := flinkapi.HexID(jobID)
	job := "/jobs/" + fid
	vertices := flinkapi.VertexIDs(a.d.Topology())
	do := func(method, path, body string, want int) []byte {
		t.Helper()
		r := a.do(method, path, body)
		if r.status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.body)
		}
		v.check(method, path, body, r.status, r.header, r.body)
		return r.body
	}
	getAll := func() {
		t.Helper()
		do("GET", "/config", "", 200)
		do("GET", "/jobs/overview", "", 200)
		do("GET", job, "", 200)
		do("GET", job+"/checkpoints", "", 200)
		do("GET", job+"/checkpoints/config", "", 200)
		var stats flinkapi.CheckpointingStatistics
		if err := json.Unmarshal(a.do("GET", job+"/checkpoints", "").body, &stats); err != nil {
			t.Fatal(err)
		}
		for _, h := range stats.History {
			do("GET", fmt.Sprintf("%s/checkpoints/details/%d", job, h.ID), "", 200)
			for _, vid := range vertices {
				do("GET", fmt.Sprintf("%s/checkpoints/details/%d/subtasks/%s", job, h.ID, vid), "", 200)
			}
		}
	}
	getAll() // nothing yet: nulls, NaN percentiles, empty history
	// 1 global with sizes, 2 regional (r1 declines), 3 expires.
	a.clock.Advance(time.Second)
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 1))
	for task := fsm.TaskID(0); task < 4; task++ {
		if err := a.d.AckWithSizes(1, task, 1<<20, 4096); err != nil {
			t.Fatal(err)
		}
	}
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 1))
	a.clock.Advance(time.Second)
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 2))
	a.ackAll(2, 0, 2)
	if err := a.d.Decline(2, 3, ""); err != nil {
		t.Fatal(err)
	}
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 2))
	a.clock.Advance(time.Second)
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 3))
	a.ackAll(3, 0)
	getAll() // one in progress with an ack
	a.clock.Advance(10 * time.Minute)
	a.exec.wait(t, "abort", isEffect(fsm.EffAbort, 3))

	// The expiry freed the slot for the waiting periodic request: 4 runs.
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 4))

	// A manual checkpoint waits behind 4 (max_concurrent 1, R12): 202 with a
	// trigger id, IN_PROGRESS, then, once it ran as 5, COMPLETED with its id.
	var tr flinkapi.TriggerResponse
	json.Unmarshal(do("POST", job+"/checkpoints", `{"checkpointType":"FULL"}`, 202), &tr)
	if !flinkapi.IsHexID(tr.RequestID) {
		t.Fatalf("trigger id %q", tr.RequestID)
	}
	status := func(kind, id string) flinkapi.AsynchronousOperationResult {
		t.Helper()
		var res flinkapi.AsynchronousOperationResult
		if err := json.Unmarshal(do("GET", job+"/"+kind+"/"+id, "", 200), &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	inProgress := func(when string) {
		t.Helper()
		if s := status("checkpoints", tr.RequestID); s.Status.ID != "IN_PROGRESS" || s.Operation != nil {
			t.Fatalf("status %s: %+v", when, s)
		}
	}
	inProgress("while it waits")
	a.ackAll(4, 0, 1, 2, 3)
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 4))
	a.exec.wait(t, "trigger", isEffect(fsm.EffTrigger, 5))
	inProgress("after the periodic checkpoint completed")
	a.ackAll(5, 0, 1, 2, 3)
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, 5))
	if s := status("checkpoints", tr.RequestID); s.Status.ID != "COMPLETED" || s.Operation == nil || s.Operation.CheckpointID.Get() != 5 {
		t.Fatalf("status after completion: %+v", s)
	}
	// The same trigger id again: the same operation, no new checkpoint.
	var again flinkapi.TriggerResponse
	json.Unmarshal(do("POST", job+"/checkpoints", `{"triggerId":"`+tr.RequestID+`"}`, 202), &again)
	if again.RequestID != tr.RequestID {
		t.Fatalf("an idempotent trigger got %s", again.RequestID)
	}

	// A savepoint: COMPLETED with its location.
	json.Unmarshal(do("POST", job+"/savepoints", `{"target-directory":"/tmp/sp","formatType":"CANONICAL"}`, 202), &tr)
	sp := a.exec.wait(t, "trigger", func(e fsm.Effect) bool { return e.Type == fsm.EffTrigger && e.Kind == fsm.KindSavepoint })
	a.ackAll(sp.Checkpoint, 0, 1, 2, 3)
	a.exec.wait(t, "completed", isEffect(fsm.EffCompleted, sp.Checkpoint))
	a.flush()
	if s := status("savepoints", tr.RequestID); s.Status.ID != "COMPLETED" || !strings.HasSuffix(s.Operation.Location.Get(), fmt.Sprintf("sp-%d.json", sp.Checkpoint)) {
		t.Fatalf("savepoint %d status %+v %+v", sp.Checkpoint, s, s.Operation)
	}
	getAll()

	// Stop-with-savepoint that a task declines: COMPLETED with the failure (R24 fails the job).
	json.Unmarshal(do("POST", job+"/stop", `{"drain":false}`, 202), &tr)
	stop := a.exec.wait(t, "trigger", func(e fsm.Effect) bool { return e.Type == fsm.EffTrigger && e.Kind == fsm.KindStopWithSavepoint })
	if err := a.d.Decline(stop.Checkpoint, 0, ""); err != nil {
		t.Fatal(err)
	}
	a.exec.wait(t, "abort", isEffect(fsm.EffAbort, stop.Checkpoint))
	a.flush()
	if s := status("savepoints", tr.RequestID); s.Status.ID != "COMPLETED" || s.Operation.SavepointFailure.Value == nil {
		t.Fatalf("failed stop status %+v", s)
	}
	getAll()

	// A request on a failed job fails at once.
	json.Unmarshal(do("POST", job+"/checkpoints", ``, 202), &tr)
	if s := status("checkpoints", tr.RequestID); s.Operation == nil || !strings.Contains(s.Operation.FailureCause.Get().StackTrace, "coordinator_suspend") {
		t.Fatalf("status on a failed job %+v", s)
	}

	for tmpl, item := range v.doc.Paths.Map() {
		for method := range item.Operations() {
			if v.checked[method+" "+tmpl] == 0 {
				t.Errorf("%s %s was never checked", method, tmpl)
			}
		}
	}
}

// openFlinkAPI is openAPI with a configuration of the test's choice.
func openFlinkAPI(t *testing.T, cfg fsm.Config) *apiHarness {
	t.Helper()
	st := &hookStore{FileStore: openStore(t, t.TempDir())}
	h := &harness{t: t, clock: newFakeClock(), exec: newRecExec()}
	d, err := New(st, twoRegions(), cfg, Options{Clock: h.clock, Executor: h.exec})
	if err != nil {
		t.Fatal(err)
	}
	h.d = d
	t.Cleanup(func() { d.Close() })
	return &apiHarness{harness: h, store: st, h: NewHandler(d, jobID, HandlerOptions{})}
}

// TestFlinkDocAdaptationsAreNeeded: the recorded Flink responses validate
// against the adapted document, and each adaptation is needed by one of them
// (or, for oneOf, by a plain checkpoint status): the adaptations correct the
// document, they do not loosen it at random.
func TestFlinkDocAdaptationsAreNeeded(t *testing.T) {
	files, err := filepath.Glob("flinkapi/testdata/recorded/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded responses: %v", err)
	}
	fid := "d933fa6c785f0db6dccc6cc05dd43bab"
	validate := func(doc *openapi3.T, path string, body []byte) error {
		v := &flinkValidator{t: t, doc: doc, checked: map[string]int{}}
		route, params := v.route("GET", path)
		in := &openapi3filter.RequestValidationInput{Request: httptest.NewRequest("GET", path, nil), PathParams: params,
			Route: route, Options: &openapi3filter.Options{IncludeResponseStatus: true}}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: 200,
			Header: http.Header{"Content-Type": {"application/json"}}, Options: in.Options}
		out.SetBodyBytes(body)
		return openapi3filter.ValidateResponse(context.Background(), out)
	}
	adapted, raw := loadFlinkDoc(t, true), loadFlinkDoc(t, false)
	failsRaw := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var body bytes.Buffer
		for _, line := range strings.SplitAfter(string(data), "\n") {
			if !strings.HasPrefix(line, "#") {
				body.WriteString(line)
			}
		}
		path := "/jobs/" + fid + "/checkpoints"
		if strings.Contains(f, "config") {
			path += "/config"
		}
		if err := validate(adapted, path, body.Bytes()); err != nil {
			t.Errorf("%s does not validate against the adapted document: %v", f, err)
		}
		if validate(raw, path, body.Bytes()) != nil {
			failsRaw++
		}
	}
	if failsRaw != len(files) {
		t.Errorf("%d of %d recorded responses fail Flink's document as generated; every one should (else an adaptation is not needed)", failsRaw, len(files))
	}
	status := []byte(`{"status":{"id":"COMPLETED"},"operation":{"checkpointId":5}}`)
	if validate(raw, "/jobs/"+fid+"/checkpoints/"+fid, status) == nil {
		t.Error("a checkpoint status validates against oneOf: the anyOf adaptation is not needed")
	}
	if err := validate(adapted, "/jobs/"+fid+"/checkpoints/"+fid, status); err != nil {
		t.Errorf("a checkpoint status: %v", err)
	}
}
