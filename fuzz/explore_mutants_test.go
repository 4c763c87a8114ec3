package fuzz

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
	"github.com/ckptcore/ckptcore/invariants"
)

// explorerMutants are, for each rule family issue 17 names, a mutant of the
// mutation catalogue (fuzz/mutate/catalogue.go) that the explorer alone must
// find, and the invariants or rules it may name.
var explorerMutants = []struct {
	name string
	want []string
}{
	{"r24-stop-with-savepoint-keeps-job", []string{RuleStopWithSavepoint}},
	{"r12-savepoint-waits-for-slot", []string{RuleRequestAnswered}},
	{"r25-sources-finished-not-forced", []string{RuleSourcesForce}},
	{"r41-no-claim-discarded", []string{invariants.RetentionSafety}},
	{"r61-no-redeadline", []string{invariants.ConfigAtomic}},
}

// TestExplorerFindsMutants applies each mutant to a copy of the module, runs
// only the explorer there (TestExploreMutantInner: every CI model, first
// violation, minimized), and checks the counterexample: it names the rule,
// it replays to the same failure on the mutant (ReplayChecked, and `ckpt
// replay` for §10 invariants and R24's claim), and the unmutated core passes
// it. Each mutant costs a build of the copy: CI runs the first one; `make
// explore-mutants` (CKPT_EXPLORE_MUTANTS=all) runs all.
func TestExplorerFindsMutants(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a mutated copy of the module")
	}
	muts := explorerMutants[:1]
	if os.Getenv("CKPT_EXPLORE_MUTANTS") == "all" {
		muts = explorerMutants
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, mu := range muts {
		t.Run(mu.name, func(t *testing.T) {
			file, old, repl := catalogueMutant(t, filepath.Join(root, "fuzz", "mutate", "catalogue.go"), mu.name)
			tree := filepath.Join(t.TempDir(), "tree")
			if err := os.CopyFS(tree, os.DirFS(root)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(tree, filepath.FromSlash(file))
			src, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(src, []byte(old)); n != 1 {
				t.Fatalf("mutant %s: anchor found %d times in %s", mu.name, n, file)
			}
			if err := os.WriteFile(path, bytes.Replace(src, []byte(old), []byte(repl), 1), 0o644); err != nil {
				t.Fatal(err)
			}
			cxDir := t.TempDir()
			cmd := exec.Command("go", "test", "-count=1", "-run", "^TestExploreMutantInner$", "-v", "./fuzz/")
			cmd.Dir = tree
			cmd.Env = append(os.Environ(), "CKPT_EXPLORE_CX_DIR="+cxDir)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("the explorer run on the mutant failed: %v\n%s", err, out)
			}
			found := map[string]string{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				if f := strings.Fields(sc.Text()); len(f) >= 4 && f[0] == "FOUND" {
					found["name"], found["file"], found["replay"] = f[1], f[2], f[3]
				}
			}
			if found["name"] == "" {
				t.Fatalf("the explorer did not find mutant %s\n%s", mu.name, out)
			}
			if !slices.Contains(mu.want, found["name"]) {
				t.Fatalf("mutant %s found as %s, want one of %v", mu.name, found["name"], mu.want)
			}
			if (slices.Contains(invariants.All, found["name"]) || found["name"] == RuleStopWithSavepoint) && found["replay"] != "replay-fails" {
				t.Errorf("ckpt replay does not reproduce the counterexample on the mutant (%s)", found["replay"])
			}
			h, err := history.ReadFile(found["file"])
			if err != nil {
				t.Fatal(err)
			}
			if cx, err := ReplayChecked(h); err != nil || cx != nil {
				t.Fatalf("the unmutated core fails the counterexample too: %v %+v", err, cx)
			}
			if res, err := history.Replay(h, history.Options{Check: true}); err != nil || !res.OK() {
				t.Fatalf("ckpt replay fails the counterexample on the unmutated core: %v", err)
			}
			t.Logf("%s: found as %s with a %d-event minimized counterexample", mu.name, found["name"], len(h.Records))
		})
	}
}

// TestExploreMutantInner is the explorer run inside a mutated copy (see
// TestExplorerFindsMutants): it explores the CI models until a violation,
// writes the minimized counterexample, replays it, and prints
// "FOUND name file replay-fails|replay-passes".
func TestExploreMutantInner(t *testing.T) {
	dir := os.Getenv("CKPT_EXPLORE_CX_DIR")
	if dir == "" {
		t.Skip("run by TestExplorerFindsMutants")
	}
	for _, m := range Models(TierCI) {
		res := Explore(m, Options{Ignore: ignoreKnownIssues, Symmetry: true, Minimize: true})
		cx := res.Violation
		if cx == nil {
			continue
		}
		var buf bytes.Buffer
		if err := cx.WriteHistory(&buf); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, m.Name+".jsonl")
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := history.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ReplayChecked(h)
		if err != nil || again == nil || again.Invariant != cx.Invariant {
			t.Fatalf("the counterexample does not replay to %s: %v %+v", cx.Invariant, err, again)
		}
		replay := "replay-passes"
		if res, err := history.Replay(h, history.Options{Check: true}); err == nil && !res.OK() {
			replay = "replay-fails"
		}
		fmt.Printf("%s\nFOUND %s %s %s\n", buf.String(), cx.Invariant, path, replay)
		return
	}
	fmt.Println("NONE")
}

// catalogueMutant reads one mutant's file, anchor and replacement from the
// mutation catalogue's source (a composite literal with Name: name).
func catalogueMutant(t *testing.T, catalogue, name string) (file, old, repl string) {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), catalogue, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]string
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok || fields != nil {
			return fields == nil
		}
		kv := map[string]string{}
		for _, e := range lit.Elts {
			p, ok := e.(*ast.KeyValueExpr)
			if !ok {
				continue
			}
			k, _ := p.Key.(*ast.Ident)
			v, _ := p.Value.(*ast.BasicLit)
			if k != nil && v != nil && v.Kind == token.STRING {
				if s, err := strconv.Unquote(v.Value); err == nil {
					kv[k.Name] = s
				}
			}
		}
		if kv["Name"] == name {
			fields = kv
		}
		return fields == nil
	})
	if fields == nil {
		t.Fatalf("mutant %s is not in %s", name, catalogue)
	}
	return fields["File"], fields["Old"], fields["New"]
}
