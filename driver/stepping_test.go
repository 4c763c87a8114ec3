package driver

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/history"
)

// TestRefusedEventIsSurfaced: an event the core refuses is not lost although
// its submitter got no answer (Ack does not wait for the core): Options.OnRefused
// gets it with the core's *fsm.EventError, the Executor a warning (events of
// the effect worker's feedback or the timer have no caller either), the
// flight file a comment line — and it still replays — and Status a count.
func TestRefusedEventIsSurfaced(t *testing.T) {
	h := openHarness(t, t.TempDir(), testConfig(0))
	if err := h.d.Ack(1, fsm.TaskID(99)); err != nil {
		t.Fatalf("Ack returned %v; it does not wait for the core", err)
	}
	h.flush()
	r := h.exec.refused()
	var ee *fsm.EventError
	if len(r) != 1 || r[0].ev.Type != fsm.EvAck || r[0].ev.Task != 99 || !errors.As(r[0].err, &ee) {
		t.Fatalf("OnRefused calls %+v, want the ack from subtask 99 with an *fsm.EventError", r)
	}
	if n := h.status().RefusedEvents; n != 1 {
		t.Fatalf("Status.RefusedEvents %d, want 1", n)
	}
	h.exec.mu.Lock()
	warned := slices.ContainsFunc(h.exec.warnings, func(w string) bool {
		return strings.HasPrefix(w, CodeEventRefused+": the core refused ack: ")
	})
	h.exec.mu.Unlock()
	if !warned {
		t.Fatalf("no %s warning: %q", CodeEventRefused, h.exec.warnings)
	}
	h.d.Close()
	flight, err := os.ReadFile(h.d.FlightFile())
	if err != nil || !strings.Contains(string(flight), "\n// refused @") {
		t.Fatalf("no comment line for the refused ack in the flight file (%v):\n%s", err, flight)
	}
	if _, err := history.ReadFile(h.d.FlightFile()); err != nil {
		t.Fatal(err)
	}
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
