# Cane. `make demo` runs a sandbox cluster; `make test` runs every test.
GO      ?= go
BIN     := $(CURDIR)/bin
PIDFILE := $(CURDIR)/.cache/sandbox.pid
export PATH := $(PATH):/usr/local/go/bin
# Kubernetes binaries the e2e tests run, built once from the Go module proxy
# (kubectl too when the machine has none: Debian's is too old).
K8S_BINS := kube-apiserver kubelet $(if $(shell command -v kubectl),,kubectl)
# Reference CNI plugins at the pinned version: chained after cane in
# deploy's conflist (tuning, portmap, bandwidth) and containerd's loopback.
CNI_PLUGINS := github.com/containernetworking/plugins/plugins/main/loopback@v1.9.1 \
	github.com/containernetworking/plugins/plugins/meta/tuning@v1.9.1 \
	github.com/containernetworking/plugins/plugins/meta/portmap@v1.9.1 \
	github.com/containernetworking/plugins/plugins/meta/bandwidth@v1.9.1

.PHONY: all build deps cni-plugins test check vet lint unit e2e e2e-k8s demo demo-down fuzz bench clean

all: build

# Static binaries: cane is copied onto every node (and into the image),
# whatever its libc.
build:
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ ./plugins/cane ./cmd/caned ./cmd/canectl

deps:
	./scripts/deps.sh

cni-plugins:
	GOBIN=$(BIN) $(GO) install $(CNI_PLUGINS)

# Everything: static checks, unit tests, OVS and netlink tests (in throwaway
# namespaces), the e2e isolation suite (with the kubelet tier), and short
# fuzz runs. CANE_REQUIRE_ROOT=1: a privileged test that cannot run here
# fails instead of skipping (internal/needs).
test: deps build cni-plugins check
	CANE_REQUIRE_ROOT=1 CANE_BIN_DIR=$(BIN) CANE_K8S_DIR=$$(./scripts/k8s.sh $(K8S_BINS)) $(GO) test -count=1 -race -timeout 30m ./...
	$(MAKE) fuzz

# Static checks: vet (also of the crash-point build), gofmt, a tidy
# go.mod, and the pinned linter.
check: vet lint
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@$(GO) mod tidy -diff || { echo "go.mod is not tidy: run go mod tidy"; exit 1; }

vet:
	$(GO) vet ./...
	$(GO) vet -tags cane_crashpoints ./daemon

# staticcheck at a pinned version, built once into Go's caches.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
lint:
	$(GO) run $(STATICCHECK) ./...

# The fast lane: every package whose tests need no root, with the race
# detector. The privileged ones (netns, netlink, a private OVS, the e2e
# suite) are daemon, ovs, podnet, nodenet and e2e.
PRIVILEGED := /(daemon|ovs|podnet|nodenet|e2e)(/|$$)
unit:
	$(GO) test -count=1 -race $$($(GO) list ./... | grep -vE '$(PRIVILEGED)')

# Each fuzz target for FUZZTIME; one line per target with its execs/s.
# Fails only on a failing input (see scripts/fuzz.sh).
FUZZTIME ?= 10s
FUZZ := ./netconf:FuzzParse ./netconf:FuzzParseArgs ./api:FuzzDecodeCNIRequest ./api:FuzzDecodeStrict
fuzz:
	@GO=$(GO) ./scripts/fuzz.sh $(FUZZTIME) $(FUZZ)

e2e: deps build cni-plugins
	CANE_BIN_DIR=$(BIN) CANE_K8S_DIR=$$(./scripts/k8s.sh $(K8S_BINS)) $(GO) test -count=1 -v -timeout 30m ./e2e/...

# The kubelet tier alone: a real kubelet on a real containerd runs pods
# through deploy's conflist (cane + tuning + portmap + bandwidth).
e2e-k8s: deps build cni-plugins
	CANE_BIN_DIR=$(BIN) CANE_K8S_DIR=$$(./scripts/k8s.sh $(K8S_BINS)) $(GO) test -count=1 -v -timeout 20m -run 'TestKubelet|TestDeploy|TestDaemonSet' ./e2e/

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
	$(BIN)/bench -bin $(BIN) -json $(CURDIR)/bench.json -k8s $$(./scripts/k8s.sh kube-apiserver) -crds $(CURDIR)/deploy/crds

clean:
	rm -rf $(BIN) .cache
