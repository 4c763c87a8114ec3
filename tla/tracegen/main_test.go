package main

import (
	"path/filepath"
	"testing"

	"github.com/ckptcore/ckptcore/history"
)

// Biased walks reach what the policy rules are about: regional completions,
// forced checkpoints, tier-2 resets and recoveries with a nonzero counter; and
// every walk is a valid history the core replays with its invariants holding.
func TestBiasedCoverage(t *testing.T) {
	dir := t.TempDir()
	var cov coverage
	for seed := int64(1); seed <= 8; seed++ {
		path := filepath.Join(dir, "w.jsonl")
		w := walk{bias: true, record: seed%2 == 0}
		if err := w.generate(path, seed, 60, &cov); err != nil {
			t.Fatal(err)
		}
		h, err := history.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		res, err := history.Replay(h, history.Options{Check: true})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() {
			t.Fatalf("seed %d: violations %v, divergence %v", seed, res.Summary.Violations, res.Divergence)
		}
	}
	if cov.regional == 0 || cov.forced == 0 || cov.tier2 == 0 || cov.recoveriesNonzero == 0 {
		t.Fatalf("biased walks miss something: %v", cov)
	}
}
