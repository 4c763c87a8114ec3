package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/fuzz"
	"github.com/ckptcore/ckptcore/history"
)

// app is the command line with its streams and the library entry points it
// calls. The entry points are fields so that a test can reach what the real
// core never gives (an invariant violation) without a switch in the core.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	replay       func(*history.History, history.Options) (*history.Result, error)
	replayReader func(*history.Reader, history.Options) (*history.Result, error)
	minimize     func(h *history.History, invariant string) (*history.History, error)
	explore      func(fuzz.Model, fuzz.Options) fuzz.Result
	// listening, when set, receives serve's address once it listens.
	listening chan<- string
}

func newApp(stdin io.Reader, stdout, stderr io.Writer) *app {
	return &app{stdin: stdin, stdout: stdout, stderr: stderr, replay: history.Replay, replayReader: history.ReplayReader, minimize: fuzz.Minimize,
		explore: fuzz.Explore}
}

const rootLong = `ckpt replays, imports, explores and serves the decision core of a checkpoint
coordinator (Apache Flink's, with regional checkpoints, FLIP-600, and dynamic
checkpoint configuration, FLIP-571).

Every subcommand exits with 0 when it is done and every invariant held, 1 when
an invariant failed or recorded effects diverged, 2 on invalid input or usage.
Histories and the rules they are checked against: docs/spec/ in the repository.`

// root builds the command tree. Each subcommand is defined in its own file.
func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "ckpt",
		Short:         "The checkpoint coordinator's decision core, from the command line",
		Long:          rootLong,
		Version:       version(),
		SilenceErrors: true, // run prints each error once
		SilenceUsage:  true, // and points to the help instead of dumping it
	}
	root.SetVersionTemplate("ckpt {{.Version}}\n")
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErrorf("%v", err) })
	root.AddCommand(a.replayCmd(), a.importFlinkCmd(), a.whatIfCmd(), a.serveCmd(), a.simCmd(),
		a.exploreCmd(), a.minimizeCmd(), a.metadataCmd(), a.convertCmd())
	return root
}

// run executes the command line and returns the exit status. Help goes to
// standard output; an error is printed once, on standard error, prefixed with
// the subcommand's name unless it already names its place (file:line).
func (a *app) run(ctx context.Context, args []string) int {
	root := a.root()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if errors.Is(err, errHelpAsked) {
		if herr := cmd.Help(); herr != nil {
			fmt.Fprintf(a.stderr, "%s: %v\n", cmd.CommandPath(), herr)
			return exitInvalid
		}
		return exitOK
	}
	code, msg, usage := exitCode(err)
	name := "ckpt"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	if msg != "" {
		var e *exitError
		if errors.As(err, &e) && e.placed {
			fmt.Fprintln(a.stderr, msg)
		} else {
			fmt.Fprintf(a.stderr, "%s: %s\n", name, msg)
		}
	}
	if usage {
		fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", name)
	}
	return code
}

// errHelpAsked is returned by the argument checks for `ckpt CMD help`: run
// prints CMD's help (a file named help, if there is one, is still read).
var errHelpAsked = errors.New("help asked")

// oneFile accepts exactly one FILE argument, what; "-" is standard input.
func oneFile(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) == 1 && helpWord(args[0]):
			return errHelpAsked
		case len(args) == 0:
			return usageErrorf("no %s given (- reads standard input)", what)
		case len(args) > 1:
			return usageErrorf("want one %s, got %d arguments: %s", what, len(args), strings.Join(args, " "))
		}
		return nil
	}
}

// noArgs accepts no argument but `help`.
func noArgs(_ *cobra.Command, args []string) error {
	switch {
	case len(args) == 1 && helpWord(args[0]):
		return errHelpAsked
	case len(args) > 0:
		return usageErrorf("unexpected argument %q (this subcommand takes flags only)", args[0])
	}
	return nil
}

// helpWord tells whether an argument asks for help rather than naming a file.
func helpWord(arg string) bool {
	if arg != "help" {
		return false
	}
	_, err := os.Stat(arg)
	return err != nil
}
