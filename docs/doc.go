// Package docs holds the project's documentation: the spec (docs/spec/), the
// record of decisions (DECISIONS.md), the simulator's results and the
// benchmarks' notes. It has no code; its test checks that every relative link in
// the repository's Markdown files resolves, anchors included, and that nothing
// but the CI and TLA+ launchers points outside the repository.
package docs
