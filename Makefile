# Precall: the two commands of the README, plus benchmarks.
#   make demo   install what is missing, build, run a simulated fleet live and show cases
#               opening (Ctrl-C: stop and score; without a terminal it ends after 90 s)
#   make test   install what is missing, build with ASan+UBSan, run every test
#   make bench  release build + micro-benchmarks and the replay benchmark
#   make bench-e2e [QUICK=1] [NICE=-10]  release build + the end-to-end benchmark against
#               the broker and Node-RED (bench/README.md); QUICK=1 takes under 5 minutes;
#               NICE=-10 (root) puts it ahead of background work on a shared machine
# Build flags live in CMakePresets.json; this file only sequences steps.
JOBS ?= $(shell nproc)

.PHONY: deps build-release build-asan test demo bench bench-e2e clean

deps:
	@bash deploy/install-deps.sh

build-release: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target precall precall_bench precall-sim

build-asan: deps
	cmake --preset asan-ubsan >/dev/null
	cmake --build --preset asan-ubsan -j $(JOBS)

test: build-asan
	ctest --preset asan-ubsan -j $(JOBS)

demo: build-release
	@bash deploy/examples/demo.sh build/release

bench: build-release
	@bash bench/run.sh build/release

bench-e2e: deps
	cmake --preset release >/dev/null
	cmake --build --preset release -j $(JOBS) --target precall precall_e2e_load_gen precall_e2e_sink
	python3 bench/e2e/run.py --build build/release $(if $(QUICK),--quick) $(if $(NICE),--nice $(NICE))

clean:
	rm -rf build
