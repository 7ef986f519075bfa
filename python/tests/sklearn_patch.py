"""pytest plugin: run scikit-learn's own MiniBatchNMF tests against ours.

    pytest -p sklearn_patch --pyargs sklearn.decomposition.tests.test_nmf

Loaded with ``-p`` before collection, it replaces
``sklearn.decomposition.MiniBatchNMF`` by ``minibatchnmf.MiniBatchNMF``, so
the installed test module's ``from sklearn.decomposition import
MiniBatchNMF`` (and its parametrisations) take ours. At collection it checks
that every collected module really holds ours, and deselects the tests that
never touch MiniBatchNMF (tests of NMF, of ``non_negative_factorization``
and of private helpers): they test scikit-learn's code, not ours. The
deselected tests are listed at the end of the run.
"""

import inspect

import pytest
import sklearn.decomposition

import minibatchnmf

sklearn.decomposition.MiniBatchNMF = minibatchnmf.MiniBatchNMF

_deselected = []

# Tests of MiniBatchNMF that fail, and why. Each is marked xfail(strict):
# the run fails if one starts passing, so this list stays true.
KNOWN_FAILURES = {}


def _exercises_ours(item):
    params = getattr(item, "callspec", None)
    if params is not None and "Estimator" in params.params:
        return params.params["Estimator"] is minibatchnmf.MiniBatchNMF
    return "MiniBatchNMF" in inspect.getsource(item.function)


def pytest_collection_modifyitems(session, config, items):
    keep = []
    for item in items:
        module = item.module
        if getattr(module, "MiniBatchNMF", None) is not minibatchnmf.MiniBatchNMF:
            raise RuntimeError(f"{module.__name__}.MiniBatchNMF is not minibatchnmf's: patch failed")
        (keep if _exercises_ours(item) else _deselected).append(item)
        reason = KNOWN_FAILURES.get(item.originalname)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
    if _deselected:
        config.hook.pytest_deselected(items=_deselected)
    items[:] = keep


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    tr.section("not run: tests of scikit-learn's NMF and private helpers (no MiniBatchNMF)")
    for item in _deselected:
        tr.write_line(item.name)
    tr.write_line(f"{len(_deselected)} deselected")
