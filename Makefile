# LossKit: `make demo` (the tour) and `make test` (every test) do all set-up on a
# fresh Debian/Ubuntu machine, installing OpenBLAS/LAPACKE and Open MPI with apt
# when missing.
# The libraries are the root package; the `losskit` tool is the nested package in
# Tool/ (its binary: Tool/.build/release/losskit after `make tool`).
SWIFT ?= swift
LOSSKIT := Tool/.build/release/losskit
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps build tool test test-mpi demo verify bench compare docs clean sanitize sanitize-address sanitize-thread fuzz

# OpenBLAS and LAPACKE through pkg-config; install them when pkg-config cannot find them.
# Likewise Open MPI (LossDistributed and `losskit` under mpirun; the Loss library never
# needs it) and python3 (Tests/MPI/npy.py writes the MPI checks' arrays).
deps:
	@if ! pkg-config --exists openblas lapacke 2>/dev/null; then \
		echo "Installing OpenBLAS and LAPACKE (libopenblas-dev liblapacke-dev pkg-config)..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libopenblas-dev liblapacke-dev pkg-config >/dev/null; \
	fi
	@pkg-config --exists openblas lapacke || { echo "OpenBLAS/LAPACKE still not found by pkg-config"; exit 1; }
	@if ! pkg-config --exists ompi-c 2>/dev/null || ! command -v mpirun >/dev/null || ! command -v python3 >/dev/null; then \
		echo "Installing Open MPI and python3 (libopenmpi-dev openmpi-bin python3)..."; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq libopenmpi-dev openmpi-bin python3 >/dev/null; \
	fi
	@pkg-config --exists ompi-c && command -v mpirun >/dev/null && command -v python3 >/dev/null || \
		{ echo "Open MPI (pkg-config ompi-c, mpirun) or python3 still not found"; exit 1; }

build: deps
	$(SWIFT) build
	$(SWIFT) build --package-path Tool

# The command-line tool, release build.
tool: deps
	$(SWIFT) build -c release --package-path Tool --product losskit

# The libraries' tests, the tool's, the distributed checks under mpirun (2 and 3
# ranks), then the example package (a dependent of LossKit, built in release as an
# application would be, and run).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build
	$(SWIFT) build --build-tests --package-path Tool
	$(SWIFT) test --skip-build --package-path Tool
	Tests/MPI/run.sh Tool/.build/debug/losskit
	$(SWIFT) build -c release --package-path Examples
	Examples/.build/release/DigitsClassifier

# The distributed checks alone: `losskit` (debug) under mpirun with 2 and 3 ranks,
# every run bounded by a timeout (MPI_TEST_TIMEOUT seconds, default 180).
test-mpi: deps
	$(SWIFT) build --package-path Tool --product losskit
	Tests/MPI/run.sh Tool/.build/debug/losskit

demo: deps
	$(SWIFT) run -c release --package-path Tool losskit tour

# Check LossKit against the bundled PyTorch reference cases: the float32 files in Float and
# in Double, the float16 and bfloat16 files in their own type.
SIXTEEN_BIT_FIXTURES = $(wildcard Tests/Fixtures/torch-cases-*float16*.json)
FLOAT_FIXTURES = $(filter-out $(SIXTEEN_BIT_FIXTURES),$(wildcard Tests/Fixtures/torch-cases*.json))
verify: tool
	$(LOSSKIT) verify $(FLOAT_FIXTURES) --precision float
	$(LOSSKIT) verify $(FLOAT_FIXTURES) --precision double
	$(LOSSKIT) verify $(SIXTEEN_BIT_FIXTURES)

# package-benchmark suite (nested package in Benchmarks/): wall clock, allocations, peak memory.
bench: deps
	cd Benchmarks && $(SWIFT) package --allow-writing-to-package-directory benchmark --no-progress

# Side by side with PyTorch on this CPU (needs `pip install torch`): prints a Markdown table.
compare: tool
	python3 -c "import torch" 2>/dev/null || { echo "PyTorch is not installed: pip install torch"; exit 1; }
	python3 Benchmarks/compare_pytorch.py --losskit $(LOSSKIT) $(COMPARE_ARGS)

# The DocC site of the Loss and Kernels modules, browsable from .build/docs/index.html
# through any static web server (python3 -m http.server -d .build/docs). Symbol graphs of
# the debug build; Kernels is converted first so that Loss links into it; the two archives
# are merged under one landing page. Any DocC warning fails the target. The docc that
# ships with the toolchain does it all: no package plugin, nothing a dependent resolves.
DOCC ?= $(shell dirname "$$(readlink -f "$$(command -v $(SWIFT))")")/docc
DOCS_WORK := .build/docs-work
DOCC_CONVERT = $(DOCC) convert --enable-experimental-external-link-support --warnings-as-errors

docs: deps
	rm -rf $(DOCS_WORK) .build/docs
	$(SWIFT) package dump-symbol-graph --minimum-access-level public
	mkdir -p $(DOCS_WORK)/Kernels $(DOCS_WORK)/Loss
	graphs="$$(dirname "$$($(SWIFT) build --show-bin-path)")/symbolgraph"; \
	for module in Kernels Loss; do \
		cp "$$graphs/$$module.symbols.json" $(DOCS_WORK)/$$module/ || exit 1; \
		for extension in "$$graphs/$$module"@*.symbols.json; do \
			[ ! -e "$$extension" ] || cp "$$extension" $(DOCS_WORK)/$$module/; \
		done; \
	done
	$(DOCC_CONVERT) Sources/Kernels/Kernels.docc --additional-symbol-graph-dir $(DOCS_WORK)/Kernels \
		--fallback-display-name Kernels --fallback-bundle-identifier Kernels \
		--output-path $(DOCS_WORK)/Kernels.doccarchive
	$(DOCC_CONVERT) Sources/Loss/Loss.docc --additional-symbol-graph-dir $(DOCS_WORK)/Loss \
		--dependency $(DOCS_WORK)/Kernels.doccarchive \
		--fallback-display-name Loss --fallback-bundle-identifier Loss \
		--output-path $(DOCS_WORK)/Loss.doccarchive
	$(DOCC) merge $(DOCS_WORK)/Kernels.doccarchive $(DOCS_WORK)/Loss.doccarchive \
		--synthesized-landing-page-name LossKit --output-path $(DOCS_WORK)/LossKit.doccarchive
	$(DOCC) process-archive transform-for-static-hosting $(DOCS_WORK)/LossKit.doccarchive --output-path .build/docs
	@echo "Documentation in .build/docs (index.html); serve it with: python3 -m http.server -d .build/docs"

# The whole test suite under AddressSanitizer, then ThreadSanitizer, each in its own
# scratch directory (the CLI tests run the sanitized losskit built next to them).
# Not part of `make test`: each build takes minutes.
sanitize: sanitize-address sanitize-thread

ASAN_ENV = SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 LSAN_OPTIONS=suppressions=$(CURDIR)/Sanitizers/lsan.supp
TSAN_ENV = SWIFT_BACKTRACE=enable=no TSAN_OPTIONS=halt_on_error=1:suppressions=$(CURDIR)/Sanitizers/tsan.supp

sanitize-address: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	$(ASAN_ENV) $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan
	$(SWIFT) build --build-tests --sanitize=address --package-path Tool --scratch-path Tool/.build-asan
	$(ASAN_ENV) $(SWIFT) test --skip-build --sanitize=address --package-path Tool --scratch-path Tool/.build-asan

sanitize-thread: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	$(TSAN_ENV) $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan
	$(SWIFT) build --build-tests --sanitize=thread --package-path Tool --scratch-path Tool/.build-tsan
	$(TSAN_ENV) $(SWIFT) test --skip-build --sanitize=thread --package-path Tool --scratch-path Tool/.build-tsan

# libFuzzer targets (Fuzz/), each run for FUZZ_SECONDS (default 60) from its corpus
# and the committed crashers; a crash stops the run and leaves the input in Fuzz/findings/.
FUZZ_SECONDS ?= 60
fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) Fuzz/run.sh

clean:
	rm -rf .build .build-asan .build-tsan Fuzz/.build Tool/.build Tool/.build-asan Tool/.build-tsan Benchmarks/.build Examples/.build
