package linearizability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// ClientHistory is what the clients of a driver's REST API observed: every
// operation on the configuration register (Input ConfigInput, Output
// ConfigOutput) and every read of checkpoint progress (Input ProgressInput,
// Output ProgressOutput), each with its call and return time. An operation
// whose outcome is unknown has Return = math.MaxInt64 (+∞). Faults are notes
// for the reader (restarts, failed writes); the check ignores them.
type ClientHistory struct {
	Config      ConfigBase
	ConfigOps   []porcupine.Operation
	ProgressOps []porcupine.Operation
	Faults      []Fault
}

// Fault is something the test did to the system, shown in the visualization.
type Fault struct {
	Start       int64  `json:"start"` // ns since the history's start
	End         int64  `json:"end"`
	Description string `json:"description"`
}

// ClientRecorder records a ClientHistory from many goroutines, with times in
// monotonic nanoseconds since the recorder was made. It follows etcd's
// robustness recorder: intervals are closed, an operation whose outcome is
// unknown ends at +∞ and its client takes a new id (a client's operations
// never overlap, and an unknown one never ends), and an impossible history —
// a return before its call, a call while the client's previous operation is
// open, a second return — is refused, because a checker fed one proves
// nothing.
type ClientRecorder struct {
	start time.Time

	mu         sync.Mutex
	nextClient int
	open       map[int]bool // clients with an operation in flight
	cfg        []porcupine.Operation
	prog       []porcupine.Operation
	faults     []Fault
	err        error
}

// Call is an operation in flight, returned by ClientRecorder.Call.
type Call struct {
	client int
	input  any
	call   int64
	done   bool
}

// NewClientRecorder starts a recorder; its clock starts now.
func NewClientRecorder() *ClientRecorder {
	return &ClientRecorder{start: time.Now(), open: map[int]bool{}}
}

// Now returns the recorder's clock: nanoseconds since it was made, from the
// monotonic clock.
func (r *ClientRecorder) Now() int64 { return time.Since(r.start).Nanoseconds() }

// NewClient returns a fresh client id.
func (r *ClientRecorder) NewClient() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := r.nextClient
	r.nextClient++
	return id
}

func (r *ClientRecorder) fail(format string, args ...any) error {
	err := fmt.Errorf("history: impossible client history: "+format, args...)
	if r.err == nil {
		r.err = err
	}
	return err
}

// Call records the call of an operation by client; input is a ConfigInput or a
// ProgressInput.
func (r *ClientRecorder) Call(client int, input any) (*Call, error) {
	now := r.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch input.(type) {
	case ConfigInput, ProgressInput:
	default:
		return nil, r.fail("input %T is neither a ConfigInput nor a ProgressInput", input)
	}
	if r.open[client] {
		return nil, r.fail("client %d calls while its previous operation is open", client)
	}
	r.open[client] = true
	return &Call{client: client, input: input, call: now}, nil
}

// Return records the return of c, now, with its output (a ConfigOutput or a
// ProgressOutput matching the input).
func (r *ClientRecorder) Return(c *Call, output any) error {
	return r.end(c, output, r.Now())
}

// Unknown records that c's outcome is unknown: it returns at +∞, and the
// client must go on under the id returned.
func (r *ClientRecorder) Unknown(c *Call, output any) (int, error) {
	err := r.end(c, output, math.MaxInt64)
	return r.NewClient(), err
}

// Drop forgets c: a read that failed tells nothing.
func (r *ClientRecorder) Drop(c *Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c.done = true
	delete(r.open, c.client)
}

func (r *ClientRecorder) end(c *Call, output any, ret int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.done {
		return r.fail("client %d: operation called at %d returned twice", c.client, c.call)
	}
	c.done = true
	delete(r.open, c.client)
	if ret < c.call {
		return r.fail("client %d: return at %d before the call at %d", c.client, ret, c.call)
	}
	op := porcupine.Operation{ClientId: c.client, Input: c.input, Call: c.call, Output: output, Return: ret}
	switch c.input.(type) {
	case ConfigInput:
		if _, ok := output.(ConfigOutput); !ok {
			return r.fail("client %d: a config operation returned %T", c.client, output)
		}
		r.cfg = append(r.cfg, op)
	case ProgressInput:
		if _, ok := output.(ProgressOutput); !ok {
			return r.fail("client %d: a progress read returned %T", c.client, output)
		}
		r.prog = append(r.prog, op)
	}
	return nil
}

// Settle gives every operation recorded so far whose outcome is unknown the
// return at (ns since the recorder's start): its outcome, still unknown to
// the client, was decided by then — the driver restarted with no request in
// flight, so an unconfirmed patch is durable and in force, or lost (R50). It
// may still be one or the other (ConfigModel keeps both branches), but no
// longer after at. With every client paused, a read after Settle lets
// CheckClientHistory cut the history there.
func (r *ClientRecorder) Settle(at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.cfg {
		if r.cfg[i].Return == math.MaxInt64 && r.cfg[i].Call <= at {
			r.cfg[i].Return = at
		}
	}
}

// Fault notes something done to the system between start and end (ns since
// the recorder's start).
func (r *ClientRecorder) Fault(start, end int64, description string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults = append(r.faults, Fault{Start: start, End: end, Description: description})
}

// History returns what was recorded, or the first impossibility. Operations
// still open are left out: their clients never learned anything.
func (r *ClientRecorder) History(base ConfigBase) (ClientHistory, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := ClientHistory{Config: base, ConfigOps: append([]porcupine.Operation(nil), r.cfg...),
		ProgressOps: append([]porcupine.Operation(nil), r.prog...), Faults: append([]Fault(nil), r.faults...)}
	return h, r.err
}

// ClientCheck is the outcome of checking a ClientHistory with porcupine: one
// result per object, and what porcupine said about every segment that did not
// check Ok (for the visualization).
type ClientCheck struct {
	Config, Progress porcupine.CheckResult
	// Segments counts the independent segments checked per object.
	ConfigSegments, ProgressSegments int
	// Unresolved counts the patches with an unknown outcome that
	// BoundUnknownPatches could not resolve: each makes the search wider.
	Unresolved int
	history    ClientHistory
	bad        []badSegment
}

// badSegment is a segment whose check did not end Ok.
type badSegment struct {
	object string // "config" or "progress"
	index  int
	result porcupine.CheckResult
	model  porcupine.Model
	info   porcupine.LinearizationInfo
}

// segment is a stretch of one object's history that can be checked on its own:
// every operation of the stretch before it returned before any of its own was
// called, and the stretch before it ended with a read that every linearization
// puts last, so that this one starts from that reading.
type segment struct {
	ops  []porcupine.Operation
	from porcupine.Operation // the pinning read; Input nil for the first segment
}

// segments cuts ops (any order) where a cut is exact: at a time no operation
// spans, after a read whose call came after every other earlier operation had
// returned. That read is the last operation of every linearization of what
// precedes the cut, so the state there is its reading, and the history is
// linearizable exactly when each segment is, starting from the reading before
// it. Porcupine's cost grows with the square of a history's length (its cache
// keeps a bitset of the whole history per explored state), so long histories
// are only affordable cut up; a history without such points is one segment.
// isRead says which operations pin the state.
func segments(ops []porcupine.Operation, isRead func(porcupine.Operation) bool) []segment {
	ops = append([]porcupine.Operation(nil), ops...)
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	var segs []segment
	var from porcupine.Operation
	begin := 0
	// Over ops[begin:i]: the latest return, the operation that has it, and the
	// latest return of every other one.
	var maxRet, otherRet int64 = math.MinInt64, math.MinInt64
	last := -1
	for i, op := range ops {
		if i > begin && maxRet < op.Call && isRead(ops[last]) && ops[last].Call > otherRet {
			segs = append(segs, segment{ops: ops[begin:i], from: from})
			from, begin = ops[last], i
			maxRet, otherRet, last = math.MinInt64, math.MinInt64, -1
		}
		if op.Return > maxRet {
			otherRet, maxRet, last = maxRet, op.Return, i
		} else {
			otherRet = max(otherRet, op.Return)
		}
	}
	if begin < len(ops) {
		segs = append(segs, segment{ops: ops[begin:], from: from})
	}
	return segs
}

// CheckClientHistory checks both objects of h for linearizability, each
// segment (see segments) with its own timeout (0 = none); a check that times
// out is porcupine.Unknown. Each configuration segment is checked after
// BoundUnknownPatches, which keeps the verdict and makes it affordable; the
// progress reads per job (ProgressModel partitions by job). A patch whose
// outcome is unknown and never settled ends at +∞, so no cut follows its call.
func CheckClientHistory(h ClientHistory, timeout time.Duration) ClientCheck {
	c := ClientCheck{history: h, Config: porcupine.Ok, Progress: porcupine.Ok}
	configSegs := segments(h.ConfigOps, func(op porcupine.Operation) bool {
		return op.Input.(ConfigInput).Op == ConfigGet
	})
	for i, seg := range configSegs {
		base := h.Config
		if seg.from.Input != nil {
			out := seg.from.Output.(ConfigOutput)
			base.IntervalMs, base.TimeoutMs, base.OverridesActive = out.IntervalMs, out.TimeoutMs, out.OverridesActive
		}
		// Bounding per segment: a value written in another segment does not
		// make one here ambiguous.
		ops := BoundUnknownPatches(base, seg.ops)
		for _, op := range ops {
			if op.Output.(ConfigOutput).Outcome == OutcomeUnknown {
				c.Unresolved++
			}
		}
		c.Config = c.check("config", i, ConfigModel(base), ops, timeout, c.Config)
	}
	c.ConfigSegments = len(configSegs)
	byJob := map[string][]porcupine.Operation{}
	var jobs []string
	for _, op := range h.ProgressOps {
		job := op.Input.(ProgressInput).Job
		if _, ok := byJob[job]; !ok {
			jobs = append(jobs, job)
		}
		byJob[job] = append(byJob[job], op)
	}
	for _, job := range jobs {
		for _, seg := range segments(byJob[job], func(porcupine.Operation) bool { return true }) {
			init := progressState{}
			if seg.from.Input != nil {
				if out := seg.from.Output.(ProgressOutput); out.Latest > 0 {
					init = progressState{latest: out.Latest, refs: encodeRefs(out.Refs)}
				}
			}
			c.Progress = c.check("progress", c.ProgressSegments, progressModelFrom(init), seg.ops, timeout, c.Progress)
			c.ProgressSegments++
		}
	}
	return c
}

// check runs porcupine on one segment and folds its result into so far:
// Illegal wins over Unknown, which wins over Ok.
func (c *ClientCheck) check(object string, index int, m porcupine.Model, ops []porcupine.Operation,
	timeout time.Duration, soFar porcupine.CheckResult) porcupine.CheckResult {
	res, info := porcupine.CheckOperationsVerbose(m, ops, timeout)
	if res == porcupine.Ok {
		return soFar
	}
	c.bad = append(c.bad, badSegment{object: object, index: index, result: res, model: m, info: info})
	if res == porcupine.Illegal || soFar == porcupine.Illegal {
		return porcupine.Illegal
	}
	return res
}

// Illegal reports whether either object's history is not linearizable.
func (c ClientCheck) Illegal() bool {
	return c.Config == porcupine.Illegal || c.Progress == porcupine.Illegal
}

// String summarizes the check.
func (c ClientCheck) String() string {
	s := fmt.Sprintf("config register: %s (%d operations in %d segments, %d unknown outcomes unresolved), "+
		"checkpoint progress: %s (%d reads in %d segments)", c.Config, len(c.history.ConfigOps), c.ConfigSegments,
		c.Unresolved, c.Progress, len(c.history.ProgressOps), c.ProgressSegments)
	for _, b := range c.bad {
		s += fmt.Sprintf("; %s segment %d: %s", b.object, b.index, b.result)
	}
	return s
}

// Keep writes the history to dir as clients.json (WriteClientHistory) and,
// for each segment whose check did not end Ok, porcupine's HTML visualization
// (config-<segment>.html, progress-<segment>.html), and returns the paths
// written.
func (c ClientCheck) Keep(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "clients.json")
	if err := WriteClientHistory(path, c.history); err != nil {
		return nil, err
	}
	paths := []string{path}
	annotations := faultAnnotations(c.history.Faults)
	for _, b := range c.bad {
		b.info.AddAnnotations(annotations)
		p := filepath.Join(dir, fmt.Sprintf("%s-%d.html", b.object, b.index))
		if err := porcupine.VisualizePath(b.model, b.info, p); err != nil {
			return paths, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

func faultAnnotations(faults []Fault) []porcupine.Annotation {
	var out []porcupine.Annotation
	for _, f := range faults {
		out = append(out, porcupine.Annotation{Tag: "faults", Start: f.Start, End: f.End,
			Description: f.Description, BackgroundColor: "#fbd3d3"})
	}
	return out
}

// clientsFormat names the file format of WriteClientHistory.
const clientsFormat = "ckpt-clients/v1"

// clientsFile is the on-disk form: one JSON object whose operations are one per
// line, so that a failing history can be read and cut down by hand.
type clientsFile struct {
	Format     string            `json:"format"`
	Config     ConfigBase        `json:"config"`
	Faults     []Fault           `json:"faults,omitempty"`
	Operations []json.RawMessage `json:"operations"`
}

// clientOp is one operation in a file: object is "config" or "progress";
// return is left out when the outcome is unknown (+∞, which JSON cannot
// carry exactly).
type clientOp struct {
	Object string          `json:"object"`
	Client int             `json:"client"`
	Call   int64           `json:"call"`
	Return *int64          `json:"return,omitempty"`
	Input  json.RawMessage `json:"input"`
	Output json.RawMessage `json:"output"`
	Note   string          `json:"note,omitempty"`
}

// WriteClientHistory writes h to path as JSON (format ckpt-clients/v1),
// operations in call order.
func WriteClientHistory(path string, h ClientHistory) error {
	type tagged struct {
		object string
		op     porcupine.Operation
	}
	var all []tagged
	for _, op := range h.ConfigOps {
		all = append(all, tagged{"config", op})
	}
	for _, op := range h.ProgressOps {
		all = append(all, tagged{"progress", op})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].op.Call < all[j].op.Call })
	f := clientsFile{Format: clientsFormat, Config: h.Config, Faults: h.Faults, Operations: []json.RawMessage{}}
	for _, t := range all {
		in, err := json.Marshal(t.op.Input)
		if err != nil {
			return err
		}
		out, err := json.Marshal(t.op.Output)
		if err != nil {
			return err
		}
		o := clientOp{Object: t.object, Client: t.op.ClientId, Call: t.op.Call, Input: in, Output: out}
		if t.op.Return != math.MaxInt64 {
			ret := t.op.Return
			o.Return = &ret
		}
		if note, ok := t.op.Metadata.(string); ok {
			o.Note = note
		}
		line, err := json.Marshal(o)
		if err != nil {
			return err
		}
		f.Operations = append(f.Operations, line)
	}
	var b bytes.Buffer
	head, err := json.Marshal(struct {
		Format string     `json:"format"`
		Config ConfigBase `json:"config"`
		Faults []Fault    `json:"faults,omitempty"`
	}{f.Format, f.Config, f.Faults})
	if err != nil {
		return err
	}
	b.Write(head[:len(head)-1])
	b.WriteString(",\n\"operations\": [\n")
	for i, line := range f.Operations {
		b.Write(line)
		if i < len(f.Operations)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]}\n")
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// ReadClientHistory reads a file WriteClientHistory wrote (or one written by
// hand). It is strict — unknown fields, a wrong format, a return before its
// call, an unknown object are errors — because a saved history is evidence.
func ReadClientHistory(path string) (ClientHistory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return ClientHistory{}, err
	}
	var f clientsFile
	if err := strictJSON(data, &f); err != nil {
		return ClientHistory{}, fmt.Errorf("%s: %w", path, err)
	}
	if f.Format != clientsFormat {
		return ClientHistory{}, fmt.Errorf("%s: format %q, want %q", path, f.Format, clientsFormat)
	}
	h := ClientHistory{Config: f.Config, Faults: f.Faults}
	for i, raw := range f.Operations {
		op, object, err := decodeClientOp(raw)
		if err != nil {
			return ClientHistory{}, fmt.Errorf("%s: operations[%d]: %w", path, i, err)
		}
		if object == "config" {
			h.ConfigOps = append(h.ConfigOps, op)
		} else {
			h.ProgressOps = append(h.ProgressOps, op)
		}
	}
	return h, nil
}

func decodeClientOp(raw json.RawMessage) (porcupine.Operation, string, error) {
	var o clientOp
	if err := strictJSON(raw, &o); err != nil {
		return porcupine.Operation{}, "", err
	}
	op := porcupine.Operation{ClientId: o.Client, Call: o.Call, Return: math.MaxInt64}
	if o.Note != "" {
		op.Metadata = o.Note
	}
	if o.Return != nil {
		if *o.Return < o.Call {
			return op, "", fmt.Errorf("return %d before call %d", *o.Return, o.Call)
		}
		op.Return = *o.Return
	}
	switch o.Object {
	case "config":
		var in ConfigInput
		var out ConfigOutput
		if err := strictJSON(o.Input, &in); err != nil {
			return op, "", fmt.Errorf("input: %w", err)
		}
		if err := strictJSON(o.Output, &out); err != nil {
			return op, "", fmt.Errorf("output: %w", err)
		}
		if in.Op != ConfigGet && in.Op != ConfigPatch {
			return op, "", fmt.Errorf("input: op %q, want %q or %q", in.Op, ConfigGet, ConfigPatch)
		}
		op.Input, op.Output = in, out
	case "progress":
		var in ProgressInput
		var out ProgressOutput
		if err := strictJSON(o.Input, &in); err != nil {
			return op, "", fmt.Errorf("input: %w", err)
		}
		if err := strictJSON(o.Output, &out); err != nil {
			return op, "", fmt.Errorf("output: %w", err)
		}
		op.Input, op.Output = in, out
	default:
		return op, "", fmt.Errorf("object %q, want \"config\" or \"progress\"", o.Object)
	}
	return op, o.Object, nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
