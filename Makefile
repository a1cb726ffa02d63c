# streamsim: deterministic simulation harness for stream+ implementations.

GO        ?= go
BIN       := bin/simrun
# The default campaign: every catalogue scenario, `random` included, over SEEDS seeds each.
SEEDS     ?= 2000
FUZZTIME  ?= 10s
# Runs of each benchmark: enough for benchstat to give a spread.
BENCHCOUNT ?= 6
# Failpoint builds rewrite the markers in reference/ at compile time (failpoint-toolexec, a
# tool line in go.mod), so sources are never touched. Go's build cache cannot tell rewritten
# compiles from plain ones, so they get a cache of their own.
FP_CACHE  ?= $(shell $(GO) env GOCACHE)-failpoints
FP        := GOCACHE=$(FP_CACHE)
FP_FLAGS  = -tags failpoints -toolexec="$$($(GO) tool -n failpoint-toolexec)"

.DEFAULT_GOAL := help
.PHONY: help run build test bench fuzz lint cover deps loadtest

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-6s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/simrun (with failpoints compiled in)
	$(FP) $(GO) build $(FP_FLAGS) -o $(BIN) ./cmd/simrun

run: build ## the default campaign against the reference (SEEDS=2000 per scenario), with a summary
	./$(BIN) run --all --seeds $(SEEDS)

# Campaign-sized tests (testing.Short gates them) are too slow under the race detector: they
# run in a second step without it.
LONG      := TestFreshAgrees|TestFreshMillionPosts

test: deps ## go vet, then every test with the race detector and failpoints compiled in, then the campaign-sized ones without
	$(GO) vet -tags failpoints ./...
	$(FP) $(GO) test -race -short -count=1 $(FP_FLAGS) ./...
	$(FP) $(GO) test -count=1 $(FP_FLAGS) -run '$(LONG)' ./checker/ ./scenarios/

deps: ## install what the tests need beyond Go: Chromium for the report test
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "installing chromium (the HTML report test opens reports in it)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi; }

bench: ## benchmarks (benchstat-friendly: make bench > new.txt; BENCHCOUNT runs, default 6)
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count=$(BENCHCOUNT) ./...

loadtest: ## issue 11's load: 1,024 clients that never read and 4 honest subscribers against serve
	SIMRUN_LOAD_IDLE=1024 SIMRUN_LOAD_HONEST=4 $(GO) test -count=1 -v -run '^TestServeUnderClientsThatDoNotRead$$' ./cmd/simrun

fuzz: ## each fuzz target for FUZZTIME (default 10s)
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt would change the files above"; exit 1; }
	$(GO) vet -tags failpoints ./...

cover: ## test coverage per package (failpoints compiled in)
	$(FP) $(GO) test -count=1 -cover $(FP_FLAGS) ./...
