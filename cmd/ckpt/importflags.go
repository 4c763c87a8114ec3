package main

import (
	"github.com/spf13/pflag"

	"github.com/ckptcore/ckptcore/flinklog"
)

// importFlags are the flags of import-flink, which what-if also takes when its
// input is a log.
type importFlags struct {
	opt           flinklog.Options
	timeout       opt[int64]
	tolerable     opt[int]
	maxConcurrent opt[int]
}

// importFlagNames lists them, for what-if to refuse them with a history.
var importFlagNames = []string{"job", "timeout", "tolerable", "max-concurrent", "edges", "assume-regions", "no-prior", "wrap"}

func (f *importFlags) register(fs *pflag.FlagSet) {
	f.opt = flinklog.DefaultOptions()
	fs.StringVar(&f.opt.Job, "job", "", "import this job id (default: the job with the most trigger and outcome lines)")
	fs.Var(&f.timeout, "timeout", "checkpoint timeout in ms (default: inferred from expiries, else 600000)")
	fs.Var(&f.tolerable, "tolerable", "tolerable failed checkpoints (default: inferred)")
	fs.Var(&f.maxConcurrent, "max-concurrent", "max concurrent checkpoints (default: inferred)")
	fs.StringVar(&f.opt.Edges, "edges", flinklog.EdgesAuto, "edges between the vertices the log names: auto, all_to_all, forward, none")
	fs.IntVar(&f.opt.AssumeRegions, "assume-regions", 0, "assume the job is N independent (embarrassingly parallel) regions")
	fs.BoolVar(&f.opt.NoPrior, "no-prior", false, "do not assume a completed checkpoint before the log's first id")
	fs.IntVar(&f.opt.WrapWidth, "wrap", 0, "join lines a terminal of this width wrapped (default: detect the width; -1 = join none)")
}

// options are the import options the flags give; what was not given stays
// inferred.
func (f *importFlags) options() flinklog.Options {
	o := f.opt
	if f.timeout.set {
		o.TimeoutMs = f.timeout.v
	}
	if f.tolerable.set {
		o.Tolerable = f.tolerable.v
	}
	if f.maxConcurrent.set {
		o.MaxConcurrent = f.maxConcurrent.v
	}
	return o
}
