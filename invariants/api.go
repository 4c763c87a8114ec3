package invariants

import (
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
)

// Invariant names, exactly as in SEMANTICS §10.
const (
	RegionConsistency = "I-RegionConsistency"
	NoOrphanState     = "I-NoOrphanState"
	ConsecutiveBound  = "I-ConsecutiveBound"
	TierTwoReset      = "I-TierTwoReset"
	RetentionSafety   = "I-RetentionSafety"
	NoLeak            = "I-NoLeak"
	NotifySafety      = "I-NotifySafety"
	SavepointGlobal   = "I-SavepointGlobal"
	MonotonicIds      = "I-MonotonicIds"
	FailureAccounting = "I-FailureAccounting"
	ConfigAtomic      = "I-ConfigAtomic"
	DurableOverrides  = "I-DurableOverrides"
)

// All lists every invariant name in the order of SEMANTICS §10.
var All = []string{RegionConsistency, NoOrphanState, ConsecutiveBound, TierTwoReset, RetentionSafety,
	NoLeak, NotifySafety, SavepointGlobal, MonotonicIds, FailureAccounting, ConfigAtomic, DurableOverrides}

// Violation is one broken invariant after one step.
type Violation struct {
	Invariant string // one of the names above
	Detail    string
}

func (v Violation) Error() string { return v.Invariant + ": " + v.Detail }

func (c *Checker) fail(name, format string, args ...any) {
	c.out = append(c.out, Violation{name, fmt.Sprintf(format, args...)})
}

// refOf is the checkpoint whose state region r uses, given the regions that
// use older state (R21): the checker's own reading, not fsm's lookup.
func refOf(refs []fsm.RegionRef, self int64, r int) int64 {
	for _, ref := range refs {
		if ref.Region == r {
			return ref.Checkpoint
		}
	}
	return self
}

// isSavepoint: savepoints and stop-with-savepoint (R24).
func isSavepoint(k fsm.Kind) bool { return k == fsm.KindSavepoint || k == fsm.KindStopWithSavepoint }
