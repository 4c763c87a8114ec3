package fuzz

import (
	"encoding/binary"
	"fmt"

	"github.com/ckptcore/ckptcore/fsm"
	"github.com/ckptcore/ckptcore/invariants"
)

// Rule properties the explorer checks after every step besides the §10
// invariants (invariants.Checker) and the time rules (invariants.Timing):
// rules that SEMANTICS states as properties of one step but that no §10
// invariant implies, so that a core that breaks them is caught by the
// explorer alone. Each violation is named by its rule.
const (
	// RuleRequestAnswered (R12): a savepoint request never waits, and a
	// checkpoint request that finds a free slot never waits either (min_pause
	// is for periodic requests only): the step that makes the request
	// triggers it or says why not (trigger / trigger_failed).
	RuleRequestAnswered = "R12"
	// RuleStopWithSavepoint (R24): a completed stop-with-savepoint finishes the
	// job; one that fails (ends any other way than by recover) fails it: the
	// job never runs on after it.
	RuleStopWithSavepoint = "R24"
	// RuleSourcesForce (R25): once all sources have finished, the first
	// checkpoint triggered after that (in regional mode) is forced global.
	RuleSourcesForce = "R25"
)

// ruleChecker checks the rule properties. Its only memory is whether a
// checkpoint has been triggered since all sources finished.
type ruleChecker struct {
	cfg fsm.Config
	// awaitForced: all sources have finished and no checkpoint was triggered
	// since (or since the last recover, which restarts the forcing: R50 reads
	// the counter back, R25 forces again).
	awaitForced bool
}

func (r *ruleChecker) appendKey(b []byte) []byte {
	return binary.AppendUvarint(b, uint64(boolByte(r.awaitForced)))
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// before is what the rule checks need of the state before a step.
type before struct {
	job         fsm.JobStatus
	pending     []pendingKind
	sourcesDone bool
}

type pendingKind struct {
	id   int64
	kind fsm.Kind
}

func snapshotBefore(s *fsm.State) before {
	return snapshotBeforeInto(s, nil)
}

// snapshotBeforeInto is snapshotBefore with the pending list appended to buf.
func snapshotBeforeInto(s *fsm.State, buf []pendingKind) before {
	b := before{job: s.Job(), sourcesDone: allSourcesDone(s), pending: buf}
	s.EachPending(func(p fsm.PendingInfo) bool {
		b.pending = append(b.pending, pendingKind{p.ID, p.Kind})
		return true
	})
	return b
}

func (b *before) kindOf(id int64) (fsm.Kind, bool) {
	for _, p := range b.pending {
		if p.id == id {
			return p.kind, true
		}
	}
	return 0, false
}

// step checks one accepted step.
func (r *ruleChecker) step(ev fsm.Event, effs []fsm.Effect, s *fsm.State, b *before) []invariants.Violation {
	var out []invariants.Violation
	fail := func(rule, format string, args ...any) {
		out = append(out, invariants.Violation{Invariant: rule, Detail: fmt.Sprintf(format, args...)})
	}
	if ev.Type == fsm.EvTrigger && b.job == fsm.JobRunning {
		free := ev.Kind.IsSavepoint() || len(b.pending) < r.cfg.MaxConcurrent
		answered := false
		for _, e := range effs {
			if (e.Type == fsm.EffTrigger || e.Type == fsm.EffTriggerFailed) && e.Kind == ev.Kind {
				answered = true
			}
		}
		if free && !answered {
			fail(RuleRequestAnswered, "a %s request with %d of max_concurrent %d pending was neither triggered nor refused",
				ev.Kind, len(b.pending), r.cfg.MaxConcurrent)
		}
	}
	for _, e := range effs {
		switch e.Type {
		case fsm.EffCompleted:
			if e.Kind == fsm.KindStopWithSavepoint && s.Job() != fsm.JobFinished {
				fail(RuleStopWithSavepoint, "stop-with-savepoint %d completed but the job is %s", e.Checkpoint, s.Job())
			}
		case fsm.EffAbort:
			if k, ok := b.kindOf(e.Checkpoint); ok && k == fsm.KindStopWithSavepoint && e.Reason != fsm.ReasonRecovered &&
				s.Job() == fsm.JobRunning {
				fail(RuleStopWithSavepoint, "stop-with-savepoint %d aborted (%s) but the job is %s", e.Checkpoint, e.Reason, s.Job())
			}
		case fsm.EffTrigger:
			if e.Kind != fsm.KindCheckpoint {
				continue
			}
			if r.awaitForced && s.RegionalMode() && !e.ForcedGlobal {
				fail(RuleSourcesForce, "checkpoint %d is the first triggered after all sources finished but is not forced global",
					e.Checkpoint)
			}
			r.awaitForced = false
		}
	}
	// The forcing starts with the step that finishes the last source, or
	// again with a recover (R50 then forces anew); a checkpoint triggered in
	// that same step is not judged.
	done := allSourcesDone(s)
	switch {
	case !done:
		r.awaitForced = false
	case !b.sourcesDone || ev.Type == fsm.EvRecover:
		r.awaitForced = !triggeredCheckpoint(effs)
	}
	return out
}

func allSourcesDone(s *fsm.State) bool {
	for _, id := range s.Topology().Sources() {
		if !s.TaskFinished(id) {
			return false
		}
	}
	return true
}

func triggeredCheckpoint(effs []fsm.Effect) bool {
	for _, e := range effs {
		if e.Type == fsm.EffTrigger && e.Kind == fsm.KindCheckpoint {
			return true
		}
	}
	return false
}
