package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/fuzz"
	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

const minimizeLong = `Shrink a history that breaks an invariant to a minimal one that still breaks it.

The history is replayed; if an invariant fails, delta debugging over its events
(fuzz.Minimize) removes every event it can while the same invariant (or the one
named by --invariant) still fails. The first record stays: the start event, or
the resume or snapshot record a flight file starts with. The result, without recorded effects and
with a comment saying where it comes from, goes to standard output.

Exit status: 1 the input breaks the invariant (the minimal history is written);
0 the invariant held (every invariant, without --invariant): nothing to
minimize, nothing written;
2 invalid input or usage.`

func (a *app) minimizeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:     "minimize [flags] FILE",
		Short:   "Shrink a history that breaks an invariant to a minimal one",
		Long:    minimizeLong,
		Example: `  ckpt minimize failing.jsonl > failing.min.jsonl && ckpt replay failing.min.jsonl`,
		Args:    oneFile("history file"),
	}
	inv := c.Flags().String("invariant", "", "the invariant to keep breaking (default: the first one the replay reports); one of "+
		strings.Join(invariants.All, ", ")+" or "+fuzz.Panic)
	c.RunE = func(_ *cobra.Command, args []string) error {
		return a.runMinimize(args[0], *inv)
	}
	return c
}

func (a *app) runMinimize(path, inv string) error {
	if inv != "" && inv != fuzz.Panic && !slices.Contains(invariants.All, inv) {
		return usageErrorf("--invariant %q: want one of %s or %s", inv, strings.Join(invariants.All, ", "), fuzz.Panic)
	}
	h, err := a.readHistory(path)
	if err != nil {
		return invalidInput(err)
	}
	if inv != fuzz.Panic {
		res, err := a.replay(h, history.Options{Check: true})
		if err != nil {
			return invalidInput(err)
		}
		broken := make([]string, 0, len(res.Summary.Violations))
		for _, v := range res.Summary.Violations {
			broken = append(broken, v.Invariant)
		}
		switch {
		case len(broken) == 0:
			fmt.Fprintf(a.stderr, "ckpt minimize: every invariant held in %s; nothing to minimize\n", h.File)
			return nil
		case inv == "":
			inv = broken[0]
		case !slices.Contains(broken, inv):
			fmt.Fprintf(a.stderr, "ckpt minimize: %s does not break %s (it breaks %s); nothing to minimize\n",
				h.File, inv, strings.Join(broken, ", "))
			return nil
		}
	}
	min, err := a.minimize(h, inv)
	if err != nil {
		return invalidInput(err)
	}
	comment := fmt.Sprintf("minimized from %s: still breaks %s (%d -> %d events)", h.File, inv, len(h.Records), len(min.Records))
	if err := fuzz.WriteHistory(a.stdout, min, comment); err != nil {
		return invalidInput(err)
	}
	fmt.Fprintf(a.stderr, "ckpt minimize: %s\n", comment)
	return errFailedQuietly
}
