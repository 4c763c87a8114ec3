package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/history/timeline"
)

const replayLong = `Replay a ckpt-history/v1 file (docs/spec/HISTORY.md) through the decision core.

With -o text (the default) it prints a readable trace, one line per event with
the core's effects under it, and a closing summary; with -o json only the
ckpt-summary/v1 document; with -o html one self-contained page with the
history as a timeline (one row per region, a mark per checkpoint, hover for
details, the summary beside it). Every invariant of docs/spec/SEMANTICS.md §10 is
checked after every step, and a line that carries the "effects" a runtime
recorded is compared with what the core decides now.

Exit status: 0 the history replayed and every invariant held; 1 an invariant
failed or recorded effects diverged (standard error names the invariant, the
line and the event, or shows the diff); 2 the input is unreadable or invalid
(file:line: field: reason).`

func (a *app) replayCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "replay [flags] FILE",
		Short: "Replay a history through the core: trace or summary, invariants checked",
		Long:  replayLong,
		Example: `  ckpt replay examples/regional-completion.jsonl
  ckpt replay -o json examples/global-basic.jsonl
  ckpt replay -o html examples/regional-drift.jsonl > drift.html
  ckpt import-flink jobmanager.log | ckpt replay -`,
		Args: oneFile("history file"),
	}
	out := outputFlag(c, "text: the trace and a summary; json: the ckpt-summary/v1 document; html: a timeline page", "text", "json", "html")
	check := c.Flags().Bool("check", true, "check every invariant of docs/spec/SEMANTICS.md §10 after every step")
	maxListed := c.Flags().Int("max-listed", history.DefaultMaxListed,
		"keep at most this many entries in each list of the summary and of the violations (json: a \"truncated\" key gives the full counts); 0: no cap, memory then grows with the history")
	c.RunE = func(_ *cobra.Command, args []string) error {
		return a.runReplay(args[0], out, *check, *maxListed)
	}
	return c
}

func (a *app) runReplay(path string, out *output, check bool, maxListed int) error {
	// The history is read one event at a time: memory stays bounded whatever
	// the input's size (replaying /dev/zero ends with "line longer than").
	in, name := a.stdin, "<stdin>"
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return invalidInput(err)
		}
		defer f.Close()
		in, name = f, path
	}
	d, err := history.NewReader(in, name)
	if err != nil {
		return invalidInput(err)
	}
	opt := history.Options{Check: check, CountsOnly: out.is("text"), MaxListed: max(maxListed, 0)}
	if out.is("text") {
		opt.Trace = a.stdout
	}
	var tl *timeline.Builder
	if out.is("html") {
		tl = timeline.NewBuilder(d.Topology(), d.Header().Config, 0)
		opt.CountsOnly, opt.Observe = true, tl.Step
	}
	res, err := a.replayReader(d, opt)
	if err != nil {
		return invalidInput(err)
	}
	if tl != nil {
		for _, v := range res.Summary.Violations {
			tl.AddViolation(fmt.Sprintf("%s at line %d (%s): %s", v.Invariant, v.Line, v.Event, v.Detail))
		}
		if err := tl.Render(a.stdout, timeline.Options{Title: name}); err != nil {
			return invalidInput(err)
		}
	}
	if out.is("json") {
		if _, err := a.stdout.Write(res.Summary.Encode()); err != nil {
			return invalidInput(err)
		}
	}
	a.reportProblems(name, res)
	if !res.OK() {
		return errFailedQuietly
	}
	return nil
}

// reportProblems prints every violation, the divergence if any and every
// contradicted //claim line on standard error, each naming its line.
func (a *app) reportProblems(file string, res *history.Result) {
	for _, v := range res.Summary.Violations {
		fmt.Fprintf(a.stderr, "%s:%d: %s violated after %s: %s\n", file, v.Line, v.Invariant, v.Event, v.Detail)
	}
	if tr := res.Summary.Truncated; tr != nil && tr.Violations > len(res.Summary.Violations) {
		fmt.Fprintf(a.stderr, "%s: %d more violations not listed (--max-listed %d)\n", file, tr.Violations-len(res.Summary.Violations), tr.Limit)
	}
	if res.Divergence != nil {
		fmt.Fprint(a.stderr, res.Divergence.Error())
	}
	for _, c := range res.Claims {
		fmt.Fprintln(a.stderr, c.Error())
	}
}
