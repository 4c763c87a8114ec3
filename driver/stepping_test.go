package driver

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
)

// TestRefusedEventIsSurfaced: an event the core refuses is reported to the
// caller and, as a warning, to the Executor (it may come from the effect
// worker's feedback or the timer, where no caller looks at the error).
func TestRefusedEventIsSurfaced(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(0))
	if err := h.d.Ack(1, fsm.TaskID(99)); err == nil {
		t.Fatal("an ack from a subtask the job does not have was accepted")
	}
	h.flush()
	h.exec.mu.Lock()
	defer h.exec.mu.Unlock()
	for _, w := range h.exec.warnings {
		if strings.HasPrefix(w, CodeEventRefused+": the core refused ack: ") {
			return
		}
	}
	t.Fatalf("no %s warning: %q", CodeEventRefused, h.exec.warnings)
}

// TestOnlyStepAtStepsTheCore: in the driver's sources, the running core is
// stepped only by stepAt, which records every event in the flight recorder
// before its effects are carried out. The other Step calls build or check a
// core before the loop runs: start (its start event is recorded there) and the
// flight-file continuation (continue.go), which replays an already recorded
// file (endOfFlight) and checks it against the store (reconcile).
func TestOnlyStepAtStepsTheCore(t *testing.T) {
	allowed := map[string]bool{"stepAt": true, "start": true, "endOfFlight": true, "reconcile": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || sel.Sel.Name != "Step" || len(call.Args) != 1 {
					return true
				}
				if !allowed[fn.Name.Name] {
					t.Errorf("%s: %s calls Step: step the core through stepAt, which records the event",
						fset.Position(call.Pos()), fn.Name.Name)
				}
				return true
			})
		}
	}
}
