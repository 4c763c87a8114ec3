# Two commands matter on a fresh machine with only Go installed:
#   make demo   replay an example history and print its trace
#   make test   everything CI runs
GO        ?= go
FUZZTIME  ?= 10s
STATICCHECK = honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: demo test vet lint unit mutants examples fuzz explore bench sim tla-check tla-trace

demo:
	$(GO) run ./cmd/replay examples/regional-completion.jsonl

test: vet lint unit mutants examples

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt would change:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags ckpt_mutants ./fsm/ ./fuzz/

unit:
	$(GO) test -count=1 ./...

# The harness must catch deliberately injected bugs (issue 5).
mutants:
	$(GO) test -count=1 -tags ckpt_mutants -run Mutant ./fuzz/

# Every example replays with exit 0.
examples:
	@for f in examples/*.jsonl; do \
		$(GO) run ./cmd/replay -summary $$f > /dev/null || { echo "example $$f failed"; exit 1; }; \
	done; echo "examples: all replay with exit 0"

lint:
	$(GO) run $(STATICCHECK) ./...
