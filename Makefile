# peerwire — build, test, and tools. Tool versions are pinned here and in .ci/run.
GO            ?= go
FUZZTIME      ?= 30s
BENCHTIME     ?= 1s
BENCHCOUNT    ?= 5
PROTOC_GEN_GO_VERSION := v1.36.12
STATICCHECK_VERSION   := v0.8.2
GOBIN         ?= $(shell $(GO) env GOPATH)/bin

.PHONY: all build test race fuzz fuzz-ci bench block-bench block-bench-chunked block-bench-16 block-curve dht-200 dht-200-loopback proto proto-check lint demo demo-report tools clean sim sim-render

all: build

build:
	$(GO) build ./...

# test: every package, race detector on.
test:
	$(GO) test -race -count=1 -timeout 20m ./...

# fuzz: each fuzz target for FUZZTIME (go test accepts one -fuzz pattern per package run).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; \
	  done; \
	done

# fuzz-ci: a count of executions per target, not a duration: with a
# duration, Go 1.26's fuzz coordinator can report a bare "context deadline
# exceeded" (no failing input) when -fuzztime ends while a worker is busy
# (golang/go#75804, fixed in Go 1.27), which failed CI on FuzzConfig once.
fuzz-ci:
	$(MAKE) fuzz FUZZTIME=10000x

# dht-200: the DHT's network test at 200 nodes and 1,000 lookups (make test runs it at 50).
dht-200:
	$(GO) test -race -count=1 -timeout 20m -run '^TestNetwork$$' -v ./discovery/dht -dht-nodes 200 -dht-lookups 1000

# dht-200-loopback: the same checks on real nodes over loopback TCP (p2p
# TestDHTLoopback; make test runs it at 8 nodes). About 100 s at load 2-3
# on 2 cores; the fill may take up to 400 s on a loaded machine
# (docs/BENCHMARKS.md §DHT).
dht-200-loopback:
	$(GO) test -count=1 -timeout 30m -run '^TestDHTLoopback$$' -v ./p2p -dht-loopback-nodes 200 -dht-loopback-lookups 1000

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./...

# block-bench: chunked dissemination vs flood on the 50-node graph of issue
# 14 (each node dials 8 others, 20 × 1 MiB, one every 200 ms), then the
# same with 5 slow nodes and 2 that announce and never serve; one run each,
# figures in docs/BENCHMARKS.md; the propagation curves (per delivery:
# mode, seconds, share delivered) go to /tmp/peerwire-block-curve.txt. The flood phase
# peaked at 10.9–12.6 GiB of heap (docs/BENCHMARKS.md, 2026-12-03; the chunked
# phase 2.2–2.4 GiB): block-bench-chunked leaves it out. make test
# runs the same tests on 20 nodes.
block-bench:
	PEERWIRE_BLOCK_BENCH=1 PEERWIRE_BLOCK_CURVE=/tmp/peerwire-block-curve.txt $(GO) test -count=1 -timeout 30m -run '^TestChunked(RandomGraph|SlowAndUnserving)$$' -v ./p2p/

block-bench-chunked:
	PEERWIRE_BLOCK_BENCH=chunked $(GO) test -count=1 -timeout 30m -run '^TestChunked(RandomGraph|SlowAndUnserving)$$' -v ./p2p/

# block-bench-16: the same 50-node graph with 5 messages of 16 MiB, one every
# 2 s, chunked only (its heap peaked at 7.3 GB at 2de4591); then 2 such messages chunked
# and flooded in one run (flooding holds ~12 GB per 16 MiB message in flight
# on this graph); then make test's 20-node graph with the 5 messages,
# chunked and flooded in one run.
block-bench-16:
	PEERWIRE_BLOCK_BENCH=chunked PEERWIRE_BLOCK_MIB=16 $(GO) test -count=1 -timeout 30m -run '^TestChunkedRandomGraph$$' -v ./p2p/
	PEERWIRE_BLOCK_BENCH=1 PEERWIRE_BLOCK_MIB=16 PEERWIRE_BLOCK_COUNT=2 GOMEMLIMIT=12GiB $(GO) test -count=1 -timeout 30m -run '^TestChunkedRandomGraph$$' -v ./p2p/
	PEERWIRE_BLOCK_MIB=16 $(GO) test -count=1 -timeout 30m -run '^TestChunkedRandomGraph$$' -v ./p2p/

# block-curve: the propagation curves (share of deliveries vs time since the
# origin sent, chunked vs flood) of the 20-node graph make test runs, drawn
# to docs/block-curve.svg; BLOCK_BENCH=1 draws the 50-node graph instead.
BLOCK_CURVE_RUN = $(if $(BLOCK_BENCH),50 nodes each dialing 8; 20 messages one per 200 ms,20 nodes each dialing 4; 4 messages)
block-curve:
	PEERWIRE_BLOCK_BENCH=$(BLOCK_BENCH) PEERWIRE_BLOCK_CURVE=/tmp/peerwire-block-curve.txt $(GO) test -count=1 -timeout 30m -run '^TestChunkedRandomGraph$$' -v ./p2p/
	$(GO) run ./internal/blockcurve -in /tmp/peerwire-block-curve.txt -out docs/block-curve.svg \
	  -subtitle "TestChunkedRandomGraph on loopback, 1 MiB messages: $(BLOCK_CURVE_RUN)"

tools:
	GOBIN=$(GOBIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(GOBIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

# proto: regenerate proto/pb from proto/*.proto (needs Debian's protobuf-compiler 3.21.12).
proto:
	PATH=$(GOBIN):$$PATH protoc --proto_path=proto --go_out=proto/pb --go_opt=paths=source_relative proto/*.proto

# proto-check: fail when the committed generated code differs from what make proto writes.
proto-check: proto
	@git diff --exit-code -- proto/pb || (echo "proto/pb is stale: run make proto and commit" >&2; exit 1)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GOBIN)/staticcheck ./...

demo:
	$(GO) run ./cmd/peerwire demo

# demo-report: the 20-node demo, writing an HTML and markdown report with SVG
# pictures (topology, vote RTTs, block propagation, bandwidth) to DEMO_REPORT.
DEMO_REPORT ?= docs/demo-report
DEMO_REPORT_FLAGS ?= -nodes 20 -duration 10s
demo-report:
	$(GO) run ./cmd/peerwire demo $(DEMO_REPORT_FLAGS) -plain -report $(DEMO_REPORT)

# sim: the deterministic simulation (package sim) of the real peer book, peer
# set and filter at scale; writes docs/SIMULATION.md and docs/sim/*.svg.
# Every attacker model at 10,000 nodes (one seed each of 4 min virtual time:
# 2-8 min and up to 14 GB a run, one at a time beside the small matrix) and
# 30 seeds of every model, the budget sweep and the book-size check at
# 1,000 nodes, the DHT models at 1,000 nodes and the lab calibration: about
# two hours on 2 cores. SIM_FLAGS sizes it; the runs are saved to SIM_SAVE.
# A long set runs in pieces: the same SIM_FLAGS with `-seeds K -seed-from N`
# per piece (the -big matrix and the DHT models in one piece or several),
# each to its own SIM_SAVE. `make sim-render` rewrites the report from the
# saved runs in SIM_RUNS without running anything: by default the committed
# pieces docs/SIMULATION.md was written from (docs/sim/runs, whose commands
# the report names), or e.g. `make sim-render SIM_RUNS=a.gob,b.gob` (a seed
# saved twice, or pieces of different reports, are refused).
SIM_FLAGS ?= -nodes 1000 -seeds 30 -duration 4m -big 10000 -big-seeds 1 -big-victims 100 -workers 1 -dht-seeds 5 -calibration-seeds 30 -mem-limit 14
SIM_SAVE ?= /tmp/peerwire-sim-runs.gob
SIM_RUNS ?= docs/sim/runs
sim:
	$(GO) run ./cmd/peerwire-sim $(SIM_FLAGS) -save $(SIM_SAVE) -out docs

sim-render:
	$(GO) run ./cmd/peerwire-sim -load $(SIM_RUNS) -out docs

clean:
	$(GO) clean -testcache

# lab: every multi-host scenario in network namespaces (root, iproute2), the long ones too.
# soak: 20 nodes for 10 minutes (LAB_SOAK_DURATION overrides). Figures: docs/RELIABILITY.md.
.PHONY: lab soak
lab:
	LAB_LONG=1 $(GO) test -count=1 -timeout 30m -v ./lab/...

soak:
	LAB_SOAK=long $(GO) test -count=1 -timeout 30m -run TestSoak -v ./lab/...
