// Command normalize turns a checkpoint history (docs/spec/HISTORY.md) into the
// NDJSON that TLC reads in tla/TraceRegionalCheckpoint.tla:
//
//	go run ./tla/normalize [-effects=core|recorded] [-o OUT] HISTORY
//
// Exit status 3: the history is valid but holds a number TLC cannot (ids near
// R14's 2^53 bound); tla/run.sh reports it as skipped.
//
// TLC's Json module reads one JSON value a line, knows no comments, reads
// numbers as 32-bit integers and no null. So the output has no blank or //
// lines; its first line describes the job as the spec needs it (the regions as
// lists of subtask names, R3; the sources, R1; whether regional checkpoints are on, R4; the
// regions whose coordinators cannot fall back, R22e; the configuration with
// max_failure_ratio in parts per million); every other line is one event of
// the history, re-encoded, with its physical "line" in the history and "effects":
//
//   - core (default): the effects the Go core (package fsm) computes for the
//     event. TLC then checks that the spec makes the same decisions: this is
//     the cross-check of the Go core against the spec.
//   - recorded: the effects recorded in the history, on the lines that have
//     them (a runtime's recording is checked against the spec directly).
//
// Null fields are dropped; a number outside TLC's 32-bit integers is refused.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

func main() {
	effects := flag.String("effects", "core", "core: the Go core's effects; recorded: the history's own")
	out := flag.String("o", "-", "output file (- = standard output)")
	flag.Parse()
	if flag.NArg() != 1 || (*effects != "core" && *effects != "recorded") {
		fmt.Fprintln(os.Stderr, "usage: normalize [-effects=core|recorded] [-o OUT] HISTORY")
		os.Exit(2)
	}
	b, err := normalize(flag.Arg(0), *effects == "core")
	if err != nil {
		fmt.Fprintf(os.Stderr, "normalize: %v\n", err)
		if errors.Is(err, errRange) {
			os.Exit(3) // a valid history TLC cannot represent: tla/run.sh counts it as skipped
		}
		os.Exit(2)
	}
	var w io.Writer = os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(os.Stderr, "normalize: %v\n", err)
			os.Exit(2)
		}
		defer f.Close()
		w = f
	}
	if _, err := w.Write(b); err != nil {
		fmt.Fprintf(os.Stderr, "normalize: %v\n", err)
		os.Exit(2)
	}
}

func normalize(path string, core bool) ([]byte, error) {
	h, err := history.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	job := jobLine(h)
	// id_counter: the core writes the id counter before each trigger (R14:
	// persist_id_counter); a recording is held to it if it shows it at all.
	job["id_counter"] = core
	if !core {
		for _, rec := range h.Records {
			for _, raw := range rec.Recorded {
				if bytes.Contains(raw, []byte(`"persist_id_counter"`)) {
					job["id_counter"] = true
				}
			}
		}
	}
	if err := writeLine(&buf, job); err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	s, err := fsm.New(h.Topology, h.Header.Config)
	if err != nil {
		return nil, err
	}
	for _, rec := range h.Records {
		effs, err := s.Step(rec.Event)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, rec.Line, err)
		}
		if !core {
			effs = nil
		}
		if effs == nil && core {
			effs = []fsm.Effect{}
		}
		line, err := history.EncodeEvent(h.Topology, rec.Event, effs)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, rec.Line, err)
		}
		var v map[string]any
		if err := decode(line, &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, rec.Line, err)
		}
		v["line"] = rec.Line // the physical line in the history, for TLC's messages
		if !core && rec.HasRecorded {
			recorded := make([]any, len(rec.Recorded))
			for i, raw := range rec.Recorded {
				if err := decode(raw, &recorded[i]); err != nil {
					return nil, fmt.Errorf("%s:%d: effects[%d]: %w", path, rec.Line, i, err)
				}
			}
			v["effects"] = recorded
		}
		// Subtask sets are ranges ("src/0-3"); TLC gets them one name at a time,
		// in core and recorded mode alike, to compare them as sets.
		if list, ok := v["effects"].([]any); ok {
			for i, e := range list {
				if err := expandTasks(e); err != nil {
					return nil, fmt.Errorf("%s:%d: effects[%d]: %w", path, rec.Line, i, err)
				}
			}
		}
		if err := writeLine(&buf, v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, rec.Line, err)
		}
	}
	return buf.Bytes(), nil
}

// jobLine is the first line: the job as RegionalCheckpoint's constants need it.
func jobLine(h *history.History) map[string]any {
	t, c := h.Topology, h.Header.Config
	regions := make([][]string, t.NumRegions())
	noFallback := []int{}
	for r := range regions {
		for _, id := range t.RegionTasks(r) {
			regions[r] = append(regions[r], t.TaskName(id))
		}
		if !t.RegionSupportsFallback(r) {
			noFallback = append(noFallback, r)
		}
	}
	sources := []string{}
	for _, id := range t.Sources() {
		sources = append(sources, t.TaskName(id))
	}
	// coordinators: per region, the vertices (indices in job order) with a
	// coordinator that has a subtask in it (coordinator_fallback, R23).
	coordinators := make([][]int, t.NumRegions())
	for r := range coordinators {
		coordinators[r] = []int{}
		for _, v := range t.RegionCoordinators(r) {
			coordinators[r] = append(coordinators[r], int(v))
		}
	}
	vertices := []string{}
	for _, v := range t.Vertices() {
		vertices = append(vertices, v.ID)
	}
	capable, _ := t.RegionalCapable()
	return map[string]any{
		"type":               "job",
		"regions":            regions,
		"regional":           capable && c.Regional.Enabled,
		"regional_requested": c.Regional.Enabled,
		"no_fallback":        noFallback,
		"sources":            sources,
		"vertices":           vertices,
		"coordinators":       coordinators,
		"config": map[string]any{
			"interval_ms":        c.IntervalMs,
			"timeout_ms":         c.TimeoutMs,
			"min_pause_ms":       c.MinPauseMs,
			"max_concurrent":     c.MaxConcurrent,
			"tolerable_failures": c.TolerableFailures,
			"retained":           c.Retained,
			"max_consecutive":    c.Regional.MaxConsecutive,
			"ratio_ppm":          int64(math.Round(c.Regional.MaxFailureRatio * 1e6)),
			"max_ref_age":        c.Regional.MaxRefAge,
			"max_timeout_ms":     c.MaxTimeoutMs,
		},
	}
}

// expandTasks rewrites an effect's subtask sets — "tasks" and the values of
// "regional_info" — from ranges ("src/0-3") to one name each (src/0 … src/3).
func expandTasks(e any) error {
	m, ok := e.(map[string]any)
	if !ok {
		return nil
	}
	if l, ok := m["tasks"].([]any); ok {
		x, err := expandNames(l)
		if err != nil {
			return fmt.Errorf("tasks: %w", err)
		}
		m["tasks"] = x
	}
	if info, ok := m["regional_info"].(map[string]any); ok {
		for k, l := range info {
			if l, ok := l.([]any); ok {
				x, err := expandNames(l)
				if err != nil {
					return fmt.Errorf("regional_info[%s]: %w", k, err)
				}
				info[k] = x
			}
		}
	}
	return nil
}

// expandNames expands "vertex/i-j" (inclusive) into vertex/i … vertex/j.
func expandNames(l []any) ([]any, error) {
	out := []any{}
	for _, n := range l {
		name, ok := n.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a subtask name", n)
		}
		slash := strings.LastIndexByte(name, '/')
		if slash < 0 {
			return nil, fmt.Errorf("%q is not vertex/index", name)
		}
		v, idx := name[:slash], name[slash+1:]
		lo, hi, isRange := strings.Cut(idx, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", name, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q is not a range", name)
			}
		}
		if b-a > 1<<16 {
			return nil, fmt.Errorf("%q: range too large for TLC", name)
		}
		for i := a; i <= b; i++ {
			out = append(out, v+"/"+strconv.Itoa(i))
		}
	}
	return out, nil
}

func decode(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	return d.Decode(v)
}

// writeLine writes v as one line, without nulls, refusing numbers TLC cannot
// hold (32-bit integers) and non-integers.
func writeLine(w *bytes.Buffer, v any) error {
	v, err := clean(v)
	if err != nil {
		return err
	}
	b, err := marshal(v)
	if err != nil {
		return err
	}
	w.Write(b)
	w.WriteByte('\n')
	return nil
}

func clean(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			c, err := clean(e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			x[k] = c
		}
	case []any:
		for i, e := range x {
			c, err := clean(e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			x[i] = c
		}
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return nil, fmt.Errorf("%s is not an integer", x)
		}
		return n, checkInt(n)
	case int64:
		return x, checkInt(x)
	case int:
		return x, checkInt(int64(x))
	}
	return v, nil
}

var errRange = errors.New("outside TLC's integers (-2^31, 2^31)")

func checkInt(n int64) error {
	if n <= math.MinInt32+1 || n > math.MaxInt32 {
		return fmt.Errorf("%d: %w", n, errRange)
	}
	return nil
}

// marshal is json.Marshal without HTML escaping (encoding/json sorts map keys,
// so the output is stable).
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
