//go:build !ckpt_mutants

package fsm

// mutant reports whether a deliberately injected bug is on. In normal builds it
// is constant false and compiles away; the ckpt_mutants build tag (mutants_on.go)
// lets the verification harness prove that it catches each bug.
func mutant(string) bool { return false }
