//go:build ckpt_mutants

package main

import (
	"fmt"
	"slices"

	"github.com/ckptcore/ckptcore/fsm"
)

// enableMutant switches on a known bug of the core (fsm/mutants_on.go), so that
// tla/run.sh can show that trace validation rejects what the buggy core decides.
func enableMutant(name string) error {
	if name == "" {
		return nil
	}
	if !slices.Contains(fsm.Mutants, name) {
		return fmt.Errorf("unknown mutant %q (want one of %v)", name, fsm.Mutants)
	}
	fsm.EnableMutant(name)
	return nil
}
