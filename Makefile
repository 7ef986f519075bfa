# minibatchnmf — build, demo and test entry points.
#   make demo   installs what is missing, builds in release, runs the topic-extraction demo
#   make test   installs what is missing, runs every test (unit, parity, doc, C ABI callers)

SHELL := /bin/bash
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages every target needs (OpenBLAS with LAPACK, pkg-config for the C examples).
DEB_PKGS := libopenblas-dev pkg-config
# Our parallelism is explicit (rayon); keep OpenBLAS single-threaded.
export OPENBLAS_NUM_THREADS := 1

.PHONY: all deps build release demo test rust-test fixtures bench clean

all: release

# Install the Debian packages named in $(DEB_PKGS) and $(EXTRA_DEB_PKGS) that are missing.
deps:
	@missing=""; for p in $(DEB_PKGS) $(EXTRA_DEB_PKGS); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "== installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

build: deps
	$(CARGO) build

release: deps
	$(CARGO) build --release

rust-test: deps
	$(CARGO) test --release --all-targets
	$(CARGO) test --release --doc

# Regenerate the golden fixtures from scikit-learn (pinned in tests/fixtures/requirements.txt).
FIXTURE_VENV := target/fixture-venv
fixtures:
	python3 -m venv $(FIXTURE_VENV)
	$(FIXTURE_VENV)/bin/pip install -q -r tests/fixtures/requirements.txt
	$(FIXTURE_VENV)/bin/python tests/fixtures/generate.py

bench: deps
	$(CARGO) bench

clean:
	$(CARGO) clean

# C ABI: install, header drift check and the C/C++/R/Python/Julia callers.
-include c-examples/ffi.mk
# Demo: topic extraction.
-include mk/demo.mk

test: rust-test $(FFI_TEST_TARGETS)
