# minibatchnmf — build, demo and test entry points.
#   make demo   installs what the demo needs, builds in release, runs the topic-extraction demo
#   make test   installs what the tests need, runs every test (unit, parity, doc, C ABI callers,
#               the Python and R packages)
#               in a copy of the repository with nothing beside it (see `test` below)
#   make bench  the benchmark suite against scikit-learn and the machine's floor; writes
#               BENCHMARKS.md (make bench-smoke: its quick run, part of make test;
#               make bench-kernels: the criterion benches)

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

# Debian packages only the tests need (the C ABI callers add theirs in c-examples/ffi.mk).
TEST_DEB_PKGS :=

.PHONY: all deps test-deps build release demo foldoc test test-here self-contained-check \
        rust-test fixtures bench bench-smoke bench-kernels bench-runner bench-sklearn clean \
        bench-tte bench-tte-deps large-tfidf

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

# Everything the tests need.
test-deps:
	@$(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="$(EXTRA_DEB_PKGS) $(TEST_DEB_PKGS)"

# The library and the command-line tools (feature `cli`; a library user builds
# neither clap, indicatif nor ctrlc).
build: deps
	$(CARGO) build --features cli

release: deps
	$(CARGO) build --release --features cli

rust-test: deps
	$(CARGO) test --release --all-targets --features cli
	$(CARGO) test --release --doc

# Regenerate the golden fixtures from scikit-learn (pinned in tests/fixtures/requirements.txt).
FIXTURE_VENV := target/fixture-venv
fixtures:
	@python3 -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="python3 python3-venv"
	python3 -m venv $(FIXTURE_VENV)
	$(FIXTURE_VENV)/bin/pip install -q -r tests/fixtures/requirements.txt
	$(FIXTURE_VENV)/bin/python tests/fixtures/generate.py

# Criterion benchmarks of the kernels and whole fits on tests/data (benches/solver.rs).
bench-kernels: deps
	$(CARGO) bench


clean:
	$(CARGO) clean

# C ABI: install, header drift check and the C/C++/R/Python/Julia callers.
-include c-examples/ffi.mk

# Installable packages: Python (python/) and R (r/minibatchnmf/).
-include python/package.mk
-include r/package.mk

# --- benchmark suite (BENCHMARKS.md) -------------------------------------------
#   make bench         ours vs scikit-learn 1.9.1 vs the machine's floor, every case, one
#                      process per run; writes the table into BENCHMARKS.md (~15 min on 2 cores)
#   make bench-smoke   the same suite on the data vendored in tests/data/ (--quick, < 1 min,
#                      no network, nothing written); part of `make test`
#   make bench-tte     only the time-to-error section (issue 16; also part of make bench):
#                      ours cd / ours mu / scikit-learn MiniBatchNMF, NMF cd, NMF mu / RcppML,
#                      error against time on Fashion and FOLDOC; writes its section of
#                      BENCHMARKS.md and time_to_error.png (~20 min on 2 cores)
# BENCH_ARGS go to benches/suite.py (e.g. BENCH_ARGS="--only KL --rounds 1"), TTE_ARGS to
# benches/time_to_error.py (e.g. TTE_ARGS="--only Fashion --rounds 1 --cd-batch 2048").
# Data: Debian's Fashion-MNIST and the TF-IDF of Debian's dict-foldoc (whole vocabulary),
# written by the demo's program; benches/suite.py converts them into target/bench-data/.
# The larger TF-IDF (`make large-tfidf`): every definition of Debian's dict-gcide (the
# GNU Collaborative International Dictionary of English, ~126000 entries), vectorised by the
# same program (terms in >= 2 definitions, whole vocabulary) into
# target/bench-data/large_tfidf.mtx (+ _vocab.txt); the suite converts it into
# target/bench-data/large_tfidf.npz (key sparse_large_tfidf). Stable paths: other benches read them.
FASHION := target/fashion-mnist
BENCH_DATA := target/bench-data
BENCH_ARGS ?=
TTE_ARGS ?=
# The time-to-error section also needs RcppML (Debian's r-cran-rcppml, with R) and
# matplotlib for its plot (installed into the bench venv).
TTE_DEB_PKGS := r-cran-rcppml
$(FASHION)/.unpacked:
	@rm -rf $(FASHION) && mkdir -p $(FASHION)
	@echo "== fetching Debian's dataset-fashion-mnist into $(FASHION)"
	cd $(FASHION) && { apt-get download -qq -o APT::Sandbox::User=root dataset-fashion-mnist 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root dataset-fashion-mnist; }; }
	dpkg-deb -x $(FASHION)/dataset-fashion-mnist_*.deb $(FASHION)
	touch $@

target/foldoc/tfidf.mtx: | release
	$(MAKE) --no-print-directory $(FOLDOC)/foldoc.dict
	target/release/minibatchnmf-topics --save-tfidf target/foldoc/tfidf --no-fit

$(BENCH_DATA)/foldoc_tfidf.mtx: | release
	$(MAKE) --no-print-directory $(FOLDOC)/foldoc.dict
	@mkdir -p $(BENCH_DATA)
	target/release/minibatchnmf-topics --dict $(FOLDOC)/foldoc.dict --max-features 0 --min-df 1 \
	    --save-tfidf $(BENCH_DATA)/foldoc_tfidf --no-fit

GCIDE := target/gcide
$(GCIDE)/gcide.dict:
	@rm -rf $(GCIDE) && mkdir -p $(GCIDE)
	@echo "== fetching Debian's dict-gcide into $(GCIDE)"
	cd $(GCIDE) && { apt-get download -qq -o APT::Sandbox::User=root dict-gcide 2>/dev/null || \
	  { $(SUDO) apt-get update -qq && apt-get download -qq -o APT::Sandbox::User=root dict-gcide; }; }
	dpkg-deb -x $(GCIDE)/dict-gcide_*.deb $(GCIDE)/deb
	cp $(GCIDE)/deb/usr/share/dictd/gcide.index $(GCIDE)/
	gzip -dc $(GCIDE)/deb/usr/share/dictd/gcide.dict.dz > $@.tmp && mv $@.tmp $@

$(BENCH_DATA)/large_tfidf.mtx: | release
	$(MAKE) --no-print-directory $(GCIDE)/gcide.dict
	@mkdir -p $(BENCH_DATA)
	target/release/minibatchnmf-topics --dict $(GCIDE)/gcide.dict --index $(GCIDE)/gcide.index \
	    --max-features 0 --min-df 2 --save-tfidf $(BENCH_DATA)/large_tfidf --no-fit

# The larger TF-IDF as MatrixMarket and as scipy's .npz (the suite's own conversion).
large-tfidf: $(BENCH_DATA)/large_tfidf.mtx $(FFI_VENV)/.installed
	$(FFI_VENV)/bin/python benches/suite.py --prepare-only sparse_large_tfidf

# The Rust side of the suite: one case per process (benches/runner.rs).
bench-runner: deps
	$(CARGO) build --release --features cli --example bench_runner

bench: bench-runner bench-tte-deps $(FFI_VENV)/.installed $(FASHION)/.unpacked $(BENCH_DATA)/foldoc_tfidf.mtx \
       $(BENCH_DATA)/large_tfidf.mtx
	$(FFI_VENV)/bin/python benches/suite.py --write BENCHMARKS.md $(BENCH_ARGS)
	$(FFI_VENV)/bin/python benches/time_to_error.py --write BENCHMARKS.md --command "make bench" $(TTE_ARGS)

bench-tte: bench-runner bench-tte-deps $(FFI_VENV)/.installed $(FASHION)/.unpacked $(BENCH_DATA)/foldoc_tfidf.mtx \
       $(BENCH_DATA)/large_tfidf.mtx
	$(FFI_VENV)/bin/python benches/time_to_error.py --write BENCHMARKS.md $(TTE_ARGS)

bench-tte-deps: $(FFI_VENV)/.installed
	@$(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="$(TTE_DEB_PKGS)"
	@$(FFI_VENV)/bin/python -c 'import matplotlib' 2>/dev/null || \
	    $(FFI_VENV)/bin/pip install -q --disable-pip-version-check matplotlib

# The pictures and figures of docs/missing-values.md and the README's "Missing values and
# choosing k" (python/examples/missing_values.py): the rank plot of a synthetic matrix of
# known rank, Fashion-MNIST with 30 % of the pixels removed, the masked fits' cost. Run with
# the installed Python package (its venv, with matplotlib); writes docs/missing_*.png.
# MISSING_ARGS go to the script (e.g. MISSING_ARGS="--skip cost --rows 5000").
MISSING_ARGS ?=
.PHONY: missing-values-example
missing-values-example: py-package-install $(FASHION)/.unpacked
	@$(PY_PKG_VENV)/bin/python -c 'import matplotlib' 2>/dev/null || \
	    $(PY_PKG_VENV)/bin/pip install -q --disable-pip-version-check matplotlib
	$(PY_PKG_VENV)/bin/python python/examples/missing_values.py --fashion $(FASHION) --out docs $(MISSING_ARGS)

# The time-to-error smoke (digits; RcppML and the plot only if installed: no network).
bench-smoke: bench-runner $(FFI_VENV)/.installed
	$(FFI_VENV)/bin/python benches/suite.py --quick --command "make bench-smoke" $(BENCH_ARGS)
	$(FFI_VENV)/bin/python benches/time_to_error.py --quick --command "make bench-smoke"

# The former one-script comparison is the suite now.
bench-sklearn: bench

# Demo: topic extraction on the Free On-line Dictionary of Computing, after scikit-learn's
# "Topic extraction with NMF and LDA". The corpus is Debian's dict-foldoc, fetched with
# apt-get download and unpacked into target/foldoc/ without installing the dictd daemon
# it depends on; if it cannot be had, the demo falls back to
# the 1000-definition TF-IDF slice vendored in tests/data/. Options go in DEMO_ARGS
# (make demo DEMO_ARGS=--help).
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
	  echo "== dict-foldoc could not be fetched; the demo will use the FOLDOC slice in tests/data/"

demo: release foldoc
	target/release/minibatchnmf-topics $(DEMO_ARGS)

# --- make test ------------------------------------------------------------------
# The suite runs in a copy of the repository (tracked and untracked, not ignored,
# files) at $(SELFTEST_DIR)/repo, a folder with nothing beside it: a test, bench or
# example that reads a path outside the repository (our team's scratch folder
# beside it, say) fails there
# as it would in a user's clone. The copy's target/ is a link to this tree's, so
# builds are shared; copied files keep their times, so nothing is rebuilt for
# being copied. Before that: the header drift check (it needs git) and a static
# check that no tracked file names that scratch folder.
SELFTEST_DIR ?= $(or $(TMPDIR),/tmp)/minibatchnmf-selftest-$(shell printf '%s' "$(CURDIR)" | cksum | cut -d' ' -f1)
TEST_HERE := rust-test $(filter-out header-check,$(FFI_TEST_TARGETS)) $(PKG_TEST_TARGETS) bench-smoke

test: test-deps self-contained-check header-check
	@rm -rf "$(SELFTEST_DIR)" && mkdir -p "$(SELFTEST_DIR)/repo" target
	@git ls-files -z --cached --others --exclude-standard | \
	  while IFS= read -r -d '' f; do [ -e "$$f" ] && printf '%s\0' "$$f"; done | \
	  tar --null -T - -cf - | tar -xf - -C "$(SELFTEST_DIR)/repo"
	@ln -s "$(CURDIR)/target" "$(SELFTEST_DIR)/repo/target"
	@echo "== running the tests in $(SELFTEST_DIR)/repo (nothing beside it)"
	$(MAKE) --no-print-directory -C "$(SELFTEST_DIR)/repo" test-here

test-here: $(TEST_HERE)

# Tracked files may not name our team's scratch folder (a user's clone has none);
# the fixture generators take their data folder as an option.
self-contained-check:
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  hits=$$(git grep -l -e '\.\./shar[e]d' -e 'shar[e]d/data' -- . \
	          ':!tests/fixtures/generate.py' ':!tests/fixtures/gen_rng_refs.py'); \
	  if [ -n "$$hits" ]; then echo "self-contained-check: these files name the scratch folder beside the repository:"; \
	    echo "$$hits"; exit 1; fi; \
	  echo "self-contained-check: no tracked file names a folder outside the repository"; fi

# The command-line tool `minibatchnmf` (src/bin/minibatchnmf): `make install`
# puts it in $(PREFIX)/bin next to the library; `cargo install --path . --features cli`
# puts it in ~/.cargo/bin. (`make test` runs its tests, tests/cli.rs, and the
# bounded-memory test tests/io_memory.rs, which writes a 3.2 GB file in
# $TMPDIR, default /tmp, and removes it: about 3.3 GB of free disk there.)
.PHONY: cli-install
install: cli-install
cli-install: deps
	$(CARGO) build --release --features cli --bin minibatchnmf
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 target/release/minibatchnmf $(DESTDIR)$(PREFIX)/bin/minibatchnmf
