# C ABI: installation, header drift check and the callers (C, C++, R,
# Python, Julia). Included by the top-level Makefile; `make test` runs
# $(FFI_TEST_TARGETS) after the Rust tests.
#
#   make install PREFIX=/usr/local   shared + static library, header, pkg-config file
#   make ffi-test                    every FFI check below
#   make header                      regenerate include/minibatchnmf.h from src/ffi (cbindgen)
#   make header-check                include/minibatchnmf.h matches src/ffi

# valgrind for the memory check, R for the R caller, g++ for the C++ one
# (installed by `make test`, not by `make demo`).
TEST_DEB_PKGS += valgrind r-base-core r-base-dev g++ python3-venv

FFI_TEST_TARGETS := header-check ffi-c ffi-cxx ffi-readme ffi-valgrind ffi-install-test \
                    ffi-r ffi-python ffi-julia-check ffi-mpi

FFI_VERSION := $(shell sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)
FFI_SOMAJOR := $(firstword $(subst ., ,$(FFI_VERSION)))
FFI_RELEASE := target/release
FFI_BUILD := target/c-examples
# The in-tree library under its SONAME, for the examples linked against it.
FFI_LIBDIR := $(FFI_BUILD)/lib
# Small real data vendored in the repository (see tests/data/README.md).
FFI_DATA ?= tests/data
# What a program linked with the static library needs besides it (rustc's
# native-static-libs on Linux, plus OpenBLAS).
FFI_STATIC_LIBS := -lopenblas -lpthread -lm -ldl -lgcc_s
FFI_CFLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -pedantic
FFI_CXXFLAGS := -std=c++17 -O2 -g -Wall -Wextra -Werror -pedantic
FFI_DYNAMIC := -L$(FFI_LIBDIR) -lminibatchnmf -Wl,-rpath,$(abspath $(FFI_LIBDIR))
FFI_STATIC := $(FFI_RELEASE)/libminibatchnmf.a $(FFI_STATIC_LIBS)
FFI_VALGRIND := valgrind --quiet --error-exitcode=1 --leak-check=full --show-leak-kinds=definite \
                --errors-for-leak-kinds=definite
FFI_VENV := target/ffi-venv
FFI_PY_PKGS := numpy scipy scikit-learn==1.9.1 safetensors

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

.PHONY: ffi-lib ffi-test install header header-check ffi-c ffi-cxx ffi-readme ffi-valgrind \
        ffi-install-test ffi-r ffi-python ffi-julia-check ffi-mpi mpi-deps bench-mpi

ffi-test: $(FFI_TEST_TARGETS)

# The release cdylib and staticlib, and lib/libminibatchnmf.so.N -> it.
ffi-lib: deps
	$(CARGO) build --release --lib
	@mkdir -p $(FFI_LIBDIR)
	@ln -sf ../../release/libminibatchnmf.so $(FFI_LIBDIR)/libminibatchnmf.so.$(FFI_SOMAJOR)
	@ln -sf libminibatchnmf.so.$(FFI_SOMAJOR) $(FFI_LIBDIR)/libminibatchnmf.so

# --- installation -----------------------------------------------------------
install: ffi-lib
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 755 $(FFI_RELEASE)/libminibatchnmf.so $(DESTDIR)$(LIBDIR)/libminibatchnmf.so.$(FFI_VERSION)
	ln -sf libminibatchnmf.so.$(FFI_VERSION) $(DESTDIR)$(LIBDIR)/libminibatchnmf.so.$(FFI_SOMAJOR)
	ln -sf libminibatchnmf.so.$(FFI_SOMAJOR) $(DESTDIR)$(LIBDIR)/libminibatchnmf.so
	install -m 644 $(FFI_RELEASE)/libminibatchnmf.a $(DESTDIR)$(LIBDIR)/libminibatchnmf.a
	install -m 644 include/minibatchnmf.h $(DESTDIR)$(INCLUDEDIR)/minibatchnmf.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(FFI_VERSION)|' -e 's|@STATIC_LIBS@|$(FFI_STATIC_LIBS)|' \
	    c-examples/minibatchnmf.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/minibatchnmf.pc

# Install into a temporary prefix, then build the README example against the
# installed copy with pkg-config, dynamically and statically, and run both.
ffi-install-test: ffi-lib $(FFI_BUILD)/readme_example.c
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(MAKE) --no-print-directory install PREFIX="$$tmp/prefix" >/dev/null; \
	lib="$$tmp/prefix/lib"; \
	test -L "$$lib/libminibatchnmf.so"; \
	test -L "$$lib/libminibatchnmf.so.$(FFI_SOMAJOR)"; \
	readelf -d "$$lib/libminibatchnmf.so.$(FFI_VERSION)" | grep -q 'SONAME.*\[libminibatchnmf\.so\.$(FFI_SOMAJOR)\]'; \
	export PKG_CONFIG_PATH="$$lib/pkgconfig"; \
	test "$$(pkg-config --modversion minibatchnmf)" = "$(FFI_VERSION)"; \
	$(CC) $(FFI_CFLAGS) $(FFI_BUILD)/readme_example.c -o "$$tmp/dynamic" \
	    $$(pkg-config --cflags --libs minibatchnmf) -Wl,-rpath,"$$(pkg-config --variable=libdir minibatchnmf)"; \
	ldd "$$tmp/dynamic" | grep -q "libminibatchnmf.so.$(FFI_SOMAJOR) => $$lib/"; \
	"$$tmp/dynamic" >/dev/null; \
	$(CC) $(FFI_CFLAGS) $$(pkg-config --cflags minibatchnmf) $(FFI_BUILD)/readme_example.c -o "$$tmp/static" \
	    -Wl,-Bstatic -lminibatchnmf -Wl,-Bdynamic $$(pkg-config --static --libs minibatchnmf | sed 's/-lminibatchnmf//'); \
	if ldd "$$tmp/static" | grep -q libminibatchnmf; then echo "static binary needs the .so"; exit 1; fi; \
	"$$tmp/static" >/dev/null; \
	echo "ffi-install-test: installed library, header and minibatchnmf.pc work (dynamic and static)"

# --- header -----------------------------------------------------------------
# The header is generated from src/ffi by cbindgen in tests/header.rs (never by
# the build): `make header` rewrites include/minibatchnmf.h, `make header-check`
# fails when the committed header differs from what src/ffi generates (the test
# leaves the generated one in target/header-check/minibatchnmf.h). The same
# test checks that every _f64 export has an _f32 twin and that every export is
# guarded against panics.
header: deps
	MINIBATCHNMF_WRITE_HEADER=1 $(CARGO) test --release --test header -- --test-threads=1

header-check: deps
	$(CARGO) test --release --test header
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && ! git diff --quiet HEAD -- include/minibatchnmf.h 2>/dev/null; then \
	    echo "header-check: note: include/minibatchnmf.h differs from the committed one (run by make header?): commit it"; fi
	@echo "header-check: include/minibatchnmf.h matches src/ffi"

# --- C and C++ ----------------------------------------------------------------
$(FFI_BUILD)/nmf_example: c-examples/nmf_example.c include/minibatchnmf.h | ffi-lib
	$(CC) $(FFI_CFLAGS) -Iinclude $< -o $@ $(FFI_DYNAMIC) -lm

$(FFI_BUILD)/nmf_example_static: c-examples/nmf_example.c include/minibatchnmf.h | ffi-lib
	$(CC) $(FFI_CFLAGS) -Iinclude $< -o $@ $(FFI_STATIC)

$(FFI_BUILD)/nmf_example_cpp: c-examples/nmf_example.cpp include/minibatchnmf.h | ffi-lib
	$(CXX) $(FFI_CXXFLAGS) -Iinclude $< -o $@ $(FFI_DYNAMIC) -pthread

$(FFI_BUILD)/nmf_example_cpp_static: c-examples/nmf_example.cpp include/minibatchnmf.h | ffi-lib
	$(CXX) $(FFI_CXXFLAGS) -Iinclude $< -o $@ $(FFI_STATIC)

# The complete example of c-examples/README.md, extracted verbatim.
$(FFI_BUILD)/readme_example.c: c-examples/README.md
	@mkdir -p $(FFI_BUILD)
	awk '/<!-- example:end -->/{on=0} on && !/^```/{print} /<!-- example:begin -->/{on=1}' $< > $@
	@test -s $@

$(FFI_BUILD)/readme_example: $(FFI_BUILD)/readme_example.c include/minibatchnmf.h | ffi-lib
	$(CC) $(FFI_CFLAGS) -Iinclude $< -o $@ $(FFI_DYNAMIC)

# The static binaries are always relinked: the .a may have changed.
.PHONY: $(FFI_BUILD)/nmf_example_static $(FFI_BUILD)/nmf_example_cpp_static

ffi-c: $(FFI_BUILD)/nmf_example $(FFI_BUILD)/nmf_example_static
	$(FFI_BUILD)/nmf_example $(FFI_DATA) 1000 10 15
	$(FFI_BUILD)/nmf_example_static $(FFI_DATA) 300 5 10 > /dev/null
	@echo "ffi-c: dynamic and static C example passed"

ffi-cxx: $(FFI_BUILD)/nmf_example_cpp $(FFI_BUILD)/nmf_example_cpp_static
	$(FFI_BUILD)/nmf_example_cpp $(FFI_DATA)
	$(FFI_BUILD)/nmf_example_cpp_static $(FFI_DATA) 400 > /dev/null
	@echo "ffi-cxx: dynamic and static C++ example passed"

ffi-readme: $(FFI_BUILD)/readme_example
	$(FFI_BUILD)/readme_example

# Small data under valgrind: OpenBLAS is slow there. One thread, so the pool
# stays small; leaks of definite kind and invalid accesses fail the run.
ffi-valgrind: $(FFI_BUILD)/nmf_example $(FFI_BUILD)/readme_example
	$(FFI_VALGRIND) $(FFI_BUILD)/readme_example > /dev/null
	$(FFI_VALGRIND) $(FFI_BUILD)/nmf_example $(FFI_DATA) 40 3 5 1 > /dev/null
	@echo "ffi-valgrind: no memory errors, no definite leaks"

# --- R ------------------------------------------------------------------------
ffi-r: ffi-lib
	@rm -rf $(FFI_BUILD)/r && mkdir -p $(FFI_BUILD)/r && cp c-examples/r/nmf_glue.c $(FFI_BUILD)/r/
	cd $(FFI_BUILD)/r && PKG_CPPFLAGS="-I$(abspath include)" \
	    PKG_CFLAGS="-Wall -Wextra -Werror -Wno-cast-function-type" \
	    PKG_LIBS="-L$(abspath $(FFI_LIBDIR)) -lminibatchnmf -Wl,-rpath,$(abspath $(FFI_LIBDIR))" \
	    R CMD SHLIB -o nmf_glue.so nmf_glue.c > build.log 2>&1 || { cat build.log; exit 1; }
	Rscript c-examples/r/nmf_example.R $(FFI_BUILD)/r/nmf_glue.so $(FFI_DATA)

# --- Python (ctypes, compared with scikit-learn) --------------------------------
$(FFI_VENV)/.installed:
	@python3 -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="python3 python3-venv"
	python3 -m venv $(FFI_VENV)
	$(FFI_VENV)/bin/pip install -q --disable-pip-version-check $(FFI_PY_PKGS)
	touch $@

# Models saved by the Rust library, for the Python caller to load.
FFI_RUST_MODELS := $(FFI_BUILD)/rust-models
$(FFI_RUST_MODELS)/rust_expected.safetensors: c-examples/rust/save_model.rs src/persist/*.rs | ffi-lib
	$(CARGO) run --release --example save_model -- $(FFI_RUST_MODELS)

# An existing venv without safetensors gets it installed.
ffi-python: ffi-lib $(FFI_VENV)/.installed $(FFI_RUST_MODELS)/rust_expected.safetensors
	@$(FFI_VENV)/bin/python -c 'import safetensors' 2>/dev/null || \
	    $(FFI_VENV)/bin/pip install -q --disable-pip-version-check $(FFI_PY_PKGS)
	$(FFI_VENV)/bin/python c-examples/python/nmf_ctypes.py $(FFI_RELEASE)/libminibatchnmf.so \
	    include/minibatchnmf.h $(FFI_DATA) $(FFI_RUST_MODELS)

# --- Julia (no Julia here: check the script against the header) -------------------
ffi-julia-check:
	python3 c-examples/julia/check_julia.py include/minibatchnmf.h c-examples/julia/nmf_example.jl

# --- MPI (data-parallel fit through the all-reduce hook) ------------------------
# Open MPI is installed only for this target. Each run compares the P-rank fit
# with the single-process fit of the same rows (dense and CSR, Frobenius and KL,
# even and uneven shards) and checks that a bad shard fails every rank.
FFI_MPIRUN := mpirun --allow-run-as-root --oversubscribe
FFI_MPI_PKGS := libopenmpi-dev openmpi-bin

mpi-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(DEB_PKGS)" EXTRA_DEB_PKGS="$(FFI_MPI_PKGS)"

$(FFI_BUILD)/nmf_mpi: c-examples/mpi/nmf_mpi.c include/minibatchnmf.h | ffi-lib mpi-deps
	mpicc $(FFI_CFLAGS) -Wno-long-long -Iinclude $< -o $@ $(FFI_DYNAMIC) -lm

ffi-mpi: $(FFI_BUILD)/nmf_mpi
	@for np in 1 2 4; do \
	  timeout 300 $(FFI_MPIRUN) -np $$np $(FFI_BUILD)/nmf_mpi 1 || exit 1; \
	done
	@echo "ffi-mpi: P = 1, 2, 4 ranks equal the single-process fit; a bad shard fails every rank"

# Time per step and the hook's traffic for P = 1, 2 (not part of make test;
# MPI_BENCH_ARGS as in c-examples/mpi/nmf_mpi_bench.c).
MPI_BENCH_ARGS ?=
$(FFI_BUILD)/nmf_mpi_bench: c-examples/mpi/nmf_mpi_bench.c include/minibatchnmf.h | ffi-lib mpi-deps
	mpicc $(FFI_CFLAGS) -Iinclude $< -o $@ $(FFI_DYNAMIC) -lm

bench-mpi: $(FFI_BUILD)/nmf_mpi_bench
	@for np in 1 2; do $(FFI_MPIRUN) -np $$np $(FFI_BUILD)/nmf_mpi_bench $(MPI_BENCH_ARGS); done
