package history

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
	extra  []porcupine.Operation
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

// AlsoRead records, with the interval of c, a configuration read that c's
// answer carried: the driver answers a PATCH with the configuration it reads
// after the patch applied, a get of its own that happened within c.
func (r *ClientRecorder) AlsoRead(c *Call, out ConfigOutput) {
	c.extra = append(c.extra, porcupine.Operation{ClientId: c.client, Input: ConfigInput{Op: ConfigGet},
		Output: out, Metadata: "read in a PATCH answer"})
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
	for _, x := range c.extra {
		x.Call, x.Return = c.call, ret
		r.cfg = append(r.cfg, x)
	}
	return nil
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
// result per object.
type ClientCheck struct {
	Config, Progress porcupine.CheckResult
	history          ClientHistory
	config, progress porcupine.LinearizationInfo
}

// CheckClientHistory checks both objects of h for linearizability, each with
// its own timeout (0 = none); a check that times out is porcupine.Unknown.
func CheckClientHistory(h ClientHistory, timeout time.Duration) ClientCheck {
	c := ClientCheck{history: h}
	c.Config, c.config = porcupine.CheckOperationsVerbose(ConfigModel(h.Config), h.ConfigOps, timeout)
	c.Progress, c.progress = porcupine.CheckOperationsVerbose(ProgressModel(), h.ProgressOps, timeout)
	return c
}

// Illegal reports whether either object's history is not linearizable.
func (c ClientCheck) Illegal() bool {
	return c.Config == porcupine.Illegal || c.Progress == porcupine.Illegal
}

// String summarizes the check.
func (c ClientCheck) String() string {
	return fmt.Sprintf("config register: %s (%d operations), checkpoint progress: %s (%d reads)",
		c.Config, len(c.history.ConfigOps), c.Progress, len(c.history.ProgressOps))
}

// Keep writes the history to dir as clients.json (WriteClientHistory) and, for
// each object whose check did not end Ok, porcupine's HTML visualization
// (config.html, progress.html), and returns the paths written.
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
	for _, v := range []struct {
		result porcupine.CheckResult
		model  porcupine.Model
		info   porcupine.LinearizationInfo
		name   string
	}{
		{c.Config, ConfigModel(c.history.Config), c.config, "config.html"},
		{c.Progress, ProgressModel(), c.progress, "progress.html"},
	} {
		if v.result == porcupine.Ok {
			continue
		}
		v.info.AddAnnotations(annotations)
		p := filepath.Join(dir, v.name)
		if err := porcupine.VisualizePath(v.model, v.info, p); err != nil {
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
