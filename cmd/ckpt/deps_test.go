package main

import (
	"os/exec"
	"strings"
	"testing"
)

// goCommand is the go command that runs the test: go test puts its own first
// on PATH.
func goCommand(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("no go command on PATH: %v", err)
	}
	return path
}

// TestBinaryLinksNoTestSupport: `go install ./cmd/ckpt` builds from the
// modules alone, so the binary's import graph must hold no test-only module
// (rapid, go-cmp, kin-openapi, chromedp) and no checker of the driver's
// clients (porcupine, which lives in driver/linearizability for the driver's
// tests).
func TestBinaryLinksNoTestSupport(t *testing.T) {
	out, err := exec.Command(goCommand(t), "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list -deps gave %d packages: %q", len(deps), deps)
	}
	for _, d := range deps {
		for _, banned := range []string{"porcupine", "pgregory.net/rapid", "github.com/google/go-cmp", "/linearizability", "getkin/kin-openapi", "chromedp", "testing"} {
			if strings.Contains(d, banned) {
				t.Errorf("ckpt links %s", d)
			}
		}
	}
}

// TestNoticeNamesEveryLinkedModule: NOTICE lists, with its licence, every
// module the binary links, so that whoever redistributes it knows what it
// carries; a new dependency fails here until it is listed.
func TestNoticeNamesEveryLinkedModule(t *testing.T) {
	out, err := exec.Command(goCommand(t), "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	notice := fixture(t, "../../NOTICE")
	for _, mod := range strings.Fields(string(out)) {
		if !strings.HasPrefix(mod, "github.com/ckptcore/ckptcore") && !strings.Contains(notice, "  "+mod+" ") {
			t.Errorf("NOTICE does not list %s, which ckpt links", mod)
		}
	}
}
