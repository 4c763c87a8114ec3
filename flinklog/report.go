package flinklog

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// ImportReport is the import's account of itself as JSON (ckpt-flinkimport/v1).
type ImportReport struct {
	Format      string          `json:"format"`
	File        string          `json:"file"`
	Job         string          `json:"job"`
	Jobs        []JobLines      `json:"jobs"`
	Stats       Stats           `json:"stats"`
	Interpreted float64         `json:"interpreted"`
	Topology    Topology        `json:"topology"`
	Start       string          `json:"start"`
	Inferred    []Inference     `json:"inferred"`
	Events      int             `json:"events"`
	Checkpoints []CheckpointRow `json:"checkpoints"`
	Mismatches  []Mismatch      `json:"mismatches"`
	Notes       []string        `json:"notes"`
	Unparsed    []Unparsed      `json:"not_understood"`
	Violations  []string        `json:"violations"`
	Final       string          `json:"final"`
}

// Report returns the import's report.
func (im *Import) Report() ImportReport {
	return ImportReport{Format: "ckpt-flinkimport/v1", File: im.File, Job: im.Job, Jobs: im.Jobs, Stats: im.Stats,
		Interpreted: im.Stats.Interpreted(), Topology: im.Topology, Start: im.Start, Inferred: im.Inferred,
		Events: len(im.Events), Checkpoints: nonNil(im.Checkpoints), Mismatches: nonNil(im.Mismatches),
		Notes: nonNil(im.Notes), Unparsed: nonNil(im.Unparsed), Violations: nonNil(im.Violations), Final: im.Final}
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// WriteReportJSON writes the report as one JSON document.
func (im *Import) WriteReportJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // task names hold "->"
	return enc.Encode(im.Report())
}

// WriteReport writes the report for a person.
func (im *Import) WriteReport(w io.Writer) error {
	var b strings.Builder
	s := im.Stats
	fmt.Fprintf(&b, "flinklog: %s: job %s\n", im.File, im.Job)
	fmt.Fprintf(&b, "lines: %d read, %d records, %d checkpoint lines of this job", s.Lines, s.Records, s.CheckpointLines)
	if s.Joined > 0 {
		fmt.Fprintf(&b, "; %d lines wrapped by a terminal (%d columns) joined", s.Joined, im.wrapWidth)
	}
	b.WriteString("\n")
	t := im.Topology
	fmt.Fprintf(&b, "topology (%s): %d vertices, %d subtasks, %d pipelined regions", t.Known, len(t.Vertices), t.Subtasks, t.Regions)
	if t.EmbarrassinglyParallel {
		b.WriteString(", embarrassingly parallel\n")
	} else {
		fmt.Fprintf(&b, "; not regional: %s\n", t.WhyNot)
	}
	for _, v := range t.Vertices {
		fmt.Fprintf(&b, "  %s  parallelism %d  Flink %q (%s, line %d)\n", v.ID, v.Parallelism, v.Name, v.From, v.Line)
	}
	fmt.Fprintf(&b, "  edges: %s\n", t.Edges)
	for _, e := range t.Evidence {
		fmt.Fprintf(&b, "  evidence: %s\n", e)
	}
	fmt.Fprintf(&b, "start: %s\n", im.Start)
	b.WriteString("config:\n")
	for _, in := range im.Inferred {
		fmt.Fprintf(&b, "  %s = %s: %s\n", in.Key, in.Value, in.How)
	}
	fmt.Fprintf(&b, "history: %d events; the core ends %s\n", len(im.Events), im.Final)
	if len(im.Checkpoints) > 0 {
		b.WriteString("checkpoints (log vs core):\n")
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  log id\tcore id\tkind\tlog\tcore\tmatch\tnote")
		for _, r := range im.Checkpoints {
			id := "-"
			if r.ID != 0 {
				id = fmt.Sprint(r.ID)
			}
			log := r.Log
			if log == "" {
				log = "(no outcome line)"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.LogID, id, r.Kind, log, r.Core, r.Match, r.Note)
		}
		tw.Flush()
	}
	section := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(&b, "%s:\n", title)
		for _, it := range items {
			fmt.Fprintf(&b, "  %s\n", it)
		}
	}
	var ms []string
	for _, m := range im.Mismatches {
		ms = append(ms, fmt.Sprintf("line %d: log: %s; core: %s\n      %s", m.Line, m.Log, m.Core, m.Text))
	}
	section("the core disagrees with the log", ms)
	section("notes", im.Notes)
	section("invariant violations", im.Violations)
	var us []string
	for _, u := range im.Unparsed {
		us = append(us, fmt.Sprintf("line %d: %s\n      %s", u.Line, u.Why, u.Text))
	}
	section("not understood", us)
	fmt.Fprintf(&b, "checkpoint lines: %d understood (became events), %d annotated (comments and claims in the history, no event), %d not understood",
		s.Understood, s.Annotated, s.NotUnderstood)
	if s.Outside > 0 {
		fmt.Fprintf(&b, "; %d lines outside any record", s.Outside)
	}
	fmt.Fprintf(&b, "; %d claims for replay to check\n", s.Claims)
	_, err := io.WriteString(w, b.String())
	return err
}
