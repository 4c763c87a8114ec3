package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCatalogueMatchesTree keeps the catalogue in step with fsm/: every anchor
// occurs exactly once in its file and every mutated file still parses. When
// fsm/ changes under a mutant, this fails naming the mutant and the file.
func TestCatalogueMatchesTree(t *testing.T) {
	root, err := findRoot("../..")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkCatalogue(Catalogue(), root); err != nil {
		t.Fatal(err)
	}
}

// TestCatalogueCoversEveryFamily: at least 40 mutants, at least one per rule
// family of issue 12, and the CI subset covers every family too.
func TestCatalogueCoversEveryFamily(t *testing.T) {
	cat := Catalogue()
	if len(cat) < 40 {
		t.Fatalf("%d mutants, want at least 40", len(cat))
	}
	names := map[string]bool{}
	for _, m := range cat {
		names[m.Name] = true
	}
	for n := range ciSubset {
		if !names[n] {
			t.Errorf("the CI subset names %s, which is not in the catalogue", n)
		}
	}
	all, ci := map[string]int{}, map[string]int{}
	for _, m := range cat {
		all[family(m.Rule)]++
		if m.CI {
			ci[family(m.Rule)]++
		}
		if m.Equivalent != "" && m.CI {
			t.Errorf("mutant %s: an equivalent mutant proves nothing in CI", m.Name)
		}
	}
	for _, f := range Families {
		if all[f] == 0 || ci[f] == 0 {
			t.Errorf("family %s: %d mutants, %d in the CI subset; want at least one of each", f, all[f], ci[f])
		}
	}
}

// TestAnchorErrorsNameMutantAndFile: a stale or ambiguous anchor fails loudly.
func TestAnchorErrorsNameMutantAndFile(t *testing.T) {
	m := Mutant{Name: "x-demo", Rule: "R10", File: "fsm/step.go", Old: "a < b", New: "a <= b"}
	if _, err := m.Apply([]byte("no such code")); err == nil || !strings.Contains(err.Error(), "x-demo") ||
		!strings.Contains(err.Error(), "fsm/step.go") || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing anchor: %v", err)
	}
	if _, err := m.Apply([]byte("a < b; a < b")); err == nil || !strings.Contains(err.Error(), "2 times") {
		t.Fatalf("ambiguous anchor: %v", err)
	}
	out, err := m.Apply([]byte("if a < b {}"))
	if err != nil || !bytes.Equal(out, []byte("if a <= b {}")) {
		t.Fatalf("apply: %q, %v", out, err)
	}
}

// TestClassifyNamesWhatBroke reads the failure of each kind of test.
func TestClassifyNamesWhatBroke(t *testing.T) {
	cases := []struct {
		out, test, named string
		timedOut         bool
	}{
		{"=== RUN TestCore\n    core_test.go:40: [rapid] failed: I-TierTwoReset violated: after ...\n--- FAIL: TestCore (1.2s)\n", "TestCore", "I-TierTwoReset", false},
		{"--- FAIL: TestExplore/global-2x1 (0.1s)\n    explore_test.go:37: I-NoLeak after 7 events: ...\n", "TestExplore/global-2x1", "I-NoLeak", false},
		{"--- FAIL: TestDifferential (0.3s)\n  differential/R26 violated: notify_aborted differs\n", "TestDifferential", "differential/R26", false},
		{"panic: test timed out after 3m30s\n\trunning tests:\n\t\tTestCore (3m30s)\n", "timeout in TestCore", "step loops", true},
		{"--- FAIL: TestGolden/x (0.0s)\n  line 7: effects differ (R24)\n", "TestGolden/x", "R24", false},
	}
	for _, c := range cases {
		test, named := classify(c.out, c.timedOut)
		if test != c.test || named != c.named {
			t.Errorf("classify(%q) = %q, %q; want %q, %q", c.out, test, named, c.test, c.named)
		}
	}
}

func TestSplitPkgsPutsRapidFlagsLast(t *testing.T) {
	got := strings.Join(splitPkgs(propertyRun[0]), " ")
	if !strings.HasPrefix(got, "-run ") || !strings.Contains(got, " ./fuzz/ -args -rapid.shrinktime=") {
		t.Fatalf("go test arguments %q", got)
	}
}
