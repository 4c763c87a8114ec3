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
// A runtime feeds events and carries out the returned effects in order.
//
// Effects returned by Step live in a buffer owned by the State and are valid until
// the next call of Step or Clone; a caller that keeps them copies them.
package fsm
