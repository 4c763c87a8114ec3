//go:build ckpt_mutants

package fsm

// Mutant names: known bugs the verification harness must catch (issue 5).
const (
	MutantNoTierTwoReset    = "no_tier2_reset"     // a failed forced-global checkpoint leaves the counter (R25)
	MutantKeepFailedAcks    = "keep_failed_acks"   // a failed region's acks are kept (R18, R19)
	MutantDiscardReferenced = "discard_referenced" // retention ignores references (R40)
	MutantNoRedeadline      = "no_redeadline"      // a new timeout leaves pending deadlines (R61)
)

// Mutants lists every mutant name.
var Mutants = []string{MutantNoTierTwoReset, MutantKeepFailedAcks, MutantDiscardReferenced, MutantNoRedeadline}

var enabledMutants = map[string]bool{}

// EnableMutant turns a known bug on (only in ckpt_mutants builds).
func EnableMutant(name string) { enabledMutants[name] = true }

// DisableMutants turns every injected bug off.
func DisableMutants() { clear(enabledMutants) }

func mutant(name string) bool { return enabledMutants[name] }
