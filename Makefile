# minibatchnmf — build, demo and test entry points.
#   make demo   installs what is missing, builds in release, runs the topic-extraction demo
#   make test   installs what is missing, runs every test (unit, parity, doc, C ABI callers,
#               the Python and R packages)

SHELL := /bin/bash
CARGO ?= cargo
# rustup installs cargo in ~/.cargo/bin, which a non-login shell may not have on PATH.
ifeq ($(shell command -v $(CARGO) 2>/dev/null),)
  export PATH := $(HOME)/.cargo/bin:$(PATH)
endif
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages every target needs (OpenBLAS with LAPACK, pkg-config for the C examples,
# gcc and libc6-dev: rustc links through the system C compiler).
DEB_PKGS := libopenblas-dev pkg-config gcc libc6-dev
# Our parallelism is explicit (rayon); keep OpenBLAS single-threaded.
export OPENBLAS_NUM_THREADS := 1

.PHONY: all deps build release demo foldoc test rust-test fixtures bench bench-sklearn clean

all: release

# Install the Debian packages named in $(DEB_PKGS) and $(EXTRA_DEB_PKGS) that are missing.
# (dpkg -s also succeeds for removed packages whose config files remain, so the status
# is checked; the environment goes through sudo with env; dpkg waits for a lock held by
# apt's daily jobs on a freshly booted machine instead of failing.)
deps:
	@missing=""; for p in $(DEB_PKGS) $(EXTRA_DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -qx 'install ok installed' || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "== installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    -o DPkg::Lock::Timeout=300 $$missing >/dev/null; \
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
	@python3 -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="python3 python3-venv"
	python3 -m venv $(FIXTURE_VENV)
	$(FIXTURE_VENV)/bin/pip install -q -r tests/fixtures/requirements.txt
	$(FIXTURE_VENV)/bin/python tests/fixtures/generate.py

bench: deps
	$(CARGO) bench


clean:
	$(CARGO) clean

# C ABI: install, header drift check and the C/C++/R/Python/Julia callers.
-include c-examples/ffi.mk

# Installable packages: Python (python/) and R (r/minibatchnmf/).
-include python/package.mk
-include r/package.mk

# Speed against scikit-learn in one script (needs the C ABI's Python venv).
bench-sklearn: ffi-lib $(FFI_VENV)/.installed
	$(FFI_VENV)/bin/python benches/vs_sklearn.py --lib $(FFI_RELEASE)/libminibatchnmf.so $(BENCH_ARGS)

# Demo: topic extraction on the Free On-line Dictionary of Computing, after scikit-learn's
# "Topic extraction with NMF and LDA". The corpus is Debian's dict-foldoc, fetched with
# apt-get download and unpacked into target/foldoc/ without installing the dictd daemon
# it depends on; if it cannot be had, the demo falls back to the prepared matrix
# ../shared/data/foldoc_tfidf.mtx. Options go in DEMO_ARGS (make demo DEMO_ARGS=--help).
FOLDOC := target/foldoc
DEMO_ARGS ?=

$(FOLDOC)/foldoc.dict:
	@rm -rf $(FOLDOC) && mkdir -p $(FOLDOC)
	@echo "== fetching Debian's dict-foldoc into $(FOLDOC)"
	cd $(FOLDOC) && { apt-get download -qq -o APT::Sandbox::User=root dict-foldoc 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root dict-foldoc; }; }
	dpkg-deb -x $(FOLDOC)/dict-foldoc_*.deb $(FOLDOC)/deb
	cp $(FOLDOC)/deb/usr/share/dictd/foldoc.index $(FOLDOC)/
	gzip -dc $(FOLDOC)/deb/usr/share/dictd/foldoc.dict.dz > $@.tmp && mv $@.tmp $@

foldoc:
	@[ -f $(FOLDOC)/foldoc.dict ] || $(MAKE) --no-print-directory $(FOLDOC)/foldoc.dict || \
	  echo "== dict-foldoc could not be fetched; the demo will use ../shared/data/foldoc_tfidf.mtx"

demo: release foldoc
	target/release/minibatchnmf-topics $(DEMO_ARGS)

test: rust-test $(FFI_TEST_TARGETS) py-package-test r-package-test
