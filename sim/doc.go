// Package sim is a deterministic, seeded simulator of a streaming job driven by
// the checkpoint decision core (package fsm).
//
// A job is built from a Shape (by default N pipelined regions, each a
// source→sink pointwise chain). Every subtask that receives a trigger answers
// after a sampled delay: it acknowledges, declines with probability
// DeclineProb, or fails with probability FailProb, after which its whole region
// restarts (task_running for each subtask) after a sampled delay. The runtime's
// side of every effect is carried out (trigger → answers, persist → persisted
// after a delay, fail_job → a job restart), time advances through a
// discrete-event queue, and the core's NextDeadline says when a tick is due.
//
// All randomness comes from one math/rand/v2 PCG seeded from Params.Seed, and
// the event queue breaks time ties by insertion order, so the same Params give
// the same run — and a byte-identical history (history.Writer) — every time. The
// core itself stays pure: every random choice reaches it as event data.
//
// Cost is O(events): the queue holds plain values, per-region epochs make stale
// answers of restarted subtasks cheap to drop, and nothing is allocated per
// subtask per event (the history writer, when one is given, is the exception).
package sim
