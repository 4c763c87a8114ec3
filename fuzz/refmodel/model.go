// Package refmodel is a deliberately naive reference model of the observable
// outcomes of SEMANTICS.md, written from the spec without looking at how fsm
// implements them (as etcd-raft's quorum/quick_test.go checks its majority
// config against a brute-force one). It favours obviousness over speed: sets are
// maps, lists are rescanned, every decision is re-derived from the rules.
//
// Scope. The model covers jobs with interval_ms = 0, i.e. no periodic requests:
// time matters only through checkpoint deadlines (R10, R17, R18, R61). Within
// that scope it implements start with or without a restore (R41), manual
// triggers of every kind with the decider's max_concurrent queue (R12, R13,
// R14), acks, declines and task failures in global mode (R17) and regional mode
// (R18, R19, R22 a–f, evaluated when a checkpoint's failed regions grow, when
// its last ack is in and when it gets the persist slot: see settle),
// completion and subsumption (R20, R21, R23, R24), the two-tier counter (R25),
// failure accounting (R30), retention and discards (R40, R41), coordinator
// recovery (R50) and timeout patches (R60, R61, R63). A patch that would set a
// positive interval makes Step return ErrUnsupported.
//
// Where the spec is silent the model takes the reading of docs/DECISIONS.md,
// stated at the place it matters: one checkpoint persists at a time, lowest
// ready id first, and a ready checkpoint no longer expires; a request to a
// failed job fails with coordinator_suspend, to a finished one with
// coordinator_shutdown; a patch leaves out fields at the last accepted patch's
// values and a confirmation applies every earlier patch.
//
// The model takes fsm's input data types (events, job spec, config) and nothing
// else of fsm: no topology, no reason table, no state.
package refmodel

import (
	"errors"
	"fmt"
	"sort"

	"github.com/ckptcore/ckptcore/fsm"
)

// ErrUnsupported is returned for inputs outside the model's scope.
var ErrUnsupported = errors.New("refmodel: outside the model's scope")

// Triggered is a checkpoint that got an id.
type Triggered struct {
	ID     int64
	Kind   fsm.Kind
	Forced bool
}

// Completed is a completion: every region's referenced checkpoint.
type Completed struct {
	ID       int64
	Kind     fsm.Kind
	Regional bool
	Refs     []int64 // per region
}

// Aborted is a triggered checkpoint that ended without completing.
type Aborted struct {
	ID      int64
	Reason  string
	Counted bool
}

// Outcome is what one step decided, in the order the model decided it.
type Outcome struct {
	Triggered      []Triggered
	TriggerFailed  []string // reasons of requests that got no id
	Completed      []Completed
	Aborted        []Aborted
	Discarded      []int64
	PatchesApplied []int64 // request ids acknowledged (R63)
	PatchesRefused []int64 // request ids rejected or lost
}

type taskState int

const (
	running taskState = iota
	restarting
	finished
)

type pending struct {
	id           int64
	kind         fsm.Kind
	forced       bool
	regionalPath bool
	triggerAt    int64
	deadline     int64
	triggered    map[int]bool // subtasks
	acked        map[int]bool
	notNeeded    map[int]bool // finished after the trigger (R20: only unfinished subtasks ack)
	failed       map[int]bool // regions (R18)
	failedNow    bool         // a region failed since the gate was last evaluated
	readySeen    bool         // the gate was evaluated when its last ack came in
	cause        string
	active       int // regions with an unfinished subtask at trigger (R22b)
	persisting   bool
	refs         []int64 // per region, set when persisting
	metaCount    int     // consecutive count written in the metadata (R21)
}

type stored struct {
	id        int64
	refs      []int64 // per region
	metaCount int
	retained  bool
	owned     bool
}

type patch struct {
	request, interval, timeout int64
}

// Options selects readings where the model would knowingly follow the core
// instead of SEMANTICS.md, so that one known, reported deviation does not mask
// every later difference of a run. There are none at present.
type Options struct{}

// Model is the reference state machine.
type Model struct {
	j   *job
	cfg fsm.Config
	opt Options

	started, regionalMode bool
	jobStatus             string // running, failed, finished
	now                   int64
	status                []taskState

	nextID  int64
	pending []*pending // ascending id
	queued  int        // manual checkpoint requests waiting for a slot (R12)

	failures      int
	countedIDs    map[int64]bool
	lastSucceeded int64

	consecutive int
	forceNext   bool

	store []*stored // completed checkpoints still known, ascending id

	// holdSeal keeps the persist slot while one task failure is applied to
	// every pending checkpoint (R18 fails the region for all of them at once).
	holdSeal bool

	interval, timeout int64 // in force
	overrides         bool
	patches           []patch

	out Outcome
}

// New returns the model of a job that has not started.
func New(spec fsm.JobSpec, cfg fsm.Config, opt Options) (*Model, error) {
	if cfg.IntervalMs != 0 {
		return nil, fmt.Errorf("%w: interval_ms = %d", ErrUnsupported, cfg.IntervalMs)
	}
	j := newJob(spec)
	return &Model{j: j, cfg: cfg, opt: opt, regionalMode: j.regionalOK && cfg.Regional.Enabled,
		jobStatus: "created", status: make([]taskState, j.tasks()), nextID: 1,
		countedIDs: map[int64]bool{}, interval: cfg.IntervalMs, timeout: cfg.TimeoutMs}, nil
}

// Step applies one event the core accepted and returns what it decided.
func (m *Model) Step(ev fsm.Event) (Outcome, error) {
	m.out = Outcome{}
	if ev.Type == fsm.EvConfigPatch && ev.HasInterval && ev.IntervalMs >= 10 {
		return m.out, fmt.Errorf("%w: a patch to interval_ms %d", ErrUnsupported, ev.IntervalMs)
	}
	if ev.Type == fsm.EvStart {
		m.start(ev)
		return m.out, nil
	}
	// R10: everything due at or before the event happens first, at its own time,
	// deadlines in (time, id) order.
	for {
		p := m.nextExpiry(ev.At)
		if p == nil {
			break
		}
		m.now = p.deadline
		m.expire(p)
		m.runQueue()
	}
	m.now = ev.At
	switch ev.Type {
	case fsm.EvTrigger:
		m.request(ev.Kind)
	case fsm.EvAck:
		m.ack(ev.Checkpoint, int(ev.Task))
	case fsm.EvDecline:
		m.decline(ev.Checkpoint, int(ev.Task), string(ev.Reason))
	case fsm.EvTaskFailed:
		m.taskFailed(int(ev.Task))
	case fsm.EvTaskRunning:
		m.status[ev.Task] = running
	case fsm.EvTaskFinished:
		m.taskFinished(int(ev.Task))
	case fsm.EvPersisted:
		if p := m.find(ev.Checkpoint); p != nil && p.persisting {
			m.complete(p)
		}
	case fsm.EvPersistFailed:
		if p := m.find(ev.Checkpoint); p != nil && p.persisting {
			m.abort(p, "finalize_failed") // R23: counted
		}
	case fsm.EvConfigPatch:
		m.configPatch(ev)
	case fsm.EvConfigPersisted:
		m.configPersisted(ev.Request)
	case fsm.EvRecover:
		m.recover()
	}
	m.settle()
	m.runQueue()
	return m.out, nil
}

func (m *Model) start(ev fsm.Event) {
	m.started, m.jobStatus, m.now = true, "running", ev.At
	if r := ev.Restore; r != nil {
		owned := r.Mode == fsm.Claim
		refs := make([]int64, m.j.regions)
		for i := range refs {
			refs[i] = r.Checkpoint
		}
		for _, ref := range r.Refs {
			refs[ref.Region] = ref.Checkpoint
		}
		var older []int64
		for _, id := range refs {
			if id != r.Checkpoint && !contains(older, id) {
				older = append(older, id)
			}
		}
		sort.Slice(older, func(a, b int) bool { return older[a] < older[b] })
		for _, id := range older {
			m.store = append(m.store, &stored{id: id, refs: nil, owned: owned})
		}
		m.store = append(m.store, &stored{id: r.Checkpoint, refs: refs, retained: true, owned: owned})
		m.nextID = r.Checkpoint + 1
		m.lastSucceeded = r.Checkpoint
	}
}

func contains(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (m *Model) find(id int64) *pending {
	for _, p := range m.pending {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (m *Model) nextExpiry(t int64) *pending {
	var best *pending
	for _, p := range m.pending {
		if m.ready(p) || p.deadline > t {
			continue
		}
		if best == nil || p.deadline < best.deadline {
			best = p // pending is in id order, so ties keep the lower id
		}
	}
	return best
}

// request is a manual request entering the decider (R12): savepoints go at
// once, checkpoints wait for a free slot.
func (m *Model) request(kind fsm.Kind) {
	if m.jobStatus != "running" {
		// A failed job's coordinator is suspended, a finished one's shut down
		// (Flink's CHECKPOINT_COORDINATOR_SUSPEND / _SHUTDOWN).
		reason := "coordinator_shutdown"
		if m.jobStatus == "failed" {
			reason = "coordinator_suspend"
		}
		m.out.TriggerFailed = append(m.out.TriggerFailed, reason)
		return
	}
	if kind == fsm.KindCheckpoint && len(m.pending) >= m.cfg.MaxConcurrent {
		if m.queued >= 1000 {
			m.out.TriggerFailed = append(m.out.TriggerFailed, "too_many_requests")
			return
		}
		m.queued++
		return
	}
	m.trigger(kind)
}

func (m *Model) runQueue() {
	for m.jobStatus == "running" && m.queued > 0 && len(m.pending) < m.cfg.MaxConcurrent {
		m.queued--
		m.trigger(fsm.KindCheckpoint)
	}
}

// downRegions are regions with a subtask that is neither running nor finished.
func (m *Model) downRegions() map[int]bool {
	down := map[int]bool{}
	for t, st := range m.status {
		if st == restarting {
			down[m.j.regionOf[t]] = true
		}
	}
	return down
}

func (m *Model) activeRegions() int {
	active := map[int]bool{}
	for t, st := range m.status {
		if st != finished {
			active[m.j.regionOf[t]] = true
		}
	}
	return len(active)
}

// trigger is R13–R15.
func (m *Model) trigger(kind fsm.Kind) {
	forced := kind == fsm.KindCheckpoint && m.regionalMode &&
		(m.consecutive >= m.cfg.Regional.MaxConsecutive || m.forceNext)
	regionalPath := m.regionalMode && kind == fsm.KindCheckpoint && !forced
	down := m.downRegions()
	active := m.activeRegions()
	if len(down) > 0 && (!regionalPath || !m.gate(m.nextID, false, down, active)) {
		m.out.TriggerFailed = append(m.out.TriggerFailed, "not_all_running")
		return
	}
	p := &pending{id: m.nextID, kind: kind, forced: forced, regionalPath: regionalPath,
		triggerAt: m.now, deadline: m.now + m.timeout, triggered: map[int]bool{}, acked: map[int]bool{},
		notNeeded: map[int]bool{}, failed: map[int]bool{}, active: active}
	m.nextID++
	for t, st := range m.status {
		if st == running {
			p.triggered[t] = true
		}
	}
	for r := 0; r < m.j.regions; r++ {
		if down[r] {
			m.failRegion(p, r, "region_failover")
		}
	}
	m.pending = append(m.pending, p)
	m.out.Triggered = append(m.out.Triggered, Triggered{p.id, kind, forced})
	m.settle() // a checkpoint with nothing to wait for is decided at once
}

// latest is the latest checkpoint in the completed store.
func (m *Model) latest() *stored {
	var l *stored
	for _, c := range m.store {
		if c.retained && (l == nil || c.id > l.id) {
			l = c
		}
	}
	return l
}

// gate is R22 b–f (a is the caller's regionalPath). Gate c also refuses while
// consecutive_regional is at max_consecutive: a regional completion then would
// break I-ConsecutiveBound.
func (m *Model) gate(id int64, forced bool, failed map[int]bool, active int) bool {
	if len(failed) == 0 {
		return true
	}
	if len(failed) >= active { // nothing new to complete with (docs/DECISIONS.md)
		return false
	}
	if float64(len(failed))/float64(active) > m.cfg.Regional.MaxFailureRatio {
		return false
	}
	if forced || m.consecutive >= m.cfg.Regional.MaxConsecutive {
		return false
	}
	l := m.latest()
	if l == nil {
		return false
	}
	for t := range m.status {
		if failed[m.j.regionOf[t]] && m.j.coordinator[m.j.vertexOf[t]] == fsm.CoordinatorPlain {
			return false
		}
	}
	if m.cfg.Regional.MaxRefAge > 0 {
		for r := range failed {
			if id-l.refs[r] > m.cfg.Regional.MaxRefAge {
				return false
			}
		}
	}
	return true
}

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
	return p.triggered[t] && !p.acked[t] && !p.notNeeded[t] && !p.failed[m.j.regionOf[t]]
}

func (m *Model) ack(id int64, t int) {
	p := m.find(id)
	if p == nil || p.persisting || !m.waiting(p, t) {
		return // R16: duplicates and late acks change nothing
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
	defer func() { m.holdSeal = false }()
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
			m.failRegion(p, r, "region_failover")
			m.settle()
		}
	}
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
			m.forceNext = true // R25: once all sources finished
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
	m.endJob("finished", "coordinator_shutdown")
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
// checkpoint (R21), metadata count (R21, R25).
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
}

func regionalRefs(refs []int64, id int64) bool {
	for _, r := range refs {
		if r != id {
			return true
		}
	}
	return false
}

// complete is R23–R25 and R40 for a persisted checkpoint.
func (m *Model) complete(p *pending) {
	m.remove(p)
	regional := regionalRefs(p.refs, p.id)
	m.out.Completed = append(m.out.Completed, Completed{p.id, p.kind, regional, append([]int64(nil), p.refs...)})
	if p.kind != fsm.KindSavepoint {
		for _, q := range append([]*pending(nil), m.pending...) {
			if q.id < p.id && q.kind == fsm.KindCheckpoint && m.find(q.id) != nil {
				m.abort(q, "subsumed")
			}
		}
	}
	if p.id > m.lastSucceeded {
		m.lastSucceeded = p.id
		m.failures, m.countedIDs = 0, map[int64]bool{}
	}
	if p.kind == fsm.KindCheckpoint {
		if regional {
			m.consecutive++
		} else {
			m.consecutive = 0
			m.forceNext = false
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
	}
	if p.kind == fsm.KindStopWithSavepoint {
		m.endJob("finished", "coordinator_shutdown")
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
			m.out.Discarded = append(m.out.Discarded, c.id)
		}
	}
	m.store = kept
}

func (m *Model) remove(p *pending) {
	for i, q := range m.pending {
		if q == p {
			m.pending = append(m.pending[:i], m.pending[i+1:]...)
			return
		}
	}
}

// counted is R30's table plus Flink's savepoint rule: a savepoint's job-level
// failures (expired, finalize_failed) never count; a stop-with-savepoint fails
// the job instead of counting.
func (m *Model) counted(p *pending, reason string) bool {
	switch reason {
	case "declined", "async_exception", "expired", "finalize_failed":
	default:
		return false
	}
	if p.kind == fsm.KindStopWithSavepoint ||
		(p.kind == fsm.KindSavepoint && (reason == "expired" || reason == "finalize_failed")) {
		return false
	}
	return p.id > m.lastSucceeded && !m.countedIDs[p.id]
}

func (m *Model) abort(p *pending, reason string) {
	m.remove(p)
	counted := m.counted(p, reason)
	if counted {
		m.countedIDs[p.id] = true
		m.failures++
	}
	m.out.Aborted = append(m.out.Aborted, Aborted{p.id, reason, counted})
	if p.forced {
		m.consecutive, m.forceNext = 0, false // R25 tier 2
	}
	m.retain()
	if m.jobStatus != "running" {
		return
	}
	switch {
	case p.kind == fsm.KindStopWithSavepoint && reason != "recovered":
		m.endJob("failed", "coordinator_suspend") // R24
	case counted && m.failures > m.cfg.TolerableFailures:
		m.failures, m.countedIDs = 0, map[int64]bool{}
		m.endJob("failed", "coordinator_suspend") // R30
	}
}

func (m *Model) endJob(status, reason string) {
	m.jobStatus = status
	for len(m.pending) > 0 {
		m.abort(m.pending[0], reason)
	}
	m.queued = 0
}

func (m *Model) recover() {
	for len(m.pending) > 0 {
		m.abort(m.pending[0], "recovered")
	}
	m.queued = 0
	m.failures, m.countedIDs, m.lastSucceeded = 0, map[int64]bool{}, 0
	for _, p := range m.patches {
		m.out.PatchesRefused = append(m.out.PatchesRefused, p.request)
	}
	m.patches = nil
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
	m.forceNext = m.regionalMode && allSources
}

// configPatch is R60: both fields checked against §2 before anything changes;
// a missing field keeps the value of the last accepted patch.
func (m *Model) configPatch(ev fsm.Event) {
	next := patch{request: ev.Request, interval: m.interval, timeout: m.timeout}
	if n := len(m.patches); n > 0 {
		next.interval, next.timeout = m.patches[n-1].interval, m.patches[n-1].timeout
	}
	ok := ev.HasInterval || ev.HasTimeout
	for _, p := range m.patches {
		if p.request == ev.Request {
			ok = false
		}
	}
	if ev.HasInterval {
		ok = ok && (ev.IntervalMs == 0 || ev.IntervalMs >= 10)
		next.interval = ev.IntervalMs
	}
	if ev.HasTimeout {
		ok = ok && ev.TimeoutMs >= 10 && (m.cfg.MaxTimeoutMs == 0 || ev.TimeoutMs <= m.cfg.MaxTimeoutMs)
		next.timeout = ev.TimeoutMs
	}
	if !ok {
		m.out.PatchesRefused = append(m.out.PatchesRefused, ev.Request)
		return
	}
	m.patches = append(m.patches, next)
}

// configPersisted is R61–R63: the confirmed patch and every earlier one apply.
func (m *Model) configPersisted(request int64) {
	k := -1
	for i, p := range m.patches {
		if p.request == request {
			k = i
		}
	}
	if k < 0 {
		return
	}
	for _, p := range m.patches[:k+1] {
		m.out.PatchesApplied = append(m.out.PatchesApplied, p.request)
	}
	next := m.patches[k]
	m.patches = append([]patch(nil), m.patches[k+1:]...)
	m.interval, m.timeout, m.overrides = next.interval, next.timeout, true
	for _, p := range append([]*pending(nil), m.pending...) {
		p.deadline = p.triggerAt + m.timeout
		if m.find(p.id) != nil && !m.ready(p) && p.deadline <= m.now {
			m.expire(p)
		}
	}
}

// Job returns created, running, failed or finished.
func (m *Model) Job() string { return m.jobStatus }

// Retained returns the ids in the completed store, ascending.
func (m *Model) Retained() []int64 {
	var ids []int64
	for _, c := range m.store {
		if c.retained {
			ids = append(ids, c.id)
		}
	}
	return ids
}

// Pending returns the pending ids, ascending, and which of them are persisting.
func (m *Model) Pending() (ids []int64, persisting []bool) {
	for _, p := range m.pending {
		ids = append(ids, p.id)
		persisting = append(persisting, p.persisting)
	}
	return ids, persisting
}

// Consecutive returns consecutive_regional (R25).
func (m *Model) Consecutive() int { return m.consecutive }

// Failures returns the counted failures since the last success (R30).
func (m *Model) Failures() int { return m.failures }

// Effective returns the interval and timeout in force and whether overrides are
// active (R63).
func (m *Model) Effective() (interval, timeout int64, overrides bool) {
	return m.interval, m.timeout, m.overrides
}

// NextID returns the id the next checkpoint would get.
func (m *Model) NextID() int64 { return m.nextID }

// RegionOf returns the model's region of a subtask (R3).
func (m *Model) RegionOf(task int) int { return m.j.regionOf[task] }

// Regions returns the number of pipelined regions (R3).
func (m *Model) Regions() int { return m.j.regions }

// RegionalMode reports whether R4 holds and regional.enabled is set.
func (m *Model) RegionalMode() bool { return m.regionalMode }
