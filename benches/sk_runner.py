"""One benchmark case of scikit-learn's MiniBatchNMF per process (benches/suite.py).

    python benches/sk_runner.py --mode fit --x X.npy --k 10 --beta 2 --epochs 2 --blas-threads 1

The counterpart of benches/runner.rs (cargo example `bench_runner`): same
options, same JSON line (`seconds` per repeat, `result`, `n_steps`,
`peak_rss_bytes`, `vmhwm_bytes`), same memory method: the data (and, for
`transform`, the fitted model) are loaded first, freed heap is returned with
malloc_trim, the kernel's high-water mark is reset (`5` written to
/proc/self/clear_refs), and `peak_rss_bytes` is the high-water mark reached
by the timed calls above the resident set they started from.

`result` is the figure compared with ours: `reconstruction_err_` for a fit,
‖W‖_F for `transform`, ‖H‖_F after a `partial_fit` stream, and
sqrt(‖W‖² + ‖H‖²) for the NNDSVDa initialisation alone (scikit-learn's
`_initialize_nmf`, which its estimators call).
"""

import argparse
import ctypes
import json
import time
import warnings

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

BETA_NAMES = {2.0: "frobenius", 1.0: "kullback-leibler", 0.0: "itakura-saito"}


def status():
    """VmRSS and VmHWM of this process, in bytes."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, val = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(val.split()[0]) * 1024
    return out


def reset_peak_rss():
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status()["VmRSS"]


def load(path, dtype):
    if path.endswith(".npz"):
        x = sp.load_npz(path).tocsr()
        return x.astype(dtype) if x.dtype != dtype else x
    return np.ascontiguousarray(np.load(path), dtype=dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True, choices=["fit", "fit-transform", "transform", "partial-fit", "init"])
    ap.add_argument("--x", required=True)
    ap.add_argument("--dtype", default="f64", choices=["f64", "f32"])
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--beta", type=float, default=2.0)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=2000)
    ap.add_argument("--passes", type=int, default=1)
    ap.add_argument("--blas-threads", type=int, default=1)
    a = ap.parse_args()

    from sklearn.decomposition import MiniBatchNMF
    from sklearn.decomposition._nmf import _initialize_nmf

    warnings.simplefilter("ignore")
    x = load(a.x, np.float64 if a.dtype == "f64" else np.float32)
    n, m = x.shape

    def make():
        return MiniBatchNMF(
            n_components=a.k, init="nndsvda", beta_loss=BETA_NAMES.get(a.beta, a.beta),
            batch_size=a.batch, max_iter=a.epochs, tol=0.0, max_no_improvement=None,
            random_state=0,
        )

    seconds, result, n_steps = [], 0.0, None
    with threadpool_limits(limits=a.blas_threads, user_api="blas"):
        fitted = make().fit(x) if a.mode == "transform" else None
        base = reset_peak_rss()
        for _ in range(max(a.repeats, 1)):
            t = time.perf_counter()
            if a.mode in ("fit", "fit-transform"):
                est = make()
                if a.mode == "fit":
                    est.fit(x)
                else:
                    est.fit_transform(x)
                seconds.append(time.perf_counter() - t)
                result, n_steps = float(est.reconstruction_err_), int(est.n_steps_)
            elif a.mode == "transform":
                w = fitted.transform(x)
                seconds.append(time.perf_counter() - t)
                result = float(np.sqrt(np.sum(w.astype(np.float64) ** 2)))
            elif a.mode == "partial-fit":
                est = make()
                for _ in range(a.passes):
                    for s in range(0, n, a.chunk):
                        est.partial_fit(x[s:s + a.chunk])
                seconds.append(time.perf_counter() - t)
                h = est.components_.astype(np.float64)
                result, n_steps = float(np.sqrt(np.sum(h ** 2))), int(est.n_steps_)
            else:
                w, h = _initialize_nmf(x, a.k, init="nndsvda", random_state=0)
                seconds.append(time.perf_counter() - t)
                result = float(np.sqrt(np.sum(w.astype(np.float64) ** 2) + np.sum(h.astype(np.float64) ** 2)))
        st = status()
    nnz = x.nnz if sp.issparse(x) else n * m
    print(json.dumps({
        "impl": "scikit-learn", "seconds": seconds, "result": result, "n_steps": n_steps,
        "shape": [n, m], "nnz": int(nnz), "blas_threads": a.blas_threads,
        "peak_rss_bytes": max(st["VmHWM"] - base, 0), "vmhwm_bytes": st["VmHWM"],
        "rss_base_bytes": base,
    }))


if __name__ == "__main__":
    main()
