# posflow — entry points. The real work lives in scripts/, so each step can
# also be run by hand (see README.md).
#
#   make demo   set up, build the release wasm, serve the POS demo
#   make test   set up, run the whole suite (scripts/test.sh)

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

export PATH := $(CURDIR)/.tools/bin:$(CURDIR)/node_modules/.bin:$(PATH)

.PHONY: help setup build demo test lint e2e bench

help:
	@echo "make demo    set up, build and serve the POS demo on http://127.0.0.1:$${PORT:-8080}/"
	@echo "make test    set up and run the whole suite"
	@echo "make setup   install the toolchain (scripts/setup.sh)"
	@echo "make build   release wasm + JS glue into pkg/ (and the legacy WebView build into pkg/legacy/)"
	@echo "make lint    rustfmt, clippy, rustdoc and the core's dependency check"
	@echo "make e2e     build pkg/ and run the Playwright tests in tests/e2e/"
	@echo "make bench   native and browser benchmarks, floors, JS peer, budget verdicts (BENCHMARKS.md)"

setup:
	scripts/setup.sh

build:
	scripts/build.sh

# The demo needs no browser: skip Chromium so it also runs without root.
demo:
	scripts/setup.sh --no-browser
	scripts/build.sh main
	node scripts/serve.mjs

test: setup
	scripts/test.sh

# Subsets of scripts/test.sh, for a quicker loop; `make test` runs everything.
lint: setup
	scripts/test.sh fmt clippy doc core-deps

e2e: setup
	scripts/test.sh pkg types legacy e2e size

# Benchmarks (issue 9): criterion, the simulator, the size and the browser
# bench (bench/run.mjs); prints every figure and MET/MISSED per budget.
bench: setup
	scripts/build.sh main
	node bench/run.mjs
