# streamsim: deterministic simulation harness for stream+ implementations.

GO        ?= go
BIN       := bin/simrun
# The default campaign: every catalogue scenario, `random` included, over SEEDS seeds each.
SEEDS     ?= 2000
# make fuzz: how long each target runs, which targets (FUZZ=Handover runs FuzzHandover only;
# empty: every target), against which implementation (IMPL=mutant:NAME; read by the
# scenario targets), and where findings are saved as plan files.
FUZZTIME  ?= 10s
FUZZ      ?=
IMPL      ?= reference
FINDINGS  ?= $(CURDIR)/findings
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

help: ## list the targets and the variables they read
	@echo "targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-6s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "variables (make VAR=value target; now):"
	@printf '  %-9s %s (%s)\n' \
	  SEEDS "seeds per scenario for make run" "$(SEEDS)" \
	  FUZZ "the fuzz target to run, without Fuzz: Handover, ReadHistory, ...; empty: all" "$(FUZZ)" \
	  FUZZTIME "how long each fuzz target runs: a Go duration, or Nx for N inputs" "$(FUZZTIME)" \
	  IMPL "what the scenario fuzz targets run: reference or mutant:NAME" "$(IMPL)" \
	  FINDINGS "where fuzz findings go as plan files for simrun replay, shrink, report" "$(FINDINGS)" \
	  BENCHCOUNT "runs of each benchmark in make bench" "$(BENCHCOUNT)" \
	  TESTTIMEOUT "how long one package's tests may run in make test before Go calls them hung" "$(TESTTIMEOUT)" \
	  GO "the go command" "$(GO)"

build: ## build bin/simrun (with failpoints compiled in)
	@test -x $(BIN) || echo "building $(BIN) with failpoints compiled in (the first build compiles every dependency: a few minutes; later ones take seconds)"
	$(FP) $(GO) build $(FP_FLAGS) -o $(BIN) ./cmd/simrun

run: build ## the default campaign against the reference (SEEDS=2000 per scenario), with a summary
	./$(BIN) run --all --seeds $(SEEDS)

# Campaign-sized tests, and validate's runs of planted bugs in real time (testing.Short gates
# them), are too slow under the race detector: they run in a second step without it.
LONG      := TestFreshAgrees|TestFreshMillionPosts|TestMutantsAreCaught|TestTimingOnlyMutants
# A package's tests get this long before Go declares them hung. Go's default, 10 minutes, is
# about three times what the slowest package needs on a quiet machine, and a loaded one runs
# them several times slower: a hang is still caught, a busy machine is not called a hang.
TESTTIMEOUT ?= 30m

test: deps ## go vet, then every test with the race detector and failpoints compiled in, then the long ones (campaigns, planted bugs in real time) without
	$(GO) vet -tags failpoints ./...
	@echo "testing every package with the race detector and failpoints (the first run compiles everything twice over: several minutes)"
	$(FP) $(GO) test -race -short -count=1 -timeout $(TESTTIMEOUT) $(FP_FLAGS) ./...
	$(FP) $(GO) test -count=1 -timeout $(TESTTIMEOUT) $(FP_FLAGS) -run '$(LONG)' ./checker/ ./scenarios/ ./validate/

deps: ## install what the tests need beyond Go: Chromium for the report tests
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  echo "installing chromium: the report tests open report.html and index.html in it"; \
	  if ! command -v apt-get >/dev/null; then \
	    echo "no apt-get here: install Chromium with your package manager (dnf install chromium, brew install --cask chromium, ...) so that 'chromium' or 'chromium-browser' is in PATH"; exit 1; \
	  elif [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; \
	  else echo "run as root, or with sudo: apt-get install -y chromium"; exit 1; fi; }

bench: ## benchmarks (benchstat-friendly: make bench > new.txt; BENCHCOUNT runs, default 6)
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count=$(BENCHCOUNT) ./...

loadtest: ## the load test: 1,024 clients that never read and 4 honest subscribers against serve
	SIMRUN_LOAD_IDLE=1024 SIMRUN_LOAD_HONEST=4 $(GO) test -count=1 -v -run '^TestServeUnderClientsThatDoNotRead$$' ./cmd/simrun

fuzz: ## fuzz targets for FUZZTIME each (FUZZ=Handover: one target; IMPL=mutant:NAME)
	@found=; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    if [ -n "$(FUZZ)" ] && [ "$$t" != "Fuzz$(FUZZ)" ] && [ "$$t" != "$(FUZZ)" ]; then continue; fi; \
	    found=1; echo "fuzz $$pkg $$t for $(FUZZTIME) against $(IMPL); findings: $(FINDINGS)"; \
	    STREAMSIM_IMPL=$(IMPL) STREAMSIM_FINDINGS=$(FINDINGS) \
	      $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done; \
	test -n "$$found" || { echo "no fuzz target named $(FUZZ) (make help lists how to name one)"; exit 2; }

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt would change the files above"; exit 1; }
	$(GO) vet -tags failpoints ./...

cover: ## test coverage per package (failpoints compiled in)
	$(FP) $(GO) test -count=1 -cover $(FP_FLAGS) ./...
