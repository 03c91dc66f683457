# fnmgr: build, test and run the local stack. CI runs these same targets
# (.ci/run).

GO           ?= go
GOFMT        ?= gofmt
NPM          ?= npm
BIN          ?= bin
TEST_TIMEOUT ?= 20m
VERSION      ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

# Main packages to build; each becomes $(BIN)/<last element of its path>.
CMDS := ./plugin/cmd/fnmgr ./deploy/local/cmd/localstack

BUILD_FLAGS := -trimpath -ldflags "-X main.version=$(VERSION)"

# pouchdb-server, the local stack's CouchDB, is an npm package. The stamp,
# kept inside node_modules, is newer than the lockfile after a good `npm ci`.
COUCH_DIR   := deploy/local/couchdb
COUCH_STAMP := $(COUCH_DIR)/node_modules/.npm-ci.stamp
# The official openwhisk npm client, for the integration tests: its
# lockfile lives in tests/npm, the install in .deps (third-party files stay
# out of tests/, so that a search of tests/ finds only our own).
NPMTEST_DIR   := tests/npm
NPMTEST_DEPS  := .deps/npm-openwhisk
NPMTEST_STAMP := $(NPMTEST_DEPS)/node_modules/.npm-ci.stamp

# Our Go files (node_modules and testdata excluded).
GO_FILES = $(shell find . -name '*.go' -not -path '*/node_modules/*' -not -path '*/testdata/*' -not -path './.git/*')

# The real Helm, for the chart's tests, built from the tools module
# (tools/go.mod: Helm and Kubernetes' libraries stay out of fnmgr's own
# go.mod). Built once; rebuilt when the tools module changes.
HELM := $(BIN)/helm

.DEFAULT_GOAL := build
.PHONY: deps build run test test-unit test-faults fuzz bench bench-stack lint fmt tidy-check clean

deps: $(COUCH_STAMP) $(NPMTEST_STAMP) debian-tools
	$(GO) mod download
	cd tools && $(GO) mod download

# nginx (several fnmgr replicas behind it: make run FNMGR_REPLICAS=3) and
# prometheus/promtool (the dashboard and alert rules tests), from Debian,
# unpacked into .deps/debian when not installed.
DEBIAN_TOOLS := .deps/debian
.PHONY: debian-tools
debian-tools:
	deploy/local/debian-tools.sh $(DEBIAN_TOOLS)

$(COUCH_STAMP): $(COUCH_DIR)/package.json $(COUCH_DIR)/package-lock.json
	cd $(COUCH_DIR) && $(NPM) ci
	touch $@

$(NPMTEST_STAMP): $(NPMTEST_DIR)/package.json $(NPMTEST_DIR)/package-lock.json
	rm -rf $(NPMTEST_DIR)/node_modules
	mkdir -p $(NPMTEST_DEPS)
	cp $(NPMTEST_DIR)/package.json $(NPMTEST_DIR)/package-lock.json $(NPMTEST_DEPS)/
	cd $(NPMTEST_DEPS) && $(NPM) ci --ignore-scripts --no-audit --no-fund
	touch $@

$(HELM): tools/go.mod tools/go.sum
	@mkdir -p $(BIN)
	cd tools && $(GO) build -trimpath -o ../$(HELM) helm.sh/helm/v4/cmd/helm

build:
	@mkdir -p $(BIN)
	$(GO) build $(BUILD_FLAGS) -o $(BIN)/ $(CMDS)

# PROFILE=default|helm|scheduler picks the deployment the stack plays and
# KAFKA_TOPIC_PREFIX its topic prefix (SPEC.md section 5, docs/operations.md);
# both may also come from the environment (OW_PROFILE, KAFKA_TOPIC_PREFIX).
PROFILE ?=
run: deps build
	./$(BIN)/localstack $(if $(PROFILE),--profile '$(PROFILE)') $(if $(KAFKA_TOPIC_PREFIX),--kafka-topic-prefix '$(KAFKA_TOPIC_PREFIX)')

test: deps build $(HELM)
	FNMGR_HELM=$(abspath $(HELM)) $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd tools && FNMGR_HELM=$(abspath $(HELM)) $(GO) test -count=1 ./...

test-unit:
	$(GO) test -race -short -count=1 ./...

# The fault and security suites alone (make test runs them too). Their
# randomized runs draw from one seed, printed first; replay a failure with
# FAULTS_FLAGS='-run TestName -faults.seed=N'.
FAULTS_FLAGS ?=
test-faults: deps build
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./tests/faults/ $(FAULTS_FLAGS)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./tests/security/

# Every fuzz target for FUZZTIME each; what a run finds stays in Go's cache
# (copy it into the package's testdata/fuzz/<FuzzName>/ to keep it).
FUZZTIME ?= 20s
FUZZ_PKGS = $(sort $(patsubst %/testdata/fuzz,%,$(shell find . -path '*/testdata/fuzz' -not -path '*/node_modules/*')))
fuzz:
	@for pkg in $(FUZZ_PKGS); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			$(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The gateway's added latency against the real local stack, side by side
# with direct calls (docs/benchmarks.md). BENCH_STACK_FLAGS passes flags,
# such as -endpoints .local/endpoints.json for a stack `make run` started.
BENCH_STACK_FLAGS ?=
bench-stack: deps build
	$(GO) build -trimpath -o $(BIN)/gatewaylat ./tests/load/gatewaylat
	./$(BIN)/gatewaylat $(BENCH_STACK_FLAGS)

# fnmgr's other load programs (docs/benchmarks.md): make bench-feedlag,
# bench-eventsrate, bench-adopt, bench-blocklat, bench-replicas; LOAD_FLAGS passes flags
# (-rate 50, -actions 1000, -trials 5…).
LOADS := feedlag eventsrate adopt blocklat replicas
LOAD_FLAGS ?=
.PHONY: $(LOADS:%=bench-%)
$(LOADS:%=bench-%): bench-%: deps build
	$(GO) build -trimpath -o $(BIN)/$* ./tests/load/$*
	./$(BIN)/$* $(LOAD_FLAGS)

lint:
	@out="$$($(GOFMT) -l $(GO_FILES) </dev/null)"; \
	if [ -n "$$out" ]; then echo "gofmt -l lists files to format (run make fmt):"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd tools && $(GO) vet ./...

fmt:
	$(GOFMT) -w $(GO_FILES) </dev/null

tidy-check:
	$(GO) mod tidy -diff
	cd tools && $(GO) mod tidy -diff

clean:
	rm -rf $(BIN)
