package flinklog

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
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
	fs.StringVar(&f.opt.Job, "job", "", "import this job id (default: the job with the most checkpoint lines)")
	fs.Int64Var(&f.opt.TimeoutMs, "timeout", 0, "checkpoint timeout in ms (default: inferred from expiries, else 600000)")
	fs.IntVar(&f.opt.Tolerable, "tolerable", -1, "tolerable failed checkpoints (default: inferred)")
	fs.IntVar(&f.opt.MaxConcurrent, "max-concurrent", 0, "max concurrent checkpoints (default: inferred)")
	fs.StringVar(&f.opt.Edges, "edges", EdgesAuto, "edges between the vertices the log names: auto, all_to_all, forward, none")
	fs.IntVar(&f.opt.AssumeRegions, "assume-regions", 0, "assume the job is N independent (embarrassingly parallel) regions")
	fs.BoolVar(&f.noPrior, "no-prior", false, "do not assume a completed checkpoint before the log's first id")
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
func readInput(path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = os.Stdin
	} else {
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

// ImportMain is `replay import-flink [flags] job.log`: it writes the history on
// stdout and the import report (what was inferred, assumed, not interpreted,
// and where the core disagrees with the log) on stderr. It returns the exit
// status: 0, 1 when the imported history breaks an invariant, 2 on bad usage or
// a log with no job.
func ImportMain(args []string, stdout, stderr io.Writer) int {
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
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fs.Usage()
		return exitUsage
	}
	data, err := readInput(pos[0])
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
