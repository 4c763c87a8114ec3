package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/fuzz"
	"github.com/ckptcore/ckptcore/history"
)

const exploreLong = `Explore every interleaving of a small bounded model and check every invariant
(docs/spec/SEMANTICS.md §10) after every step (fuzz.Explore, breadth first).

The model is a history's header (job and configuration) and its first event
(start, with its restore if any); the history's other events are not used. The
budget flags bound how many events of each kind one path may contain; acks,
persists, restarts and config confirmations follow from the events that make
them possible. Keep jobs and budgets small: the state space grows fast.

The result goes to standard output: with -o text a summary as // comment lines
and, when an invariant fails, the shortest counterexample as a history, so that

  ckpt explore model.jsonl > cex.jsonl; ckpt replay cex.jsonl

reproduces it; with -o json a ckpt-explore/v1 document. Besides the §10
invariants the explorer checks the time rules (R10, R11/R62) and the rule
properties of fuzz/explore_rules.go (R12, R24, R25); ckpt replay reproduces a
counterexample of those only where a claim line can state the rule (R24), and

  ckpt explore --replay cex.jsonl

reproduces every one (exit 1, naming the rule).

--model NAME explores a model of the project's catalogue (the models CI pins,
and the larger ones of make explore) instead of a history file: its own job,
configuration, start and budget. --list-models prints the catalogue.

Exit status: 0 no invariant failed (the summary says whether the search was
complete or stopped at --max-states); 1 an invariant failed; 2 invalid input
or usage.`

// exploreOptions configure one exploration: the model (job, configuration,
// start event, budget) and the limits of the search.
type exploreOptions struct {
	model fuzz.Model
	opt   fuzz.Options
}

func (a *app) exploreCmd() *cobra.Command {
	var o exploreOptions
	var patchInterval, patchTimeout opt[int64]
	var progress, replay, list bool
	var model string
	c := &cobra.Command{
		Use:   "explore [flags] FILE",
		Short: "Check every interleaving of a small bounded model (a history's job and start)",
		Long:  exploreLong,
		Example: `  ckpt explore --checkpoints 2 --declines 1 --task-failures 1 examples/regional-completion.jsonl
  ckpt explore --model periodic-2x1 --symmetry --progress
  ckpt explore --replay cex.jsonl`,
		Args: func(c *cobra.Command, args []string) error {
			if model != "" || list {
				return noArgs(c, args)
			}
			return oneFile("history file (its header and start event are the model)")(c, args)
		},
	}
	fs := c.Flags()
	b := &o.model.Budget
	fs.IntVar(&b.Checkpoints, "checkpoints", 2, "manual checkpoint triggers per path")
	fs.IntVar(&b.Savepoints, "savepoints", 0, "manual savepoint triggers per path")
	fs.IntVar(&b.StopSavepoints, "stop-savepoints", 0, "stop-with-savepoint triggers per path (R24)")
	fs.IntVar(&b.Declines, "declines", 1, "declines of a pending checkpoint per path")
	fs.IntVar(&b.TaskFailures, "task-failures", 1, "subtask failures per path")
	fs.IntVar(&b.TaskFinishes, "task-finishes", 0, "subtasks finishing per path")
	fs.IntVar(&b.PersistFailures, "persist-failures", 0, "failed metadata writes per path")
	fs.IntVar(&b.Recovers, "recovers", 0, "coordinator failovers per path")
	fs.IntVar(&b.Advances, "advances", 1, "ticks to the core's next deadline per path (the only way time moves)")
	fs.IntVar(&b.Patches, "patches", 0, "config patches per path (set the patch with --patch-interval/--patch-timeout)")
	fs.Var(&patchInterval, "patch-interval", "interval_ms of the config patch")
	fs.Var(&patchTimeout, "patch-timeout", "timeout_ms of the config patch")
	fs.IntVar(&o.opt.MaxStates, "max-states", 200000, "stop after this many distinct nodes (0 = no bound)")
	fs.IntVar(&o.opt.Workers, "workers", 0, "goroutines expanding states (default: GOMAXPROCS; the result does not depend on it)")
	fs.BoolVar(&o.opt.Symmetry, "symmetry", false, "treat regions of one shape as interchangeable (fewer nodes, same verdict)")
	fs.BoolVar(&o.opt.Minimize, "minimize", true, "shrink a counterexample to the events it needs (delta debugging)")
	fs.BoolVar(&progress, "progress", false, "print progress on standard error per depth and every 5 s")
	fs.StringVar(&model, "model", "", "explore this model of the catalogue (see --list-models) instead of a history file")
	fs.BoolVar(&list, "list-models", false, "print the catalogue's models (tier, name, budget) and exit")
	fs.BoolVar(&replay, "replay", false, "FILE is a counterexample: replay it through every check the explorer runs")
	out := outputFlag(c, "text: a summary and any counterexample history; json: a ckpt-explore/v1 document", "text", "json")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		switch {
		case list:
			return a.listModels()
		case replay:
			return a.replayChecked(args[0])
		case model != "":
			for _, f := range []string{"checkpoints", "savepoints", "stop-savepoints", "declines", "task-failures", "task-finishes",
				"persist-failures", "recovers", "advances", "patches", "patch-interval", "patch-timeout"} {
				if cmd.Flags().Changed(f) {
					return usageErrorf("--%s: with --model the budget and the patch are the model's", f)
				}
			}
			m, err := fuzz.ModelByName(model)
			if err != nil {
				return usageErrorf("--model: %v", err)
			}
			o.model = m
			if !cmd.Flags().Changed("max-states") {
				o.opt.MaxStates = 0 // a catalogue model is bounded by its budget
			}
			if err := checkBudget(fuzz.Budget{}, o.opt.MaxStates, o.opt.Workers); err != nil {
				return usageErrorf("%v", err) // a catalogue budget may be fuzz.Unbounded
			}
			if progress {
				o.opt.Progress = a.stderr
			}
			return a.runExplore(o, out)
		}
		if b.Patches > 0 && !patchInterval.set && !patchTimeout.set {
			return usageErrorf("--patches %d needs the patch: --patch-interval, --patch-timeout or both", b.Patches)
		}
		if err := checkBudget(*b, o.opt.MaxStates, o.opt.Workers); err != nil {
			return usageErrorf("%v", err)
		}
		o.model.Patch = fsm.Event{Type: fsm.EvConfigPatch, HasInterval: patchInterval.set, IntervalMs: patchInterval.v,
			HasTimeout: patchTimeout.set, TimeoutMs: patchTimeout.v}
		if progress {
			o.opt.Progress = a.stderr
		}
		h, err := a.readHistory(args[0])
		if err != nil {
			return invalidInput(err)
		}
		if err := o.modelFrom(h); err != nil {
			return invalidInput(err)
		}
		return a.runExplore(o, out)
	}
	return c
}

// listModels prints the model catalogue.
func (a *app) listModels() error {
	for _, tier := range []fuzz.ModelTier{fuzz.TierCI, fuzz.TierLarge, fuzz.TierTLC} {
		for _, m := range fuzz.Models(tier) {
			fmt.Fprintf(a.stdout, "%-6s %-20s %+v\n", tier, m.Name, m.Budget)
		}
	}
	return nil
}

// replayChecked replays a counterexample through every explorer check.
func (a *app) replayChecked(path string) error {
	h, err := a.readHistory(path)
	if err != nil {
		return invalidInput(err)
	}
	cx, err := fuzz.ReplayChecked(h)
	if err != nil {
		return invalidInput(err)
	}
	if cx == nil {
		fmt.Fprintf(a.stdout, "// %s: %d events, every explorer check held\n", h.File, len(h.Records))
		return nil
	}
	fmt.Fprintf(a.stdout, "// %s failed after %d events: %s\n", cx.Invariant, len(cx.Events), cx.Detail)
	return errFailedQuietly
}

// checkBudget refuses negative bounds, which would mean nothing.
func checkBudget(b fuzz.Budget, maxStates, workers int) error {
	for name, v := range map[string]int{"checkpoints": b.Checkpoints, "savepoints": b.Savepoints, "stop-savepoints": b.StopSavepoints, "declines": b.Declines,
		"task-failures": b.TaskFailures, "task-finishes": b.TaskFinishes, "persist-failures": b.PersistFailures,
		"recovers": b.Recovers, "advances": b.Advances, "patches": b.Patches, "max-states": maxStates, "workers": workers} {
		if v < 0 {
			return fmt.Errorf("--%s %d: want 0 or more", name, v)
		}
	}
	if err := b.Check(); err != nil {
		return fmt.Errorf("the budget flags: %v", err)
	}
	return nil
}

// modelFrom takes the job, the configuration and the start event from h.
func (o *exploreOptions) modelFrom(h *history.History) error {
	if len(h.Records) == 0 {
		return fmt.Errorf("%s: no start event: the model needs one", h.File)
	}
	o.model.Name = filepath.Base(h.File)
	o.model.Job = h.Header.Job
	o.model.Config = h.Header.Config
	o.model.Start = h.Records[0].Event
	return nil
}

// exploreReport is the ckpt-explore/v1 document.
type exploreReport struct {
	Format      string          `json:"format"`
	Model       string          `json:"model"`
	Budget      exploreBudget   `json:"budget"`
	Nodes       int             `json:"nodes"`
	CoreStates  int             `json:"core_states"`
	Transitions int             `json:"transitions"`
	Depth       int             `json:"depth"`
	Complete    bool            `json:"complete"`
	ElapsedMs   int64           `json:"elapsed_ms"`
	Violation   *exploreFailure `json:"violation"`
}

// exploreBudget is fuzz.Budget with the flags' names, for the JSON document
// (a conversion: a field added to fuzz.Budget must be added here too).
type exploreBudget struct {
	Checkpoints     int `json:"checkpoints"`
	Savepoints      int `json:"savepoints"`
	StopSavepoints  int `json:"stop_savepoints"`
	Declines        int `json:"declines"`
	TaskFailures    int `json:"task_failures"`
	TaskFinishes    int `json:"task_finishes"`
	PersistFailures int `json:"persist_failures"`
	Recovers        int `json:"recovers"`
	Patches         int `json:"patches"`
	Advances        int `json:"advances"`
}

// exploreFailure is a counterexample: the invariant, why, and the history that
// reproduces it.
type exploreFailure struct {
	Invariant string `json:"invariant"`
	Detail    string `json:"detail"`
	Events    int    `json:"events"` // of the history below (minimized unless --minimize=false)
	History   string `json:"history"`
}

func (a *app) runExplore(o exploreOptions, out *output) error {
	res := a.explore(o.model, o.opt)
	rep := exploreReport{Format: "ckpt-explore/v1", Model: o.model.Name, Budget: exploreBudget(o.model.Budget), Nodes: res.Nodes,
		CoreStates: res.CoreStates, Transitions: res.Transitions, Depth: res.Depth, Complete: res.Complete,
		ElapsedMs: res.Elapsed.Milliseconds()}
	if v := res.Violation; v != nil {
		var b bytes.Buffer
		if err := v.WriteHistory(&b); err != nil {
			return invalidInput(err)
		}
		n := len(v.Events)
		if len(v.Minimized) > 0 {
			n = len(v.Minimized)
		}
		rep.Violation = &exploreFailure{Invariant: v.Invariant, Detail: v.Detail, Events: n, History: b.String()}
	}
	if out.is("json") {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return invalidInput(err)
		}
	} else if _, err := fmt.Fprint(a.stdout, rep.text()); err != nil {
		return invalidInput(err)
	}
	if rep.Violation != nil {
		return errFailedQuietly
	}
	return nil
}

// text is the summary as // lines, followed by the counterexample history.
func (r exploreReport) text() string {
	var b strings.Builder
	how := "complete: every path within the budget"
	if !r.Complete {
		how = "stopped at --max-states: not every path was explored"
	}
	fmt.Fprintf(&b, "// ckpt explore %s: %d nodes, %d core states, %d transitions, depth %d, %v\n// %s\n",
		r.Model, r.Nodes, r.CoreStates, r.Transitions, r.Depth, time.Duration(r.ElapsedMs)*time.Millisecond, how)
	if r.Violation == nil {
		b.WriteString("// every invariant held\n")
		return b.String()
	}
	fmt.Fprintf(&b, "// %s failed after %d events; the history below reproduces it (ckpt explore --replay; ckpt replay for §10 invariants)\n",
		r.Violation.Invariant, r.Violation.Events)
	b.WriteString(r.Violation.History)
	return b.String()
}
