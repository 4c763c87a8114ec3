// Package fsm is the decision core of a checkpoint coordinator: one deterministic
// transition function, State.Step, from (state, event) to (state, effects).
//
// The semantics are those of docs/spec/SEMANTICS.md (rules R1–R63, invariants
// I-*): Apache Flink's CheckpointCoordinator, CheckpointRequestDecider,
// CheckpointFailureManager and completed-checkpoint store, extended with regional
// checkpoints (FLIP-600) and dynamic checkpoint configuration (FLIP-571).
//
// The package has no clock, no goroutines, no I/O and no randomness. Time is an
// input (every Event carries At); every nondeterministic choice is event data.
// Effects returned by Step live in a buffer owned by the State and are valid
// until the next call of Step or Clone; a caller that keeps them copies them.
//
// # The runtime loop
//
// A runtime (driver/ is one) owns the State on one goroutine and does, forever:
//
//	s, _ := fsm.New(topo, cfg)            // or fsm.Resume(topo, cfg, durable, now) after a failover
//	effs, err := s.Step(fsm.Event{At: now, Type: fsm.EvStart})
//	for {
//		record(ev, effs)                  // the flight recorder: the history replays it
//		for _, e := range effs {          // in order; each EffectType says what to do
//			carryOut(e)                   // and which event answers it (EffPersist -> EvPersisted)
//		}
//		at, ok := s.NextDeadline()        // sleep until then (or forever), or until an input
//		ev = nextInput(at, ok)            // an ack, a decline, a task status, a request, a write's
//		ev.At = now()                     // confirmation — or a tick at the deadline
//		effs, err = s.Step(ev)            // err: invalid input, nothing changed; report it
//	}
//
// Durable writes are effects like any other: EffPersistIDCounter before each
// EffTrigger (R14), EffPersist before a completion (R23), EffPersistOverrides
// before a configuration applies (R63). Durable and Resume are what survives a
// coordinator failover (R50).
//
// # Vocabulary
//
// One word per concept, in code, comments and effects:
//
//   - pending: triggered, not ended. A pending checkpoint waits for acks, and
//     is ready when it has every ack it needs.
//   - seal (seal, persisting): a ready checkpoint takes the one persist slot;
//     its content is fixed and the EffPersist effect asks for its metadata.
//     settle hands the slot out, once per event, to the lowest ready one.
//   - persist: the runtime's durable write of that metadata; EvPersisted or
//     EvPersistFailed answers it.
//   - complete: the commit point (EffCompleted), at EvPersisted (R23).
//   - abort: a pending checkpoint ends without completing (EffAbort).
//   - known: completed state the job keeps (State.Known, StoredCheckpoint);
//     retained: the `retained` latest of them, the completed store (R40);
//     the others stay known while a retained one references them.
//   - discard: known state nobody needs any more goes (EffDiscard, R40);
//     discardUnneeded decides it.
//   - forcing: a checkpoint triggered now would be forced global (Forcing: tier
//     1 or all sources finished); AllSourcesForcing is the second reason alone
//     (R25).
//   - region failed (for a checkpoint): its acks are dropped and it falls back
//     to its reference (R18, R21); a region fails over when a subtask fails (R19).
//
// # Where each rule lives
//
//	R1–R4   job graph, regions, R4's qualification     job.go (NewTopology), jobgraph.go (resolveEdges, findCycle, pipelinedComponents)
//	R10     due items in time order; a step terminates  step.go (Step, advance, progressed)
//	R11     periodic grid, initial delay                 trigger.go (start, firePeriodic)
//	R12     decider: queueing, min_pause                 trigger.go (request, execute, runQueued)
//	R13     preconditions, not_all_running              trigger.go (trigger, gate)
//	R14     ids, ids_exhausted, persist_id_counter       trigger.go (trigger), durable.go (Resume)
//	R15     the trigger effect                           trigger.go (trigger)
//	R16     acks, late state                             ack.go (ack), pending.go (recordAck)
//	R17     global path: decline, expiry, failover       ack.go (decline, expire), tasks.go (taskFailed)
//	R18     regional path: failed regions, the gate      pending.go (failRegion), ack.go (checkGate), trigger.go (gate)
//	R19     failover of a whole region                   tasks.go (taskFailed)
//	R20     completion when every needed ack is in       ack.go (settle), tasks.go (taskFinished)
//	R21     refs of failed regions                       complete.go (seal)
//	R22     the regional path gate a–f                   trigger.go (gate)
//	R23     fallback, persist, complete, subsume         complete.go (seal, emitFallbacks, persisted, complete)
//	R24     savepoints; stop-with-savepoint              trigger.go (request, stopScheduler), complete.go (complete, abort)
//	R25     two-tier counter, sources forcing            complete.go (complete, abort, endSourcesForcing), tasks.go (taskFinished)
//	R26     notifications, region skipped                complete.go (notifyComplete, abort), trigger.go (deliverSkipped)
//	R30     failure accounting                           complete.go (countFailure, abort), reason.go (Counted)
//	R40     retention and discards                       retention.go (store, discardUnneeded), durable.go (Resume)
//	R41     restore modes, no_claim warning              trigger.go (restore), complete.go (warnNoClaim)
//	R50     coordinator failover                         recover.go (recover), durable.go (Durable, Resume)
//	R60     config patches, request ids                  dynconfig.go (configPatch)
//	R61     new timeout for pending checkpoints          dynconfig.go (redeadline)
//	R62     new interval                                 dynconfig.go (reschedule)
//	R63     apply on config_persisted                    dynconfig.go (configPersisted)
//	§2      configuration bounds, MaxSafeInt             config.go (Validate)
//	§11     reference drift warning                      complete.go (warnDrift)
//	effects the effect contract                          effect.go (EffectType constants)
//	I-*     invariants (checked from outside)            invariants/; pending.go (CheckBookkeeping)
//	keys    state equality for the explorer              key.go (AppendKey, Equal)
package fsm
