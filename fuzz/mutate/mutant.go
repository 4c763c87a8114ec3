package main

import (
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

// Mutant is one small, plausible bug: an exact source rewrite of one snippet
// of one file. The anchor (Old) must occur exactly once in the file, so that a
// catalogue that no longer matches the code fails loudly instead of silently
// testing nothing.
type Mutant struct {
	Name string // unique, kebab-case, starting with the rule family
	Rule string // the rule of docs/spec/SEMANTICS.md the rewrite breaks, e.g. "R25"
	File string // slash path from the repository root
	Old  string // the exact snippet replaced (anchor)
	New  string // its replacement
	// Equivalent, when set, says why no test can tell the mutant from the
	// original: a survivor is then expected, and a kill means the claim is wrong.
	Equivalent string
	// CI puts the mutant in the subset `make mutants` runs (`make mutants-all`
	// runs every one).
	CI bool
}

// AnchorError is a catalogue entry that no longer matches the source.
type AnchorError struct {
	Mutant, File string
	Count        int
}

func (e *AnchorError) Error() string {
	if e.Count == 0 {
		return fmt.Sprintf("mutant %s: anchor not found in %s: update the catalogue (fuzz/mutate/catalogue.go) to the current code", e.Mutant, e.File)
	}
	return fmt.Sprintf("mutant %s: anchor found %d times in %s: make it longer so that it is unique", e.Mutant, e.Count, e.File)
}

// Apply returns the file's source with the mutant's rewrite applied.
func (m Mutant) Apply(src []byte) ([]byte, error) {
	s := string(src)
	if n := strings.Count(s, m.Old); n != 1 {
		return nil, &AnchorError{m.Name, m.File, n}
	}
	return []byte(strings.Replace(s, m.Old, m.New, 1)), nil
}

// Check applies the mutant to the file under root and parses the result: the
// anchor must be unique and the mutated file must still be Go.
func (m Mutant) Check(root string) error {
	if m.Name == "" || m.Rule == "" || m.File == "" || m.Old == "" || m.Old == m.New {
		return fmt.Errorf("mutant %q: name, rule, file and a real rewrite are required", m.Name)
	}
	path := filepath.Join(root, filepath.FromSlash(m.File))
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("mutant %s: %v", m.Name, err)
	}
	out, err := m.Apply(src)
	if err != nil {
		return err
	}
	if _, err := parser.ParseFile(token.NewFileSet(), path, out, parser.SkipObjectResolution); err != nil {
		return fmt.Errorf("mutant %s: the rewrite of %s does not parse: %v", m.Name, m.File, err)
	}
	return nil
}

// family is the rule family a mutant's rule belongs to (issue 12's grouping),
// so that the catalogue can be checked to cover each.
func family(rule string) string {
	var n int
	if _, err := fmt.Sscanf(strings.TrimPrefix(rule, "R"), "%d", &n); err != nil {
		return ""
	}
	switch {
	case n >= 1 && n <= 4:
		return "R1-R4 job graph and regions"
	case n >= 10 && n <= 15:
		return "R10-R15 time, decider, ids"
	case n >= 16 && n <= 19:
		return "R16-R19 acks, declines, failures"
	case n >= 20 && n <= 26:
		return "R20-R26 completion, gate, notify, counter"
	case n == 30:
		return "R30 failure accounting"
	case n >= 40 && n <= 41:
		return "R40-R41 retention and restore"
	case n == 50:
		return "R50 recovery"
	case n >= 60 && n <= 63:
		return "R60-R63 dynamic configuration"
	}
	return ""
}

// Families lists every rule family the catalogue must cover.
var Families = []string{"R1-R4 job graph and regions", "R10-R15 time, decider, ids", "R16-R19 acks, declines, failures",
	"R20-R26 completion, gate, notify, counter", "R30 failure accounting", "R40-R41 retention and restore",
	"R50 recovery", "R60-R63 dynamic configuration"}
