package refmodel

import (
	"sort"

	"github.com/ckptcore/ckptcore/fsm"
)

func (m *Model) failRegion(p *pending, r int, cause string) {
	if p.failed[r] {
		return
	}
	p.failed[r] = true
	p.failedNow = true
	if p.cause == "" {
		p.cause = cause
	}
	for t := range p.acked {
		if m.j.regionOf[t] == r {
			delete(p.acked, t) // R18, R19: the region's acks are dropped
		}
	}
}

// waiting reports whether p still needs an ack from subtask t.
func (m *Model) waiting(p *pending, t int) bool {
	return !p.persisting && p.triggered[t] && !p.acked[t] && !p.notNeeded[t] && !p.failed[m.j.regionOf[t]]
}

// ack is R16: a duplicate changes nothing; an ack nobody waits for carries
// state nobody will use, and the runtime is told to discard it.
func (m *Model) ack(id int64, t int) {
	p := m.find(id)
	if p != nil && p.acked[t] {
		return
	}
	if p == nil || !m.waiting(p, t) {
		m.emit(Effect{Type: EffDiscardLateState, Checkpoint: id, Task: t})
		return
	}
	p.acked[t] = true
}

func (m *Model) decline(id int64, t int, reason string) {
	if reason == "" {
		reason = "declined"
	}
	p := m.find(id)
	if p == nil || p.persisting {
		return
	}
	if !p.regionalPath {
		m.abort(p, reason) // R17
		return
	}
	m.failRegion(p, m.j.regionOf[t], reason) // R18
}

func (m *Model) expire(p *pending) {
	if !p.regionalPath {
		m.abort(p, "expired")
		return
	}
	for r := 0; r < m.j.regions; r++ {
		for t := range m.status {
			if m.j.regionOf[t] == r && m.waiting(p, t) {
				m.failRegion(p, r, "expired")
				break
			}
		}
	}
	m.settle()
}

func (m *Model) taskFailed(t int) {
	r := m.j.regionOf[t]
	m.status[t] = restarting
	for u, st := range m.status {
		if m.j.regionOf[u] == r && st == running {
			m.status[u] = restarting
		}
	}
	if m.jobStatus != "running" {
		return
	}
	m.holdSeal = true
	for _, p := range append([]*pending(nil), m.pending...) {
		if m.find(p.id) == nil {
			continue
		}
		switch {
		case p.persisting && p.refs[r] == p.id:
			// The region restarts from older state: the sealed checkpoint would hold
			// state of an incarnation that no longer exists (R19).
			m.abort(p, "region_failover")
		case p.persisting:
		case !p.regionalPath:
			m.abort(p, "region_failover") // R17
		default:
			// A failover is something happening to the checkpoint even when
			// its region had already failed for it: the gate is evaluated
			// again (docs/DECISIONS.md, gate timing).
			m.failRegion(p, r, "region_failover")
			p.failedNow = true
			m.settle()
		}
	}
	m.holdSeal = false
}

func (m *Model) taskFinished(t int) {
	if m.status[t] == finished {
		return
	}
	m.status[t] = finished
	if m.jobStatus != "running" {
		return
	}
	if m.regionalMode && m.j.source[t] {
		all := true
		for u, st := range m.status {
			if m.j.source[u] && st != finished {
				all = false
			}
		}
		if all {
			m.forceNext, m.forceFrom = true, m.nextID // R25: once all sources finished
		}
	}
	for _, p := range m.pending {
		p.notNeeded[t] = true
	}
	m.settle()
	for _, st := range m.status {
		if st != finished {
			return
		}
	}
	m.finishJob()
}

// missing reports whether p still waits for an ack.
func (m *Model) missing(p *pending) bool {
	for t := range m.status {
		if m.waiting(p, t) {
			return true
		}
	}
	return false
}

// ready reports whether p has every ack it needs; its deadline no longer
// applies (docs/DECISIONS.md: one checkpoint persists at a time, and a ready
// one waiting for the slot is treated as sealed for expiry).
func (m *Model) ready(p *pending) bool { return p.persisting || !m.missing(p) }

func (m *Model) persisting() bool {
	for _, p := range m.pending {
		if p.persisting {
			return true
		}
	}
	return false
}

// settle decides every pending checkpoint whose outcome is certain (R18):
// aborted when the regional gate refuses its failed regions, sealed for persist
// when no ack is missing and the persist slot is free (one checkpoint persists
// at a time, lowest ready id first: docs/DECISIONS.md, the spec is silent).
//
// When is R22 "no longer able to allow" a checkpoint? Gates b, d and e only
// move one way, but c (the counter) and f (the age of the latest completion's
// refs) can become passable again — a tier-2 reset or a global completion —
// so an abort when another checkpoint completes would not be certain. The model
// evaluates the gate at the moments the checkpoint's own outcome changes: when
// its failed set grows, when its last ack comes in, and when it gets the
// persist slot.
func (m *Model) settle() {
	for _, p := range append([]*pending(nil), m.pending...) {
		if m.find(p.id) == nil || p.persisting {
			continue
		}
		missing := m.missing(p)
		seal := !missing && !m.persisting() && m.jobStatus == "running" && !m.holdSeal
		recheck := p.failedNow || (!missing && !p.readySeen) || seal
		p.failedNow = false
		if !missing {
			p.readySeen = true
		}
		if recheck && p.regionalPath && len(p.failed) > 0 && !m.gate(p.id, p.forced, p.failed, p.active) {
			m.abort(p, p.cause)
			continue
		}
		if seal {
			m.seal(p)
		}
	}
}

// seal starts persisting: refs resolved against the latest completed
// checkpoint (R21), the coordinators of the failed regions asked to fall back
// first (R23), metadata count (R21, R25).
func (m *Model) seal(p *pending) {
	p.persisting = true
	p.refs = make([]int64, m.j.regions)
	l := m.latest()
	regional := false
	for r := range p.refs {
		p.refs[r] = p.id
		if p.failed[r] {
			p.refs[r] = l.refs[r]
			regional = true
		}
	}
	switch {
	case regional:
		p.metaCount = m.consecutive + 1
	case p.kind == fsm.KindCheckpoint:
		p.metaCount = 0
	default:
		p.metaCount = m.consecutive
	}
	// R23: one coordinator_fallback per vertex with a coordinator and a subtask
	// in a failed region, naming those regions' references.
	for v, c := range m.j.coordinator {
		if c == fsm.CoordinatorNone {
			continue
		}
		var refs []Ref
		for r := 0; r < m.j.regions; r++ {
			if !p.failed[r] {
				continue
			}
			for t := range m.status {
				if m.j.vertexOf[t] == v && m.j.regionOf[t] == r {
					refs = append(refs, Ref{r, p.refs[r]})
					break
				}
			}
		}
		if len(refs) > 0 {
			m.emit(Effect{Type: EffCoordinatorFallback, Checkpoint: p.id, Vertex: v, Refs: refs})
		}
	}
	m.emit(Effect{Type: EffPersist, Checkpoint: p.id, Kind: p.kind.String(), Mode: modeOf(p.refs, p.id),
		Refs: olderRefs(p.refs, p.id), Consecutive: p.metaCount})
}

func olderRefs(refs []int64, id int64) []Ref {
	var out []Ref
	for r, c := range refs {
		if c != id {
			out = append(out, Ref{r, c})
		}
	}
	return out
}

func modeOf(refs []int64, id int64) string {
	if len(olderRefs(refs, id)) > 0 {
		return "regional"
	}
	return "global"
}

// complete is R23–R26 and R40 for a persisted checkpoint.
func (m *Model) complete(p *pending) {
	regional := len(olderRefs(p.refs, p.id)) > 0
	m.emit(Effect{Type: EffCompleted, Checkpoint: p.id, Kind: p.kind.String(), Mode: modeOf(p.refs, p.id),
		Refs: olderRefs(p.refs, p.id), Consecutive: p.metaCount})
	if p.kind != fsm.KindSavepoint {
		// Flink stores a checkpoint before it drops the ones it subsumes, so
		// their abort notices name it as the latest completed.
		if p.kind == fsm.KindCheckpoint {
			m.completing = p.id
		}
		for _, q := range append([]*pending(nil), m.pending...) {
			if q.id < p.id && q.kind == fsm.KindCheckpoint && m.find(q.id) != nil {
				m.abort(q, "subsumed")
			}
		}
		m.completing = 0
	}
	m.remove(p)
	if p.id > m.lastSucceeded {
		m.lastSucceeded = p.id
		m.failures, m.countedIDs = 0, map[int64]bool{}
	}
	m.hasLastComplete, m.lastComplete = true, m.now
	if p.kind != fsm.KindSavepoint {
		m.notifyComplete(p) // Flink notifies checkpoints and synchronous savepoints
	}
	if p.kind == fsm.KindCheckpoint {
		if regional {
			// R25 as amended: the count its metadata records, one more than the
			// counter when its persist began; a tier-2 reset while it persisted
			// does not lower it (docs/DECISIONS.md#reset-while-persisting).
			m.consecutive = p.metaCount
		} else {
			m.consecutive = 0
		}
		if p.id >= m.forceFrom {
			m.forceNext = false // R25: only a checkpoint triggered after the sources finished
		}
		for r, c := range p.refs {
			if c != p.id {
				m.skipped = append(m.skipped, skipNotice{p.id, r})
			}
		}
		m.store = append(m.store, &stored{id: p.id, refs: p.refs, metaCount: p.metaCount, retained: true, owned: true})
		n := 0
		for i := len(m.store) - 1; i >= 0; i-- {
			if m.store[i].retained {
				n++
				if n > m.cfg.Retained {
					m.store[i].retained = false
				}
			}
		}
		m.retain()
		m.warnings(p)
	}
	if p.kind == fsm.KindStopWithSavepoint {
		m.finishJob()
	}
}

// notifyComplete is R26: the subtasks whose ack the checkpoint kept and that
// still run, and for each older referenced id every subtask of the regions
// that use it.
func (m *Model) notifyComplete(p *pending) {
	tasks := m.tasksOf(p.acked, func(t int) bool { return m.status[t] == running })
	var ids []int64
	for _, c := range p.refs {
		if c != p.id && !contains(ids, c) {
			ids = append(ids, c)
		}
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	var info []Group
	for _, c := range ids {
		var ts []int
		for t := range m.status {
			if p.refs[m.j.regionOf[t]] == c {
				ts = append(ts, t)
			}
		}
		info = append(info, Group{c, ts})
	}
	m.emit(Effect{Type: EffNotifyComplete, Checkpoint: p.id, Tasks: tasks, RegionalInfo: info})
}

// warnings are §11's drift warning and R41's no_claim warnings after a
// checkpoint completed.
func (m *Model) warnings(p *pending) {
	for _, c := range p.refs {
		if p.id-c > int64(m.cfg.Regional.MaxConsecutive)+1 {
			m.emit(Effect{Type: EffWarn, Checkpoint: p.id, Code: fsm.WarnRefDrift})
			break
		}
	}
	if !m.noClaim || m.noClaimReleased {
		return
	}
	older := olderRefs(p.refs, p.id)
	if len(older) == 0 {
		m.noClaimReleased = true
		if m.noClaimWarned {
			m.emit(Effect{Type: EffWarn, Checkpoint: p.id, Code: fsm.WarnNoClaimReleased})
		}
		return
	}
	for _, r := range older {
		if r.Checkpoint <= m.restoredID {
			m.noClaimWarned = true
			m.emit(Effect{Type: EffWarn, Checkpoint: p.id, Code: fsm.WarnNoClaimReferenced})
			return
		}
	}
}

// retain discards, in id order, what is neither retained nor referenced by a
// retained or persisting checkpoint (R40); a no_claim snapshot is dropped
// without a discard (R41).
func (m *Model) retain() {
	var kept []*stored
	for _, c := range m.store {
		used := c.retained
		for _, o := range m.store {
			if o.retained && contains(o.refs, c.id) {
				used = true
			}
		}
		for _, p := range m.pending {
			if p.persisting && contains(p.refs, c.id) {
				used = true
			}
		}
		if used {
			kept = append(kept, c)
		} else if c.owned {
			m.emit(Effect{Type: EffDiscard, Checkpoint: c.id})
		}
	}
	m.store = kept
}

// countedReasons is R30's table, written here from the spec.
var countedReasons = map[string]bool{"declined": true, "async_exception": true, "expired": true, "finalize_failed": true}

// counted is R30 plus Flink's savepoint rule: a savepoint's job-level failures
// (expired, finalize_failed) never count; a stop-with-savepoint fails the job
// instead of counting.
func (m *Model) counted(p *pending, reason string) bool {
	if !countedReasons[reason] {
		return false
	}
	if p.kind == fsm.KindStopWithSavepoint ||
		(p.kind == fsm.KindSavepoint && (reason == "expired" || reason == "finalize_failed")) {
		return false
	}
	return p.id > m.lastSucceeded && !m.countedIDs[p.id]
}

func (m *Model) latestID() int64 {
	if m.completing != 0 {
		return m.completing
	}
	if l := m.latest(); l != nil {
		return l.id
	}
	return 0
}

func (m *Model) abort(p *pending, reason string) {
	m.remove(p)
	counted := m.counted(p, reason)
	if counted {
		m.countedIDs[p.id] = true
		m.failures++
	}
	m.emit(Effect{Type: EffAbort, Checkpoint: p.id, Reason: reason, Counted: counted})
	// R50: no notifications after a coordinator failover; the job's end takes
	// the tasks away; a stop-with-savepoint's aborts reach running tasks (R24).
	if reason != "recovered" && m.jobStatus == "running" {
		m.emit(Effect{Type: EffNotifyAborted, Checkpoint: p.id, LatestCompleted: m.latestID(),
			Tasks: m.tasksOf(p.triggered, func(t int) bool { return m.status[t] == running })})
	}
	if p.forced {
		m.consecutive = 0 // R25 tier 2
		if p.id >= m.forceFrom {
			m.forceNext = false
		}
	}
	m.retain()
	if m.jobStatus != "running" {
		return
	}
	switch {
	case p.kind == fsm.KindStopWithSavepoint && reason != "recovered":
		m.failJob("stop_with_savepoint_failed") // R24
	case counted && m.failures > m.cfg.TolerableFailures:
		m.failures, m.countedIDs = 0, map[int64]bool{}
		m.failJob("tolerable_failures_exceeded") // R30
	}
}

func (m *Model) failJob(reason string) {
	m.jobStatus = "failed"
	m.emit(Effect{Type: EffFailJob, Reason: reason})
	m.endCoordinator("coordinator_suspend")
}

func (m *Model) finishJob() {
	if m.jobStatus != "running" {
		return
	}
	m.jobStatus = "finished"
	m.emit(Effect{Type: EffFinishJob})
	m.endCoordinator("coordinator_shutdown")
}

func (m *Model) endCoordinator(reason string) {
	for len(m.pending) > 0 {
		m.abort(m.pending[0], reason)
	}
	m.queued, m.periodicQueued = 0, false
}

// recover is R50.
func (m *Model) recover() {
	m.holdSeal = true
	for len(m.pending) > 0 {
		m.abort(m.pending[0], "recovered")
	}
	m.holdSeal = false
	m.queued, m.periodicQueued = 0, false
	m.failures, m.countedIDs, m.lastSucceeded = 0, map[int64]bool{}, 0
	m.hasLastComplete = false
	m.skipped = nil
	for _, p := range m.patches {
		m.emit(Effect{Type: EffConfigRejected, Request: p.request})
	}
	m.patches = nil
	m.lastRequest = 0 // request ids are not durable (R50)
	m.consecutive = 0
	if l := m.latest(); l != nil {
		m.consecutive = l.metaCount // R50: read back from the metadata
	}
	if m.jobStatus == "finished" {
		return
	}
	for t, st := range m.status {
		if st == restarting {
			m.status[t] = running
		}
	}
	m.jobStatus = "running"
	allSources := true
	for t, st := range m.status {
		if m.j.source[t] && st != finished {
			allSources = false
		}
	}
	m.forceNext, m.forceFrom = m.regionalMode && allSources, m.nextID
	m.periodicOn = false
	if p := m.period(); p > 0 {
		m.periodicOn, m.periodicDue = true, m.now+p
	}
}
