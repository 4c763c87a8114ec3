// Package fuzz is the verification harness of the decision core (issue
// "Verification harness"): it checks fsm.State.Step against the invariants of
// SEMANTICS §10 in four independent ways and turns every counterexample into a
// history file that `ckpt replay` reproduces.
//
//   - A rapid state-machine property (core_test.go) generates small jobs and
//     configurations and drives the core with every event type, valid and
//     invalid, checking every invariant after each step. Failing cases persist
//     under testdata/rapid/<Test>/ (rapid's .fail file) with a .jsonl history
//     next to it.
//   - A differential test (differential_test.go) runs the same kind of event
//     sequences through refmodel, a deliberately naive re-implementation of the
//     observable outcome rules, and compares them after every step.
//   - go test -fuzz targets (fuzz_test.go, http_fuzz_test.go) with committed
//     seed corpora under testdata/fuzz/<FuzzName>/: FuzzDecode (history
//     codec), FuzzHTTP (the driver's REST API); and FuzzCore, fuzzer bytes
//     read as events straight into Step with every invariant, in package
//     corefuzz (./corefuzz), whose test binary links only what it needs.
//   - Explore (explore.go) enumerates every interleaving of a bounded set of
//     events breadth-first, deduplicating states, and writes the shortest
//     counterexample as a history; Minimize (minimize.go) shrinks any failing
//     history by delta debugging.
//
// Running the long modes (the Makefile's fuzz and explore targets):
//
//	go test -run=NONE -fuzz=FuzzDecode -fuzztime=$(FUZZTIME) ./fuzz/
//	go test -run=NONE -fuzz=FuzzCore -fuzztime=$(FUZZTIME) ./fuzz/corefuzz/
//	go test -run=NONE -fuzz=FuzzHTTP -fuzztime=$(FUZZTIME) ./fuzz/
//	CKPT_EXPLORE_LARGE=1 go test -run=TestExploreLarge -v -timeout=0 ./fuzz/
//
// The harness proves it can fail by source-level mutation testing (make
// mutants): a catalogue of small bugs is applied to a copy of the tree, never
// to fsm/ itself, and this package's properties must catch each one.
//
// Histories the harness once found a problem with live in testdata/regress/
// and are replayed by TestRegressions.
package fuzz
