// Command mutate is the project's source-level mutation testing (issue 12 §3):
// it applies each mutant of its catalogue (catalogue.go: small, exact rewrites
// of fsm/ sources, each named and tied to a rule of docs/spec/SEMANTICS.md) to
// a temporary copy of the repository — never to the working tree — and runs,
// against that copy,
//
//  1. the property layer, without any golden transcript: the rapid state
//     machine, the reference-model differential, the timing and depth
//     properties, the explorer's pinned small models, the regression
//     histories (invariants and reference model only), the fuzz seed corpora
//     and the invariant checker's own tests (see propertyRun);
//  2. for a mutant the property layer misses, the whole suite (go test ./...),
//     goldens included.
//
// It prints a table (mutant, rule, caught by, invariant or rule named in the
// failure) and the kill rate, and exits 1 if a mutant that is not marked
// equivalent survives, or if one marked equivalent is caught (the mark is then
// wrong). Mutants run in parallel, one tree copy per worker, each under a
// timeout: a mutant that makes Step loop forever is reported as caught by a
// timeout, with the history the property was stepping when the harness's
// watchdog names one.
//
//	go run ./fuzz/mutate            # the CI subset (make mutants)
//	go run ./fuzz/mutate -all       # every mutant (make mutants-all)
//	go run ./fuzz/mutate -only r25-no-tier2-reset,r30-async-not-counted -v
//	go run ./fuzz/mutate -list
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mutate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "run every mutant of the catalogue, not only the CI subset")
	only := fs.String("only", "", "comma-separated mutant names to run")
	list := fs.Bool("list", false, "print the catalogue and exit")
	jobs := fs.Int("j", runtime.NumCPU(), "mutants run at once (each in its own tree copy)")
	timeout := fs.Duration("timeout", 4*time.Minute, "per mutant and stage: a run longer than this is killed and counts as caught by timeout")
	verbose := fs.Bool("v", false, "print the test output of every survivor and timeout")
	keep := fs.Bool("keep", false, "keep the temporary tree copies (their path is printed)")
	rootFlag := fs.String("root", "", "repository root (default: the module root above the current directory)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	root, err := findRoot(*rootFlag)
	if err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 2
	}
	cat := Catalogue()
	if err := checkCatalogue(cat, root); err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 2
	}
	sel, err := selectMutants(cat, *all, *only)
	if err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 2
	}
	if *list {
		for _, m := range sel {
			eq := ""
			if m.Equivalent != "" {
				eq = " (equivalent: " + m.Equivalent + ")"
			}
			fmt.Fprintf(stdout, "%-36s %-5s %s%s\n", m.Name, m.Rule, m.File, eq)
		}
		return 0
	}
	start := time.Now()
	results, err := runAll(root, sel, *jobs, *timeout, *keep, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mutate:", err)
		return 2
	}
	ok := report(stdout, results, time.Since(start), *jobs)
	if *verbose {
		for _, r := range results {
			if r.Verdict == Survived || r.Timeout {
				fmt.Fprintf(stdout, "\n==== %s (%s) ====\n%s\n", r.Mutant.Name, r.Verdict, r.Output)
			}
		}
	}
	if !ok {
		return 1
	}
	return 0
}

// selectMutants picks the CI subset, the whole catalogue or the named mutants.
func selectMutants(cat []Mutant, all bool, only string) ([]Mutant, error) {
	if only != "" {
		byName := map[string]Mutant{}
		for _, m := range cat {
			byName[m.Name] = m
		}
		var out []Mutant
		for _, n := range strings.Split(only, ",") {
			m, ok := byName[strings.TrimSpace(n)]
			if !ok {
				return nil, fmt.Errorf("-only: no mutant %q (go run ./fuzz/mutate -list -all)", n)
			}
			out = append(out, m)
		}
		return out, nil
	}
	var out []Mutant
	for _, m := range cat {
		if all || m.CI {
			out = append(out, m)
		}
	}
	return out, nil
}

// checkCatalogue refuses a catalogue with a duplicate name, an unknown rule
// family or an anchor that does not match the tree exactly once.
func checkCatalogue(cat []Mutant, root string) error {
	seen := map[string]bool{}
	var errs []string
	for _, m := range cat {
		if seen[m.Name] {
			errs = append(errs, fmt.Sprintf("mutant %s: duplicate name", m.Name))
		}
		seen[m.Name] = true
		if family(m.Rule) == "" {
			errs = append(errs, fmt.Sprintf("mutant %s: rule %q is in no rule family", m.Name, m.Rule))
		}
		if err := m.Check(root); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the catalogue does not match the tree:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
