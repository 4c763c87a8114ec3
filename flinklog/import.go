package flinklog

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// Options steer an import. The zero value infers everything; Tolerable must be
// -1 to be inferred (use DefaultOptions).
type Options struct {
	Job           string // the job id to import; "" = the one with the most trigger and outcome lines
	TimeoutMs     int64  // 0 = infer from expiries, else Flink's default
	Tolerable     int    // -1 = infer
	MaxConcurrent int    // 0 = infer
	Edges         string // EdgesAuto (default), EdgesAllToAll, EdgesForward, EdgesNone
	AssumeRegions int    // > 0: the job is this many independent regions
	// WrapWidth is the width of the terminal the log was copied from, whose
	// wrapped lines are joined: 0 detects it, < 0 joins nothing.
	WrapWidth int
	// NoPrior turns off the assumption that a log whose first checkpoint id is
	// N > 1 joined a running job whose checkpoint N-1 had completed.
	NoPrior bool
}

// DefaultOptions infers everything.
func DefaultOptions() Options { return Options{Tolerable: -1} }

// CheckpointRow compares the log and the core for one logged checkpoint.
type CheckpointRow struct {
	LogID   int64  `json:"log_id"`
	ID      int64  `json:"id"` // the core's id; 0 when the core did not trigger it
	Kind    string `json:"kind"`
	KindHow string `json:"kind_how"`
	Line    int    `json:"line"`     // the trigger line
	Log     string `json:"log"`      // completed, declined (reason), expired, failed (text), "" = the log does not say
	LogLine int    `json:"log_line"` // the outcome line
	Core    string `json:"core"`     // completed (mode), aborted (reason), refused (reason), pending, queued
	Match   string `json:"match"`    // yes, no, unknown
	Note    string `json:"note,omitempty"`

	coreDone bool // the core ended it
}

// Mismatch is a decision of the core that disagrees with the log, with the log
// line it disagrees with.
type Mismatch struct {
	Line int    `json:"line"`
	Text string `json:"text"`
	Log  string `json:"log"`
	Core string `json:"core"`
}

// Stats counts lines. CheckpointLines are the job's checkpoint lines (a Flink
// logger's lines about checkpoints, savepoints, task transitions, failovers or
// restores; lines that name no job count for every job): each is Understood
// (it became events), Annotated (understood, needing no event: written into
// the history as a comment, with a claim where it states a decision) or
// NotUnderstood (listed in Import.Unparsed with the reason). Outside counts
// the log's lines that belong to no record (before the first one); they are
// listed in Unparsed too, since they may hide a record.
type Stats struct {
	Lines           int `json:"lines"`
	Records         int `json:"records"`
	CheckpointLines int `json:"checkpoint_lines"`
	Understood      int `json:"understood"`
	Annotated       int `json:"annotated"`
	NotUnderstood   int `json:"not_understood"`
	Outside         int `json:"outside_records"`
	Joined          int `json:"wrapped_lines_joined"` // physical lines joined to the line a terminal wrapped
	LogComments     int `json:"log_comments"`         // '#' lines: an excerpt's own annotations
	Claims          int `json:"claims"`               // //claim lines written into the history
}

// Interpreted is the fraction of checkpoint lines the import understood.
func (s Stats) Interpreted() float64 {
	if s.CheckpointLines == 0 {
		return 1
	}
	return float64(s.Understood+s.Annotated) / float64(s.CheckpointLines)
}

// isCheckpointLine says whether an entry of the job counts as one of its
// checkpoint lines (Stats). Deployments and informational lines are read (for
// attempt ids) but are not about checkpoints.
func isCheckpointLine(e *entry) bool {
	switch e.kind {
	case kNone:
		return checkpointLine(e.rec)
	case kDeploy:
		return false
	case kInfo:
		return checkpointLine(e.rec)
	}
	return true
}

// Import is a log turned into a history, with everything the import decided,
// assumed or could not interpret.
type Import struct {
	File        string
	Job         string
	Jobs        []JobLines // every job in the log, most trigger and outcome lines first
	Header      history.Header
	Topology    Topology
	Start       string // what the start event says and why
	Events      []fsm.Event
	Inferred    []Inference
	Checkpoints []CheckpointRow
	Mismatches  []Mismatch
	Notes       []string
	Unparsed    []Unparsed
	Violations  []string // invariants the core broke on the imported history (should be none)
	Stats       Stats
	Final       string // the core's job status at the end

	topo      *fsm.Topology
	wrapWidth int
	startHow  string
	comments  map[int][]string // "//" and "//claim " lines written before event i (after event i-1), in order
	logOf     map[int64]int64  // core id -> log id
}

// LogID returns the log's id for a core checkpoint id (the import renumbers
// when the log skips ids), or 0.
func (im *Import) LogID(core int64) int64 { return im.logOf[core] }

// ImportLog reads a Flink JobManager log and turns one job's checkpoint lines
// into a history (doc.go gives the mapping). It fails only when the log has no
// job to import or the options are invalid; every line it cannot interpret is
// listed in Unparsed, and every disagreement between the core and the log in
// Mismatches.
func ImportLog(r io.Reader, file string, opt Options) (*Import, error) {
	p, err := parseLog(r, opt.WrapWidth)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	job, err := p.pickJob(opt.Job)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	es, inversions, worst, worstLine := p.jobEntries(job)
	pp := runPrepass(es)
	vs, deployed := collectVertices(es, pp)
	spec, top, err := buildTopology(vs, deployed, pp, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	cfg, inf := inferConfig(pp, opt)
	im := &Import{File: file, Job: job, Jobs: p.jobs, Header: history.Header{Format: history.Format, Job: spec, Config: cfg},
		Topology: top, Inferred: inf, comments: map[int][]string{}}
	if len(p.jobs) > 1 {
		var others []string
		for _, j := range p.jobs {
			if j.Job != job {
				others = append(others, fmt.Sprintf("%s (%d)", j.Job, j.Lines))
			}
		}
		how := "the most trigger and outcome lines"
		if opt.Job != "" {
			how = "-job"
		}
		im.Notes = append(im.Notes, fmt.Sprintf("the log has %d jobs; imported %s (%s); others: %s (use -job)",
			len(p.jobs), job, how, strings.Join(others, ", ")))
		if deployed {
			im.Notes = append(im.Notes, "task transitions name no job: each went to the job whose execution graph its attempt id names, "+
				"else to the job that last started before its task was first named; the ones left to the imported job")
		}
	}
	if inversions > 0 {
		im.Notes = append(im.Notes, fmt.Sprintf("%d lines were out of timestamp order (at most %d ms earlier than line %d): events follow the timestamps",
			inversions, worst, worstLine))
	}
	d, err := newDriver(im, spec, cfg, pp, es, opt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	d.run()
	d.finish()
	im.Stats.Lines, im.Stats.Records, im.Stats.LogComments = p.file.lines, len(p.file.records), p.file.annotations
	im.Stats.Joined, im.wrapWidth = p.file.joined, p.file.wrapWidth
	for _, e := range es {
		switch {
		case !isCheckpointLine(e):
		case e.kind == kNone:
			im.Stats.CheckpointLines++
			im.Stats.NotUnderstood++
			im.Unparsed = append(im.Unparsed, Unparsed{e.rec.line, clip(e.rec.msg), "checkpoint-related Flink line in no known message format"})
		default:
			im.Stats.CheckpointLines++
			if d.used[e] {
				im.Stats.Understood++
			} else {
				im.Stats.Annotated++
			}
		}
	}
	// Lines outside any record are reported too: they may hide a record.
	im.Stats.Outside = len(p.file.orphans)
	im.Unparsed = append(im.Unparsed, p.file.orphans...)
	sort.SliceStable(im.Unparsed, func(a, b int) bool { return im.Unparsed[a].Line < im.Unparsed[b].Line })
	return im, nil
}

// WriteHistory writes the history: a comment block saying where it came from
// and what was assumed, the header, then the events, each group preceded by a
// comment naming the log line it came from (HISTORY.md ignores // lines), and
// after it the //claim lines stating what the log says had been decided by
// then (triggers, completions, aborts, restores, the job's status), which
// replay checks against the core (history/claims.go).
func (im *Import) WriteHistory(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "// imported by flinklog from %s, job %s\n", oneLine(im.File), im.Job)
	for _, v := range im.Topology.Vertices {
		fmt.Fprintf(&b, "// vertex %s = Flink %q, parallelism %d (%s, line %d)\n", v.ID, v.Name, v.Parallelism, v.From, v.Line)
	}
	fmt.Fprintf(&b, "// edges: %s\n", im.Topology.Edges)
	for _, in := range im.Inferred {
		fmt.Fprintf(&b, "// %s %s: %s\n", in.Key, in.Value, oneLine(in.How))
	}
	fmt.Fprintf(&b, "// start: %s\n", im.Start)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	hw, err := history.NewWriter(w, im.Header)
	if err != nil {
		return err
	}
	writeComments := func(i int) error {
		for _, c := range im.comments[i] {
			if _, err := io.WriteString(w, oneLine(c)+"\n"); err != nil {
				return err
			}
		}
		return nil
	}
	for i, ev := range im.Events {
		if err := writeComments(i); err != nil {
			return err
		}
		if err := hw.WriteEvent(ev, nil); err != nil {
			return err
		}
	}
	return writeComments(len(im.Events))
}

// oneLine keeps a comment on one line whatever the log contained.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// WhatIfInput hands the imported history to WhatIf with what the import knows:
// log ids, the reconstructed topology and the assumed prior checkpoint.
func (im *Import) WhatIfInput() WhatIfInput {
	in := WhatIfInput{Source: im.File, Job: im.Job, Header: im.Header, Events: im.Events, LogID: im.LogID}
	top := im.Topology
	in.Topology = &top
	if len(im.Events) > 0 && im.Events[0].Restore != nil && strings.HasPrefix(im.startHow, "assumed") {
		in.AssumedPrior = im.Events[0].Restore.Checkpoint
	}
	return in
}
