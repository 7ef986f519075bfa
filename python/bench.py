"""minibatchnmf.MiniBatchNMF against sklearn.decomposition.MiniBatchNMF, in one script.

    python python/bench.py [--repeat 5]

Same data, same parameters (fixed work: tol=0, max_no_improvement=None), the
two estimators fitted alternately (scikit-learn with BLAS's default threads and
with one BLAS thread, its faster setting counted); prints the median times and their ratio
and fails if the results differ (W, H and reconstruction_err_ must agree to
1e-6 relative). Data: scikit-learn's bundled digits (1797 x 64), dense and
as CSR, and the digits stacked 8 times with their pixels shifted (14376 x 64).
"""

import argparse
import statistics
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.decomposition import MiniBatchNMF as SklearnMiniBatchNMF

from threadpoolctl import threadpool_limits

from minibatchnmf import MiniBatchNMF, get_num_threads


def timed(cls, X, params):
    model = cls(**params)
    start = time.perf_counter()
    W = model.fit_transform(X)
    return time.perf_counter() - start, W, model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    digits = load_digits().data
    # Real pixels, more rows: each copy rolled by one pixel (no synthetic values).
    stacked = np.vstack([np.roll(digits, s, axis=1) for s in range(8)])
    cases = [
        ("digits dense", digits, dict(beta_loss="frobenius")),
        ("digits dense", digits, dict(beta_loss="kullback-leibler")),
        ("digits CSR", sp.csr_matrix(digits), dict(beta_loss="frobenius")),
        ("digits CSR", sp.csr_matrix(digits), dict(beta_loss="kullback-leibler")),
        ("digits x8 dense", stacked, dict(beta_loss="frobenius")),
        ("digits x8 dense", stacked, dict(beta_loss=0.5, init="nndsvda")),
    ]
    base = dict(n_components=10, init="nndsvda", batch_size=256, max_iter=20, tol=0.0,
                max_no_improvement=None, random_state=0)
    print(f"minibatchnmf threads: {get_num_threads()}; repeat {args.repeat}; median seconds")
    print(f"| data | beta_loss | ours (s) | scikit-learn (s) | speed-up | max |W - W_sk| | reconstruction_err |")
    print("|---|---|---|---|---|---|---|")
    ok = True
    for name, X, extra in cases:
        params = {**base, **extra}
        ours, theirs, theirs1 = [], [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(args.repeat):
                t, W, m = timed(MiniBatchNMF, X, params)
                ours.append(t)
                t, W_sk, m_sk = timed(SklearnMiniBatchNMF, X, params)
                theirs.append(t)
                with threadpool_limits(limits=1, user_api="blas"):
                    theirs1.append(timed(SklearnMiniBatchNMF, X, params)[0])
        diff = float(np.abs(W - W_sk).max())
        same = (
            np.allclose(W, W_sk, rtol=1e-6, atol=1e-9 * np.abs(W_sk).max())
            and np.allclose(m.components_, m_sk.components_, rtol=1e-6, atol=1e-9 * np.abs(m_sk.components_).max())
            and abs(m.reconstruction_err_ - m_sk.reconstruction_err_) <= 1e-6 * m_sk.reconstruction_err_
        )
        ok &= same
        # scikit-learn at its faster setting: BLAS's default threads or one thread.
        a, b = statistics.median(ours), min(statistics.median(theirs), statistics.median(theirs1))
        print(f"| {name} {X.shape[0]}x{X.shape[1]} | {params['beta_loss']} | {a:.3f} | {b:.3f} | "
              f"{b / a:.1f}x | {diff:.1e} | {m.reconstruction_err_:.6f}{'' if same else ' DIFFERS'} |")
    if not ok:
        print("results differ from scikit-learn's", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
