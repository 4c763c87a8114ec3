package flinklog

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/ckptcore/ckptcore/fsm"
)

// report builds the answer from the two runs.
func (w *whatIf) report(opt WhatIfOptions) *WhatIfReport {
	rep := &WhatIfReport{Format: "ckpt-whatif/v1", Source: w.in.Source, Job: w.in.Job,
		Regional: regionalJSON{true, opt.MaxFailureRatio, opt.MaxConsecutive, opt.MaxRefAge},
		Topology: w.topology(), Notes: append([]string{}, w.notes...), Violations: []string{}, Rows: []WhatIfRow{}}
	t := &rep.Totals
	for k := range w.rec.attempts {
		r := &w.rec.attempts[k]
		var row WhatIfRow
		if r.trigger {
			o := w.rec.out[r.id]
			if o.completed {
				t.Completed++
				if g := w.peerOutcome(r); g == nil || !g.completed {
					t.Lost++
					w.lostNote(rep, r)
				}
				continue
			}
			if !o.ended || o.reason == fsm.ReasonSubsumed {
				continue
			}
			t.Failed++
			row = WhatIfRow{ID: r.id, Kind: o.kind.String(), Recorded: "aborted (" + string(o.reason) + ")", Cause: w.cause(o)}
			if w.in.LogID != nil {
				row.LogID = w.in.LogID(r.id)
			}
		} else {
			ev := w.in.Events[r.step]
			request := ev.Type == fsm.EvTrigger && ev.Kind == r.kind
			if !request && (r.peer < 0 || !w.reg.attempts[r.peer].trigger) {
				continue // a periodic request both runs refused
			}
			t.Refused++
			what := "periodic request"
			if request {
				what = "trigger request"
			}
			row = WhatIfRow{Recorded: "refused (" + string(r.reason) + ")", Kind: r.kind.String(),
				Cause: fmt.Sprintf("%s at %d ms got no id", what, ev.At)}
		}
		w.regionalSide(&row, r)
		if row.Saved {
			if r.trigger {
				t.Saved++
			} else {
				t.Extra++
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	for _, gk := range w.extra {
		if g := w.reg.out[w.reg.attempts[gk].id]; g.completed {
			t.Unrequested++
		}
	}
	for id, o := range w.reg.out {
		if !o.completed {
			continue
		}
		t.CompletedAlt++
		if o.mode == fsm.ModeRegional {
			t.RegionalModes++
		}
		for _, r := range o.refs {
			t.MaxRefAge = max(t.MaxRefAge, id-r.Checkpoint)
		}
	}
	t.RecordedJob, t.RegionalJob = jobEnd(w.rec.st), jobEnd(w.reg.st)
	for _, v := range w.rec.viol {
		rep.Violations = append(rep.Violations, "as recorded: "+v)
	}
	for _, v := range w.reg.viol {
		rep.Violations = append(rep.Violations, "regional: "+v)
	}
	if t.Unrequested > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("regional mode completed %d checkpoints the recording never requested (its job had ended or was restarting); their subtasks were assumed to ack at once", t.Unrequested))
	}
	if w.skipped > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d recorded acks, declines or persists were skipped: they are about checkpoints the regional run never triggered", w.skipped))
	}
	if w.in.AssumedPrior > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("checkpoint %d is the completed checkpoint the import assumed before the log; references to it are marked (-no-prior drops it)", w.in.AssumedPrior))
	}
	return rep
}

// peerOutcome is the regional run's outcome of the checkpoint paired with
// recorded attempt r, or nil.
func (w *whatIf) peerOutcome(r *attempt) *outcome {
	if r.peer < 0 || !w.reg.attempts[r.peer].trigger {
		return nil
	}
	return w.reg.out[w.reg.attempts[r.peer].id]
}

func (w *whatIf) lostNote(rep *WhatIfReport, r *attempt) {
	what := "was not triggered"
	if g := w.peerOutcome(r); g != nil {
		what = "ended " + string(g.reason)
		if !g.ended {
			what = "was still pending at the end"
		}
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("checkpoint %d completed as recorded but %s under regional mode", r.id, what))
}

// regionalSide fills in the regional run's fate of recorded attempt r.
func (w *whatIf) regionalSide(row *WhatIfRow, r *attempt) {
	row.Refs = []Ref{}
	if r.peer < 0 {
		row.Regional = "not triggered"
		return
	}
	if ga := &w.reg.attempts[r.peer]; !ga.trigger {
		row.Regional, row.Why = "refused ("+string(ga.reason)+")", ga.message
		return
	}
	gid := w.reg.attempts[r.peer].id
	row.RegionalID = gid
	g := w.reg.out[gid]
	switch {
	case g == nil || !g.ended:
		row.Regional = "pending at the end"
	case g.completed:
		row.Regional, row.Saved = "completed ("+g.mode.String()+")", true
		for _, r := range g.refs {
			ref := Ref{Region: fsm.RegionName(r.Region), Checkpoint: r.Checkpoint, Assumed: r.Checkpoint == w.in.AssumedPrior}
			if rid, ok := w.recOf[r.Checkpoint]; ok && w.in.LogID != nil {
				ref.LogID = w.in.LogID(rid)
			}
			row.Refs = append(row.Refs, ref)
		}
	default:
		row.Regional, row.Why = "aborted ("+string(g.reason)+")", g.message
	}
}

// cause names what made a recorded checkpoint fail: the subtask and its region
// when an event names one.
func (w *whatIf) cause(o *outcome) string {
	ev := w.in.Events[o.event]
	where := func(t fsm.TaskID) string {
		return fmt.Sprintf("%s (region %s)", w.topo.TaskName(t), fsm.RegionName(w.topo.RegionOf(t)))
	}
	switch {
	case ev.Type == fsm.EvDecline:
		return "declined by " + where(ev.Task)
	case ev.Type == fsm.EvTaskFailed && o.reason == fsm.ReasonRegionFailover:
		return "failure of " + where(ev.Task)
	case o.reason == fsm.ReasonExpired:
		return "expired: the regions with an ack missing at the deadline fail (R18)"
	case o.reason == fsm.ReasonRecovered:
		return "the job restarted (recover)"
	case o.reason == fsm.ReasonCoordinatorSuspend || o.reason == fsm.ReasonCoordinatorShutdown:
		return "the job ended while it was pending"
	}
	return string(o.reason)
}

func jobEnd(s *fsm.State) string {
	if r := s.FailReason(); r != "" {
		return s.Job().String() + " (" + string(r) + ")"
	}
	return s.Job().String()
}

// topology describes the regions the answer depends on, and what to say when
// regional checkpoints cannot apply.
func (w *whatIf) topology() whatIfTopo {
	ok, why := w.topo.RegionalCapable()
	t := whatIfTopo{Subtasks: w.topo.NumSubtasks(), Regions: w.topo.NumRegions(), EmbarrassinglyParallel: ok, WhyNot: why,
		Known: "from the history header", Edges: "as the history states them"}
	if it := w.in.Topology; it != nil {
		t.Known, t.Edges = it.Known, it.Edges
	}
	switch {
	case t.Known == "unknown":
		t.Advice = "The log names no subtask with its parallelism, so the job's regions are unknown and it was imported as one stand-in subtask. " +
			"If the job is N independent pipelines (for example a fully chained job of parallelism N), re-run with --assume-regions N; " +
			"failures whose subtask the log does not name are then attributed to region r0."
	case t.Known == "assumed":
		t.Advice = "The regions are the assumption given (--assume-regions): the log names no subtask, so every failure it attributes goes to region r0."
	case t.Known == "partial":
		t.Advice = "Only the vertices named in exception text are known; if the job has more (for example a source joined by keyBy or rebalance), " +
			"it may be a single region. State the topology with --assume-regions N or --edges."
	case !ok && len(w.topo.Vertices()) > 1:
		t.Advice = "The log does not print edges; the vertices were assumed joined all-to-all (keyBy/rebalance), which makes one region. " +
			"If they are joined by forward edges, use --edges forward, or --assume-regions N when every vertex has parallelism N."
	case !ok:
		t.Advice = "A job of one region cannot fall back regionally: nothing can be saved."
	}
	return t
}

// WriteJSON writes the report as one JSON document.
func (rep *WhatIfReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // task names hold "->"
	return enc.Encode(rep)
}

// WriteText writes the report as a table for a person.
func (rep *WhatIfReport) WriteText(w io.Writer) error {
	var b strings.Builder
	r := rep.Regional
	fmt.Fprintf(&b, "what-if: regional checkpoints for %s", rep.Source)
	if rep.Job != "" {
		fmt.Fprintf(&b, " (job %s)", rep.Job)
	}
	ref := "no bound"
	if r.MaxRefAge > 0 {
		ref = fmt.Sprint(r.MaxRefAge)
	}
	fmt.Fprintf(&b, "\nconfig: regional.enabled true, max_failure_ratio %g, max_consecutive %d, max_ref_age %s\n", r.MaxFailureRatio, r.MaxConsecutive, ref)
	t := rep.Topology
	fmt.Fprintf(&b, "topology (%s): %d subtasks in %d pipelined regions; edges: %s\n", t.Known, t.Subtasks, t.Regions, t.Edges)
	if !t.EmbarrassinglyParallel {
		fmt.Fprintf(&b, "NOT EMBARRASSINGLY PARALLEL: %s\n", t.WhyNot)
	}
	if t.Advice != "" {
		fmt.Fprintf(&b, "assumption: %s\n", t.Advice)
	}
	if len(rep.Rows) == 0 {
		b.WriteString("no checkpoint failed in the log: regional checkpoints had nothing to save\n")
	} else {
		tw := tabwriter.NewWriter(&b, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "log id\tid\tkind\tin the log\tcause\tregional id\tregionally\trefs (region→regional id)\twhy")
		for _, row := range rep.Rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", idOr(row.LogID), idOr(row.ID), row.Kind, row.Recorded, row.Cause,
				idOr(row.RegionalID), row.Regional, refsText(row.Refs), row.Why)
		}
		tw.Flush()
	}
	tt := rep.Totals
	fmt.Fprintf(&b, "totals: %d failed in the log, %d saved; %d trigger requests refused, %d of them would have completed; maximum reference age %d\n",
		tt.Failed, tt.Saved, tt.Refused, tt.Extra, tt.MaxRefAge)
	fmt.Fprintf(&b, "completions: %d as recorded, %d regionally (%d using older state for some region); job: %s as recorded, %s regionally\n",
		tt.Completed, tt.CompletedAlt, tt.RegionalModes, tt.RecordedJob, tt.RegionalJob)
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, v := range rep.Violations {
		fmt.Fprintf(&b, "INVARIANT VIOLATED: %s\n", v)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func idOr(id int64) string {
	if id == 0 {
		return "-"
	}
	return fmt.Sprint(id)
}

func refsText(refs []Ref) string {
	if len(refs) == 0 {
		return "-"
	}
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = fmt.Sprintf("%s→%d", r.Region, r.Checkpoint)
		if r.LogID != 0 && r.LogID != r.Checkpoint {
			parts[i] += fmt.Sprintf(" (log %d)", r.LogID)
		}
		if r.Assumed {
			parts[i] += " (assumed)"
		}
	}
	return strings.Join(parts, " ")
}
