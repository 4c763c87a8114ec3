package fsm

// JobStatus is the job's status as the coordinator sees it.
type JobStatus uint8

// Job statuses.
const (
	JobCreated JobStatus = iota // before the start event
	JobRunning
	JobFailed
	JobFinished
)

var jobStatusNames = [...]string{"created", "running", "failed", "finished"}

// String returns the summary spelling of the status.
func (s JobStatus) String() string { return jobStatusNames[s] }

type taskStatus uint8

const (
	taskRunning taskStatus = iota
	taskRestarting
	taskFinished
)

// maxQueuedRequests is Flink's CheckpointRequestDecider default queue bound.
const maxQueuedRequests = 1000

// knownCheckpoint is completed state the job knows and has not discarded:
// retained checkpoints, checkpoints kept alive by references, the restored
// snapshot and the older checkpoints its refs name (R40, R41).
type knownCheckpoint struct {
	id          int64
	refs        []RegionRef // regions using older state, sorted by region
	mode        Mode
	consecutive int
	retained    bool // one of the `retained` latest completed checkpoints
	owned       bool // the job may discard it (false for a no_claim restore)
	restored    bool // the restored snapshot or one of the checkpoints it references
}

// skipNotice is a deferred "region skipped" notice (R26).
type skipNotice struct {
	checkpoint int64
	region     int
}

// configPatch is an accepted, not yet confirmed FLIP-571 patch (R63).
type configPatch struct {
	request    int64
	intervalMs int64
	timeoutMs  int64
}

// State is the whole state of the decision core. Create it with New, advance it
// with Step, copy it with Clone or CloneInto. It is not safe for concurrent use.
//
// The explorer copies a State for every step it computes, mostly from a state
// that is no longer in the cache (issue 17), so the record is kept small: the
// configuration is shared by pointer, and the flags sit together at the end
// instead of costing a padded word each.
type State struct {
	topo       *Topology
	cfg        *jobConfig // the base configuration (without overrides)
	failReason Reason
	now        int64

	status            []taskStatus
	running           bitset  // running, unfinished subtasks
	regionDown        []int32 // per region: unfinished subtasks not running
	regionUnfinished  []int32 // per region: unfinished subtasks
	regionsDown       int     // regions with regionDown > 0
	unfinished        int
	sourcesUnfinished int

	nextID     int64
	pending    []pendingCheckpoint // ascending id
	completing int64               // a checkpoint entering the store while it subsumes others

	// Decider (R11, R12); its flags periodicOn, periodicQueued and
	// hasLastComplete are below.
	periodicDue  int64
	queuedManual int // manual checkpoint requests waiting for a free slot
	lastComplete int64

	// Failure manager (R30).
	failures      int
	countedIDs    []int64
	lastSucceeded int64

	// Two-tier counter (R25); forceNext is below.
	consecutive int
	forceFrom   int64 // with forceNext, the first id allocated after the sources finished (only it or a later one ends forceNext); else 0

	// Completed state (R40, R41); the no_claim flags are below.
	known      []knownCheckpoint // ascending id
	restoredID int64
	skipped    []skipNotice

	// Dynamic configuration (R60–R63); ovActive is below.
	ovInterval int64
	ovTimeout  int64
	patches    []configPatch
	// lastRequest is the highest request id a patch has used: ids are used once
	// and must increase (R60, docs/DECISIONS.md), which needs O(1) memory.
	lastRequest int64

	// The flags, in one word.
	regionalMode    bool // R4 holds and regional.enabled
	job             JobStatus
	periodicOn      bool // decider
	periodicQueued  bool // decider
	hasLastComplete bool // decider
	forceNext       bool // two-tier counter: all sources finished: checkpoints are forced global until one triggered since resolves
	noClaim         bool // completed state
	noClaimWarned   bool // completed state
	noClaimReleased bool // completed state
	ovActive        bool // dynamic configuration

	effects []Effect
	// block is the storage of a clone's pointer-free slices (fsm/clone.go),
	// kept so that CloneInto can reuse it.
	block []uint64
}

// jobConfig is the configuration a job started with and its key encoding
// (appendConfig), shared by a state and all its clones: it never changes, so
// a clone copies a pointer instead of the Config, and a key copies the
// encoding instead of writing eleven fields.
type jobConfig struct {
	Config
	key []byte
}

func newJobConfig(c Config) *jobConfig { return &jobConfig{Config: c, key: appendConfig(nil, &c)} }

// New returns the state of a job that has not started. The configuration is
// validated (§2); the error names the key and the rule.
func New(topo *Topology, cfg Config) (*State, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n := topo.NumSubtasks()
	s := &State{
		topo:             topo,
		cfg:              newJobConfig(cfg),
		status:           make([]taskStatus, n),
		running:          newBitset(n),
		regionDown:       make([]int32, topo.NumRegions()),
		regionUnfinished: make([]int32, topo.NumRegions()),
		nextID:           1,
	}
	ok, _ := topo.RegionalCapable()
	s.regionalMode = ok && cfg.Regional.Enabled
	for r := range s.regionUnfinished {
		s.regionUnfinished[r] = int32(len(topo.RegionTasks(r)))
	}
	for id := 0; id < n; id++ {
		s.running.set(TaskID(id))
	}
	s.unfinished = n
	s.sourcesUnfinished = len(topo.Sources())
	return s, nil
}

// Topology returns the job.
func (s *State) Topology() *Topology { return s.topo }

// Config returns the base configuration the job started with (without overrides).
func (s *State) Config() Config { return s.cfg.Config }

// Now returns the time of the last event.
func (s *State) Now() int64 { return s.now }

// Job returns the job status.
func (s *State) Job() JobStatus { return s.job }

// FailReason returns why the job failed, or "".
func (s *State) FailReason() Reason { return s.failReason }

// RegionalMode reports whether regional checkpoints are on (R4 and regional.enabled).
func (s *State) RegionalMode() bool { return s.regionalMode }

// NextID returns the id the next triggered checkpoint will get (R14).
func (s *State) NextID() int64 { return s.nextID }

// Consecutive returns consecutive_regional (R25).
func (s *State) Consecutive() int { return s.consecutive }

// Forcing reports whether a checkpoint triggered now would be forced global (R25).
func (s *State) Forcing() bool { return s.forcing() }

// Failures returns the counted failures since the last success (R30).
func (s *State) Failures() int { return s.failures }

// Effective returns the configuration in force (R63).
func (s *State) Effective() EffectiveConfig {
	if s.ovActive {
		return EffectiveConfig{IntervalMs: s.ovInterval, TimeoutMs: s.ovTimeout, OverridesActive: true}
	}
	return EffectiveConfig{IntervalMs: s.cfg.IntervalMs, TimeoutMs: s.cfg.TimeoutMs}
}

// TaskRunning reports whether a subtask is running (not restarting, not finished).
func (s *State) TaskRunning(id TaskID) bool { return s.status[id] == taskRunning }

// TaskFinished reports whether a subtask has finished.
func (s *State) TaskFinished(id TaskID) bool { return s.status[id] == taskFinished }

func (s *State) forcing() bool {
	return s.regionalMode && (s.consecutive >= s.cfg.Regional.MaxConsecutive || s.forceNext)
}

func (s *State) period() int64 {
	return basePeriod(s.Effective().IntervalMs, s.cfg.MinPauseMs)
}

func (s *State) emit(e Effect) {
	e.At = s.now
	if cap(s.effects) == 0 {
		// A fresh clone's first effect: most steps of the explorer emit one to
		// four, so start with room for two (one allocation instead of two for
		// the commonest counts; an Effect is a few hundred bytes).
		s.effects = make([]Effect, 0, 2)
	}
	s.effects = append(s.effects, e)
}

func (s *State) findPending(id int64) int {
	for i := range s.pending {
		if s.pending[i].id == id {
			return i
		}
	}
	return -1
}

// latest returns the latest completed checkpoint in the store, or nil (R21, R22d).
func (s *State) latest() *knownCheckpoint {
	for i := len(s.known) - 1; i >= 0; i-- {
		if s.known[i].retained {
			return &s.known[i]
		}
	}
	return nil
}
