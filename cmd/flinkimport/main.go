// Command flinkimport turns a Flink JobManager log into a checkpoint history and
// answers what regional checkpoints would have saved. It is a stand-in until
// cmd/replay wires the same entry points as `replay import-flink` and
// `replay what-if`:
//
//	flinkimport [flags] job.log > history.jsonl
//	flinkimport what-if --regional [flags] history.jsonl|job.log
package main

import (
	"os"

	"github.com/ckptcore/ckptcore/flinklog"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "what-if" {
		os.Exit(flinklog.WhatIfMain(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(flinklog.ImportMain(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
