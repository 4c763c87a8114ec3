package fsm

import (
	"encoding/binary"
	"math"
)

// Snapshots: the whole state of a running core as bytes (issue 13: rotating
// flight files mid-run). Unlike Durable, which is what survives a failover,
// a snapshot holds everything that affects the core's future — pending
// checkpoints with their ack sets and sizes, unconfirmed patches, the failure
// counter and its counted ids, the decider's queue and timers, the last
// completion time, the subtask statuses — so that DecodeSnapshot(AppendSnapshot(s))
// accepts and refuses the same events as s and answers each with the same
// effects. It leaves out only the shared Topology (the decoder takes it), the
// effect buffer, and counters derived from other fields (regionalMode from the
// topology and configuration; running, regionDown, regionUnfinished,
// regionsDown, unfinished and sourcesUnfinished from the subtask statuses; a
// pending checkpoint's waitingCount, failedCount and noFallback from its sets),
// which the decoder recomputes. fsm/snapshot_test.go proves by reflection that
// every other field is encoded and read back.
//
// The layout is its own (not AppendKey's, which serves equality and may
// change with the explorer): a magic and version, then varints in field order.

// snapshotMagic starts every snapshot; its last byte is the layout version.
const snapshotMagic = "ckptsnap\x01"

// AppendSnapshot appends the state's snapshot to b.
func (s *State) AppendSnapshot(b []byte) []byte {
	b = append(b, snapshotMagic...)
	c := &s.cfg.Config
	for _, v := range [...]int64{c.IntervalMs, c.TimeoutMs, c.MinPauseMs, int64(c.MaxConcurrent),
		int64(c.TolerableFailures), int64(c.Retained), int64(c.Regional.MaxConsecutive), c.Regional.MaxRefAge, c.MaxTimeoutMs} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, math.Float64bits(c.Regional.MaxFailureRatio))
	b = append(b, snapBool(c.Regional.Enabled))
	// The job's shape, so that a snapshot read against another job is refused.
	b = binary.AppendUvarint(b, uint64(len(s.status)))
	b = binary.AppendUvarint(b, uint64(s.topo.NumRegions()))

	b = append(b, byte(s.job))
	b = snapString(b, string(s.failReason))
	b = binary.AppendVarint(b, s.now)
	for _, st := range s.status {
		b = append(b, byte(st))
	}
	b = binary.AppendVarint(b, s.nextID)
	b = binary.AppendVarint(b, s.completing)
	b = binary.AppendUvarint(b, uint64(len(s.pending)))
	for i := range s.pending {
		b = s.pending[i].appendSnapshot(b)
	}

	b = append(b, snapBool(s.periodicOn), snapBool(s.periodicQueued), snapBool(s.hasLastComplete))
	b = binary.AppendVarint(b, s.periodicDue)
	b = binary.AppendVarint(b, s.lastComplete)
	b = binary.AppendVarint(b, int64(s.queuedManual))

	b = binary.AppendVarint(b, int64(s.failures))
	b = binary.AppendUvarint(b, uint64(len(s.countedIDs)))
	for _, id := range s.countedIDs {
		b = binary.AppendVarint(b, id)
	}
	b = binary.AppendVarint(b, s.lastSucceeded)

	b = binary.AppendVarint(b, int64(s.consecutive))
	b = append(b, snapBool(s.forceNext))
	b = binary.AppendVarint(b, s.forceFrom)

	b = binary.AppendUvarint(b, uint64(len(s.known)))
	for i := range s.known {
		k := &s.known[i]
		b = binary.AppendVarint(b, k.id)
		b = snapRefs(b, k.refs)
		b = append(b, byte(k.mode), snapBool(k.retained), snapBool(k.owned), snapBool(k.restored))
		b = binary.AppendVarint(b, int64(k.consecutive))
	}
	b = binary.AppendVarint(b, s.restoredID)
	b = append(b, snapBool(s.noClaim), snapBool(s.noClaimWarned), snapBool(s.noClaimReleased))
	b = binary.AppendUvarint(b, uint64(len(s.skipped)))
	for _, n := range s.skipped {
		b = binary.AppendVarint(b, n.checkpoint)
		b = binary.AppendVarint(b, int64(n.region))
	}

	b = append(b, snapBool(s.ovActive))
	b = binary.AppendVarint(b, s.ovInterval)
	b = binary.AppendVarint(b, s.ovTimeout)
	b = binary.AppendVarint(b, s.lastRequest)
	b = binary.AppendUvarint(b, uint64(len(s.patches)))
	for _, p := range s.patches {
		b = binary.AppendVarint(b, p.request)
		b = binary.AppendVarint(b, p.intervalMs)
		b = binary.AppendVarint(b, p.timeoutMs)
	}
	return b
}

func (p *pendingCheckpoint) appendSnapshot(b []byte) []byte {
	b = binary.AppendVarint(b, p.id)
	b = append(b, byte(p.kind), snapBool(p.forced), snapBool(p.regionalPath), snapBool(p.persisting), byte(p.mode))
	b = binary.AppendVarint(b, p.triggerAt)
	b = binary.AppendVarint(b, p.deadline)
	for _, set := range [...][]uint64{p.triggered, p.waiting, p.acked, p.failed} {
		for _, w := range set {
			b = binary.AppendUvarint(b, w)
		}
	}
	b = binary.AppendVarint(b, int64(p.activeRegions))
	b = snapString(b, string(p.firstCause))
	b = binary.AppendVarint(b, p.stateSize)
	b = binary.AppendVarint(b, p.checkpointedSize)
	b = append(b, snapBool(p.regionSizes != nil))
	for _, r := range p.regionSizes {
		b = binary.AppendVarint(b, r.state)
		b = binary.AppendVarint(b, r.checkpointed)
	}
	b = snapRefs(b, p.refs)
	return binary.AppendVarint(b, int64(p.consecutive))
}

func snapRefs(b []byte, refs []RegionRef) []byte {
	b = binary.AppendUvarint(b, uint64(len(refs)))
	for _, r := range refs {
		b = binary.AppendVarint(b, int64(r.Region))
		b = binary.AppendVarint(b, r.Checkpoint)
	}
	return b
}

func snapString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func snapBool(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// Views that a checker adopting a snapshot needs (invariants Checker.Adopt):
// the history before the snapshot is gone, so it takes them from the state.

// FailureAccounting returns the failure manager's counted checkpoint ids
// since the last success and that success's id (R30).
func (s *State) FailureAccounting() (counted []int64, lastSucceeded int64) {
	return append([]int64(nil), s.countedIDs...), s.lastSucceeded
}

// SourcesForceFrom returns, while all sources have finished and checkpoints
// are forced global (AllSourcesForcing), the first id allocated after they
// finished: only it or a later one ends the forcing (R25); else 0.
func (s *State) SourcesForceFrom() int64 { return s.forceFrom }
