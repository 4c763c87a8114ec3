package main

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runGrid(t *testing.T, dir string, extra ...string) {
	t.Helper()
	args := append([]string{"-out", dir, "-regions", "1,10,40", "-p", "0.001,0.02", "-checkpoints", "20"}, extra...)
	if err := mainErr(args, io.Discard); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOutputs: the three files are well formed and have one entry per run.
func TestOutputs(t *testing.T) {
	dir := t.TempDir()
	doc := "# Results\n\n<!-- ckptexp:table:begin -->\nOLD BLOCK\n<!-- ckptexp:table:end -->\n\nprose\n"
	if err := os.WriteFile(filepath.Join(dir, docFile), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	runGrid(t, dir)

	rows, err := csv.NewReader(bytes.NewReader(read(t, filepath.Join(dir, csvFile)))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+3*2*2 {
		t.Fatalf("%d CSV rows, want a header and 12 runs", len(rows))
	}
	table := string(read(t, filepath.Join(dir, tableFile)))
	if n := strings.Count(table, "\n| "); n != 1+3*2 {
		t.Fatalf("%d table rows, want a header and 6 (regions, p) rows:\n%s", n, table)
	}
	dec := xml.NewDecoder(bytes.NewReader(read(t, filepath.Join(dir, svgFile))))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
	}
	got := string(read(t, filepath.Join(dir, docFile)))
	if strings.Contains(got, "OLD BLOCK") || !strings.Contains(got, table) || !strings.HasSuffix(got, "\n\nprose\n") {
		t.Fatalf("the document's generated block was not replaced by the table:\n%s", got)
	}
}

// TestReproducible: the outputs depend on the flags only, not on the number of
// workers or the scheduling.
func TestReproducible(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	runGrid(t, a, "-workers", "1")
	runGrid(t, b, "-workers", "3")
	for _, f := range []string{tableFile, csvFile, svgFile} {
		if !bytes.Equal(read(t, filepath.Join(a, f)), read(t, filepath.Join(b, f))) {
			t.Errorf("%s differs between 1 and 3 workers", f)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-regions", "0"}, {"-p", "2"}, {"-checkpoints", "0"}, {"extra"}} {
		if err := mainErr(append([]string{"-out", t.TempDir()}, args...), io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
