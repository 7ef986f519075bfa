# The Python package python/ (included by the top-level Makefile).
#
#   make py-package-test   install ./python into its own venv (cargo builds the library),
#                          then run scikit-learn 1.9.1's own test_nmf.py against it,
#                          check_estimator, and the package's tests
#   make py-interop-test   model files between Python, the command-line tool and R
#                          (python/tests/test_interop.py; builds the CLI, installs the
#                          R package into target/py-interop/rlib)

PY_PKG_VENV := target/py-package-venv
TEST_DEB_PKGS += python3-venv
PKG_TEST_TARGETS += py-package-test py-interop-test
# matplotlib: cross_validate_rank(...).plot() in test_missing.py (the package imports it lazily).
PY_PKG_DEPS := numpy scipy pandas pytest matplotlib scikit-learn==1.9.1
PY_PKG_PYTEST := $(abspath $(PY_PKG_VENV))/bin/python -m pytest -q -p no:cacheprovider -rfEx

.PHONY: py-package-install py-package-test py-interop-test

$(PY_PKG_VENV)/.installed:
	@python3 -c 'import ensurepip, venv' 2>/dev/null || $(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="python3 python3-venv"
	python3 -m venv $(PY_PKG_VENV)
	$(PY_PKG_VENV)/bin/pip install -q --disable-pip-version-check $(PY_PKG_DEPS)
	touch $@

# The documented install command, run as a user would (pip builds the Rust library).
py-package-install: deps $(PY_PKG_VENV)/.installed
	$(PY_PKG_VENV)/bin/pip install -q --disable-pip-version-check --force-reinstall --no-deps ./python

# From python/tests (not the source tree) so the installed package is the one imported.
# scikit-learn's suite: the installed sklearn/decomposition/tests/test_nmf.py, with
# MiniBatchNMF replaced before collection (python/tests/sklearn_patch.py).
py-package-test: py-package-install
	cd python/tests && $(PY_PKG_PYTEST) -p sklearn_patch --pyargs sklearn.decomposition.tests.test_nmf
	cd python/tests && $(PY_PKG_PYTEST) test_check_estimator.py test_package.py test_missing.py

# Model files across tools: the installed Python package, the CLI binary and the R
# package (installed from r/minibatchnmf into its own library; its configure builds
# the crate's static library with cargo).
PY_INTEROP_RLIB := target/py-interop/rlib
py-interop-test: py-package-install
	@$(MAKE) --no-print-directory deps EXTRA_DEB_PKGS="r-base-core r-base-dev r-cran-matrix"
	$(CARGO) build --release --features cli --bin minibatchnmf
	@rm -rf $(PY_INTEROP_RLIB) && mkdir -p $(PY_INTEROP_RLIB)
	MINIBATCHNMF_CRATE=$(abspath .) R CMD INSTALL --clean --no-test-load -l $(PY_INTEROP_RLIB) r/minibatchnmf \
	    > target/py-interop/r-install.log 2>&1 || { cat target/py-interop/r-install.log; exit 1; }
	cd python/tests && MINIBATCHNMF_CLI=$(abspath target/release/minibatchnmf) \
	    MINIBATCHNMF_R_LIBS=$(abspath $(PY_INTEROP_RLIB)) $(PY_PKG_PYTEST) test_interop.py

# Python over MPI: mpi4py built from source against Debian's Open MPI (make mpi-deps,
# c-examples/ffi.mk), then the example python/examples/mpi_fit.py on 1, 2 and 4 ranks:
# each rank fits its shard with minibatchnmf.mpi.attach and checks the single-process fit.
PKG_TEST_TARGETS += py-mpi-test
.PHONY: py-mpi-test
py-mpi-test: py-package-install mpi-deps
	@$(PY_PKG_VENV)/bin/python -c 'import mpi4py' 2>/dev/null || \
	    $(PY_PKG_VENV)/bin/pip install -q --disable-pip-version-check --no-binary mpi4py mpi4py
	@for np in 1 2 4; do \
	  timeout 300 $(FFI_MPIRUN) -np $$np $(abspath $(PY_PKG_VENV))/bin/python python/examples/mpi_fit.py || exit 1; \
	done
