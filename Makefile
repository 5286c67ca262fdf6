# The two commands for a newcomer (see README.md):
#   make run   install what is missing, build, start the server with a demo sensor fleet
#   make test  install what is missing, build, run every test suite
# Long runs are separate: make bench, make fuzz (FUZZ_SECONDS per target, default 60),
# make faulttest (the fault tests alone: disk full, I/O errors, backpressure),
# make asan (the whole suite built with ASan+UBSan in build-asan/, the `asan` preset of
# CMakePresets.json).

BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all setup configure build run test bench fuzz faulttest crashtest asan clean

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
# (its deterministic short form, yiwang_fuzz_smoke_test, is).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = yiwang_frame_fuzzer yiwang_api_fuzzer yiwang_key_codec_fuzzer yiwang_fuzz_seeds
fuzz:
	@bash tools/setup.sh --fuzz
	@cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DCMAKE_CXX_COMPILER=clang++-14 -DYIWANG_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	@bash tools/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS)

# Every test (unit, integration, crash, browser) against binaries built with AddressSanitizer and
# UndefinedBehaviorSanitizer (UB fatal): the integration and browser tests spawn the sanitized
# build-asan/yiwang. The sanitizer options are the preset's (CMakePresets.json, testPresets.asan).
# Not part of make test: about 3x slower; results in docs/robustness.md.
asan: setup
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ctest --preset asan -j $(JOBS)

bench: build
	@$(BUILD)/yiwang bench ingest --all
	@$(BUILD)/yiwang bench dispatch

clean:
	rm -rf $(BUILD)
