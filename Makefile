# The two commands for a newcomer (see README.md):
#   make run   install what is missing, build, start the server with a demo sensor fleet
#   make test  install what is missing, build, run every test suite
#   make cluster  the same as make run, as a cluster on loopback (docs/cluster.md)
# Long runs are separate: make bench, make bench-live (the live map's delivery latency alone),
# make fuzz (FUZZ_RUNS inputs per target, default 10 million, or FUZZ_SECONDS each;
# FUZZ_ONLY="image open311" picks targets, FUZZ_WORKERS=2 runs each in 2 processes on one
# corpus), make faulttest (the fault tests alone: disk full,
# I/O errors, backpressure), make soak (SOAK_MINUTES at 10,000 events/s from 2,000 sensors,
# 50 live-feed subscribers, a 10x burst), make asan (the whole suite built with ASan+UBSan in
# build-asan/, the `asan` preset of CMakePresets.json).

BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# CI builds from scratch on two cores: line tables only (-g1: backtraces keep file and line, no
# variables) compile a Beast translation unit in 41 s instead of 53 s (web/live_feed.cc, measured).
CI_FLAGS = -DYIWANG_WERROR=ON "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG"

.PHONY: all setup configure build run cluster test bench bench-live fuzz faulttest crashtest soak asan clean

all: build

# `make run` needs no nats-server (only the cluster tests do): setup skips building it.
run: SETUP_ARGS = --without-nats-server
setup:
	@bash tools/setup.sh $(SETUP_ARGS)

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) $(if $(CI),$(CI_FLAGS)) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash tools/run_demo.sh $(BUILD)

# A whole cluster on loopback (docs/cluster.md): 3 nats-servers, 2 gateways, 2 cores, the demo
# fleet over both gateways; state in cluster-data/.
cluster: build
	@$(BUILD)/yiwang cluster up --dir cluster-data

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The fault tests (also part of make test, label crash): see docs/reliability.md.
# The crash loop at full length: 200 SIGKILL cycles under load (make test runs 10), then the
# simulated power loss at full length: 100 cuts that drop every unsynced byte (make test runs 10).
crashtest: build
	@cd $(BUILD) && YIWANG_CRASH_CYCLES=200 ./tests/yiwang_crash_test
	@cd $(BUILD) && YIWANG_POWERLOSS_CYCLES=100 ./tests/yiwang_power_loss_test

faulttest: build
	@cd $(BUILD) && ctest --output-on-failure -R 'FaultTest\.|IoErrorTest\.' --timeout 600

# libFuzzer targets with clang-14 + ASan/UBSan in a build dir of their own; not part of make test
# (its deterministic short form, yiwang_fuzz_smoke_test, and the replay of the committed corpus,
# yiwang_fuzz_corpus_test, are).
FUZZ_BUILD ?= build-fuzz
FUZZ_TARGETS = $(foreach t,frame api key_codec image open311 case_machine,yiwang_$(t)_fuzzer)
fuzz:
	@bash tools/setup.sh --fuzz
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DYIWANG_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	@bash tools/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_ONLY)

# The live feed's delivery latency (event ingested -> marker on the console's map) with 1,000
# sensor events/s in the background, in headless Chromium: docs/benchmarks.md. Node 20 needs
# --experimental-websocket for the bench's WebSocket client; later versions have it anyway.
NODE_WS_FLAG = $(shell node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null || echo --experimental-websocket)
BENCH_LIVE = YIWANG_BINARY=$(BUILD)/yiwang node $(NODE_WS_FLAG) --no-warnings tests/browser/bench_live.mjs

# Every test (unit, integration, crash, browser) against binaries built with AddressSanitizer and
# UndefinedBehaviorSanitizer (UB fatal): the integration and browser tests spawn the sanitized
# build-asan/yiwang. The sanitizer options are the preset's (CMakePresets.json, testPresets.asan).
# Not part of make test: about 3x slower; results in docs/reliability.md.
asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j $(JOBS)

bench: build
	@$(BUILD)/yiwang bench ingest --all
	@$(BUILD)/yiwang bench dispatch
	@$(BUILD)/yiwang bench cluster
	@$(BENCH_LIVE)

bench-live: build
	@$(BENCH_LIVE)

# The soak run (docs/benchmarks.md, "Soak"): SOAK_MINUTES at the base rate, a 60 s burst at 10x,
# 2 minutes at the base rate again, then the store checked against the ack ledger. Interval
# lines on stderr; the JSON lines (intervals, then the summary) go to $(BUILD)/soak.jsonl and
# the summary is printed at the end. Fails when the run fails (lost or doubled events, ...).
SOAK_MINUTES ?= 30
SOAK_ARGS ?=
soak: build
	@$(BUILD)/yiwang bench soak --duration-s $$(( $(SOAK_MINUTES) * 60 )) $(SOAK_ARGS) \
	  > $(BUILD)/soak.jsonl; status=$$?; tail -n 1 $(BUILD)/soak.jsonl; exit $$status

clean:
	rm -rf $(BUILD)
