package fsm

// EventType names an input of the core (HISTORY.md, Events).
type EventType uint8

// Event types, in the order of HISTORY.md.
const (
	EvStart EventType = iota + 1
	EvTick
	EvTrigger
	EvAck
	EvDecline
	EvTaskFailed
	EvTaskRunning
	EvTaskFinished
	EvPersisted
	EvPersistFailed
	EvConfigPatch
	EvConfigPersisted
	EvRecover
)

var eventNames = [...]string{"", "start", "tick", "trigger", "ack", "decline", "task_failed",
	"task_running", "task_finished", "persisted", "persist_failed", "config_patch",
	"config_persisted", "recover"}

// String returns the history spelling of the type.
func (t EventType) String() string {
	if int(t) < len(eventNames) {
		return eventNames[t]
	}
	return "unknown"
}

// ParseEventType parses the history spelling of an event type.
func ParseEventType(s string) (EventType, bool) {
	for i, n := range eventNames {
		if i > 0 && n == s {
			return EventType(i), true
		}
	}
	return 0, false
}

// Kind is the kind of a checkpoint (R15).
type Kind uint8

// Checkpoint kinds.
const (
	KindCheckpoint Kind = iota
	KindSavepoint
	KindStopWithSavepoint
)

var kindNames = [...]string{"checkpoint", "savepoint", "stop_with_savepoint"}

// String returns the history spelling of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// ParseKind parses the history spelling of a kind.
func ParseKind(s string) (Kind, bool) {
	for i, n := range kindNames {
		if n == s {
			return Kind(i), true
		}
	}
	return 0, false
}

// IsSavepoint reports whether the kind is a savepoint or stop-with-savepoint (R24).
func (k Kind) IsSavepoint() bool { return k != KindCheckpoint }

// RestoreMode is how a job owns the snapshot it starts from (R41).
type RestoreMode uint8

// Restore modes.
const (
	Claim RestoreMode = iota
	NoClaim
)

// String returns the history spelling of the mode.
func (m RestoreMode) String() string {
	if m == NoClaim {
		return "no_claim"
	}
	return "claim"
}

// RegionRef says that a region uses the state of checkpoint Checkpoint (R21).
type RegionRef struct {
	Region     int
	Checkpoint int64
}

// Restore is the snapshot a job starts from (start event).
type Restore struct {
	Checkpoint int64
	Mode       RestoreMode
	// Refs lists regions whose state lives in an older checkpoint than Checkpoint,
	// sorted by region; every other region uses Checkpoint itself.
	Refs []RegionRef
}

// Event is one input of the core. Which fields matter depends on Type; the rest
// are zero. Optional fields have a Has* flag.
type Event struct {
	At   int64
	Type EventType

	Checkpoint int64  // ack, decline, persisted, persist_failed
	Task       TaskID // ack, decline, task_*
	Kind       Kind   // trigger
	Reason     Reason // decline; "" means declined

	// StateSize and CheckpointedSize are what the subtask reported with its ack
	// (bytes, optional, 0 = not reported): its full state and what it uploaded for
	// this checkpoint (Flink's state_size and checkpointed_size). They change no
	// decision; persist and completed effects report their totals.
	StateSize        int64 // ack
	CheckpointedSize int64 // ack

	Request     int64 // config_patch, config_persisted
	HasInterval bool
	IntervalMs  int64
	HasTimeout  bool
	TimeoutMs   int64

	HasInitialDelay bool // start
	InitialDelayMs  int64
	Restore         *Restore // start; nil = fresh start
}
