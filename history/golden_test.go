package history_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ckptcore/ckptcore/history"
)

// rewrite regenerates the .golden files instead of comparing with them:
//
//	go test ./history -run TestGolden -rewrite
//
// Review every rewritten file by hand (git diff) before committing it: a golden
// file accepts whatever the core does, right or wrong.
var rewrite = flag.Bool("rewrite", false, "regenerate history/testdata/golden/*/*.golden from the replays")

// goldenGlob finds the golden histories: one folder per source of scenarios
// (flink/ for ports of Flink's own tests, regional/ for FLIP-600, …).
const goldenGlob = "testdata/golden/*/*.jsonl"

// goldenRun is one replayed golden history.
type goldenRun struct {
	path   string // testdata/golden/<set>/<name>.jsonl
	name   string // <set>/<name>, the subtest name
	result *history.Result
	output []byte // the trace followed by the summary JSON: the .golden content
}

// goldenTimeout bounds one golden replay. It is no speed target (each takes
// milliseconds) but a guard: a step that never terminates (issue 12) must fail
// the run at once, naming the history, instead of hanging the test binary.
const goldenTimeout = 30 * time.Second

// replayGolden replays one golden history with every invariant checked and
// renders what the .golden file holds: the readable trace, then the summary.
// A history under testdata/golden/invalid/ must be refused: its .golden file
// holds the error, which names the line and the rule.
func replayGolden(t *testing.T, path string) goldenRun {
	t.Helper()
	type outcome struct {
		run goldenRun
		err string
	}
	done := make(chan outcome, 1)
	go func() {
		run, err := replayGoldenFile(path)
		done <- outcome{run, err}
	}()
	select {
	case o := <-done:
		if o.err != "" {
			t.Fatal(o.err)
		}
		return o.run
	case <-time.After(goldenTimeout):
		t.Fatalf("%s: the replay did not finish within %v: a step that does not terminate?", path, goldenTimeout)
		return goldenRun{}
	}
}

func replayGoldenFile(path string) (goldenRun, string) {
	run := goldenRun{path: path, name: goldenName(path)}
	h, err := history.ReadFile(path)
	if strings.HasPrefix(run.name, "invalid/") {
		if err == nil {
			return run, path + ": an invalid history was accepted"
		}
		run.output = []byte("refused: " + err.Error() + "\n")
		return run, ""
	}
	if err != nil {
		return run, fmt.Sprintf("decode: %v", err)
	}
	var out bytes.Buffer
	res, err := history.Replay(h, history.Options{Check: true, Trace: &out})
	if err != nil {
		return run, fmt.Sprintf("replay: %v", err)
	}
	out.Write(res.Summary.Encode())
	if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
		out.WriteByte('\n')
	}
	run.result, run.output = res, out.Bytes()
	return run, ""
}

func (r goldenRun) violations() []history.Violation {
	if r.result == nil {
		return nil
	}
	return r.result.Summary.Violations
}

func (r goldenRun) divergence() *history.Divergence {
	if r.result == nil {
		return nil
	}
	return r.result.Divergence
}

// goldenName is a golden history's subtest name: <set>/<name>.
func goldenName(path string) string {
	return strings.TrimSuffix(strings.TrimPrefix(filepath.ToSlash(path), "testdata/golden/"), ".jsonl")
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	paths, err := filepath.Glob(goldenGlob)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no golden histories match %s", goldenGlob)
	}
	return paths
}

// TestGolden replays every golden history: each must replay without error and
// without an invariant violation or a divergence from recorded effects, and its
// trace and summary must equal the sibling .golden file.
func TestGolden(t *testing.T) {
	for _, path := range goldenFiles(t) {
		t.Run(goldenName(path), func(t *testing.T) {
			run := replayGolden(t, path)
			for _, v := range run.violations() {
				t.Errorf("%s:%d: %s after %s: %s", path, v.Line, v.Invariant, v.Event, v.Detail)
			}
			if d := run.divergence(); d != nil {
				t.Errorf("recorded effects diverge: %v", d)
			}
			golden := strings.TrimSuffix(path, ".jsonl") + ".golden"
			if *rewrite {
				if err := os.WriteFile(golden, run.output, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -rewrite to create it, then review it)", err)
			}
			if !bytes.Equal(want, run.output) {
				t.Errorf("%s differs from the replay (run with -rewrite to update, then review the diff):\n%s",
					golden, lineDiff(string(want), string(run.output)))
			}
		})
	}
}

// TestGoldenOrphans catches a .golden file whose history was renamed or removed.
func TestGoldenOrphans(t *testing.T) {
	goldens, err := filepath.Glob("testdata/golden/*/*.golden")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range goldens {
		if _, err := os.Stat(strings.TrimSuffix(g, ".golden") + ".jsonl"); err != nil {
			t.Errorf("%s has no history beside it", g)
		}
	}
}

// lineDiff shows the first differing lines with a little context, enough to
// read why a golden comparison failed without a diff tool.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	from := max(0, i-3)
	for k := from; k < i; k++ {
		b.WriteString("  " + w[k] + "\n")
	}
	for k := i; k < min(len(w), i+5); k++ {
		b.WriteString("- " + w[k] + "\n")
	}
	for k := i; k < min(len(g), i+5); k++ {
		b.WriteString("+ " + g[k] + "\n")
	}
	return b.String()
}
