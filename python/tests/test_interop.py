"""Model files travel between Python, the command-line tool and R.

``model.save(path)`` / ``minibatchnmf.load(path)`` write and read the
library's safetensors format (nmf_save / nmf_load). A model saved here is
read by ``minibatchnmf info``/``transform`` and by R's ``mbnmf_load``; models
saved by the command-line tool and by R's ``mbnmf_save`` load here.

Needs the command-line tool and the installed R package: ``make
py-interop-test`` builds both and sets MINIBATCHNMF_CLI (the binary) and
MINIBATCHNMF_R_LIBS (the R library holding minibatchnmf). Without them the
cross-tool tests are skipped; the Python round trips always run.
"""

import os
import subprocess
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import minibatchnmf
from minibatchnmf import MiniBatchNMF

X = load_digits().data  # 1797 x 64
CLI = os.environ.get("MINIBATCHNMF_CLI")
R_LIBS = os.environ.get("MINIBATCHNMF_R_LIBS")
need_cli = pytest.mark.skipif(not CLI, reason="MINIBATCHNMF_CLI not set (make py-interop-test sets it)")
need_r = pytest.mark.skipif(not R_LIBS, reason="MINIBATCHNMF_R_LIBS not set (make py-interop-test sets it)")
DTYPES = [np.float64, np.float32]


def _fit(dtype, **extra):
    params = dict(n_components=5, init="nndsvda", batch_size=200, random_state=0, max_iter=10, **extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MiniBatchNMF(**params).fit(X.astype(dtype))


def _run(args, **kw):
    out = subprocess.run(args, capture_output=True, text=True, **kw)
    assert out.returncode == 0, f"{args}: {out.stdout}{out.stderr}"
    return out.stdout


def _rscript(code):
    env = dict(os.environ, R_LIBS=R_LIBS)
    return _run(["Rscript", "--vanilla", "-e", code], env=env)


def _same_params(a, b):
    pa, pb = a.get_params(), b.get_params()
    assert pa == pb, (pa, pb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_save_load_round_trip(tmp_path, dtype):
    m = _fit(dtype, beta_loss="kullback-leibler", alpha_W=0.01, l1_ratio=0.5)
    path = m.save(tmp_path / "m.safetensors")
    for loaded in (minibatchnmf.load(path), MiniBatchNMF.load(str(path))):
        assert type(loaded) is MiniBatchNMF
        _same_params(loaded, m)
        assert loaded.components_.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loaded.components_, m.components_)
        assert (loaded.n_components_, loaded.n_features_in_, loaded.n_steps_, loaded.n_iter_) == (
            m.n_components_, m.n_features_in_, m.n_steps_, m.n_iter_,
        )
        assert loaded.reconstruction_err_ == m.reconstruction_err_
        np.testing.assert_array_equal(loaded.transform(X[:50]), m.transform(X[:50]))
        # The online statistics travel too: partial_fit continues exactly.
        loaded.partial_fit(X[:300])
    m.partial_fit(X[:300])
    np.testing.assert_array_equal(loaded.components_, m.components_)


def test_partial_fit_only_model_and_errors(tmp_path):
    m = MiniBatchNMF(n_components=3, init="random", random_state=1).partial_fit(X[:200])
    loaded = minibatchnmf.load(m.save(tmp_path / "p.safetensors"))
    np.testing.assert_array_equal(loaded.components_, m.components_)
    assert not hasattr(loaded, "n_iter_") and loaded.n_steps_ == 1
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MiniBatchNMF().save(tmp_path / "never.safetensors")
    with pytest.raises(OSError):
        minibatchnmf.load(tmp_path / "missing.safetensors")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError):
        minibatchnmf.load(bad)
    with pytest.raises(OSError):
        m.save(tmp_path / "no-such-folder" / "m.safetensors")


@need_cli
@pytest.mark.parametrize("dtype", DTYPES)
def test_python_model_read_by_the_command_line_tool(tmp_path, dtype):
    m = _fit(dtype)
    m.save(tmp_path / "py.safetensors")
    info = _run([CLI, "info", "py.safetensors"], cwd=tmp_path)
    assert f"dtype: {np.dtype(dtype).name}" in info, info
    assert "n_components: 5" in info and "n_features_in: 64" in info, info
    assert f"n_steps: {m.n_steps_}" in info and f"n_iter: {m.n_iter_}" in info, info
    np.save(tmp_path / "x.npy", X[:300])
    _run([CLI, "transform", "py.safetensors", "x.npy", "-o", "w.npy", "-q"], cwd=tmp_path)
    w = np.load(tmp_path / "w.npy")
    assert w.dtype == np.dtype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(w, m.transform(X[:300]), rtol=tol, atol=tol)


@need_cli
@pytest.mark.parametrize("dtype", ["f64", "f32"])
def test_command_line_model_loaded_in_python(tmp_path, dtype):
    np.save(tmp_path / "x.npy", X)
    _run(
        [CLI, "fit", "x.npy", "-k", "4", "--init", "random", "--batch-size", "128", "--max-iter", "5",
         "--random-state", "7", "--beta-loss", "1.5", "--dtype", dtype, "-q", "-o", "cli.safetensors",
         "--w-out", "w.npy"],
        cwd=tmp_path,
    )
    m = minibatchnmf.load(tmp_path / "cli.safetensors")
    np_dtype = np.float64 if dtype == "f64" else np.float32
    assert m.components_.dtype == np_dtype
    p = m.get_params()
    assert (p["n_components"], p["init"], p["batch_size"], p["max_iter"], p["random_state"], p["beta_loss"]) == (
        4, "random", 128, 5, 7, 1.5,
    )
    # The command-line fit is the Python fit of the same parameters.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MiniBatchNMF(**p).fit(X.astype(np_dtype))
    tol = 1e-10 if dtype == "f64" else 1e-4
    np.testing.assert_allclose(m.components_, ours.components_, rtol=tol, atol=tol)
    _run([CLI, "transform", "cli.safetensors", "x.npy", "-o", "w2.npy", "-q"], cwd=tmp_path)
    np.testing.assert_allclose(m.transform(X), np.load(tmp_path / "w2.npy"), rtol=tol, atol=tol)


@need_r
@pytest.mark.parametrize("dtype", DTYPES)
def test_python_model_read_by_r(tmp_path, dtype):
    m = _fit(dtype)
    m.save(tmp_path / "py.safetensors")
    X[:20].astype(np.float64).tofile(tmp_path / "x.bin")
    _rscript(
        f"""
        library(minibatchnmf)
        setwd({str(tmp_path)!r})
        m <- mbnmf_load("py.safetensors")
        stopifnot(m$params$k == 5, identical(m$params$init, "nndsvda"), m$params$seed == 0,
                  m$params$batch_size == 200)
        writeBin(as.double(t(components(m))), "h.bin")
        x <- matrix(readBin("x.bin", "double", 20 * 64), 20, 64, byrow = TRUE)
        writeBin(as.double(t(predict(m, x))), "w.bin")
        """
    )
    h = np.fromfile(tmp_path / "h.bin").reshape(5, 64)
    np.testing.assert_array_equal(h, m.components_.astype(np.float64))
    w = np.fromfile(tmp_path / "w.bin").reshape(20, 5)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(w, m.transform(X[:20]), rtol=tol, atol=tol)


@need_r
def test_r_model_loaded_in_python(tmp_path):
    X.tofile(tmp_path / "x.bin")
    _rscript(
        f"""
        library(minibatchnmf)
        setwd({str(tmp_path)!r})
        x <- matrix(readBin("x.bin", "double", 1797 * 64), 1797, 64, byrow = TRUE)
        m <- mbnmf(x, 6, init = "nndsvdar", seed = 3, batch_size = 300, max_iter = 8, tol = 0,
                   beta_loss = "kullback-leibler")
        mbnmf_save(m, "r.safetensors")
        writeBin(as.double(t(components(m))), "h.bin")
        writeBin(as.double(t(predict(m, x[1:30, ]))), "w.bin")
        """
    )
    m = minibatchnmf.load(tmp_path / "r.safetensors")
    p = m.get_params()
    assert (p["n_components"], p["init"], p["random_state"], p["batch_size"], p["beta_loss"]) == (
        6, "nndsvdar", 3, 300, "kullback-leibler",
    )
    np.testing.assert_array_equal(m.components_, np.fromfile(tmp_path / "h.bin").reshape(6, 64))
    np.testing.assert_allclose(
        m.transform(X[:30]), np.fromfile(tmp_path / "w.bin").reshape(30, 6), rtol=1e-12, atol=1e-12
    )
    if CLI:  # and the command-line tool reads R's file
        info = _run([CLI, "info", "r.safetensors"], cwd=tmp_path)
        assert "n_components: 6" in info and "param init: nndsvdar" in info, info
    # And R's fit is the Python fit of the same parameters.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MiniBatchNMF(**p).fit(X)
    np.testing.assert_allclose(ours.components_, m.components_, rtol=1e-10, atol=1e-10)
