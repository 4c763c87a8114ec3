package driver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/ckptcore/ckptcore/driver/flinkapi"
)

// DefaultMaxBodyBytes bounds a PATCH body (64 KiB) unless HandlerOptions say otherwise.
const DefaultMaxBodyBytes = 64 << 10

// HandlerOptions configures NewHandler.
type HandlerOptions struct {
	// Token, when not empty, is required as "Authorization: Bearer <Token>" on
	// every request (the scheme name in any case, RFC 7235); a missing or
	// wrong token gets 401. Read it from a file or the environment, not the
	// command line (/proc/PID/cmdline is world-readable).
	Token string
	// Hosts, when Token is empty, lists the Host header values accepted
	// (LoopbackHosts of the bound address); any other gets 403, so that a web
	// page cannot reach an unauthenticated API through DNS rebinding. Empty:
	// no check.
	Hosts []string
	// PatchTimeout bounds how long a PATCH waits for its overrides to become
	// durable (504 after it); 0 waits as long as the client does.
	PatchTimeout time.Duration
	// MaxBodyBytes bounds a request body (413 above it); 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// NewHandler returns the REST API of one job's checkpoint coordinator, for a
// program to mount (it expects the full path, e.g. at "/" or under
// http.StripPrefix): Flink's checkpoint endpoints in Flink's shapes (listed in
// flink_http.go), GET /metrics, and FLIP-571's
//
//	PATCH /jobs/{jobid}/checkpoints/configuration   dynamic configuration
//
// The PATCH body is {"checkpointInterval": ms, "checkpointTimeout": ms}, each
// optional (FLIP-571's names). The answer, 200 with the configuration in force
// (GET .../checkpoints/config's shape), comes only after the overrides are
// durable (R63); 400 carries the core's reason for a value it rejects (R60).
// The fields FLIP-571 and FLIP-600 add to Flink's are snake_case extras
// (overrides_active, regional_enabled, …) that Flink's clients ignore. Every
// error is Flink's shape, {"errors": ["reason"]}: 400 bad body, 401 token, 404
// unknown job or path, 403 a Host the server is not bound to (Hosts), 405
// wrong method (with Allow), 413 body too large, 415 a body that is not
// application/json, 503 store failure or closed driver, 504 PatchTimeout. A
// body with a duplicate key is a 400: encoding/json would keep the last.
func NewHandler(d *Driver, jobID string, opts HandlerOptions) http.Handler {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	return &handler{d: d, jobID: jobID, flinkJobID: flinkapi.HexID(jobID), opts: opts,
		metrics: d.metricsHandler(jobID)}
}

type handler struct {
	d          *Driver
	jobID      string
	flinkJobID string // the job id in Flink's form (32 hex characters)
	opts       HandlerOptions
	metrics    http.Handler
}

type endpoint struct {
	allow  string // the Allow header: methods served
	method string // the method served (HEAD rides along with GET)
	serve  func(h *handler, w http.ResponseWriter, r *http.Request)
}

// endpoints are the FLIP-571 ones; Flink's are in flink_http.go.
var endpoints = map[string]endpoint{
	"checkpoints/configuration": {"PATCH", http.MethodPatch, (*handler).patchConfig},
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.guard(w, r) {
		return
	}
	r = withoutVersion(r)
	if h.serveFlink(w, r) {
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/jobs/")
	job, sub, ok2 := strings.Cut(rest, "/")
	ep, ok3 := endpoints[sub]
	if !ok || !ok2 || job == "" || !ok3 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("not found: %s", r.URL.Path))
		return
	}
	if r.Method != ep.method && !(ep.method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", ep.allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, ep.allow))
		return
	}
	if !h.isJob(job) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("job %s not found", job))
		return
	}
	ep.serve(h, w, r)
}

func (h *handler) patchConfig(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "reading the request body: "+err.Error())
		return
	}
	p, reason := parsePatch(body)
	if reason != "" {
		writeError(w, http.StatusBadRequest, reason)
		return
	}
	ctx := r.Context()
	if h.opts.PatchTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.opts.PatchTimeout)
		defer cancel()
	}
	_, err = h.d.PatchConfig(ctx, p)
	var rejected *PatchRejectedError
	var notDurable *OverridesNotDurableError
	switch {
	case err == nil:
		st, err := h.d.Status()
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, configBody(st))
	case errors.As(err, &rejected):
		writeError(w, http.StatusBadRequest, rejected.Reason)
	case errors.As(err, &notDurable):
		writeError(w, http.StatusServiceUnavailable, notDurable.Error()+
			"; the patch stays pending until a later patch is persisted or the coordinator restarts; repeating it is safe")
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "the overrides are not durable yet, so they do not apply yet; "+
			"the patch stays pending and applies once its write succeeds (GET .../checkpoints/config shows when)")
	case errors.Is(err, ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "the checkpoint coordinator is shut down")
	default:
		// The client went away (its context ended): nobody reads this answer.
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// patchFields are FLIP-571's body fields.
const (
	fieldInterval = "checkpointInterval"
	fieldTimeout  = "checkpointTimeout"
)

// parsePatch reads a PATCH body strictly — a typo must not be silently ignored —
// and returns the patch or the reason it is malformed. Values are integers of
// milliseconds; whether they are in range is the core's decision (R60).
func parsePatch(body []byte) (ConfigPatch, string) {
	var p ConfigPatch
	if len(strings.TrimSpace(string(body))) == 0 {
		return p, fmt.Sprintf("empty request body: want a JSON object with %s and/or %s (milliseconds)", fieldInterval, fieldTimeout)
	}
	if k := duplicateKey(body); k != "" {
		return p, fmt.Sprintf("duplicate field %q: each field once", k)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return p, fmt.Sprintf("invalid JSON at byte %d: %v", syntax.Offset, err)
		}
		return p, "invalid request body: want a JSON object, got " + jsonKind(body)
	}
	if fields == nil {
		return p, "invalid request body: want a JSON object, got null"
	}
	for name, raw := range fields {
		var dst **int64
		switch name {
		case fieldInterval:
			dst = &p.IntervalMs
		case fieldTimeout:
			dst = &p.TimeoutMs
		default:
			return p, fmt.Sprintf("unknown field %q: want %s and/or %s", name, fieldInterval, fieldTimeout)
		}
		v, reason := parseMillis(name, raw)
		if reason != "" {
			return p, reason
		}
		*dst = &v
	}
	return p, ""
}

// parseMillis reads one field as an int64 number of milliseconds.
func parseMillis(name string, raw json.RawMessage) (int64, string) {
	if kind := jsonKind(raw); kind != "a number" {
		// Checked first: encoding/json would read "5" (a string) into a Number.
		return 0, fmt.Sprintf("%s: want an integer number of milliseconds, got %s", name, kind)
	}
	n := json.Number(strings.TrimSpace(string(raw)))
	if strings.ContainsAny(string(n), ".eE") {
		return 0, fmt.Sprintf("%s: %s is not an integer number of milliseconds", name, n)
	}
	v, err := n.Int64()
	if err != nil {
		return 0, fmt.Sprintf("%s: %s is out of range", name, n)
	}
	return v, ""
}

// jsonKind names the JSON type of a value, for error messages.
func jsonKind(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "":
		return "nothing"
	case s == "null":
		return "null"
	case s == "true" || s == "false":
		return "a boolean"
	case s[0] == '"':
		return "a string"
	case s[0] == '[':
		return "an array"
	case s[0] == '{':
		return "an object"
	}
	return "a number"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// An error means the client is gone: nobody is left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, reason string) {
	writeJSON(w, status, map[string][]string{"errors": {reason}})
}
