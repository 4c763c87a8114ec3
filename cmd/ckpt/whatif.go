package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/flinklog"
	"github.com/ckptcore/ckptcore/history"
)

const whatIfLong = `Re-decide a job with regional checkpoints (FLIP-600) on, and say, for every
checkpoint that failed as recorded, whether it would have completed and which
older checkpoint each failed region would have used, with totals.

The input is a history or a JobManager log (imported first; the import flags
of import-flink apply). A flight file that starts from a resume record (after
a restart) or a snapshot record (after a rotation) is re-run from that state:
checkpoints pending in a snapshot keep the path they were triggered on, the
regional settings decide the ones triggered after it. The regional settings
default to the history's own when it already has regional checkpoints on,
else to docs/spec/SEMANTICS.md §2.

Exit status: 0 answered; 1 a run breaks an invariant; 2 unreadable input or usage.`

func (a *app) whatIfCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "what-if --regional [flags] FILE",
		Short: "What regional checkpoints (FLIP-600) would have saved in a history or log",
		Long:  whatIfLong,
		Example: `  ckpt what-if --regional examples/global-basic.jsonl
  ckpt what-if --regional --max-failure-ratio 0.5 -o json jobmanager.log`,
		Args: oneFile("history or JobManager log"),
	}
	var f importFlags
	f.register(c.Flags())
	var ratio opt[float64]
	var consecutive opt[int]
	var refAge opt[int64]
	regional := c.Flags().Bool("regional", false, "re-decide with regional checkpoints on (required: the only what-if so far)")
	c.Flags().Var(&ratio, "max-failure-ratio", "regional.max_failure_ratio (default: the history's own, else 0.3)")
	c.Flags().Var(&consecutive, "max-consecutive", "regional.max_consecutive (default: the history's own, else 2)")
	c.Flags().Var(&refAge, "max-ref-age", "regional.max_ref_age, 0 = no bound (default: the history's own, else 0)")
	regHist := c.Flags().String("regional-history", "", "also write the regional run as a history to this `file` (replay it to see every decision)")
	out := outputFlag(c, "text: a table and totals; json: the ckpt-whatif/v1 document", "text", "json")
	c.RunE = func(c *cobra.Command, args []string) error {
		if !*regional {
			return usageErrorf("--regional is required (the only what-if so far)")
		}
		var given []string
		for _, name := range importFlagNames {
			if c.Flags().Changed(name) {
				given = append(given, "--"+name)
			}
		}
		in, err := a.whatIfInput(args[0], f.options(), given)
		if err != nil {
			return err
		}
		o := flinklog.WhatIfOptionsFor(in.Header)
		if ratio.set {
			o.MaxFailureRatio = ratio.v
		}
		if consecutive.set {
			o.MaxConsecutive = consecutive.v
		}
		if refAge.set {
			o.MaxRefAge = refAge.v
		}
		return a.runWhatIf(in, o, out, *regHist)
	}
	return c
}

// whatIfInput reads a history, or imports a log. Import flags (given) apply to
// a log only: with a history they are an error, not silently ignored.
func (a *app) whatIfInput(path string, opt flinklog.Options, given []string) (flinklog.WhatIfInput, error) {
	data, err := a.readInput(path)
	if err != nil {
		return flinklog.WhatIfInput{}, invalidInput(err)
	}
	name := displayName(path)
	if flinklog.LooksLikeHistory(data) {
		if len(given) > 0 {
			return flinklog.WhatIfInput{}, usageErrorf("%s applies to a log; %s is a history (re-import the log with it)", strings.Join(given, ", "), name)
		}
		h, err := history.Decode(bytes.NewReader(data), name)
		if err != nil {
			return flinklog.WhatIfInput{}, invalidInput(err)
		}
		return flinklog.HistoryWhatIfInput(h), nil
	}
	im, err := flinklog.ImportLog(bytes.NewReader(data), name, opt)
	if err != nil {
		return flinklog.WhatIfInput{}, invalidInput(err)
	}
	return im.WhatIfInput(), nil
}

func (a *app) runWhatIf(in flinklog.WhatIfInput, o flinklog.WhatIfOptions, out *output, regHist string) error {
	rep, err := flinklog.WhatIf(in, o)
	if err != nil {
		return invalidInput(err)
	}
	if out.is("json") {
		err = rep.WriteJSON(a.stdout)
	} else {
		err = rep.WriteText(a.stdout)
	}
	if err != nil {
		return invalidInput(err)
	}
	if regHist != "" {
		var b bytes.Buffer
		if err := rep.WriteRegionalHistory(&b); err != nil {
			return invalidInput(err)
		}
		if err := writeFile(regHist, b.Bytes()); err != nil {
			return invalidInput(fmt.Errorf("--regional-history: %w", err))
		}
	}
	if len(rep.Violations) > 0 {
		return failed("the regional run breaks %d invariants", len(rep.Violations))
	}
	return nil
}
