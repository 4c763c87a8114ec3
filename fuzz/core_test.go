package fuzz

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"pgregory.net/rapid"
)

// TestCore is the rapid state-machine property: drawn jobs and configurations,
// every event type valid and invalid, every invariant checked after each step.
func TestCore(t *testing.T) {
	runProperty(t, machineOptions{})
}

// runProperty runs the property under rapid.Check. When it fails, the minimal
// failing run is also written as a history next to rapid's fail file
// (testdata/rapid/<Test>/<same name>.jsonl), so that `replay FILE` reproduces it
// without rapid.
func runProperty(t *testing.T, opt machineOptions) {
	rec := &recorder{}
	t.Cleanup(func() {
		if !t.Failed() || rec.last == nil {
			return
		}
		path, err := writeFailure(t.Name(), rec.last)
		if err != nil {
			t.Logf("writing the failing history: %v", err)
			return
		}
		t.Logf("failing history (%s): %s\n\treplay it with: go run ./cmd/ckpt replay %s", rec.last.invariant, path,
			filepath.Join("fuzz", path))
	})
	rapid.Check(t, property(opt, rec))
}

// writeFailure writes the history beside the newest rapid fail file of the
// test, with the same base name; without one (-rapid.nofailfile) it makes up a
// name of the same shape.
func writeFailure(test string, f *failure) (string, error) {
	dir := filepath.Join("testdata", "rapid", safeName(test))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	fails, _ := filepath.Glob(filepath.Join(dir, "*.fail"))
	var base string
	if len(fails) > 0 {
		sort.Slice(fails, func(a, b int) bool {
			ia, _ := os.Stat(fails[a])
			ib, _ := os.Stat(fails[b])
			return ia.ModTime().Before(ib.ModTime())
		})
		base = strings.TrimSuffix(filepath.Base(fails[len(fails)-1]), ".fail")
	} else {
		base = fmt.Sprintf("%s-%s-%d", safeName(test), time.Now().Format("20060102150405"), os.Getpid())
	}
	path := filepath.Join(dir, base+".jsonl")
	return path, os.WriteFile(path, f.history, 0o644)
}

// safeName is rapid's rule for turning a test name into a file name.
func safeName(name string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, name)
}
