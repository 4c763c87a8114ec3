// Package invariants checks the invariants of docs/spec/SEMANTICS.md §10 by name, after every
// step of the decision core. A Checker observes each step — the event, the
// effects and the state after it — and keeps the little history some invariants
// need (what was discarded, notified, triggered).
package invariants
