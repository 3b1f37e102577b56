# Cane. `make demo` runs a sandbox cluster; `make test` runs every test.
GO      ?= go
BIN     := $(CURDIR)/bin
PIDFILE := $(CURDIR)/.cache/sandbox.pid
export PATH := $(PATH):/usr/local/go/bin
# Kubernetes binaries the e2e tests run, built once from the Go module proxy
# (kubectl too when the machine has none: Debian's is too old).
K8S_BINS := kube-apiserver $(if $(shell command -v kubectl),,kubectl)

.PHONY: all build deps test unit e2e demo demo-down fuzz bench clean

all: build

build:
	$(GO) build -o $(BIN)/ ./plugins/cane ./cmd/caned ./cmd/canectl

deps:
	./scripts/deps.sh

# Everything: static checks, unit tests, OVS and netlink tests (in throwaway
# namespaces), the e2e isolation suite, and short fuzz runs.
test: deps build
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	CANE_BIN_DIR=$(BIN) CANE_K8S_DIR=$$(./scripts/k8s.sh $(K8S_BINS)) $(GO) test -count=1 -race -timeout 30m ./...
	$(MAKE) fuzz

# Each fuzz target (netconf, CNI_ARGS, the socket API) for FUZZTIME.
FUZZTIME ?= 10s
fuzz:
	for f in FuzzParseNetConf FuzzParseArgs FuzzAPI; do \
		$(GO) test -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) ./daemon || exit 1; done

unit:
	$(GO) test -count=1 ./flows/... ./ipam/... ./cluster/... ./api/...

e2e: deps build
	CANE_BIN_DIR=$(BIN) CANE_K8S_DIR=$$(./scripts/k8s.sh $(K8S_BINS)) $(GO) test -count=1 -v -timeout 30m ./e2e/...

# A one-node cluster in network namespaces, pods in two isolated domains.
demo: deps build
	@mkdir -p $(dir $(PIDFILE))
	$(GO) build -o $(BIN)/sandbox ./e2e/sandbox
	$(BIN)/sandbox -bin $(BIN) -pidfile $(PIDFILE)

demo-down:
	@if [ -f $(PIDFILE) ]; then kill -TERM $$(cat $(PIDFILE)) && echo "sandbox stopping"; else echo "no sandbox running"; fi

# Cane against the reference bridge + host-local plugins (built from the
# module cache at the pinned containernetworking/plugins version), one run.
bench: deps build
	GOBIN=$(BIN) $(GO) install github.com/containernetworking/plugins/plugins/main/bridge@v1.9.1 github.com/containernetworking/plugins/plugins/ipam/host-local@v1.9.1
	$(GO) build -o $(BIN)/bench ./e2e/bench
	$(BIN)/bench -bin $(BIN) -json $(CURDIR)/bench.json

clean:
	rm -rf $(BIN) .cache
