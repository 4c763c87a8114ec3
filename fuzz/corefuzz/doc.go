// Package corefuzz holds FuzzCore, the coverage-guided fuzz target of the
// decision core (issue 13): the fuzzer's bytes are read as a stream of
// choices — a job, a configuration, a start, then one event per few bytes —
// fed straight into fsm.State.Step, with the invariant checker (SEMANTICS §10)
// and R10's "nothing overdue" after every step, invalid events that must be
// refused with the state unchanged, and a history round trip of the events
// with free values.
//
// It is a package of its own, apart from the harness in package fuzz, for the
// fuzzing engine's sake. `go test -fuzz` instruments every package linked into
// the test binary with 8-bit edge counters, and the engine clears, snapshots
// and compares the whole counter array on every execution. The harness's test
// binary links rapid, net/http, the driver and the reference model: 80 KB of
// counters, which cost ~175 µs of CPU per execution even for a fuzz function
// that does nothing (5.7 k execs per CPU second, against 33 k in a package
// linking only fsm, invariants and history). Here the binary links only what
// FuzzCore uses. See BENCHMARKS.md, "FuzzCore rate".
//
//	go test -run '^$' -fuzz '^FuzzCore$' -fuzztime 60s -fuzzminimizetime 10000x -parallel 1 ./fuzz/corefuzz/
//
// Minimization is capped in executions, not time: a minimization that runs
// out of time makes the engine kill the worker and drop the executions it
// made, which with a time cap happened every few seconds (fuzz-long.sh).
//
// The rapid state-machine property over the same kinds of histories
// (TestCore) stays in package fuzz: its shrinker reads better
// counterexamples but runs ~100× slower under the fuzzer.
package corefuzz
