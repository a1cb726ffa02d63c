# streamsim: deterministic simulation harness for stream+ implementations.

GO        ?= go
BIN       := bin/simrun
# The default campaign: every catalogue scenario, `random` included, over SEEDS seeds each.
SEEDS     ?= 2000
FUZZTIME  ?= 10s

.DEFAULT_GOAL := help
.PHONY: help run build test bench fuzz lint cover

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z]+:.*## / {printf "  make %-6s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build bin/simrun
	$(GO) build -o $(BIN) ./cmd/simrun

run: build ## the default campaign against the reference (SEEDS=2000 per scenario), with a summary
	./$(BIN) run --all --seeds $(SEEDS)

test: ## go vet, then every test with the race detector
	$(GO) vet ./...
	$(GO) test -race -count=1 ./...

bench: ## benchmarks (benchstat-friendly: make bench > new.txt)
	$(GO) test -p 1 -run '^$$' -bench . -benchmem -count=1 ./...

fuzz: ## each fuzz target for FUZZTIME (default 10s)
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt would change the files above"; exit 1; }
	$(GO) vet ./...

cover: ## test coverage per package
	$(GO) test -count=1 -cover ./...
