// Package history reads, writes and replays histories: the newline-delimited JSON
// format of docs/spec/HISTORY.md (ckpt-history/v1) that records every input of the
// decision core, optionally with the effects a runtime saw for each event.
//
// Decode is strict — unknown fields, wrong types, non-integers, subtasks the job
// does not have and time going backwards are errors that name the physical line
// and the field — because a history is evidence: a typo silently ignored would
// replay a different run. Writer and EncodeEvent produce lines Decode reads back
// unchanged. Replay steps the core through a history, checks the invariants of
// docs/spec/SEMANTICS.md §10 after every step, compares recorded effects with recomputed ones
// and builds the ckpt-summary/v1 summary and a readable trace.
//
// The binary variant (binary.go; HISTORY.md, "Binary variant") holds the same
// lines in records — runs of effect-free acks as ranges of subtask indexes —
// for flight recorders that take millions of acks a second: NewReader, Decode
// and ReadFile detect it by its magic, and ToNDJSON and ToBinary convert
// between the two byte for byte.
package history
