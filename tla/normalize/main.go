// Command normalize turns a checkpoint history (docs/spec/HISTORY.md) into the
// NDJSON that TLC reads in tla/TraceRegionalCheckpoint.tla:
//
//	go run ./tla/normalize [-effects=core|recorded] [-o OUT] HISTORY
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
	if err := writeLine(&buf, jobLine(h)); err != nil {
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
		if core {
			// notify_complete names subtasks as ranges ("src/0-3"); TLC gets them
			// one by one, to check whose regions were notified (I-NotifySafety).
			list, _ := v["effects"].([]any)
			for i, e := range effs {
				if e.Type != fsm.EffNotifyComplete || i >= len(list) {
					continue
				}
				names := []any{}
				e.Tasks.All(func(id fsm.TaskID) bool {
					names = append(names, h.Topology.TaskName(id))
					return true
				})
				if m, ok := list[i].(map[string]any); ok {
					m["task_names"] = names
				}
			}
		}
		if !core && rec.HasRecorded {
			recorded := make([]any, len(rec.Recorded))
			for i, raw := range rec.Recorded {
				if err := decode(raw, &recorded[i]); err != nil {
					return nil, fmt.Errorf("%s:%d: effects[%d]: %w", path, rec.Line, i, err)
				}
			}
			v["effects"] = recorded
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
	capable, _ := t.RegionalCapable()
	return map[string]any{
		"type":        "job",
		"regions":     regions,
		"regional":    capable && c.Regional.Enabled,
		"no_fallback": noFallback,
		"sources":     sources,
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
