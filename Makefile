# Two commands matter on a fresh machine with only Go installed:
#   make demo   replay an example history with `ckpt replay` and print its trace
#   make test   everything CI runs
GO        ?= go
FUZZTIME  ?= 10s
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Every package of every module of go.work (the core, cmd/ckpt, driver/etcd): in a
# workspace, ./... stays inside the module of the current directory, so each
# module's tree is named (./... ./cmd/ckpt/... ./driver/etcd/...).
PKGS := $(patsubst $(CURDIR)%,.%/...,$(shell $(GO) list -m -f '{{.Dir}}'))

.PHONY: crash-meta etcd etcd-if-possible soak-ha chromium browser demo test vet lint unit mutants mutants-all nonatomic fuzz-ci examples fuzz fuzz-long explore explore-mutants explore-vs-tlc bench bench-porcupine soak sim sim-quick tla tla-check tla-trace tla-check-large tla-mutants tla-readme

demo:
	$(GO) run ./cmd/ckpt replay examples/regional-completion.jsonl

test: chromium etcd-if-possible vet lint unit mutants nonatomic fuzz-ci examples tla

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet $(PKGS)
	$(GO) vet -tags ckpt_nonatomic ./driver/

unit:
	$(GO) test -count=1 $(PKGS)

# Source-level mutation testing (fuzz/mutate, issue 12 §3): each mutant of the
# catalogue is applied to a copy of the tree and must be caught. `mutants` runs
# the CI subset, `mutants-all` the whole catalogue.
mutants:
	$(GO) run ./fuzz/mutate

mutants-all:
	$(GO) run ./fuzz/mutate -all

# Every example replays with exit 0, through the installed-style binary.
examples:
	@mkdir -p bin && $(GO) build -o bin/ckpt ./cmd/ckpt
	@for f in examples/*.jsonl; do \
		bin/ckpt replay -o json $$f > /dev/null || { echo "example $$f failed"; exit 1; }; \
	done; echo "examples: all replay with exit 0"

lint:
	$(GO) run $(STATICCHECK) $(PKGS)
	$(GO) run $(STATICCHECK) -tags ckpt_nonatomic ./driver/

# The linearizability check must catch a deliberately torn GET of the configuration (issue 6).
nonatomic:
	$(GO) test -count=1 -tags ckpt_nonatomic -run Linearizab ./driver/

bench-porcupine:
	$(GO) test -run '^$$' -bench BenchmarkPorcupineConfig -benchtime 3x -benchmem ./driver/linearizability/

# Checkpoint storage under SIGKILL (issue 15 §1): 200 kills of a driver with a real
# checkpoints directory (make test runs 8), and the long _metadata property run.
crash-meta:
	CKPTCORE_META_CRASH_KILLS=200 CKPT_META_LONG=1 $(GO) test -count=1 -run 'TestMetaCrashRecovery|TestMetadataProperty' -v -timeout=30m ./driver/

# A longer robustness run of the driver's REST API under faults.
soak:
	CKPT_LIN_DURATION=2m $(GO) test -count=1 -run 'TestLinearizability$$' -v ./driver/

# Coverage-guided fuzzing: every target of fuzz/fuzz-long.sh for FUZZTIME, one after
# another (make fuzz FUZZTIME=5m).
fuzz:
	FUZZSERIAL=1 fuzz/fuzz-long.sh $(FUZZTIME)

# CI runs each fuzz target briefly on top of its committed seed corpus: a count of
# executions each (a few seconds), not a time (fuzz/fuzz-long.sh says why).
fuzz-ci:
	$(MAKE) --no-print-directory fuzz FUZZTIME=ci

# Every fuzz target at once for FUZZTIME (make fuzz-long FUZZTIME=30m), each with one worker
# under nice -n 19 (FUZZNICE=0 for normal priority); prints execs/s, CPU seconds, execs per CPU second
# and new corpus entries per target.
fuzz-long:
	fuzz/fuzz-long.sh $(FUZZTIME)

# The exhaustive explorer (issue 17): the large tier (3x1 and 2x2 models with every rule
# family, symmetry, every core) and the five mutants it must find alone (minutes).
explore:
	CKPT_EXPLORE_LARGE=1 $(GO) test -count=1 -run='^TestExploreLarge$$' -v -timeout=0 ./fuzz/
	$(MAKE) --no-print-directory explore-mutants

explore-mutants:
	CKPT_EXPLORE_MUTANTS=all $(GO) test -count=1 -run='^TestExplorerFindsMutants$$' -v -timeout=30m ./fuzz/

# The same bounded model in the explorer and in TLC, one worker each: counts and rates in one
# table (TLC's row says SKIPPED without java or TLA2TOOLS_JAR).
explore-vs-tlc:
	TLA2TOOLS_JAR=$${TLA2TOOLS_JAR:-$(CURDIR)/../shared/tools/tla/tla2tools.jar} tla/explore-vs-tlc.sh

# docs/sim.md: rerun the experiment grid and rewrite its table, CSV and plot.
sim:
	$(GO) run ./cmd/ckpt sim

# The small grid, written to a scratch directory (does not touch docs/).
sim-quick:
	$(GO) run ./cmd/ckpt sim --quick --out $${TMPDIR:-/tmp}/ckpt-sim

BENCHCOUNT ?= 1
# The benchmarks of BENCHMARKS.md.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) ./sim/

# TLA+ (tla/README.md). With ../shared/tools/tla/ beside the repository (or TLA2TOOLS_JAR and
# COMMUNITY_MODULES_JAR set): SANY, TLC on the configurations, trace validation of every golden,
# example and walk, spec mutants; every count compared with tla/expected.txt. Without the jars: SKIPPED.
tla:
	tla/run.sh ci

# The larger configurations (minutes), pinned in tla/expected-large.txt.
tla-check-large:
	tla/run.sh ci tla/expected-large.txt

# Every spec mutant of tla/mutants/ must be caught by model checking alone (also part of make tla).
tla-mutants:
	tla/run.sh mutants

# Rerun ci and ci-large and rewrite tla/README.md's results table from their result lines.
tla-readme:
	tla/run.sh readme

# One configuration or history by hand: make tla-check CFG=MCRegionalCheckpointB, make tla-trace H=file.jsonl
tla-check:
	tla/run.sh check $(CFG)

tla-trace:
	tla/run.sh trace $(H)

# Debian's etcd-server for the HA soak (fails, saying why, when it cannot install it).
etcd:
	@scripts/install-etcd.sh

# make test's short soak and etcd cluster test skip, saying why, without etcd.
etcd-if-possible:
	@scripts/install-etcd.sh || echo "install-etcd: the soak's tests in driver/etcd/soak will skip"

# The HA soak (issue 15 §2, driver/etcd/soak): a 3-member etcd cluster, three
# `ckpt serve --etcd` processes sharing three jobs, REST clients and random leader
# kills, paused leaders and etcd member kills for SOAK_DURATION; prints the table
# of BENCHMARKS.md's HA section, writes it to bin/soak-ha.json, exits 1 on a violation.
SOAK_DURATION ?= 3m
SOAK_SEED     ?= 1
soak-ha: etcd
	@mkdir -p bin
	cd driver/etcd && $(GO) run ./soak -duration $(SOAK_DURATION) -seed $(SOAK_SEED) -json $(CURDIR)/bin/soak-ha.json

# Debian's chromium for the HTML timeline's browser test (skips, saying why, without it).
chromium:
	@scripts/install-chromium.sh

# The timeline rendered in headless chromium: marks, hover, no console message (also part of unit).
browser: chromium
	$(GO) test -count=1 -run Browser -v ./history/timeline/
