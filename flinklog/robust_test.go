package flinklog

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// TestEveryPrefixImports cuts every fixture after each line and shuffles
// neighbouring lines: whatever part of a log a user has, the import must not
// panic, and what it produces must replay with every invariant held (or be
// refused for having no job). The what-if must hold its invariants too.
func TestEveryPrefixImports(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.log")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.SplitAfter(string(data), "\n")
		var variants []string
		for i := range lines {
			variants = append(variants, strings.Join(lines[:i+1], ""))
			swapped := append([]string(nil), lines...)
			if i+1 < len(swapped) {
				swapped[i], swapped[i+1] = swapped[i+1], swapped[i]
				variants = append(variants, strings.Join(swapped, ""))
			}
		}
		for _, v := range variants {
			checkRobust(t, f, []byte(v))
		}
	}
}

func checkRobust(t *testing.T, name string, data []byte) {
	t.Helper()
	for _, opt := range []Options{DefaultOptions(), {Tolerable: -1, Edges: EdgesForward}, {Tolerable: 0, NoPrior: true, TimeoutMs: 10}} {
		im, err := ImportLog(bytes.NewReader(data), name, opt)
		if err != nil {
			if !strings.Contains(err.Error(), "no job id") && !strings.Contains(err.Error(), "assume-regions") {
				t.Fatalf("%s: unexpected error %v", name, err)
			}
			continue
		}
		var buf bytes.Buffer
		if err := im.WriteHistory(&buf); err != nil {
			t.Fatalf("%s: write: %v", name, err)
		}
		h, err := history.Decode(&buf, name)
		if err != nil {
			t.Fatalf("%s: decode: %v\n%s", name, err, data)
		}
		res, err := history.Replay(h, history.Options{Check: true})
		if err != nil || len(res.Summary.Violations) > 0 || len(im.Violations) > 0 {
			t.Fatalf("%s: replay %v, violations %+v %q\n%s", name, err, res.Summary.Violations, im.Violations, data)
		}
		rep, err := WhatIf(im.WhatIfInput(), WhatIfOptions{MaxFailureRatio: 0.5, MaxConsecutive: 1})
		if err != nil || len(rep.Violations) > 0 {
			t.Fatalf("%s: what-if %v %q\n%s", name, err, rep.Violations, data)
		}
		var sink bytes.Buffer
		im.WriteReport(&sink)
		rep.WriteText(&sink)
	}
}

// FuzzImportLog looks for inputs that make the import panic or produce a
// history the core refuses or that breaks an invariant.
func FuzzImportLog(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.log")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("2021-08-18 18:28:40,502 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - Completed checkpoint 9 for job 1cba827ad8a8d68521605157b77a6191 (1 bytes in 1 ms).\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		checkRobust(t, "fuzz", data)
	})
}
