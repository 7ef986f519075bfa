"""Missing values (``MiniBatchNMF(missing=...)``) and the rank's
cross-validation (``minibatchnmf.cross_validate_rank``) from Python."""

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import minibatchnmf
from minibatchnmf import MiniBatchNMF, _clib

needs_missing = pytest.mark.skipif(not _clib.HAS_MISSING, reason="library without the 'missing' parameter")
needs_cv = pytest.mark.skipif(
    not _clib.HAS_CROSS_VALIDATE_RANK, reason="library without nmf_cross_validate_rank_*"
)

DIGITS = load_digits().data  # 1797 x 64
PARAMS = dict(n_components=8, init="nndsvda", batch_size=256, random_state=0, max_iter=30)


def quiet(fn, *a, **k):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fn(*a, **k)


def low_rank(n=400, m=50, k=5, noise=0.01, seed=0):
    """X = W H of known rank k with multiplicative noise (relative sd
    ``noise``), and the noise-free WH. W and H are 60 % zeros (parts-based
    factors, as NMF models them; dense uniform factors are so correlated
    that multiplicative updates need thousands of passes to find them)."""
    rng = np.random.RandomState(seed)
    W = np.where(rng.rand(n, k) < 0.6, 0.0, rng.rand(n, k))
    H = np.where(rng.rand(k, m) < 0.6, 0.0, rng.rand(k, m))
    clean = W @ H
    return np.abs(clean * (1 + noise * rng.randn(n, m))), clean


def with_nan(X, fraction, seed=1):
    rng = np.random.RandomState(seed)
    mask = rng.rand(*X.shape) < fraction
    Xn = X.copy()
    Xn[mask] = np.nan
    return Xn, mask


def all_stored(X):
    """X as a CSR matrix that stores every entry (zeros included)."""
    n, m = X.shape
    return sp.csr_matrix((X.ravel(), np.tile(np.arange(m), n), np.arange(0, n * m + 1, m)), shape=(n, m))


# -- the parameter ---------------------------------------------------------------
def test_missing_is_a_plain_estimator_parameter():
    from sklearn.base import clone

    m = MiniBatchNMF()
    assert m.get_params()["missing"] == "error"
    m.set_params(missing="nan")
    assert clone(m).get_params()["missing"] == "nan"
    assert pickle.loads(pickle.dumps(m)).get_params()["missing"] == "nan"
    with pytest.raises(ValueError, match="missing"):
        MiniBatchNMF(missing="zero").fit(DIGITS)


def test_nan_with_the_default_is_scikit_learns_error():
    Xn, _ = with_nan(DIGITS, 0.1)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        MiniBatchNMF(**PARAMS).fit(Xn)
    fitted = quiet(MiniBatchNMF(**PARAMS).fit, DIGITS)
    H = fitted.components_.copy()
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.partial_fit(Xn[:256])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fitted.transform(Xn[:10])
    np.testing.assert_array_equal(fitted.components_, H)


@needs_missing
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_mode_without_nan_equals_the_plain_fit_bit_for_bit(dtype):
    X = DIGITS.astype(dtype)
    plain = MiniBatchNMF(**PARAMS)
    masked = MiniBatchNMF(**PARAMS, missing="nan")
    W0, W1 = quiet(plain.fit_transform, X), quiet(masked.fit_transform, X)
    np.testing.assert_array_equal(W0, W1)
    np.testing.assert_array_equal(plain.components_, masked.components_)
    assert plain.reconstruction_err_ == masked.reconstruction_err_
    np.testing.assert_array_equal(plain.transform(X[:50]), masked.transform(X[:50]))


@needs_missing
def test_nan_fit_scores_and_completes_the_observed_entries():
    X, clean = low_rank()
    Xn, mask = with_nan(X, 0.2)
    m = MiniBatchNMF(n_components=5, init="nndsvda", random_state=0, max_iter=300, batch_size=128,
                     tol=0, max_no_improvement=None, missing="nan")
    W = quiet(m.fit_transform, Xn)
    H = m.components_
    assert np.isfinite(W).all() and np.isfinite(H).all() and (W >= 0).all() and (H >= 0).all()
    # reconstruction_err_ is over the observed entries only
    R = np.where(mask, 0.0, X - W @ H)
    assert m.reconstruction_err_ == pytest.approx(np.sqrt((R**2).sum()), rel=1e-8)
    # the completed matrix, on the missing entries: near the noise level, far below mean imputation
    completed = m.inverse_transform(W)
    rmse = np.sqrt(np.mean((completed[mask] - X[mask]) ** 2))
    col_means = np.nanmean(Xn, axis=0)
    mean_rmse = np.sqrt(np.mean((np.broadcast_to(col_means, X.shape)[mask] - X[mask]) ** 2))
    assert rmse < 0.2 * mean_rmse, (rmse, mean_rmse)
    # transform computes W from each row's observed entries
    W2 = m.transform(Xn[:40])
    assert np.isfinite(W2).all()
    assert np.sqrt(np.mean((W2 @ H - clean[:40])[mask[:40]] ** 2)) < 0.2 * mean_rmse


@needs_missing
def test_nan_in_a_sparse_matrix_is_missing_and_negative_values_still_refused():
    X, _ = low_rank(200, 30, 3)
    Xn, mask = with_nan(X, 0.2)
    dense = MiniBatchNMF(n_components=3, init="nndsvda", random_state=0, max_iter=50, missing="nan")
    csr = MiniBatchNMF(n_components=3, init="nndsvda", random_state=0, max_iter=50, missing="nan")
    Wd, Wc = quiet(dense.fit_transform, Xn), quiet(csr.fit_transform, all_stored(Xn))
    np.testing.assert_allclose(Wc, Wd, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(csr.components_, dense.components_, rtol=1e-9, atol=1e-12)
    bad = Xn.copy()
    bad[np.argwhere(~mask)[0][0], np.argwhere(~mask)[0][1]] = -1.0
    with pytest.raises(ValueError, match="Negative values in data passed to MiniBatchNMF"):
        MiniBatchNMF(n_components=3, missing="nan").fit(bad)


@needs_missing
def test_unstored_refuses_dense_input_and_leaves_a_fitted_model_unchanged():
    with pytest.raises(ValueError, match="unstored.*sparse"):
        MiniBatchNMF(**PARAMS, missing="unstored").fit(DIGITS)
    m = quiet(MiniBatchNMF(**PARAMS, missing="unstored").fit, sp.csr_matrix(DIGITS))
    H = m.components_.copy()
    with pytest.raises(ValueError, match="unstored.*sparse"):
        m.transform(DIGITS[:10])
    with pytest.raises(ValueError, match="unstored.*sparse"):
        m.partial_fit(DIGITS[:10])
    np.testing.assert_array_equal(m.components_, H)
    assert m.transform(sp.csr_matrix(DIGITS[:10])).shape == (10, 8)


@needs_missing
def test_unstored_on_a_matrix_storing_every_entry_equals_the_dense_fit():
    X = DIGITS[:600]
    dense = MiniBatchNMF(**PARAMS)
    csr = MiniBatchNMF(**PARAMS, missing="unstored")
    Wd, Wc = quiet(dense.fit_transform, X), quiet(csr.fit_transform, all_stored(X))
    np.testing.assert_allclose(Wc, Wd, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(csr.components_, dense.components_, rtol=1e-10, atol=1e-12)
    assert csr.reconstruction_err_ == pytest.approx(dense.reconstruction_err_, rel=1e-10)


@needs_missing
def test_unstored_ratings_predict_held_out_entries():
    """Recommender-style data: only the stored entries are known."""
    rng = np.random.RandomState(0)
    n, m, k = 600, 120, 3
    truth = 1 + 4 * (rng.rand(n, k) @ rng.rand(k, m)) / k
    stored = rng.rand(n, m) < 0.15
    held = stored & (rng.rand(n, m) < 0.2)
    train = stored & ~held
    rows, cols = np.nonzero(train)
    R = sp.csr_matrix((truth[rows, cols] + 0.05 * rng.randn(rows.size), (rows, cols)), shape=(n, m))
    model = MiniBatchNMF(n_components=k, init="random", random_state=0, max_iter=200, batch_size=200,
                         tol=0, max_no_improvement=None, missing="unstored")
    W = quiet(model.fit_transform, R)
    pred = model.inverse_transform(W)
    rmse = np.sqrt(np.mean((pred[held] - truth[held]) ** 2))
    baseline = np.sqrt(np.mean((R.data.mean() - truth[held]) ** 2))
    assert rmse < 0.5 * baseline, (rmse, baseline)


@needs_missing
@pytest.mark.skipif(not _clib.HAS_PERSIST, reason="library without the saving format")
def test_save_load_and_pickle_keep_missing(tmp_path):
    Xn, _ = with_nan(DIGITS, 0.1)
    m = quiet(MiniBatchNMF(**PARAMS, missing="nan").fit, Xn)
    path = str(tmp_path / "nan.safetensors")
    m.save(path)
    loaded = MiniBatchNMF.load(path)
    assert loaded.get_params()["missing"] == "nan"
    np.testing.assert_array_equal(loaded.transform(Xn[:20]), m.transform(Xn[:20]))
    back = pickle.loads(pickle.dumps(m))
    assert back._handle.get_param("missing") == "nan"
    np.testing.assert_array_equal(back.transform(Xn[:20]), m.transform(Xn[:20]))


@needs_missing
def test_missing_nan_passes_scikit_learns_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator

    est = MiniBatchNMF(batch_size=10, max_iter=20, fresh_restarts=True, missing="nan")
    assert est.__sklearn_tags__().input_tags.allow_nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(est, on_fail=None)
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    if not _clib.HAS_PERSIST:
        failed.discard("check_estimators_pickle")
    assert not failed


# check_estimators_pickle found it: fresh W solves started from the batch's mean, NaN
# when the batch had a missing entry (now the mean of its observed entries).
@needs_missing
def test_fresh_restarts_with_nan_fits():
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=30, centers=[[0, 0, 0], [1, 1, 1]], random_state=0, n_features=2,
                      cluster_std=0.1)
    X -= X.min() - 0.1  # scikit-learn's checks make X positive
    X.reshape(-1)[np.random.RandomState(42).choice(X.size, 10, replace=False)] = np.nan
    m = MiniBatchNMF(batch_size=10, max_iter=20, fresh_restarts=True, random_state=0, missing="nan").fit(X)
    assert np.isfinite(m.components_).all()


# -- choosing k ------------------------------------------------------------------
@needs_cv
def test_cross_validation_picks_the_true_rank():
    X, _ = low_rank(600, 60, 6, noise=0.02)
    Xn, _ = with_nan(X, 0.2)
    ks = [2, 4, 5, 6, 7, 9, 12]
    # Fits run to the end (no early stopping, one batch): an early-stopped fit can end in a
    # poor local minimum at the true rank in one repeat and blur the comparison.
    cv = minibatchnmf.cross_validate_rank(
        Xn, ks, n_repeats=3, random_state=0, missing="nan", init="nndsvda", max_iter=300,
        batch_size=600, tol=0, max_no_improvement=None,
    )
    assert list(cv.n_components) == ks
    assert cv.scores_.shape == (len(ks), 3) and np.isfinite(cv.scores_).all()
    np.testing.assert_allclose(cv.mean_, cv.scores_.mean(axis=1))
    np.testing.assert_allclose(cv.std_, cv.scores_.std(axis=1, ddof=1))
    assert cv.best_n_components == 6, cv
    assert cv.mean_[ks.index(6)] < 0.05 * cv.mean_[ks.index(4)]
    assert "chosen" in repr(cv)


@needs_cv
def test_cross_validation_is_reproducible_and_none_draws_from_numpys_global_generator():
    X, _ = low_rank(200, 30, 3)
    kw = dict(max_iter=50, init="nndsvda")
    a = minibatchnmf.cross_validate_rank(X, range(1, 6), random_state=7, **kw)
    b = minibatchnmf.cross_validate_rank(X, range(1, 6), random_state=7, **kw)
    np.testing.assert_array_equal(a.scores_, b.scores_)
    c = minibatchnmf.cross_validate_rank(X, range(1, 6), random_state=8, **kw)
    assert not np.array_equal(a.scores_, c.scores_)  # other splits
    np.random.seed(3)
    d = minibatchnmf.cross_validate_rank(X, range(1, 6), **kw)
    after = np.random.rand()
    np.random.seed(3)
    e = minibatchnmf.cross_validate_rank(X, range(1, 6), **kw)
    np.testing.assert_array_equal(d.scores_, e.scores_)
    assert np.random.rand() == after  # the global stream moved on identically
    f = minibatchnmf.cross_validate_rank(X, range(1, 6), random_state=np.random.RandomState(3), **kw)
    assert f.scores_.shape == (5, 3)


@needs_cv
def test_cross_validation_sparse_unstored_and_float32():
    X, _ = low_rank(300, 40, 4, noise=0.0)
    rng = np.random.RandomState(2)
    keep = rng.rand(*X.shape) < 0.5
    R = sp.csr_matrix(np.where(keep, X, 0.0))
    cv = minibatchnmf.cross_validate_rank(R, [2, 4, 8], n_repeats=2, random_state=0,
                                          missing="unstored", max_iter=200, init="nndsvda")
    assert cv.scores_.shape == (3, 2) and np.isfinite(cv.scores_).all()
    assert cv.best_n_components == 4, cv
    cv32 = minibatchnmf.cross_validate_rank(X.astype(np.float32), [2, 4, 8], n_repeats=2, random_state=0,
                                            max_iter=100, init="nndsvda")
    cv64 = minibatchnmf.cross_validate_rank(X, [2, 4, 8], n_repeats=2, random_state=0, max_iter=100,
                                            init="nndsvda")
    assert cv32.scores_.dtype == np.float64 and cv32.best_n_components == cv64.best_n_components == 4


@needs_cv
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_components=5), "list or range"),
        (dict(n_components=[]), "at least one"),
        (dict(n_components=[2, 0]), ">= 1"),
        (dict(n_components=[2, 3], test_fraction=0.0), "test_fraction"),
        (dict(n_components=[2, 3], test_fraction=1.0), "test_fraction"),
        (dict(n_components=[2, 3], n_repeats=0), "n_repeats"),
        (dict(n_components=[2, 3], beta_loss="nope"), "beta_loss"),
        (dict(n_components=[2, 3], missing="unstored"), "unstored"),
    ],
)
def test_cross_validation_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        minibatchnmf.cross_validate_rank(DIGITS[:100], **kwargs)


@needs_cv
def test_cross_validation_nan_needs_missing_nan():
    Xn, _ = with_nan(DIGITS[:100], 0.1)
    with pytest.raises(ValueError, match="NaN"):
        minibatchnmf.cross_validate_rank(Xn, [2, 3])


@needs_cv
def test_rank_plot_draws_the_scores_and_matplotlib_is_imported_lazily(tmp_path):
    code = "import sys, minibatchnmf; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, _ = low_rank(200, 30, 3)
    cv = minibatchnmf.cross_validate_rank(X, [1, 2, 3, 4], n_repeats=2, random_state=0, max_iter=50)
    ax = cv.plot()
    line = ax.lines[0]
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(line.get_ydata(), cv.mean_)
    path = tmp_path / "rank.png"
    ax.figure.savefig(path)
    assert path.stat().st_size > 1000
