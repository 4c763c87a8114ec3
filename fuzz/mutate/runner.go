package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Verdict is what became of a mutant.
type Verdict string

// Verdicts.
const (
	KilledProperty Verdict = "property" // the property layer failed (no golden involved)
	KilledSuite    Verdict = "suite"    // only the whole suite, goldens included, failed
	Survived       Verdict = "SURVIVED" // nothing failed
)

// Result is one mutant's run.
type Result struct {
	Mutant  Mutant
	Verdict Verdict
	Test    string // the first failing test (or "timeout")
	Named   string // the invariant or rule the failure names
	Timeout bool
	Elapsed time.Duration
	CPU     time.Duration // user + system time of the go test processes
	Output  string        // the failing stage's output (trimmed)
}

// propertyRun is the property layer: every test here checks properties (rapid
// state machines against the invariants and the reference model, the
// explorer's complete small models, regression histories replayed through the
// invariants and the model, fuzz seed corpora, the checker's own tests); none
// compares against a golden transcript. The rapid flags shorten shrinking: a
// mutant needs one named counterexample, not the smallest one.
var propertyRun = [][]string{
	{"./fuzz/", "-run", "^(TestCore|TestDeep|TestTiming|TestDifferential|TestDifferentialRegions|TestJobGraph|TestExplore|TestRegressions|Fuzz.*)$",
		"-rapid.shrinktime=3s", "-rapid.nofailfile"},
	{"./invariants/", "./fuzz/refmodel/", "./fuzz/corefuzz/"},
}

// suiteRun is the whole suite, goldens included: every package of every
// module of go.work (./... stays inside the root module) but this tool's own
// (its catalogue test would "catch" every mutant, since a mutated tree no
// longer matches the anchors).
var suiteRun = [][]string{{"-skip", "^TestCatalogueMatchesTree$", "./...", "./cmd/ckpt/...", "./driver/etcd/..."}}

// findRoot returns the module root: the flag, or the first directory upward
// with a go.mod.
func findRoot(flagRoot string) (string, error) {
	dir := flagRoot
	if dir == "" {
		var err error
		if dir, err = os.Getwd(); err != nil {
			return "", err
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// copyTree copies the repository's files to dst, leaving out version control,
// build outputs and failure files of earlier runs.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch rel {
			case ".git", "bin", filepath.Join("fuzz", "testdata", "rapid"), filepath.Join("fuzz", "testdata", "histories"):
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// runAll runs the mutants on jobs workers, each with its own copy of the tree.
func runAll(root string, ms []Mutant, jobs int, timeout time.Duration, keep bool, progress io.Writer) ([]Result, error) {
	if jobs < 1 {
		jobs = 1
	}
	jobs = min(jobs, len(ms))
	tmp, err := os.MkdirTemp("", "ckpt-mutants-")
	if err != nil {
		return nil, err
	}
	if keep {
		fmt.Fprintln(progress, "mutate: tree copies in", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	trees := make([]string, jobs)
	for w := range trees {
		trees[w] = filepath.Join(tmp, fmt.Sprintf("tree%d", w))
		if err := copyTree(root, trees[w]); err != nil {
			return nil, fmt.Errorf("copying the tree: %w", err)
		}
	}
	results := make([]Result, len(ms))
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	done, failed := 0, error(nil)
	for w := 0; w < jobs; w++ {
		wg.Add(1)
		go func(tree string) {
			defer wg.Done()
			for i := range next {
				r, err := runMutant(tree, ms[i], timeout)
				mu.Lock()
				done++
				if err != nil && failed == nil {
					failed = err
				}
				results[i] = r
				fmt.Fprintf(progress, "[%d/%d] %-36s %-9s %-28s %-24s %5.1fs (cpu %.1fs)\n", done, len(ms), r.Mutant.Name, r.Verdict,
					r.Test, r.Named, r.Elapsed.Seconds(), r.CPU.Seconds())
				mu.Unlock()
			}
		}(trees[w])
	}
	for i := range ms {
		next <- i
	}
	close(next)
	wg.Wait()
	return results, failed
}

// runMutant applies one mutant to a tree copy, runs the property layer and,
// if it passes, the whole suite, then restores the file.
func runMutant(tree string, m Mutant, timeout time.Duration) (Result, error) {
	start := time.Now()
	res := Result{Mutant: m, Verdict: Survived}
	path := filepath.Join(tree, filepath.FromSlash(m.File))
	orig, err := os.ReadFile(path)
	if err != nil {
		return res, err
	}
	mutated, err := m.Apply(orig)
	if err != nil {
		return res, err
	}
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		return res, err
	}
	defer os.WriteFile(path, orig, 0o644)
	for _, stage := range []struct {
		runs    [][]string
		verdict Verdict
	}{{propertyRun, KilledProperty}, {suiteRun, KilledSuite}} {
		for _, args := range stage.runs {
			limit := timeout
			if stage.verdict == KilledSuite {
				limit = 3 * timeout
			}
			out, timedOut, failed, cpu := goTest(tree, args, limit)
			res.CPU += cpu
			if buildFailed(out) {
				res.Test, res.Named, res.Elapsed = "BUILD FAILED", "-", time.Since(start)
				return res, fmt.Errorf("mutant %s (%s) does not build; fix the catalogue:\n%s", m.Name, m.File, trim(out, 40))
			}
			if failed && timedOut && stage.verdict == KilledSuite && !watchdogRE.MatchString(out) {
				// The whole suite ran out of time without the step watchdog
				// naming a stuck step: a slow machine, not a kill.
				res.Test, res.Named, res.Output = "suite timed out", "inconclusive", trim(out, 200)
				res.Elapsed = time.Since(start)
				return res, nil
			}
			if failed {
				res.Verdict, res.Timeout, res.Output = stage.verdict, timedOut, trim(out, 200)
				res.Test, res.Named = classify(out, timedOut)
				res.Elapsed = time.Since(start)
				return res, nil
			}
		}
	}
	res.Test, res.Named = "-", "-"
	res.Elapsed = time.Since(start)
	return res, nil
}

// goTest runs go test in the tree; it reports a timeout (the process group is
// killed) and whether the run failed.
func goTest(tree string, args []string, timeout time.Duration) (out string, timedOut, failed bool, cpu time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	// go test's own timeout fires first, so that the test binary prints which
	// test was running (and the harness's watchdog the history) before dying.
	testTimeout := timeout - timeout/8
	full := append([]string{"test", "-count=1", "-failfast", "-timeout=" + testTimeout.String()}, splitPkgs(args)...)
	cmd := exec.CommandContext(ctx, "go", full...)
	cmd.Dir = tree
	cmd.Env = append(os.Environ(), "CKPT_STEP_WATCHDOG=10s")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	if ps := cmd.ProcessState; ps != nil {
		cpu = ps.UserTime() + ps.SystemTime() // children included: go test waits for them
	}
	out = buf.String()
	timedOut = errors.Is(ctx.Err(), context.DeadlineExceeded) || strings.Contains(out, "panic: test timed out after") ||
		strings.Contains(out, "step watchdog:")
	return out, timedOut, err != nil, cpu
}

// splitPkgs puts go test's package arguments before the test binary's flags.
func splitPkgs(args []string) []string {
	var pkgs, flags []string
	for i := 0; i < len(args); i++ {
		switch {
		case args[i] == "-run" || args[i] == "-skip":
			flags = append(flags, args[i], args[i+1])
			i++
		case strings.HasPrefix(args[i], "-"):
			flags = append(flags, args[i])
		default:
			pkgs = append(pkgs, args[i])
		}
	}
	// Test-binary flags that go test does not know (rapid's) go after -args.
	var gt, bin []string
	for i := 0; i < len(flags); i++ {
		if strings.HasPrefix(flags[i], "-rapid.") {
			bin = append(bin, flags[i])
		} else {
			gt = append(gt, flags[i])
		}
	}
	out := append(gt, pkgs...)
	if len(bin) > 0 {
		out = append(append(out, "-args"), bin...)
	}
	return out
}

var (
	buildFailRE = regexp.MustCompile(`(?m)^(FAIL\s+\S+ \[build failed\]|# \S+\n.*\.go:\d+)`)
	failRE      = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)
	runningRE   = regexp.MustCompile(`(?m)running tests:\s*\n\s*(\S+)`)
	violatedRE  = regexp.MustCompile(`([A-Za-z][\w/-]*) violated:`)
	invariantRE = regexp.MustCompile(`\bI-[A-Z][A-Za-z]+`)
	ruleRE      = regexp.MustCompile(`\bR[1-6]?[0-9][a-f]?\b`)
	watchdogRE  = regexp.MustCompile(`step watchdog: .*history: (\S+)`)
)

func buildFailed(out string) bool { return buildFailRE.MatchString(out) }

// classify names the first failing test and what its failure names: a
// "NAME violated:" marker of the harness, else the first invariant, else the
// first rule number, else a panic.
func classify(out string, timedOut bool) (test, named string) {
	test = "-"
	if m := failRE.FindStringSubmatch(out); m != nil {
		test = m[1]
	}
	if timedOut {
		t := "timeout"
		if m := runningRE.FindStringSubmatch(out); m != nil {
			t = "timeout in " + m[1]
		}
		named = "step loops"
		if w := watchdogRE.FindStringSubmatch(out); w != nil {
			named = "step loops, history " + w[1]
		}
		return t, named
	}
	// Look from the first failure on: logs before it (effect messages) may cite rules.
	from := 0
	if loc := failRE.FindStringIndex(out); loc != nil {
		from = max(0, strings.LastIndex(out[:loc[0]], "=== RUN"))
	}
	rest := out[from:]
	switch {
	case violatedRE.MatchString(out):
		return test, violatedRE.FindStringSubmatch(out)[1]
	case invariantRE.MatchString(rest):
		return test, invariantRE.FindString(rest)
	case strings.Contains(out, "panic:"):
		return test, "panic"
	case strings.Contains(rest, "explain the change"):
		return test, "explorer pinned size"
	case ruleRE.MatchString(rest):
		return test, ruleRE.FindString(rest)
	}
	return test, "-"
}

func trim(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) <= lines {
		return s
	}
	return strings.Join(ls[:lines], "\n") + fmt.Sprintf("\n... (%d more lines)", len(ls)-lines)
}

// report prints the table and the summary; it returns false when a mutant
// not marked equivalent survived or one marked equivalent was killed.
func report(w io.Writer, rs []Result, elapsed time.Duration, jobs int) bool {
	fmt.Fprintf(w, "\n%-36s %-5s %-9s %-30s %s\n", "mutant", "rule", "caught by", "first failing test", "invariant/rule named")
	ok := true
	var nonEq, killed, byProperty, equivalent int
	var cpu time.Duration
	for _, r := range rs {
		cpu += r.CPU
		verdict := string(r.Verdict)
		if r.Timeout {
			verdict += "/timeout"
		}
		note := ""
		if r.Mutant.Equivalent != "" {
			equivalent++
			if r.Verdict == Survived {
				verdict = "equivalent"
				note = " (" + r.Mutant.Equivalent + ")"
			} else {
				ok = false
				note = " (marked equivalent but caught: remove the mark)"
			}
		} else {
			nonEq++
			switch r.Verdict {
			case KilledProperty:
				killed++
				byProperty++
			case KilledSuite:
				killed++
			case Survived:
				ok = false
			}
		}
		fmt.Fprintf(w, "%-36s %-5s %-9s %-30s %s%s\n", r.Mutant.Name, r.Mutant.Rule, verdict, r.Test, r.Named, note)
	}
	pct := func(a, b int) float64 {
		if b == 0 {
			return 100
		}
		return 100 * float64(a) / float64(b)
	}
	fmt.Fprintf(w, "\n%d mutants (%d marked equivalent): %d of %d non-equivalent killed (%.1f%%), %d by the property layer alone (%.1f%%); %v with %d workers, %v CPU\n",
		len(rs), equivalent, killed, nonEq, pct(killed, nonEq), byProperty, pct(byProperty, nonEq), elapsed.Round(time.Second), jobs,
		cpu.Round(time.Second))
	if !ok {
		fmt.Fprintln(w, "FAIL: a mutant survived that is not marked equivalent (or an equivalence mark is wrong)")
	}
	return ok
}
