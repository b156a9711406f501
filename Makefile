# siaprapat: `make run` starts a controller and a local agent; `make test` runs every test.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
BRANCH   ?= $(shell git symbolic-ref --short -q HEAD 2>/dev/null || echo unknown)
VPKG     := github.com/prometheus/common/version
LDFLAGS  := -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
            -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildDate=$(shell date -u +%Y%m%dT%H%M%SZ)
BINS     := bin/siaprapat-agent bin/siaprapat-controller

.PHONY: all build run test bench vet fmt clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ ./agent/cmd/siaprapat-agent ./controller/cmd/siaprapat-controller

# Controller (embedded MQTT broker, bbolt store in ./data) and one agent as room demo/room-1.
run: build
	./scripts/run.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -l -w $$(git ls-files '*.go')

# Every test. Integration tests need mosquitto and promtool (Debian packages
# mosquitto and prometheus; .ci/run installs them); outside CI they skip
# with a message when those are missing, in CI they fail.
test: vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race -count=1 -timeout 15m ./...

# Go benchmarks of the controller's hot paths (ingest of one report, one
# /metrics scrape at 1,000 and 10,000 rooms). Quote medians of the -count runs.
bench:
	$(GO) test -run XXX -bench . -benchtime 2s -count 5 ./controller/ingest ./controller/metrics

clean:
	rm -rf bin
