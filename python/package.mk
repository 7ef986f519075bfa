# The Python package python/ (included by the top-level Makefile).
#
#   make py-package-test   install ./python into its own venv (cargo builds the library),
#                          then run scikit-learn 1.9.1's own test_nmf.py against it,
#                          check_estimator, and the package's tests

PY_PKG_VENV := target/py-package-venv
TEST_DEB_PKGS += python3-venv
PKG_TEST_TARGETS += py-package-test
PY_PKG_DEPS := numpy scipy pandas pytest scikit-learn==1.9.1
PY_PKG_PYTEST := $(abspath $(PY_PKG_VENV))/bin/python -m pytest -q -p no:cacheprovider -rfEx

.PHONY: py-package-install py-package-test

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
	cd python/tests && $(PY_PKG_PYTEST) test_check_estimator.py test_package.py
