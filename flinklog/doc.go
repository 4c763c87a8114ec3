// Package flinklog imports Apache Flink JobManager logs as checkpoint histories
// (docs/spec/HISTORY.md) and answers what regional checkpoints (FLIP-600) would have
// saved in them.
//
// # Reading the log
//
// A record is a line that starts with a timestamp (yyyy-MM-dd HH:mm:ss,SSS with
// ',' or '.', HH:mm:ss,SSS alone, or a bare ms count), an optional [thread]
// before or after the level, the level, the logger and any bracketed MDC
// columns before " - " (log4j1 without "[]", log4j2 with it, logback with a
// thread column). Lines a terminal wrapped (rows of exactly its width,
// detected, or Options.WrapWidth) are joined first. Every other line continues
// the record before it (stack traces, wrapped messages); '#' lines are
// annotations. Messages are matched in the forms Flink 1.9 to 2.x print
// (message.go). Records are ordered by timestamp: threads write late, and the
// stamp says when it happened. One job is imported: the one with the most
// trigger and outcome lines, or Options.Job. Task transitions name no job: in
// a log of several jobs each goes to the job whose execution graph its attempt
// id names (1.16+), else to the job that started last before its task was
// first named. Failover and SourceCoordinator lines, and transitions so
// placed nowhere, go to the imported job.
//
// A checkpoint line is a Flink logger's line about checkpoints, savepoints,
// task transitions, failovers or restores (lines that name no job count for
// every job, so the job list's counts are what -job imports). Each is
// understood (it became events), annotated (understood, needing no event: a
// TaskManager's copy of a transition, a "Discarding" line whose decline was
// mapped, a late ack from an unknown task; it is written into the history as
// a comment saying why) or not understood (Import.Unparsed, with the reason),
// never guessed at. The report ends with the three counts.
//
// # Claims
//
// What the log says was decided travels with the history as //claim lines
// (docs/spec/HISTORY.md, Claims), which replay checks: every trigger
// (triggered N), completion (completed N), decline, expiry or failure
// (aborted N [reason]), restore after a failover (restored N), trigger
// failure because tasks were not running (refused), the
// tolerable-failure job failure (job failed) and the job's status at the end
// of the log (job running or finished). Ids are the core's; a renumbered one
// names the log's id in the note. So replaying an imported history reports
// every disagreement the import found.
//
// # The job
//
// Vertices and parallelism come from task names "NAME (i/p)" in transitions,
// deployments, decline causes ("for operator NAME (7/12)") and trigger failures,
// and from the sources the SourceCoordinator names ("Marking checkpoint N as
// completed for source S"; parallelism not printed: the highest subtask a
// "Recovering subtask i" line names, else 1), so that a job whose only source
// with task transitions finishes keeps its other sources and keeps running;
// ids are made safe for the history (no '/' or spaces). A log never prints
// edges, which decide the pipelined regions: one vertex has none (a fully
// chained job, one region per subtask); several are chained in job order with
// all-to-all exchanges (sources are roots, each joined to the first other
// vertex), since Flink chains forward edges (Options.Edges and
// Options.AssumeRegions state otherwise). "N tasks should be restarted" lines
// are checked against the result. A log with no task name gets one stand-in
// vertex "job" of parallelism 1.
//
// # Mapping (log line → events)
//
//   - The configuration has interval_ms 0: the core does not schedule on its
//     own; every "Triggering checkpoint N" is a trigger event of the logged
//     kind (CHECKPOINT, FULL_CHECKPOINT → checkpoint; SAVEPOINT → savepoint;
//     SYNC_SAVEPOINT, SAVEPOINT_SUSPEND/TERMINATE, Suspend/Terminate
//     SavepointType → stop_with_savepoint; an untyped line within 10 s after a
//     JobMaster savepoint request → that request's kind). Before it, subtasks
//     the core still has restarting are marked running (task_running): Flink
//     triggers only when every task runs.
//   - Ids: the core allocates them. The start event restores the snapshot the
//     log restores before its first trigger (no_claim for savepoints), else,
//     when the first logged id N > 1, checkpoint N-1 (claim), assumed completed
//     before the excerpt (Options.NoPrior turns this off). Ids the log skips are
//     renumbered and reported.
//   - "Completed checkpoint N": an ack from every subtask the core still waits
//     for (JobManager logs print no acks; completion means all acked), then
//     persisted, at the line's time. DEBUG "Received acknowledge message" lines
//     are used as acks when present.
//   - "Decline checkpoint N by task A" (with "Discarding checkpoint N" or the
//     failure-manager line carrying the cause in 1.9/1.10 and 1.15+): a decline
//     by A's subtask (its attempt id from a transition or deployment, else the
//     task the cause names, else subtask 0 of the first vertex, reported), with
//     the reason the cause gives (task_not_ready, on_cancellation_barrier,
//     async_exception, ..., default declined).
//   - "Checkpoint N ... expired before completing": a tick at that time. The
//     core expires by its own deadline; the timeout is inferred as the smallest
//     trigger→expiry spacing (rounded to seconds only if that keeps every
//     deadline at or before its logged expiry).
//   - "Received late message for now expired checkpoint attempt N from task A":
//     an ack by A when the log names A (the core discards the late state).
//   - Trigger failures without an id ("Failed to trigger checkpoint for job",
//     "Checkpoint triggering task X is not being executed"): a subtask named
//     as not running fails (task_failed, the core's only way to say so); the
//     trigger event is emitted only if the core refuses it too (otherwise it
//     would take an id the log never used: a mismatch is reported instead).
//     Refusals of the periodic scheduler (min pause, too many requests) are
//     annotated: there are no periodic requests. A manual request (1.19+, "Triggering
//     a manual checkpoint") marks the trigger that follows; manual triggers are
//     left out of the periodic interval's estimate.
//   - SourceCoordinator lines: "Marking checkpoint N as completed|aborted for
//     source S" and "Recovering subtask i to checkpoint N" become claims
//     (completed, aborted, restored N); they need no event.
//   - JobManager task transitions: to FAILED, CANCELING or CANCELED →
//     task_failed (the core fails the subtask's region over), unless the job is
//     being cancelled or has ended; to RUNNING → task_running; to FINISHED →
//     task_finished. TaskManager copies are read only for attempt ids.
//   - The job going RESTARTING or FAILING, or "Trying to recover from a global
//     failure": every region fails over. The job running again (or restoring)
//     after the core failed it: a recover event (R50), the core's only way back.
//   - Configuration: tolerable_failures from a threshold failure (the counted
//     failures since the last success, by Flink's rules, minus one), else the
//     most consecutive counted failures the log shows; max_concurrent the most
//     checkpoints pending at once; the periodic interval is estimated from
//     trigger spacing and only reported.
//
// Every core decision is compared with the log as it is made: per checkpoint
// (Import.Checkpoints) and per disagreeing line (Import.Mismatches). The
// invariants of SEMANTICS §10 are checked on the imported history.
//
// # What-if
//
// WhatIf replays a history twice in lockstep: as recorded, and with regional
// checkpoints on (by default under the history's own regional configuration
// when it has one, else SEMANTICS §2's defaults). The two runs allocate their
// own ids, so every checkpoint the regional run triggers is paired with the
// recorded trigger (or refusal) of the same step and kind — periodic requests
// come from the same ticks, requests from the same trigger events — or, when
// max_concurrent or min_pause held the regional run back, with the oldest
// recorded checkpoint still pending (its earlier acks are re-driven at once);
// the recorded acks, declines and persists are then re-driven onto the paired
// regional id. A checkpoint that failed as recorded because one subtask
// declined or failed is attributed to that subtask's region; every other
// subtask acks it at that moment, and a regional completion whose recorded
// counterpart never reached its metadata write is persisted at once. A
// whole-job restart (one task_failed per region at the same time) blames every
// region. A checkpoint the regional run triggers with no recorded counterpart
// (a request the recording refused, not all tasks running, which R13 lets
// regional mode trigger; or one after the recorded job ended) is acked by the
// healthy regions at once. An expiry fails the regions whose acks were missing
// (R18): an imported log has no acks, so there it fails every region. The
// report lists, per failed checkpoint, whether it would have completed and
// which older checkpoint each failed region would have referenced, with
// totals; WriteRegionalHistory writes the regional run. On a history where no
// region fails the regional run steps the same events and decides exactly what
// the recorded run did (a property the tests check on simulated jobs).
package flinklog
