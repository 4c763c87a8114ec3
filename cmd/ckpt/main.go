// Command ckpt is the command-line tool of ckptcore, the decision core of a
// checkpoint coordinator: one binary with a subcommand per task.
//
//	ckpt replay FILE                 replay a history through the core (trace, or -o json summary)
//	ckpt import-flink job.log        turn a Flink JobManager log into a history
//	ckpt what-if --regional FILE     what regional checkpoints (FLIP-600) would have saved
//	ckpt serve                       run the coordinator on a simulated job, with its REST API
//	ckpt sim                         the simulator's experiment grid (docs/sim.md)
//	ckpt explore FILE                every interleaving of a small bounded model, invariants checked
//	ckpt minimize FILE               shrink a history that breaks an invariant
//
// `ckpt help` lists them, `ckpt help CMD` documents one, `ckpt --version`
// prints the version. Help goes to standard output, errors to standard error,
// each once. Every subcommand exits as replay's contract says
// (docs/spec/HISTORY.md, "Replay"): 0 ok, 1 an invariant failed or recorded
// effects diverged, 2 invalid input or usage.
//
// Install it from a clone of the repository, where go.work ties this module
// to the core and the etcd backend:
//
//	go install ./cmd/ckpt
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := newApp(os.Stdin, os.Stdout, os.Stderr).run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
