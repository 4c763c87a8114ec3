package flinklog

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ckptcore/ckptcore/history"
)

// Exit statuses of the entry points, as cmd/replay's: 0 done, 1 the result
// breaks an invariant, 2 bad usage or unreadable input.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	maxLogBytes = 1 << 30
)

// importFlags are the flags shared by import-flink and what-if on a log.
type importFlags struct {
	opt     Options
	noPrior bool
}

func (f *importFlags) register(fs *flag.FlagSet) {
	f.opt = DefaultOptions()
	fs.StringVar(&f.opt.Job, "job", "", "import this job id (default: the job with the most trigger and outcome lines)")
	fs.Int64Var(&f.opt.TimeoutMs, "timeout", 0, "checkpoint timeout in ms (default: inferred from expiries, else 600000)")
	fs.IntVar(&f.opt.Tolerable, "tolerable", -1, "tolerable failed checkpoints (default: inferred)")
	fs.IntVar(&f.opt.MaxConcurrent, "max-concurrent", 0, "max concurrent checkpoints (default: inferred)")
	fs.StringVar(&f.opt.Edges, "edges", EdgesAuto, "edges between the vertices the log names: auto, all_to_all, forward, none")
	fs.IntVar(&f.opt.AssumeRegions, "assume-regions", 0, "assume the job is N independent (embarrassingly parallel) regions")
	fs.BoolVar(&f.noPrior, "no-prior", false, "do not assume a completed checkpoint before the log's first id")
	fs.IntVar(&f.opt.WrapWidth, "wrap", 0, "join lines a terminal of this width wrapped (0 = detect the width, -1 = join none)")
}

func (f *importFlags) options() Options {
	o := f.opt
	o.NoPrior = f.noPrior
	return o
}

// parseArgs parses flags that may stand before or after the one file argument.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// readInput reads a file argument ("-" is standard input), bounded in size.
func readInput(path string, stdin io.Reader) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxLogBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxLogBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxLogBytes)
	}
	return b, nil
}

// ImportMain is `replay import-flink [flags] job.log` ("-" reads stdin): it writes the history on
// stdout and the import report (what was inferred, assumed, not interpreted,
// and where the core disagrees with the log) on stderr. It returns the exit
// status: 0, 1 when the imported history breaks an invariant, 2 on bad usage or
// a log with no job.
func ImportMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("import-flink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f importFlags
	f.register(fs)
	reportJSON := fs.String("report", "", "also write the report as JSON to this file")
	quiet := fs.Bool("q", false, "no report on stderr")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: replay import-flink [flags] job.log > history.jsonl   (job.log may be -)")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	data, err := readInput(pos[0], stdin)
	if err != nil {
		fmt.Fprintln(stderr, "import-flink:", err)
		return exitUsage
	}
	im, err := ImportLog(bytes.NewReader(data), displayName(pos[0]), f.options())
	if err != nil {
		fmt.Fprintln(stderr, "import-flink:", err)
		return exitUsage
	}
	if err := im.WriteHistory(stdout); err != nil {
		fmt.Fprintln(stderr, "import-flink:", err)
		return exitUsage
	}
	if !*quiet {
		im.WriteReport(stderr)
	}
	if *reportJSON != "" {
		var b bytes.Buffer
		im.WriteReportJSON(&b)
		if err := os.WriteFile(*reportJSON, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "import-flink:", err)
			return exitUsage
		}
	}
	if len(im.Violations) > 0 {
		fmt.Fprintf(stderr, "import-flink: the imported history breaks %d invariants (a core bug: please report it with this log)\n", len(im.Violations))
		return exitFailed
	}
	return exitOK
}

func displayName(path string) string {
	if path == "-" {
		return "<stdin>"
	}
	return path
}

// looksLikeHistory tells a history (NDJSON whose first line is a JSON object)
// from a log.
func looksLikeHistory(data []byte) bool {
	for _, line := range strings.Split(string(data[:min(len(data), 1<<16)]), "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "//") {
			continue
		}
		return strings.HasPrefix(t, "{")
	}
	return false
}

// WhatIfMain is `replay what-if --regional [flags] history.jsonl|job.log`: it
// re-decides the job with regional checkpoints on and prints, per checkpoint
// that failed as recorded, whether it would have completed and which older
// checkpoint each failed region would have used, with totals (a table, or JSON
// with -json). A log is imported first (the import flags apply). It returns 0,
// 1 when a run breaks an invariant, 2 on bad usage or unreadable input.
func WhatIfMain(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("what-if", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f importFlags
	f.register(fs)
	o := DefaultWhatIfOptions()
	regional := fs.Bool("regional", false, "re-decide with regional checkpoints on (required: the only what-if so far)")
	fs.Float64Var(&o.MaxFailureRatio, "max-failure-ratio", o.MaxFailureRatio, "regional.max_failure_ratio (a regional history's own by default)")
	fs.IntVar(&o.MaxConsecutive, "max-consecutive", o.MaxConsecutive, "regional.max_consecutive (a regional history's own by default)")
	fs.Int64Var(&o.MaxRefAge, "max-ref-age", o.MaxRefAge, "regional.max_ref_age, 0 = no bound (a regional history's own by default)")
	asJSON := fs.Bool("json", false, "print the answer as JSON (ckpt-whatif/v1)")
	regHist := fs.String("regional-history", "", "also write the regional run as a history to this file (replay it to see every decision)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: replay what-if --regional [flags] history.jsonl|job.log   (- reads stdin)")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || !*regional {
		fs.Usage()
		return exitUsage
	}
	data, err := readInput(pos[0], stdin)
	if err != nil {
		fmt.Fprintln(stderr, "what-if:", err)
		return exitUsage
	}
	in, err := whatIfInput(data, displayName(pos[0]), f, fs)
	if err != nil {
		fmt.Fprintln(stderr, "what-if:", err)
		return exitUsage
	}
	rep, err := WhatIf(in, whatIfOptions(in.Header, o, fs))
	if err != nil {
		fmt.Fprintln(stderr, "what-if:", err)
		return exitUsage
	}
	if *asJSON {
		rep.WriteJSON(stdout)
	} else {
		rep.WriteText(stdout)
	}
	if *regHist != "" {
		var b bytes.Buffer
		if err := rep.WriteRegionalHistory(&b); err != nil {
			fmt.Fprintln(stderr, "what-if:", err)
			return exitUsage
		}
		if err := os.WriteFile(*regHist, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(stderr, "what-if:", err)
			return exitUsage
		}
	}
	if len(rep.Violations) > 0 {
		return exitFailed
	}
	return exitOK
}

// whatIfOptions starts from the history's own regional configuration (or the
// defaults) and applies the regional flags given.
func whatIfOptions(h history.Header, flags WhatIfOptions, fs *flag.FlagSet) WhatIfOptions {
	o := WhatIfOptionsFor(h)
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "max-failure-ratio":
			o.MaxFailureRatio = flags.MaxFailureRatio
		case "max-consecutive":
			o.MaxConsecutive = flags.MaxConsecutive
		case "max-ref-age":
			o.MaxRefAge = flags.MaxRefAge
		}
	})
	return o
}

// whatIfInput reads a history, or imports a log.
func whatIfInput(data []byte, name string, f importFlags, fs *flag.FlagSet) (WhatIfInput, error) {
	if looksLikeHistory(data) {
		var set []string
		fs.Visit(func(fl *flag.Flag) {
			switch fl.Name {
			case "job", "timeout", "tolerable", "max-concurrent", "edges", "assume-regions", "no-prior", "wrap":
				set = append(set, "-"+fl.Name)
			}
		})
		if len(set) > 0 {
			return WhatIfInput{}, fmt.Errorf("%s applies to a log; %s is a history (re-import the log with it)", strings.Join(set, ", "), name)
		}
		h, err := history.Decode(bytes.NewReader(data), name)
		if err != nil {
			return WhatIfInput{}, err
		}
		in := WhatIfInput{Source: name, Header: h.Header}
		for _, r := range h.Records {
			in.Events = append(in.Events, r.Event)
		}
		return in, nil
	}
	im, err := ImportLog(bytes.NewReader(data), name, f.options())
	if err != nil {
		return WhatIfInput{}, err
	}
	return im.WhatIfInput(), nil
}
