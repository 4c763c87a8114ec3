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

func simGrid(t *testing.T, dir string, extra ...string) {
	t.Helper()
	args := append([]string{"sim", "--out", dir, "--regions", "1,10,40", "-p", "0.001,0.02", "--checkpoints", "20"}, extra...)
	if code, _, errOut := ckpt(t, "", args...); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSimOutputs: the three files are well formed and have one entry per run.
func TestSimOutputs(t *testing.T) {
	dir := t.TempDir()
	doc := "# Results\n\n<!-- ckptexp:table:begin -->\nOLD BLOCK\n<!-- ckptexp:table:end -->\n\nprose\n"
	if err := os.WriteFile(filepath.Join(dir, docFile), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	simGrid(t, dir)

	rows, err := csv.NewReader(bytes.NewReader(readFile(t, filepath.Join(dir, csvFile)))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+3*2*2 {
		t.Fatalf("%d CSV rows, want a header and 12 runs", len(rows))
	}
	table := string(readFile(t, filepath.Join(dir, tableFile)))
	if n := strings.Count(table, "\n| "); n != 1+3*2 {
		t.Fatalf("%d table rows, want a header and 6 (regions, p) rows:\n%s", n, table)
	}
	dec := xml.NewDecoder(bytes.NewReader(readFile(t, filepath.Join(dir, svgFile))))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
	}
	got := string(readFile(t, filepath.Join(dir, docFile)))
	if strings.Contains(got, "OLD BLOCK") || !strings.Contains(got, table) || !strings.HasSuffix(got, "\n\nprose\n") {
		t.Fatalf("the document's generated block was not replaced by the table:\n%s", got)
	}
}

// TestSimReproducible: the outputs depend on the flags only, not on the number of
// workers or the scheduling.
func TestSimReproducible(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	simGrid(t, a, "--workers", "1")
	simGrid(t, b, "--workers", "3")
	for _, f := range []string{tableFile, csvFile, svgFile} {
		if !bytes.Equal(readFile(t, filepath.Join(a, f)), readFile(t, filepath.Join(b, f))) {
			t.Errorf("%s differs between 1 and 3 workers", f)
		}
	}
}

func TestSimBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--regions", "0"}, {"-p", "2"}, {"--checkpoints", "0"}, {"extra"}, {"-quick"}} {
		if code, _, errOut := ckpt(t, "", append([]string{"sim", "--out", t.TempDir()}, args...)...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, want 2 with a reason", args, code)
		}
	}
}
