# siaprapat: `make run` starts a controller and a local agent; `make test` runs every test.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git symbolic-ref --short -q HEAD 2>/dev/null || echo unknown)
VPKG     := github.com/prometheus/common/version
LDFLAGS  := -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
            -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildDate=$(shell date -u +%Y%m%dT%H%M%SZ)
BINS     := bin/siaprapat-agent bin/siaprapat-controller

.PHONY: all build run test test-deps test-guest bench bench-footprint fuzz vet lint fmt clean dist

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./agent/cmd/siaprapat-agent ./controller/cmd/siaprapat-controller

# Controller (embedded MQTT broker, bbolt store in ./data) and one agent as room demo/room-1.
run: build
	./scripts/run.sh

vet:
	$(GO) vet ./...

# staticcheck (a Go tool dependency in go.mod, so nothing else is
# downloaded) over every package, and over the guest test under its build
# tag. A finding is fixed, not silenced; a //lint:ignore says why.
lint:
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags guest ./e2e/guest ./agent/camera

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# Every test. First the Debian packages the integration tests need
# (Mosquitto, Prometheus, Alertmanager, PulseAudio, Chromium, iperf3, ...):
# scripts/test-deps.sh installs them when run as root, else prints the one
# command that does. Outside CI a test whose program is missing skips with a
# message (gotestsum lists the skips); in CI it fails.
test: test-deps vet lint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) tool gotestsum --format pkgname-and-test-fails --format-hide-empty-pkg -- -race -count=1 -timeout 15m ./...

test-deps:
	@./scripts/test-deps.sh

# The guest test (not part of make test; .ci/run runs it after): Debian's
# own kernel booted under QEMU (KVM when /dev/kvm opens, plain emulation
# otherwise) with vivid, a UVC gadget seen through uvcvideo and snd-aloop,
# and the agent judging them (e2e/guest, build tag guest). Needs the Debian
# packages qemu-system-x86, busybox-static, v4l-utils, alsa-utils and ffmpeg,
# and apt's package lists: the kernel package is fetched with apt-get
# download into $$SIAPRAPAT_GUEST_CACHE (default ~/.cache/siaprapat-guest).
# About 3 minutes under plain emulation.
test-guest:
	$(GO) vet -tags guest ./e2e/guest ./agent/camera
	$(GO) test -tags guest -count=1 -timeout 10m -v ./e2e/guest

# Benchmarks (not part of make test): the Go benchmarks of the controller's
# hot paths (ingest of one report, one /metrics scrape at 1,000 and 10,000
# rooms), then the fleet-scale harness (bench/): the controller with its
# embedded broker and with Mosquitto, and Telegraf beside it, at 1,000,
# 10,000 and 50,000 rooms on loopback; it prints a table and rewrites the
# results in BENCHMARKS.md. Needs mosquitto; installs Telegraf into a
# temporary GOBIN. About half an hour; BENCH_ARGS='-rooms 1000' for a short run.
BENCH_ARGS ?=
bench:
	$(GO) test -run XXX -bench . -benchtime 3000x -count 3 ./controller/ingest
	$(GO) test -run XXX -bench . -benchtime 5x -count 3 ./controller/metrics
	$(GO) run ./bench $(BENCH_ARGS)

# The agent's footprint (not part of make bench): siaprapat-agent run idle
# for 10 minutes beside node_exporter (Debian prometheus-node-exporter)
# scraped every 15 s, then the cost of one check; rewrites its own section
# of BENCHMARKS.md. About 13 minutes; BENCH_ARGS='-footprint-time 2m' for
# a short run.
bench-footprint:
	$(GO) run ./bench -footprint $(BENCH_ARGS)

# Each fuzz target for FUZZTIME (CI runs them briefly after make test; run
# longer by hand, e.g. make fuzz FUZZTIME=10m). A crash is saved under the
# package's testdata/fuzz and fails the run. A failure with only "context
# deadline exceeded" and nothing saved is Go 1.26's coordinator
# (golang/go#75804), not the target: FUZZTIME=1000000x (a count) avoids it.
FUZZTIME ?= 1m
FUZZ     := FuzzDecode:./wire FuzzDecode_SameAsTwoPass:./wire FuzzNameChecks:./wire FuzzParse:./standard FuzzLoadProfiles:./agent/peripherals FuzzExpand:./controller/sessions FuzzZones:./controller/sessions FuzzParse:./controller/rooms FuzzApplyBytes:./internal/config FuzzDecodeSchedule:./wire FuzzDecodeResult:./wire FuzzDecompress:./internal/reportzip
fuzz:
	@for t in $(FUZZ); do \
	  echo "fuzz $${t%%:*} in $${t#*:} for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$${t%%:*}\$$" -fuzztime $(FUZZTIME) $${t#*:} || exit 1; \
	done

# Release artifacts in $(DIST): the Debian packages of the agent (amd64) and
# the controller (amd64, arm64), the Windows agent (cgo through mingw-w64) and
# SHA256SUMS. Needs gcc, and Debian's gcc-mingw-w64-x86-64 and
# g++-mingw-w64-x86-64 for the Windows agent (.ci/run installs them); nfpm is
# a Go tool dependency (go.mod), so nothing else is downloaded.
DIST        ?= dist
DEB_VERSION  = $(shell packaging/debversion.sh '$(VERSION)')
MINGW_CC    ?= x86_64-w64-mingw32-gcc
MINGW_CXX   ?= x86_64-w64-mingw32-g++
DIST_BUILD   = $(GO) build -trimpath -ldflags '$(LDFLAGS)'
NFPM         = DEB_VERSION='$(DEB_VERSION)' $(GO) tool nfpm package --packager deb --target $(DIST)/

dist:
	@command -v $(MINGW_CC) >/dev/null || { echo "make dist: $(MINGW_CC) not found: apt-get install gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64"; exit 1; }
	rm -rf $(DIST)
	mkdir -p $(DIST)/build/linux-amd64 $(DIST)/build/linux-arm64
	CGO_ENABLED=1 GOOS=linux GOARCH=amd64 $(DIST_BUILD) -o $(DIST)/build/linux-amd64/ ./agent/cmd/siaprapat-agent
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(DIST_BUILD) -o $(DIST)/build/linux-amd64/ ./controller/cmd/siaprapat-controller
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(DIST_BUILD) -o $(DIST)/build/linux-arm64/ ./controller/cmd/siaprapat-controller
	CGO_ENABLED=1 GOOS=windows GOARCH=amd64 CC=$(MINGW_CC) CXX=$(MINGW_CXX) CGO_CFLAGS='-O2 -w' \
	  $(GO) build -trimpath -ldflags '$(LDFLAGS) -extldflags=-static' \
	  -o $(DIST)/siaprapat-agent_$(DEB_VERSION)_windows_amd64.exe ./agent/cmd/siaprapat-agent
	DEB_ARCH=amd64 BIN=$(DIST)/build/linux-amd64 $(NFPM) --config packaging/nfpm-agent.yaml
	DEB_ARCH=amd64 BIN=$(DIST)/build/linux-amd64 $(NFPM) --config packaging/nfpm-controller.yaml
	DEB_ARCH=arm64 BIN=$(DIST)/build/linux-arm64 $(NFPM) --config packaging/nfpm-controller.yaml
	rm -rf $(DIST)/build
	cd $(DIST) && sha256sum -- * > SHA256SUMS
	@ls -l $(DIST)

clean:
	rm -rf bin dist

# docs/flags.md and docs/metrics.md, from the code: the flags of each command and
# the controller's metrics (go generate ./... does it too, besides the time zone table).
.PHONY: docs
docs:
	$(GO) generate ./agent/cmd/siaprapat-agent ./controller/cmd/siaprapat-controller ./internal/metricsdoc
