# The two commands for a newcomer (see README.md):
#   make run   install what is missing, build, start the server with a demo sensor fleet
#   make test  install what is missing, build, run every test suite
# Long runs are separate: make bench, make fuzz (FUZZ_RUNS inputs per target, default 10
# million, or FUZZ_SECONDS each; FUZZ_ONLY="image open311" picks targets),
# make faulttest (the fault tests alone: disk full, I/O errors, backpressure).

BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all setup configure build run test bench fuzz faulttest crashtest clean

all: build

setup:
	@bash tools/setup.sh

configure: setup
	@cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) $(if $(CI),-DYIWANG_WERROR=ON) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@bash tools/run_demo.sh $(BUILD)

test: build
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 600

# The fault tests (also part of make test, label crash): see docs/robustness.md.
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

bench: build
	@$(BUILD)/yiwang bench ingest --all
	@$(BUILD)/yiwang bench dispatch

clean:
	rm -rf $(BUILD)
