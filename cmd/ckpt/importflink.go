package main

import (
	"bytes"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/flinklog"
)

const importLong = `Turn one job's checkpoint lines of an Apache Flink JobManager log into a
ckpt-history/v1 file, written to standard output.

The importer reads log4j (with and without the [] column) and logback layouts
and Flink 1.9 to 2.x messages, and reconstructs vertices and parallelism from
task names such as "Source: X (2/4)". Logs carry no edges: see --edges and
--assume-regions (flinklog/doc.go gives the mapping rules). The report — what
was inferred or assumed, each checkpoint as the log and the core saw it, and
every checkpoint line not understood — goes to standard error, as text or,
with -o json, as a ckpt-flinkimport/v1 document.

Exit status: 0 imported; 1 the imported history breaks an invariant (a core
bug: please report it with the log); 2 unreadable log, no job in it, or usage.`

func (a *app) importFlinkCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "import-flink [flags] LOG",
		Short: "Turn a Flink JobManager log into a history (report on standard error)",
		Long:  importLong,
		Example: `  ckpt import-flink jobmanager.log > job.jsonl
  ckpt import-flink -o json jobmanager.log 2> report.json > job.jsonl`,
		Args: oneFile("JobManager log"),
	}
	var f importFlags
	f.register(c.Flags())
	out := outputFlag(c, "of the report on standard error; json: ckpt-flinkimport/v1", "text", "json")
	quiet := c.Flags().BoolP("quiet", "q", false, "no report")
	c.RunE = func(_ *cobra.Command, args []string) error {
		return a.runImport(args[0], f.options(), out, *quiet)
	}
	return c
}

func (a *app) runImport(path string, opt flinklog.Options, out *output, quiet bool) error {
	data, err := a.readInput(path)
	if err != nil {
		return invalidInput(err)
	}
	im, err := flinklog.ImportLog(bytes.NewReader(data), displayName(path), opt)
	if err != nil {
		return invalidInput(err)
	}
	if err := im.WriteHistory(a.stdout); err != nil {
		return invalidInput(err)
	}
	if !quiet {
		var err error
		if out.is("json") {
			err = im.WriteReportJSON(a.stderr)
		} else {
			err = im.WriteReport(a.stderr)
		}
		if err != nil {
			return invalidInput(fmt.Errorf("writing the report: %w", err))
		}
	}
	if len(im.Violations) > 0 {
		return failed("the imported history breaks %d invariants (a core bug: please report it with this log)", len(im.Violations))
	}
	return nil
}
