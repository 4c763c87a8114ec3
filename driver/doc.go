// Package driver is the runtime that embeds the decision core (package fsm) for
// real use: a real clock, one event-loop goroutine that owns the fsm.State, a
// durable store, a flight recorder, Flink's REST API with FLIP-571's PATCH, Flink's
// checkpoint metrics and a timeline page.
//
// # Threads
//
// The event loop is the only goroutine that touches the core. Callers submit
// events through Driver methods into one bounded FIFO (ingest.go) that the loop
// drains in batches, one wake-up per batch: a subtask's messages (Ack,
// AckBatch, Decline, TaskFailed, …) are queued without waiting for the core,
// as Flink's RPCs are one-way — a refused one goes to Options.OnRefused — while
// Trigger, PatchConfig, Status and Sync wait for the loop's answer. After every
// batch the loop re-arms one timer for the core's next deadline
// (State.NextDeadline), so it wakes exactly when something is due and never
// polls; a wake-up is a tick event. Times fed to the core are Unix milliseconds
// from an injectable Clock, clamped so they never go backwards (R10).
//
// Effects go, in the order the core emitted them, to the effect worker, a
// second goroutine: it writes the store for persist and persist_overrides and
// feeds the outcome back as persisted / persist_failed / config_persisted
// events, and hands every other effect to the Executor. One ordered queue gives
// the guarantees the core relies on (see effector): an id is durable before its
// trigger goes out (R14), metadata is durable before the core hears persisted
// (R23), a PATCH is answered only after its overrides are durable (R63).
//
// # Store and recovery
//
// FileStore keeps, in a directory, one metadata file per completed checkpoint
// (id, kind, mode, refs, consecutive, ownership), the overrides, the id counter
// and the restored snapshot — everything fsm.Durable holds — each written
// crash-safely. Open rebuilds the core with fsm.Resume when the store has state
// (a coordinator recovery, R50) and starts fresh otherwise. A checkpoint whose
// metadata was written is completed for recovery even if the crash came before
// the core heard persisted, as in Flink. Discards are at-least-once across a
// crash (Executor.Discard must be idempotent).
//
// What happens when a store write fails:
//   - checkpoint metadata: the core gets persist_failed and aborts the
//     checkpoint (finalize_failed, counted, R23);
//   - overrides: the PATCH caller gets an *OverridesNotDurableError (HTTP 503).
//     The core has no event for this, so it keeps the patch pending: it takes
//     effect if a later patch's write succeeds (each write carries every
//     accepted patch) and is dropped at the next restart (R50);
//   - the id counter: the trigger is not sent (an id must never be reused, R14);
//     the checkpoint expires at its deadline, a counted failure.
//
// # REST API, metrics, timeline
//
// NewHandler answers Flink's checkpoint endpoints in Flink 1.19's shapes
// (package flinkapi: statistics, details, configuration, manual checkpoint,
// savepoint and stop-with-savepoint triggers with their asynchronous status),
// FLIP-571's PATCH, GET /metrics with the names of Flink's Prometheus reporter,
// and GET /timeline (package history/timeline). Flink's statistics and the
// timeline are fed with every step on the event loop, as the flight recorder.
//
// # Flight recorder
//
// Every event the core accepts is written with its effects to a history file
// (flight-<n>.jsonl, or flight-<n>.bin in the binary variant with
// Options.FlightFormat = FlightBinary), one file per incarnation, each self-contained: a fresh
// job's starts with start, a restarted one's with a resume record holding the
// durable state it resumed from (docs/spec/HISTORY.md, "Resume"), so that
// `replay` reproduces every file exactly, on its own, and a restart reads no
// earlier file. CheckFlightChain checks that a job's files chain up to its
// store: each one's end, with what a crash can leave undone, is the next one's
// beginning. Lines are buffered and written whole when the loop catches up with its
// queue and before any step's effects are carried out; a process crash loses at most
// steps without effects, and nothing is fsync'd before Close: the store, not
// the flight file, is what recovery rests on (recorder).
//
// # Shutdown
//
// Close stops both goroutines and waits for them; effects not yet carried out
// are dropped, as in a crash, and recovery handles them the same way. The
// driver does not persist that a job failed or finished: a program that sees
// FailJob or FinishJob decides what happens to the job and its store.
package driver
