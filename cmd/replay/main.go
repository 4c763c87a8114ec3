// Command replay replays a checkpoint history (spec/HISTORY.md) through the
// decision core: it prints a readable trace or, with -summary, the
// ckpt-summary/v1 document, checks every invariant after every step and reports
// recorded effects that diverge from the recomputed ones.
//
// Usage:
//
//	replay [-summary] [-check=false] FILE    # FILE may be - for standard input
//	replay import-flink [flags] job.log       # a Flink JobManager log as a history
//	replay what-if --regional [flags] FILE    # re-decide a history or log regionally
//	replay -minimize FILE                     # shrink a failing history to FILE.min.jsonl
//
// Exit status: 0 the history replayed and every invariant held; 1 an invariant
// failed or recorded effects diverged; 2 the input is unreadable or invalid, or
// the command line is wrong.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ckptcore/ckptcore/flinklog"
	"github.com/ckptcore/ckptcore/fuzz"
	"github.com/ckptcore/ckptcore/history"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `usage: replay [flags] FILE
Replays a ckpt-history/v1 file (FILE may be - for standard input) through the
decision core. Flags go before FILE.

Exit status: 0 ok; 1 an invariant failed or recorded effects diverged;
2 invalid input or usage.

Flags:
`

// replayHistory and replayReader are history.Replay and history.ReplayReader;
// tests substitute them to reach the exit status of an invariant violation,
// which the core has none of to replay.
var (
	replayHistory = history.Replay
	replayReader  = history.ReplayReader
)

// run is the whole command, with its streams as arguments so tests can call it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "import-flink":
			return flinklog.ImportMain(args[1:], stdin, stdout, stderr)
		case "what-if":
			return flinklog.WhatIfMain(args[1:], stdin, stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	summary := fs.Bool("summary", false, "print only the summary as one JSON document")
	check := fs.Bool("check", true, "evaluate every invariant of SEMANTICS §10 after every step")
	minimize := fs.Bool("minimize", false, "shrink a failing history to a minimal one that breaks the same invariant, written next to FILE as FILE.min.jsonl (stdout for -)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		if fs.NArg() == 0 {
			fmt.Fprintln(stderr, "replay: no history file given")
		} else {
			fmt.Fprintf(stderr, "replay: want one history file, got %d arguments (flags go before FILE)\n", fs.NArg())
		}
		fs.Usage()
		return 2
	}
	if *minimize {
		h, err := read(fs.Arg(0), stdin)
		if err != nil {
			fmt.Fprintln(stderr, invalid(err))
			return 2
		}
		return runMinimize(h, fs.Arg(0), stdout, stderr)
	}
	// The history is read one event at a time: memory stays bounded whatever
	// the input's size (replay /dev/zero ends with "line longer than").
	in, name := stdin, "<stdin>"
	if fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			fmt.Fprintln(stderr, invalid(err))
			return 2
		}
		defer f.Close()
		in, name = f, fs.Arg(0)
	}
	d, err := history.NewReader(in, name)
	if err != nil {
		fmt.Fprintln(stderr, invalid(err))
		return 2
	}
	opt := history.Options{Check: *check, CountsOnly: !*summary}
	if !*summary {
		opt.Trace = stdout
	}
	res, err := replayReader(d, opt)
	if err != nil {
		fmt.Fprintln(stderr, invalid(err))
		return 2
	}
	if *summary {
		if _, err := stdout.Write(res.Summary.Encode()); err != nil {
			fmt.Fprintf(stderr, "replay: %v\n", err)
			return 2
		}
	}
	for _, v := range res.Summary.Violations {
		fmt.Fprintf(stderr, "%s:%d: %s violated after %s: %s\n", name, v.Line, v.Invariant, v.Event, v.Detail)
	}
	if res.Divergence != nil {
		fmt.Fprint(stderr, res.Divergence.Error())
	}
	for _, c := range res.Claims {
		fmt.Fprintln(stderr, c.Error())
	}
	if !res.OK() {
		return 1
	}
	return 0
}

// runMinimize shrinks a history that breaks an invariant (delta debugging over
// its events, fuzz.Minimize) and writes the result next to it. Exit status 1
// says the input fails (as a plain replay would), 0 that every invariant held and
// there is nothing to shrink, 2 an error.
func runMinimize(h *history.History, path string, stdout, stderr io.Writer) int {
	res, err := replayHistory(h, history.Options{Check: true})
	if err != nil {
		fmt.Fprintln(stderr, invalid(err))
		return 2
	}
	if len(res.Summary.Violations) == 0 {
		fmt.Fprintln(stderr, "replay: -minimize: every invariant held; nothing to minimize")
		return 0
	}
	inv := res.Summary.Violations[0].Invariant
	min, err := fuzz.Minimize(h, inv)
	if err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 2
	}
	comment := fmt.Sprintf("minimized from %s: still breaks %s (%d -> %d events)", h.File, inv, len(h.Records), len(min.Records))
	out, dest := stdout, "standard output"
	if path != "-" {
		dest = strings.TrimSuffix(path, ".jsonl") + ".min.jsonl"
		f, err := os.Create(dest)
		if err != nil {
			fmt.Fprintln(stderr, "replay:", err)
			return 2
		}
		defer f.Close()
		out = f
	}
	if err := fuzz.WriteHistory(out, min, comment); err != nil {
		fmt.Fprintln(stderr, "replay:", err)
		return 2
	}
	fmt.Fprintf(stderr, "replay: %s; written to %s\n", comment, dest)
	return 1
}

// invalid renders an input error: a *history.Error is already "file:line:
// field: reason"; anything else (a file that cannot be opened) gets the
// command's name.
func invalid(err error) string {
	var he *history.Error
	if errors.As(err, &he) {
		return he.Error()
	}
	return "replay: " + err.Error()
}

func read(path string, stdin io.Reader) (*history.History, error) {
	if path == "-" {
		return history.Decode(stdin, "<stdin>")
	}
	return history.ReadFile(path)
}
