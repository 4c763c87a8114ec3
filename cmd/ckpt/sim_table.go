package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/ckptcore/ckptcore/fsm"
)

// pair is the two modes' results for one (regions, p).
type pair struct{ global, regional *result }

func pairs(rs []result) []pair {
	var out []pair
	for i := 0; i+1 < len(rs); i += 2 {
		out = append(out, pair{&rs[i], &rs[i+1]})
	}
	return out
}

// writeMarkdown writes one row per (regions, p) comparing the modes. The
// (1−p)^subtasks column is what a global checkpoint's success rate should be
// when every subtask declines independently and nothing else fails.
func writeMarkdown(w io.Writer, rs []result) error {
	var b strings.Builder
	b.WriteString("| regions | subtasks | p | (1−p)^subtasks | global success | regional success | completed regionally | forced global (failed) | mean ref age | mean stale age | max ref age |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, pr := range pairs(rs) {
		g, r := &pr.global.Stats, &pr.regional.Stats
		expect := math.Pow(1-pr.global.P, float64(g.Subtasks))
		fmt.Fprintf(&b, "| %d | %d | %g | %s | %s | %s | %s | %d (%d) | %s | %s | %d |\n",
			pr.global.Regions, g.Subtasks, pr.global.P, fmtRate(expect),
			fmtRate(g.SuccessRate()), fmtRate(r.SuccessRate()),
			fmt.Sprintf("%d of %d", r.CompletedRegional, r.Completed()),
			r.ForcedGlobal, r.ForcedAborted, fmtAge(r.MeanRefAge()), fmtAge(r.MeanStaleAge()), r.RefAgeMax)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// csvAbortReasons are the abort reasons the CSV has a column for; any other
// lands in aborted_other.
var csvAbortReasons = []fsm.Reason{fsm.ReasonDeclined, fsm.ReasonExpired, fsm.ReasonRegionFailover,
	fsm.ReasonSubsumed, fsm.ReasonFinalizeFailed}

// writeCSV writes every run with its raw statistics, one line per run.
func writeCSV(w io.Writer, rs []result) error {
	cw := csv.NewWriter(w)
	head := []string{"regions", "subtasks", "p", "q", "mode", "seed", "events", "triggered", "forced_global",
		"forced_aborted", "completed_global", "completed_regional"}
	for _, r := range csvAbortReasons {
		head = append(head, "aborted_"+string(r))
	}
	head = append(head, "aborted_other", "trigger_failed", "pending_at_end", "success_rate",
		"mean_ref_age", "mean_stale_age", "max_ref_age", "stale_refs")
	if err := cw.Write(head); err != nil {
		return err
	}
	for i := range rs {
		r := &rs[i]
		s := &r.Stats
		row := []string{itoa(r.Regions), itoa(s.Subtasks), ftoa(r.P), ftoa(r.Params.FailProb), string(r.Mode),
			strconv.FormatUint(r.Seed, 10), strconv.FormatInt(s.Events, 10), itoa(s.Triggered), itoa(s.ForcedGlobal), itoa(s.ForcedAborted),
			itoa(s.CompletedGlobal), itoa(s.CompletedRegional)}
		other := s.AbortedTotal()
		for _, reason := range csvAbortReasons {
			row = append(row, itoa(s.Aborted[reason]))
			other -= s.Aborted[reason]
		}
		failed := 0
		for _, n := range s.TriggerFailed {
			failed += n
		}
		row = append(row, itoa(other), itoa(failed), itoa(s.PendingAtEnd), ftoa(s.SuccessRate()),
			ftoa(s.MeanRefAge()), ftoa(s.MeanStaleAge()), strconv.FormatInt(s.RefAgeMax, 10),
			strconv.FormatInt(s.StaleRefs, 10))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func itoa(v int) string { return strconv.Itoa(v) }

func ftoa(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func fmtRate(v float64) string {
	if v < 0.0005 && v > 0 {
		return fmt.Sprintf("%.1e", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func fmtAge(v float64) string {
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
