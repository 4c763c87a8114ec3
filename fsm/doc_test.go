package fsm

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestRuleIndexIsCurrent: every "file.go (func, …)" of the rule index in doc.go
// names a function or method that file declares, so the index cannot go stale.
func TestRuleIndexIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	ref := regexp.MustCompile(`(\w+\.go) \(([^)]*)\)`)
	refs := ref.FindAllStringSubmatch(string(doc), -1)
	if len(refs) < 30 {
		t.Fatalf("only %d file references in doc.go's index", len(refs))
	}
	declared := map[string]map[string]bool{}
	for _, m := range refs {
		file := m[1]
		if declared[file] == nil {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatalf("doc.go names %s: %v", file, err)
			}
			declared[file] = map[string]bool{}
			for _, d := range f.Decls {
				if fn, ok := d.(*ast.FuncDecl); ok {
					declared[file][fn.Name.Name] = true
				}
			}
		}
		for _, name := range strings.Split(m[2], ",") {
			name = strings.TrimSpace(name)
			if strings.Contains(name, " ") || name == "" {
				continue // prose, such as "DAG, O(V+E+subtasks)"
			}
			if !declared[file][name] {
				t.Errorf("doc.go's index names %s in %s, which does not declare it", name, file)
			}
		}
	}
}
