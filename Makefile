# The two commands for a newcomer (see README.md):
#   make run   install what is missing, build, start the server with a demo sensor fleet
#   make test  install what is missing, build, run every test suite
# Long runs are separate: make bench. make faulttest runs the fault tests alone (disk full,
# I/O errors, backpressure; they are in make test too).

BUILD ?= build
JOBS  ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all setup configure build run test bench faulttest clean

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
faulttest: build
	@cd $(BUILD) && ctest --output-on-failure -R 'FaultTest\.|IoErrorTest\.' --timeout 600

bench: build
	@$(BUILD)/yiwang bench ingest --all

clean:
	rm -rf $(BUILD)
