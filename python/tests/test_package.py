"""The package's own guarantees, beyond scikit-learn's test suite."""

import copy
import os
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.decomposition._nmf import MiniBatchNMF as SklearnMiniBatchNMF
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import minibatchnmf
from minibatchnmf import MiniBatchNMF, _clib

X = load_digits().data  # 1797 x 64, integers 0..16 stored as float64
PARAMS = dict(n_components=8, init="nndsvda", batch_size=256, random_state=0, max_iter=30)


def both(Xin, **extra):
    params = {**PARAMS, **extra}
    ours, theirs = MiniBatchNMF(**params), SklearnMiniBatchNMF(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return ours, ours.fit_transform(Xin), theirs, theirs.fit_transform(Xin)


@pytest.mark.parametrize(
    "make",
    [
        lambda x: x,
        np.asfortranarray,
        lambda x: x[::3, :],  # rows at a stride, passed without a copy
        lambda x: np.ascontiguousarray(x[:, ::2]),
        lambda x: x[:, ::2],  # columns at a stride: copied
        lambda x: x.tolist(),
        lambda x: x[::-1],  # negative strides: copied
        lambda x: np.frombuffer(b"\0" + x.tobytes(), dtype=np.float64, offset=1).reshape(x.shape),  # unaligned
        sp.csr_matrix,
        sp.csc_matrix,
        sp.csr_array,
        lambda x: sp.coo_matrix(x).tocsr(),
    ],
    ids=["c", "fortran", "row-stride", "cols", "col-stride", "list", "neg-stride", "unaligned", "csr", "csc", "csr_array", "coo->csr"],
)
def test_results_equal_sklearn_for_every_input_layout(make):
    Xin = make(X)
    ours, W, theirs, W_sk = both(Xin)
    np.testing.assert_allclose(W, W_sk, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-8, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ and ours.n_steps_ == theirs.n_steps_
    assert ours.reconstruction_err_ == pytest.approx(theirs.reconstruction_err_, rel=1e-10)
    np.testing.assert_allclose(ours.transform(Xin), theirs.transform(Xin), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("beta_loss", ["kullback-leibler", 0.5, 3.0])
def test_other_beta_losses_equal_sklearn(beta_loss):
    ours, W, theirs, W_sk = both(X + 0.1, beta_loss=beta_loss, max_iter=5)
    np.testing.assert_allclose(W, W_sk, rtol=1e-7, atol=1e-9)


def test_float32_stays_float32_and_ints_become_float64():
    m = MiniBatchNMF(**PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert m.fit_transform(X.astype(np.float32)).dtype == np.float32
        assert m.components_.dtype == np.float32
        # The fitted dtype is kept: float64 data is converted for transform.
        assert m.transform(X).dtype == np.float32
        assert m.fit_transform(X.astype(np.int64)).dtype == np.float64
        assert m.components_.dtype == np.float64


def _advanced(seed):
    rs = np.random.RandomState(seed)
    rs.rand(3)  # an instance in the middle of its stream
    rs.standard_normal()  # with a cached Gaussian
    return rs


def _same_state(a, b):
    sa, sb = a.get_state(legacy=True), b.get_state(legacy=True)
    np.testing.assert_array_equal(sa[1], sb[1])
    assert sa[2:] == sb[2:]


@pytest.mark.parametrize("init", ["random", "nndsvd", "nndsvda", "nndsvdar"])
def test_random_state_instance_draws_as_sklearn(init):
    # The library draws from the instance's MT19937 state as scikit-learn
    # draws from the instance: same start, same model, and the instance is
    # left in the same state; a second fit continues the stream.
    params = {**PARAMS, "init": init, "max_iter": 5}
    ours_rs, theirs_rs = _advanced(7), _advanced(7)
    ours = MiniBatchNMF(**{**params, "random_state": ours_rs})
    theirs = SklearnMiniBatchNMF(**{**params, "random_state": theirs_rs})
    for _ in range(2):
        W = ours.fit_transform(X[:600])
        W_sk = theirs.fit_transform(X[:600])
        _same_state(ours_rs, theirs_rs)
        np.testing.assert_allclose(W, W_sk, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-8, atol=1e-10)


def test_random_state_instance_first_partial_fit_draws_as_sklearn():
    params = {**PARAMS, "init": "nndsvdar"}
    ours_rs, theirs_rs = _advanced(3), _advanced(3)
    ours = MiniBatchNMF(**{**params, "random_state": ours_rs}).partial_fit(X[:300])
    theirs = SklearnMiniBatchNMF(**{**params, "random_state": theirs_rs}).partial_fit(X[:300])
    _same_state(ours_rs, theirs_rs)
    np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-8, atol=1e-10)
    ours.partial_fit(X[300:600])  # no initialisation: the instance stays
    _same_state(ours_rs, theirs_rs)


def _global_state():
    st = np.random.get_state(legacy=True)
    return st[1].copy(), st[2:]


@pytest.mark.parametrize("init", ["random", "nndsvd", "nndsvda", "nndsvdar"])
def test_random_state_none_draws_from_numpys_global_generator_as_sklearn(init):
    # scikit-learn's random_state=None is numpy's global RandomState
    # (check_random_state(None) is np.random.mtrand._rand): np.random.seed(s)
    # before fit gives the same model, and leaves np.random where
    # scikit-learn's draws leave it; a second fit continues the stream.
    params = {**PARAMS, "init": init, "max_iter": 5, "random_state": None}
    saved = np.random.get_state()
    try:
        for seed in (0, 12345):
            np.random.seed(seed)
            np.random.rand(5)  # the global stream in the middle, with a cached Gaussian
            np.random.standard_normal()
            start = np.random.get_state()
            ours = MiniBatchNMF(**params)
            W = [ours.fit_transform(X[:600]) for _ in range(2)][1]
            ours_after = _global_state()
            np.random.set_state(start)
            theirs = SklearnMiniBatchNMF(**params)
            W_sk = [theirs.fit_transform(X[:600]) for _ in range(2)][1]
            theirs_after = _global_state()
            np.testing.assert_array_equal(ours_after[0], theirs_after[0])
            assert ours_after[1] == theirs_after[1]
            np.testing.assert_allclose(W, W_sk, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-8, atol=1e-10)
            # Reproducible: the same seed gives the same model.
            np.random.set_state(start)
            again = MiniBatchNMF(**params).fit(X[:600])
            np.random.set_state(start)
            np.testing.assert_array_equal(again.components_, MiniBatchNMF(**params).fit(X[:600]).components_)
    finally:
        np.random.set_state(saved)


def test_random_state_none_first_partial_fit_draws_from_numpys_global_generator():
    params = {**PARAMS, "init": "random", "random_state": None}
    saved = np.random.get_state()
    try:
        np.random.seed(42)
        ours = MiniBatchNMF(**params).partial_fit(X[:300])
        ours_after = _global_state()
        ours.partial_fit(X[300:600])  # no initialisation: the stream stays
        assert _global_state()[1] == ours_after[1]
        np.testing.assert_array_equal(_global_state()[0], ours_after[0])
        np.random.seed(42)
        theirs = SklearnMiniBatchNMF(**params).partial_fit(X[:300])
        theirs_after = _global_state()
        np.testing.assert_array_equal(ours_after[0], theirs_after[0])
        assert ours_after[1] == theirs_after[1]
        theirs.partial_fit(X[300:600])
        np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-8, atol=1e-10)
    finally:
        np.random.set_state(saved)


def test_partial_fit_equals_sklearn():
    ours, theirs = MiniBatchNMF(**PARAMS), SklearnMiniBatchNMF(**PARAMS)
    for a in range(0, 1000, 200):
        ours.partial_fit(X[a : a + 200])
        theirs.partial_fit(X[a : a + 200])
    np.testing.assert_allclose(ours.components_, theirs.components_, rtol=1e-8)
    assert ours.n_steps_ == theirs.n_steps_ == 5


def test_errors_have_sklearn_types():
    m = MiniBatchNMF(**PARAMS)
    with pytest.raises(NotFittedError):
        m.transform(X)
    with pytest.raises(ValueError, match="Negative values in data passed to MiniBatchNMF"):
        m.fit(-X - 1)
    with pytest.raises(ValueError, match="n_components"):
        MiniBatchNMF(n_components=-1).fit(X)
    m.fit(X)
    with pytest.raises(ValueError, match="X has 10 features, but MiniBatchNMF is expecting 64"):
        m.transform(X[:, :10])
    with pytest.raises(ValueError, match="Negative values"):
        m.transform(-X - 1)  # checked by the library (status NMF_ERR_NEGATIVE_DATA)
    with pytest.raises(ValueError, match="contains NaN"):
        m.transform(np.full_like(X, np.nan))
    with pytest.raises(ValueError):
        m.inverse_transform(np.ones((3, 5)))


def test_status_codes_map_to_exceptions():
    assert isinstance(_clib.error_for(_clib.ERR_NOT_FITTED), NotFittedError)
    assert isinstance(_clib.error_for(_clib.ERR_INIT), ValueError)
    assert isinstance(_clib.error_for(_clib.ERR_DTYPE_MISMATCH), TypeError)
    assert isinstance(_clib.error_for(_clib.ERR_PANIC), RuntimeError)


def test_ignored_w_h_warn_and_convergence_warning():
    with pytest.warns(RuntimeWarning, match="When init!='custom', provided W or H are ignored"):
        MiniBatchNMF(n_components=2, max_iter=50).fit(X[:50], H=np.ones((2, 64)))
    with pytest.warns(ConvergenceWarning, match="Maximum number of iterations 1 reached"):
        MiniBatchNMF(n_components=2, max_iter=1).fit(X[:50])


def test_thread_count_settable_and_restored():
    before = minibatchnmf.get_num_threads()
    with minibatchnmf.n_threads(1):
        assert minibatchnmf.get_num_threads() == 1
        ours, W1, _, _ = both(X)
    assert minibatchnmf.get_num_threads() == before
    minibatchnmf.set_num_threads(2)
    W2 = MiniBatchNMF(**PARAMS).fit_transform(X)
    minibatchnmf.set_num_threads(before)
    np.testing.assert_allclose(W1, W2, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError):
        minibatchnmf.set_num_threads(-1)


def test_pandas_feature_names_set_output_and_pipeline():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X, columns=[f"px{i}" for i in range(64)])
    m = MiniBatchNMF(**PARAMS).set_output(transform="pandas")
    out = m.fit_transform(df)
    assert list(out.columns) == [f"minibatchnmf{i}" for i in range(8)]
    assert list(m.feature_names_in_) == list(df.columns)
    y = load_digits().target
    search = GridSearchCV(
        make_pipeline(MiniBatchNMF(init="nndsvda", random_state=0, max_iter=20), LogisticRegression(max_iter=200)),
        {"minibatchnmf__n_components": [4, 8]},
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y)
    assert search.best_params_["minibatchnmf__n_components"] in (4, 8)


def test_unfitted_model_pickles():
    m = pickle.loads(pickle.dumps(MiniBatchNMF(n_components=3, beta_loss=1.5)))
    assert m.get_params() == MiniBatchNMF(n_components=3, beta_loss=1.5).get_params()


@pytest.mark.skipif(not _clib.HAS_PERSIST, reason="library without nmf_save_buffer (issue 7 not merged)")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pickle_and_deepcopy_go_through_the_saving_format(dtype):
    m = MiniBatchNMF(**PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(X.astype(dtype))
    for back in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert back._handle is not m._handle
        np.testing.assert_array_equal(back.components_, m.components_)
        np.testing.assert_array_equal(back.transform(X[:100]), m.transform(X[:100]))
        back.partial_fit(X[:100])
        m2 = copy.deepcopy(m)
        m2.partial_fit(X[:100])
        np.testing.assert_array_equal(back.components_, m2.components_)


@pytest.mark.skipif(not _clib.HAS_NAMED_PARAMS, reason="library without nmf_set_param")
def test_parameters_by_name_over_the_c_abi():
    from minibatchnmf._handle import Handle

    h = Handle(MiniBatchNMF(batch_size=64, beta_loss="kullback-leibler")._c_params(seed=5))
    assert h.get_param("batch_size") == "64"
    assert h.get_param("random_state") == "5"
    h.set_param("batch_size", 128)
    assert h.params().batch_size == 128
    with pytest.raises(ValueError):
        h.set_param("no_such_parameter", "1")
    with pytest.raises(ValueError):
        h.get_param("no_such_parameter")


HEADER = os.path.join(os.path.dirname(__file__), "..", "..", "include", "minibatchnmf.h")


def _header_fields(text, name):
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return re.findall(r"(\w+);", body)


@pytest.mark.skipif(not os.path.exists(HEADER), reason="run from the repository (needs include/)")
def test_ctypes_mirrors_match_the_header():
    text = open(HEADER, encoding="utf-8").read()
    for struct in (_clib.NmfParams, _clib.NmfFitInfo):
        assert [f for f, _ in struct._fields_] == _header_fields(text, struct.__name__)
    # Every status number the header defines has an exception type.
    for name, code in re.findall(r"(NMF_(?:OK|ERR_\w+)) = (\d+)", text):
        if name != "NMF_OK":
            assert int(code) in _clib._EXCEPTIONS, name


# -- parameters beyond scikit-learn's: solver, cd_*, max_memory (nmf_set_param) --
named = pytest.mark.skipif(not _clib.HAS_NAMED_PARAMS, reason="library without nmf_set_param")
EXT = dict(solver="cd", cd_w_sweeps=3, cd_h_sweeps=2, cd_stats="decayed", max_memory="4G")


def test_extension_parameters_are_plain_estimator_parameters():
    from sklearn.base import clone

    m = MiniBatchNMF()
    p = m.get_params()
    assert {k: p[k] for k in ("solver", "cd_w_sweeps", "cd_h_sweeps", "cd_stats", "max_memory")} == dict(
        solver="mu", cd_w_sweeps=10, cd_h_sweeps=5, cd_stats="exact", max_memory=None
    )
    m.set_params(**EXT)
    assert {k: m.get_params()[k] for k in EXT} == EXT
    assert {k: clone(m).get_params()[k] for k in EXT} == EXT
    back = pickle.loads(pickle.dumps(m))
    assert back.get_params() == m.get_params()


@named
def test_extension_parameters_reach_the_handle():
    m = MiniBatchNMF(**PARAMS, **EXT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(X)
    h = m._handle
    assert h.get_param("solver") == "cd"
    assert h.get_param("cd_w_sweeps") == "3"
    assert h.get_param("cd_h_sweeps") == "2"
    assert h.get_param("cd_stats") == "decayed"
    assert int(h.get_param("max_memory")) == 4 * 1024**3 or h.get_param("max_memory") == "4G"
    # set_params on a fitted model is pushed before the next call
    m.set_params(cd_w_sweeps=4, max_memory=None)
    m.partial_fit(X[:256])
    assert h.get_param("cd_w_sweeps") == "4"
    assert h.get_param("max_memory") == "auto"
    m.set_params(solver="mu", beta_loss="kullback-leibler")
    m.transform(X[:10])
    assert (h.get_param("solver"), h.params().beta_loss) == ("mu", 1.0)


@named
def test_cd_fits_and_beats_mu_at_the_same_epochs():
    errs = {}
    for solver in ("mu", "cd"):
        m = MiniBatchNMF(
            n_components=8, init="nndsvda", batch_size=256, random_state=0, max_iter=5, tol=0,
            max_no_improvement=None, solver=solver,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            W = m.fit_transform(X)
        assert m.n_iter_ == 5
        assert W.shape == (X.shape[0], 8) and (W >= 0).all() and (m.components_ >= 0).all()
        assert np.isfinite(m.reconstruction_err_) and m.reconstruction_err_ > 0
        direct = np.linalg.norm(X - W @ m.components_)
        assert abs(direct - m.reconstruction_err_) <= 1e-6 * direct
        errs[solver] = m.reconstruction_err_
    assert errs["cd"] < errs["mu"], errs
    # reproducible
    a = MiniBatchNMF(**PARAMS, solver="cd").fit(X).components_
    b = MiniBatchNMF(**PARAMS, solver="cd").fit(X).components_
    np.testing.assert_array_equal(a, b)


@named
@pytest.mark.parametrize(
    "bad",
    [
        dict(solver="als"),
        dict(cd_w_sweeps=0),
        dict(cd_h_sweeps=0),
        dict(cd_w_sweeps=2.5),
        dict(cd_w_sweeps=True),
        dict(cd_stats="fast"),
        dict(max_memory="lots"),
        dict(solver="cd", beta_loss="kullback-leibler"),
        dict(solver="cd", beta_loss=1.5),
    ],
)
def test_bad_extension_values_are_refused_at_fit(bad):
    m = MiniBatchNMF(**PARAMS, **bad)  # stored as given, as scikit-learn does
    assert {k: m.get_params()[k] for k in bad} == bad
    name = [k for k in bad if k != "beta_loss"][0]
    with pytest.raises(ValueError, match=name):
        m.fit(X)
    with pytest.raises(ValueError, match=name):
        MiniBatchNMF(**PARAMS, **bad).partial_fit(X[:256])


@named
def test_bad_extension_value_set_on_a_fitted_model_leaves_it_unchanged():
    m = MiniBatchNMF(**PARAMS, solver="cd")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(X)
    m.set_params(beta_loss="kullback-leibler")
    with pytest.raises(ValueError, match="solver"):
        m.transform(X[:10])
    assert m._handle.get_param("solver") == "cd"
    assert m._handle.params().beta_loss == 2.0


@named
def test_over_the_memory_budget_is_a_memory_error():
    m = MiniBatchNMF(**PARAMS, max_memory=1024)
    with pytest.raises(MemoryError):
        m.fit(X)


@named
@pytest.mark.skipif(not _clib.HAS_PERSIST, reason="library without the saving format")
def test_save_load_and_pickle_keep_the_extension_parameters(tmp_path):
    m = MiniBatchNMF(**PARAMS, **EXT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m.fit(X)
    path = str(tmp_path / "cd.safetensors")
    m.save(path)
    loaded = MiniBatchNMF.load(path)
    p = loaded.get_params()
    assert (p["solver"], p["cd_w_sweeps"], p["cd_h_sweeps"], p["cd_stats"]) == ("cd", 3, 2, "decayed")
    assert p["max_memory"] in ("4G", 4 * 1024**3)
    default = MiniBatchNMF(**PARAMS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        default.fit(X)
    default.save(path)
    p = MiniBatchNMF.load(path).get_params()
    assert (p["solver"], p["cd_w_sweeps"], p["cd_h_sweeps"], p["cd_stats"], p["max_memory"]) == (
        "mu", 10, 5, "exact", None,
    )
    for back in (pickle.loads(pickle.dumps(m)), copy.deepcopy(m)):
        assert {k: back.get_params()[k] for k in EXT} == EXT
        assert back._handle.get_param("solver") == "cd"
        np.testing.assert_array_equal(back.transform(X[:50]), m.transform(X[:50]))
    # continued with partial_fit, the loaded model is still cd
    loaded.partial_fit(X[:256])
    assert loaded._handle.get_param("solver") == "cd"
