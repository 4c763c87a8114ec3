package history

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// Format is the header's format string this package reads and writes.
const Format = "ckpt-history/v1"

// Header is a history's first line: the job and its base configuration.
type Header struct {
	Format string
	Job    fsm.JobSpec
	Config fsm.Config
}

// Record is one event line: its physical line number, the event and, when the
// line carries "effects", the effects the runtime recorded for it (each compacted
// JSON object, compared with the recomputed ones on replay).
type Record struct {
	Line        int
	Event       fsm.Event
	Recorded    []json.RawMessage
	HasRecorded bool
	// Handle is the state handle an ack carried (its "state" field, only in
	// a FormatState history); the zero value when it carried none. The core
	// never sees it: replay ignores it, the driver's metadata builder keeps it.
	Handle StateHandle
	// Resume, on a resume record (the first line of a FormatResume history),
	// is the durable state the core resumes from at Event.At; Event.Type is
	// then 0, no fsm event.
	Resume *fsm.Durable
	// Snapshot, on a snapshot record (the first line of a FormatSnapshot
	// history), is the core the history continues from (fsm.DecodeSnapshot);
	// Event.At is its time and Event.Type 0, no fsm event. Replay clones it.
	Snapshot *fsm.State
}

// History is a decoded history file.
type History struct {
	File       string
	HeaderLine int // the header's physical line, where header errors are reported
	Header     Header
	Topology   *fsm.Topology
	Records    []Record
	Claims     []Claim // the //claim lines (claims.go), in file order
}

// ReadFile decodes the history in path; "-" reads standard input.
func ReadFile(path string) (*History, error) {
	if path == "-" {
		return Decode(os.Stdin, "<stdin>")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f, path)
}

// Decode reads a whole history into memory (a Reader reads it one event at a
// time). Every error is an *Error naming the physical line (blank and // lines
// count) and, where one is at fault, the field. Besides the syntax it checks
// the structure HISTORY.md requires: a valid job and configuration, subtasks
// and regions the job has, start first and only once, time that never goes
// backwards, well-formed claims, and no line longer than MaxLineBytes.
func Decode(r io.Reader, file string) (*History, error) {
	d, err := NewReader(r, file)
	if err != nil {
		return nil, err
	}
	h := &History{File: file, HeaderLine: d.HeaderLine(), Header: d.Header(), Topology: d.Topology()}
	for {
		rec, err := d.Next()
		h.Claims = append(h.Claims, d.TakeClaims()...)
		if err == io.EOF {
			return h, nil
		}
		if err != nil {
			return nil, err
		}
		h.Records = append(h.Records, rec)
	}
}

// decodeHeader reads and validates the header line.
func decodeHeader(line []byte) (Header, *fsm.Topology, error) {
	var h Header
	if err := checkLine(line); err != nil {
		return h, nil, err
	}
	o, err := parseObject("", line)
	if err != nil {
		return h, nil, err
	}
	_, hasFormat := o.get("format")
	if _, isEvent := o.get("type"); isEvent && !hasFormat {
		return h, nil, errorf("format", "missing required field: the first JSON line must be the header, not an event")
	}
	if err := o.allow("a header has", "format", "job", "config"); err != nil {
		return h, nil, err
	}
	format, _, err := o.str("format", true)
	if err != nil {
		return h, nil, err
	}
	if format != Format && format != FormatResume && format != FormatState && format != FormatSnapshot {
		return h, nil, errorf("format", "%q is not supported (want %q, %q, %q or %q)", format, Format, FormatResume, FormatState, FormatSnapshot)
	}
	h.Format = format
	job, _, err := o.sub("job", true)
	if err != nil {
		return h, nil, err
	}
	if h.Job, err = decodeJob(job); err != nil {
		return h, nil, err
	}
	h.Config = fsm.DefaultConfig()
	if cfg, ok, err := o.sub("config", false); err != nil {
		return h, nil, err
	} else if ok {
		if err := decodeConfig(cfg, &h.Config); err != nil {
			return h, nil, err
		}
	}
	topo, err := fsm.NewTopology(h.Job)
	if err != nil {
		return h, nil, topologyError(err)
	}
	if err := h.Config.Validate(); err != nil {
		return h, nil, configError(err)
	}
	return h, topo, nil
}

// topologyError places a job error on "job"; NewTopology's messages start with
// "job: " and name the vertex or edge and the rule.
func topologyError(err error) error {
	return errorf("job", "%s", strings.TrimPrefix(err.Error(), "job: "))
}

// configError places a configuration error on the key it names (SEMANTICS §2).
func configError(err error) error {
	var ce *fsm.ConfigError
	if errors.As(err, &ce) {
		return errorf("config."+ce.Key, "%v: %s (docs/spec/SEMANTICS.md §2)", ce.Value, ce.Rule)
	}
	return errorf("config", "%v", err)
}

func decodeJob(o *object) (fsm.JobSpec, error) {
	var spec fsm.JobSpec
	if err := o.allow("a job has", "vertices", "edges"); err != nil {
		return spec, err
	}
	vs, _, err := o.array("vertices", true)
	if err != nil {
		return spec, err
	}
	if len(vs) == 0 {
		return spec, errorf(o.field("vertices"), "a job needs at least one vertex (R1)")
	}
	ids := map[string]bool{}
	for i, raw := range vs {
		v, err := parseObject(o.field("vertices["+strconv.Itoa(i)+"]"), raw)
		if err != nil {
			return spec, err
		}
		vs, err := decodeVertex(v)
		if err != nil {
			return spec, err
		}
		ids[vs.ID] = true
		spec.Vertices = append(spec.Vertices, vs)
	}
	es, _, err := o.array("edges", false)
	if err != nil {
		return spec, err
	}
	for i, raw := range es {
		e, err := parseObject(o.field("edges["+strconv.Itoa(i)+"]"), raw)
		if err != nil {
			return spec, err
		}
		es, err := decodeEdge(e, ids)
		if err != nil {
			return spec, err
		}
		spec.Edges = append(spec.Edges, es)
	}
	return spec, nil
}

func decodeVertex(o *object) (fsm.VertexSpec, error) {
	var v fsm.VertexSpec
	if err := o.allow("a vertex has", "id", "parallelism", "coordinator"); err != nil {
		return v, err
	}
	id, _, err := o.str("id", true)
	if err != nil {
		return v, err
	}
	// The bound keeps TaskIDs in int32 (fsm's maxSubtasks); NewTopology checks the sum.
	p, _, err := o.integer("parallelism", true, 1, 1<<30)
	if err != nil {
		return v, err
	}
	v.ID, v.Parallelism = id, int(p)
	c, ok, err := o.str("coordinator", false)
	if err != nil {
		return v, err
	}
	if ok {
		switch c {
		case "plain":
			v.Coordinator = fsm.CoordinatorPlain
		case "fallback":
			v.Coordinator = fsm.CoordinatorFallback
		default:
			return v, errorf(o.field("coordinator"), "unknown coordinator %q (want plain or fallback; leave it out for none)", c)
		}
	}
	return v, nil
}

func decodeEdge(o *object, ids map[string]bool) (fsm.EdgeSpec, error) {
	var e fsm.EdgeSpec
	if err := o.allow("an edge has", "from", "to", "pattern", "exchange"); err != nil {
		return e, err
	}
	for _, k := range []string{"from", "to"} {
		v, _, err := o.str(k, true)
		if err != nil {
			return e, err
		}
		if !ids[v] {
			return e, errorf(o.field(k), "the job has no vertex %q (R2)", v)
		}
		if k == "from" {
			e.From = v
		} else {
			e.To = v
		}
	}
	if p, ok, err := o.str("pattern", false); err != nil {
		return e, err
	} else if ok {
		switch p {
		case "pointwise":
			e.Pattern = fsm.Pointwise
		case "all_to_all":
			e.Pattern = fsm.AllToAll
		default:
			return e, errorf(o.field("pattern"), "unknown pattern %q (want pointwise or all_to_all)", p)
		}
	}
	if x, ok, err := o.str("exchange", false); err != nil {
		return e, err
	} else if ok {
		switch x {
		case "pipelined":
			e.Exchange = fsm.Pipelined
		case "blocking":
			e.Exchange = fsm.Blocking
		case "hybrid":
			e.Exchange = fsm.Hybrid
		default:
			return e, errorf(o.field("exchange"), "unknown exchange %q (want pipelined, blocking or hybrid)", x)
		}
	}
	return e, nil
}

// decodeConfig overlays the keys present on the defaults already in c. Values
// are only type-checked here; their ranges are Config.Validate's, so that the
// message states the rule of SEMANTICS §2.
func decodeConfig(o *object, c *fsm.Config) error {
	if err := o.allow("config has", "interval_ms", "timeout_ms", "min_pause_ms", "max_concurrent",
		"tolerable_failures", "retained", "regional", "max_timeout_ms"); err != nil {
		return err
	}
	for _, f := range []struct {
		key string
		dst *int64
	}{{"interval_ms", &c.IntervalMs}, {"timeout_ms", &c.TimeoutMs}, {"min_pause_ms", &c.MinPauseMs},
		{"max_timeout_ms", &c.MaxTimeoutMs}} {
		if err := setInt64(o, f.key, f.dst); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		key string
		dst *int
	}{{"max_concurrent", &c.MaxConcurrent}, {"tolerable_failures", &c.TolerableFailures}, {"retained", &c.Retained}} {
		if err := setInt(o, f.key, f.dst); err != nil {
			return err
		}
	}
	reg, ok, err := o.sub("regional", false)
	if err != nil || !ok {
		return err
	}
	if err := reg.allow("config.regional has", "enabled", "max_failure_ratio", "max_consecutive", "max_ref_age"); err != nil {
		return err
	}
	if v, ok, err := reg.boolean("enabled"); err != nil {
		return err
	} else if ok {
		c.Regional.Enabled = v
	}
	if v, ok, err := reg.number("max_failure_ratio"); err != nil {
		return err
	} else if ok {
		c.Regional.MaxFailureRatio = v
	}
	if err := setInt(reg, "max_consecutive", &c.Regional.MaxConsecutive); err != nil {
		return err
	}
	return setInt64(reg, "max_ref_age", &c.Regional.MaxRefAge)
}

func setInt64(o *object, key string, dst *int64) error {
	v, ok, err := o.integer(key, false, math.MinInt64, math.MaxInt64)
	if ok {
		*dst = v
	}
	return err
}

func setInt(o *object, key string, dst *int) error {
	v, ok, err := o.integer(key, false, math.MinInt32, math.MaxInt32)
	if ok {
		*dst = int(v)
	}
	return err
}
