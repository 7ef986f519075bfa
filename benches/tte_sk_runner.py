"""scikit-learn's side of the time-to-error benchmark (benches/time_to_error.py).

    python benches/tte_sk_runner.py --method nmf-cd --x X.npy --k 10 --max-seconds 2

One fit per process, from init="random", random_state=0, tol=0, of one of
  nmf-cd      NMF(solver="cd")  (shuffle=False, scikit-learn's default)
  nmf-mu      NMF(solver="mu")
  minibatch   MiniBatchNMF(batch_size=--batch, max_no_improvement=None)
Prints one JSON line whose `points` are [i, seconds, error] after every
iteration i (a pass over the data: one W and one H sweep for NMF, every
mini-batch once for MiniBatchNMF).

How the curve is taken from ONE fit: scikit-learn has no callback, so its
per-iteration function is wrapped (scikit-learn 1.9.1 is pinned; the names
are private): `_update_coordinate_descent` (its second call of an iteration
updates H), `_multiplicative_update_h`, `MiniBatchNMF._minibatch_step` (the
last step of a pass). After iteration i the wrapper reads the clock, then
computes ‖X − W·H‖_F with scikit-learn's own `_beta_divergence(X, W, H, 2,
square_root=True)` (what `reconstruction_err_` is) on the fit's current W
and H; the time spent in the wrapper is subtracted from every later time,
so `seconds` is the fit's own time from the call to `fit_transform` (input
checks and init included) to the end of iteration i. The wrappers change
nothing in the fit (they only read W and H). The fit is ended (an
exception raised by the wrapper) once an iteration ends after
--max-seconds and at least --min-iter iterations are done.
"""

import argparse
import json
import math
import time
import warnings

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


class Enough(Exception):
    """Raised by the wrappers to end the fit."""


def load(path):
    if path.endswith(".npz"):
        return sp.load_npz(path).tocsr()
    return np.ascontiguousarray(np.load(path), dtype=np.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--method", required=True, choices=["nmf-cd", "nmf-mu", "minibatch"])
    ap.add_argument("--x", required=True)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--max-seconds", type=float, default=2.0)
    ap.add_argument("--min-iter", type=int, default=1)
    ap.add_argument("--max-iter", type=int, default=100000)
    ap.add_argument("--blas-threads", type=int, default=2)
    a = ap.parse_args()

    import sklearn.decomposition._nmf as nmf
    from sklearn.decomposition import NMF, MiniBatchNMF

    warnings.simplefilter("ignore")
    x = load(a.x)
    n, m = x.shape

    def make(max_iter):
        if a.method == "minibatch":
            return MiniBatchNMF(n_components=a.k, init="random", batch_size=a.batch, max_iter=max_iter,
                                tol=0.0, max_no_improvement=None, random_state=0)
        return NMF(n_components=a.k, init="random", solver=a.method[4:], max_iter=max_iter, tol=0.0,
                   random_state=0)

    st = dict(t0=0.0, hook=0.0, points=[], wh=None, steps=0)

    def record(w, h):
        ta = time.perf_counter()
        elapsed = ta - st["t0"] - st["hook"]
        it = len(st["points"]) + 1
        err = float(nmf._beta_divergence(x, w, h, 2, square_root=True))
        st["points"].append([it, elapsed, err])
        st["hook"] += time.perf_counter() - ta
        if (elapsed > a.max_seconds and it >= a.min_iter) or it >= a.max_iter:
            raise Enough

    with threadpool_limits(limits=a.blas_threads, user_api="blas"):
        make(1).fit_transform(x)  # warm-up (not recorded): imports, first-touch pages

        if a.method == "nmf-cd":
            orig = nmf._update_coordinate_descent
            calls = [0]

            def cd(*args, **kw):
                v = orig(*args, **kw)
                calls[0] += 1
                if calls[0] % 2 == 0:  # (X.T, Ht, W, ...): H was updated
                    record(args[2], args[1].T)
                return v
            nmf._update_coordinate_descent = cd
        elif a.method == "nmf-mu":
            orig = nmf._multiplicative_update_h

            def mu(*args, **kw):
                h = orig(*args, **kw)
                record(args[1], h)
                return h
            nmf._multiplicative_update_h = mu
        else:
            orig_step, orig_wh = MiniBatchNMF._minibatch_step, MiniBatchNMF._check_w_h
            per_pass = math.ceil(n / min(a.batch, n))

            def check_w_h(self, *args, **kw):
                st["wh"] = orig_wh(self, *args, **kw)
                return st["wh"]

            def step(self, *args, **kw):
                v = orig_step(self, *args, **kw)
                st["steps"] += 1
                if st["steps"] % per_pass == 0:
                    record(*st["wh"])  # W is updated in place, batch by batch
                return v
            MiniBatchNMF._check_w_h, MiniBatchNMF._minibatch_step = check_w_h, step

        est = make(a.max_iter)
        st["t0"] = time.perf_counter()
        try:
            est.fit_transform(x)
        except Enough:
            pass
    nnz = x.nnz if sp.issparse(x) else n * m
    print(json.dumps({"impl": "scikit-learn " + a.method, "points": st["points"], "shape": [n, m],
                      "nnz": int(nnz), "blas_threads": a.blas_threads}))


if __name__ == "__main__":
    main()
