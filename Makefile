# Developer and CI entry points. `make help` lists the targets.
#
# Tools are pinned in hack/tools.sh and installed into .tmp/bin (gitignored),
# so they never enter go.mod. Everything here needs only Go, git, bash and a
# C compiler (for the race detector), plus the Go module proxy the first time;
# `make test` also needs skopeo, which hack/apt.sh installs with apt-get (as
# root or through sudo) when it is not on PATH.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

GO ?= go
TOOLS_BIN := $(CURDIR)/.tmp/bin
GOLANGCI_LINT := $(TOOLS_BIN)/golangci-lint

# Where `make run` keeps capd's state.
DATA ?= .tmp/data
# How long `make fuzz` runs each fuzz target (any `go test -fuzztime` value).
FUZZTIME ?= 10s
# How long `make test` fuzzes each target after the tests: briefly, so that
# every parser of outside input meets its hostile corpus and some mutations.
TEST_FUZZTIME ?= 3s
# The bound on the end-to-end tests, which build and run the real binaries
# (about 20 s on a warm cache; on a fresh machine compiling them takes minutes).
E2E_TIMEOUT ?= 15m
# Extra flags for `make test`, e.g. TESTFLAGS='-run TestLoad -v'.
TESTFLAGS ?=
# Tools from hack/tools.sh that the tests need: the end-to-end tests list
# capd's services through reflection with the real grpcurl, verify capd's
# signatures with the real notation CLI, pull and push through capd's /v2/
# with the real oras and crane (and skopeo, from hack/apt.sh), and run the
# OCI distribution-spec conformance suite against it.
TEST_TOOLS := grpcurl notation oras crane conformance
# Tools `make bench` needs: the peer registry the figures are compared with,
# and the oras CLI, which pulls from both.
BENCH_TOOLS := registry oras
# The code generators `make generate` runs (pinned in hack/tools.sh).
GEN_TOOLS := buf protoc-gen-go protoc-gen-go-grpc protoc-gen-grpc-gateway protoc-gen-openapiv2
# Paths holding generated code that `make checkgenerate` compares with git.
GENERATED := proto

.PHONY: help
help: ## List the targets
	@echo "Usage: make TARGET [FUZZTIME=10s] [DATA=.tmp/data] [TESTFLAGS=...]"
	@echo
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

.PHONY: run
run: build ## Build the binaries and run bin/capd --data DATA --seed-builtin
	@mkdir -p $(DATA)
	@echo "bin/capd --data $(DATA) --seed-builtin   (capctl is in bin/; stop with Ctrl-C)"
	@exec bin/capd --data $(DATA) --seed-builtin

.PHONY: build
build: ## Build capd and capctl into bin/
	@mkdir -p bin
	$(GO) build -o bin/ ./cmd/capd ./cmd/capctl

.PHONY: test
test: ## Run every test with the race detector, then each fuzz target for TEST_FUZZTIME (installs TEST_TOOLS and skopeo, builds the API server once)
	$(if $(TEST_TOOLS),hack/tools.sh $(TEST_TOOLS))
	hack/apt.sh
	@# The installer's tests need a real kube-apiserver and etcd; the first
	@# build takes minutes, later runs reuse .tmp/kube. A failed build stops here.
	assets=$$(hack/kube-assets.sh); \
	KUBEBUILDER_ASSETS=$$assets $(GO) test -race -count=1 -timeout 15m $(TESTFLAGS) $$($(GO) list ./... | grep -v '/cmd/e2e$$')
	$(GO) test -race -count=1 -timeout $(E2E_TIMEOUT) $(TESTFLAGS) ./cmd/e2e/
	hack/fuzz.sh $(TEST_FUZZTIME)

.PHONY: lint
lint: ## Check gofmt, run go vet and golangci-lint (installs it into .tmp/bin)
	@hack/tools.sh golangci-lint
	@unformatted=$$(find . -name '*.go' \
	    -not -path './.git/*' -not -path './.tmp/*' -not -path './bin/*' \
	    -not -path '*/testdata/*' -not -name '*.pb.go' -not -name '*.pb.gw.go' \
	    -print0 | xargs -0 -r gofmt -l); \
	if [ -n "$$unformatted" ]; then \
	  echo "gofmt: these files need \`gofmt -w\`:"; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run --allow-parallel-runners ./...
	@hack/tools.sh buf
	$(TOOLS_BIN)/buf lint
	$(TOOLS_BIN)/buf format --diff --exit-code

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 10s), one at a time
	@hack/fuzz.sh $(FUZZTIME)

.PHONY: bench
bench: ## Run the benchmarks against the real binaries, each figure beside the peer registry's
	@hack/tools.sh $(BENCH_TOOLS)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./cmd/e2e/
	$(GO) test -run '^$$' -bench . -benchmem -timeout 10m ./capabilities/evalproc/

.PHONY: kube-assets
kube-assets: ## Build kube-apiserver, etcd and kubectl for the installer tests into .tmp/kube
	@hack/kube-assets.sh

.PHONY: generate
generate: ## Regenerate proto/ from the .proto files with buf and local plugins
	@hack/tools.sh $(GEN_TOOLS)
	PATH="$(TOOLS_BIN):$$PATH" $(TOOLS_BIN)/buf generate

.PHONY: checkgenerate
checkgenerate: generate ## Fail when `make generate` changes or adds generated files (GENERATED)
	@git diff --exit-code -- $(GENERATED) || { \
	  echo "checkgenerate: generated code is stale: run \`make generate\` and commit"; exit 1; }
	@added=$$(git ls-files --others --exclude-standard -- $(GENERATED)); \
	if [ -n "$$added" ]; then \
	  echo "checkgenerate: generated files not committed:"; echo "$$added"; exit 1; \
	fi

.PHONY: clean
clean: ## Remove bin/ and DATA (keeps the tools in .tmp/bin)
	rm -rf bin $(DATA)
