// Package refmodel is a deliberately naive reference model of SEMANTICS.md,
// written from the spec without looking at how fsm implements it (as
// etcd-raft's quorum/quick_test.go checks its majority config against a
// brute-force one). It favours obviousness over speed: sets are maps, lists
// are rescanned, every decision is re-derived from the rules.
//
// Scope: the whole of SEMANTICS.md. Step returns every effect of the step
// with the fields HISTORY.md names for its type (FromCore reads the core's
// effects the same way), so a differential test can compare the whole effect
// stream: time and the decider (R10–R12: deadlines, periodic requests on
// their grid, the single waiting periodic request, min_pause, interval
// patches R62), preconditions and ids (R13–R15), acks, declines and failures
// in global and regional mode (R16–R19), completion, the regional gate,
// coordinator fallbacks, notifications and region-skipped notices, the
// two-tier counter (R20–R26), failure accounting with its own table of
// counted reasons (R30), retention and restore with the no_claim warnings
// (R40, R41), coordinator recovery (R50) and dynamic configuration
// (R60–R63).
//
// Where the spec is silent the model takes the reading of docs/DECISIONS.md,
// stated at the place it matters: one checkpoint persists at a time, lowest
// ready id first, and a ready checkpoint no longer expires; a request to a
// failed job fails with coordinator_suspend, to a finished one with
// coordinator_shutdown; a patch leaves out fields at the last accepted patch's
// values and a confirmation applies every earlier patch.
//
// The model takes fsm's input data types (events, job spec, config) and
// nothing else of fsm: no topology, no reason table, no state.
package refmodel

import (
	"fmt"
	"sort"

	"github.com/ckptcore/ckptcore/fsm"
)

// maxID is the largest id an effect may carry (R14: ids stay below 2^53).
const maxID = 1<<53 - 1

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

type skipNotice struct {
	checkpoint int64
	region     int
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
	jobStatus             string // created, running, failed, finished
	now                   int64
	status                []taskState

	nextID  int64
	pending []*pending // ascending id

	// The decider (R11, R12).
	periodicOn      bool
	periodicDue     int64
	periodicQueued  bool
	queued          int // manual checkpoint requests waiting for a slot
	hasLastComplete bool
	lastComplete    int64

	failures      int
	countedIDs    map[int64]bool
	lastSucceeded int64

	consecutive int
	forceNext   bool
	forceFrom   int64 // R25: with forceNext, only a checkpoint with this id or above ends it
	lastRequest int64 // R60: request ids are used once, increasing

	store      []*stored // completed checkpoints still known, ascending id
	completing int64     // a checkpoint entering the store while it subsumes others
	skipped    []skipNotice

	restoredID                              int64
	noClaim, noClaimWarned, noClaimReleased bool

	// holdSeal keeps the persist slot while one task failure is applied to
	// every pending checkpoint (R18 fails the region for all of them at once).
	holdSeal bool

	interval, timeout int64 // in force
	overrides         bool
	patches           []patch

	out []Effect
}

// New returns the model of a job that has not started.
func New(spec fsm.JobSpec, cfg fsm.Config, opt Options) (*Model, error) {
	j := newJob(spec)
	return &Model{j: j, cfg: cfg, opt: opt, regionalMode: j.regionalOK && cfg.Regional.Enabled,
		jobStatus: "created", status: make([]taskState, j.tasks()), nextID: 1,
		countedIDs: map[int64]bool{}, interval: cfg.IntervalMs, timeout: cfg.TimeoutMs}, nil
}

// Step applies one event the core accepted and returns every effect it has,
// in the order the model decided them.
func (m *Model) Step(ev fsm.Event) ([]Effect, error) {
	m.out = nil
	if ev.Type == fsm.EvStart {
		m.start(ev)
		return m.out, nil
	}
	m.advance(ev.At)
	switch ev.Type {
	case fsm.EvTick:
	case fsm.EvTrigger:
		m.request(ev.Kind, false)
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
	default:
		return nil, fmt.Errorf("refmodel: event type %v", ev.Type)
	}
	m.settle()
	m.runQueue()
	return m.out, nil
}

func (m *Model) start(ev fsm.Event) {
	m.started, m.jobStatus, m.now = true, "running", ev.At
	if m.cfg.Regional.Enabled && !m.j.regionalOK {
		m.emit(Effect{Type: EffWarn, Code: fsm.WarnRegionalDisabled}) // R4
	}
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
		m.nextID = r.Checkpoint + 1 // R14
		m.lastSucceeded = r.Checkpoint
		m.restoredID, m.noClaim = r.Checkpoint, r.Mode == fsm.NoClaim
	}
	if p := m.period(); p > 0 { // R11
		delay := p
		if ev.HasInitialDelay {
			delay = ev.InitialDelayMs
		}
		m.periodicOn, m.periodicDue = true, ev.At+delay
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

func (m *Model) remove(p *pending) {
	for i, q := range m.pending {
		if q == p {
			m.pending = append(m.pending[:i], m.pending[i+1:]...)
			return
		}
	}
}

func (m *Model) tasksOf(set map[int]bool, pred func(t int) bool) []int {
	var out []int
	for t := range m.status {
		if set[t] && pred(t) {
			out = append(out, t)
		}
	}
	return out
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

// ForceNext reports whether all sources finished and the next checkpoint is
// forced global (R25).
func (m *Model) ForceNext() bool { return m.forceNext }

// Failures returns the counted failures since the last success (R30).
func (m *Model) Failures() int { return m.failures }

// Effective returns the interval and timeout in force and whether overrides are
// active (R63).
func (m *Model) Effective() (interval, timeout int64, overrides bool) {
	return m.interval, m.timeout, m.overrides
}

// NextDue returns the earliest time something is due: a deadline of a
// checkpoint still waiting for acks or the periodic request (R10, R11).
func (m *Model) NextDue() (int64, bool) {
	at, ok := int64(0), false
	for _, p := range m.pending {
		if !m.ready(p) && (!ok || p.deadline < at) {
			at, ok = p.deadline, true
		}
	}
	if m.periodicOn && m.jobStatus == "running" && (!ok || m.periodicDue < at) {
		at, ok = m.periodicDue, true
	}
	return at, ok
}

// NextID returns the id the next checkpoint would get.
func (m *Model) NextID() int64 { return m.nextID }

// RegionOf returns the model's region of a subtask (R3).
func (m *Model) RegionOf(task int) int { return m.j.regionOf[task] }

// Regions returns the number of pipelined regions (R3).
func (m *Model) Regions() int { return m.j.regions }

// RegionalMode reports whether R4 holds and regional.enabled is set.
func (m *Model) RegionalMode() bool { return m.regionalMode }

// Source reports whether a subtask belongs to a vertex without input (R1).
func (m *Model) Source(task int) bool { return m.j.source[task] }
