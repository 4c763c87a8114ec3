package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ckpt runs the command line with stdin as standard input and returns its exit
// status and output streams.
func ckpt(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	return ckptApp(t, nil, stdin, args...)
}

// ckptApp is ckpt with the app adjusted by edit first (nil: as main builds it).
func ckptApp(t *testing.T, edit func(*app), stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	a := newApp(strings.NewReader(stdin), &out, &errOut)
	if edit != nil {
		edit(a)
	}
	code := a.run(context.Background(), args)
	return code, out.String(), errOut.String()
}

// writeTemp writes text to a new file name in a temporary directory.
func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fixture reads a file of the repository (relative to this package).
func fixture(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// flinkLog is a JobManager log of the importer's fixtures.
func flinkLog(name string) string { return filepath.Join("..", "..", "flinklog", "testdata", name) }
