"""Speed against scikit-learn, measured as a ratio in one process.

    python benches/vs_sklearn.py [--lib target/release/libminibatchnmf.so] [--quick]

Data (`make bench-sklearn` prepares it; nothing outside the repository is
read): the digits and FOLDOC slice vendored in tests/data/, and, unless
--quick, Fashion-MNIST images from Debian's dataset-fashion-mnist
(target/fashion-mnist/) and the demo's TF-IDF of Debian's dict-foldoc
(target/foldoc/tfidf.mtx, written by `minibatchnmf-topics --save-tfidf
target/foldoc/tfidf --no-fit`).

Each case fits the same data with the same parameters (fixed work: tol=0,
max_no_improvement=None) through minibatchnmf's C library (ctypes) and
through scikit-learn's MiniBatchNMF, alternating the two, and prints the
median times and the ratio sklearn/ours. scikit-learn is timed twice: with
its BLAS limited to one thread (its fastest setting for these small GEMMs
on two cores) and with BLAS's default threads. The results must agree
(reconstruction_err to 1e-6 relative), so the ratio compares equal work.
Timings on a shared machine are noisy; the ratio of medians is the figure.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import MiniBatchNMF
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "c-examples", "python"))
import nmf_ctypes  # noqa: E402  (the ctypes binding of the C examples)

DATA = os.path.join(ROOT, "tests", "data")
TARGET = os.path.join(ROOT, "target")


def digits():
    return np.load(os.path.join(DATA, "digits.npy")).astype(np.float64)


def foldoc_slice():
    part = lambda name: np.load(os.path.join(DATA, "foldoc1000_%s.npy" % name))  # noqa: E731
    return sp.csr_matrix((part("data"), part("indices"), part("indptr")))


def fashion(rows):
    """The first `rows` Fashion-MNIST training images (idx format), / 255."""
    import gzip

    path = os.path.join(TARGET, "fashion-mnist", "usr", "share", "datasets", "fashion-mnist",
                        "train-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, h, w = np.frombuffer(raw[:16], dtype=">u4")
    assert magic == 2051, "not an idx3 image file"
    x = np.frombuffer(raw[16:], dtype=np.uint8).reshape(int(n), int(h) * int(w))
    return x[:rows] / 255.0


def foldoc():
    import scipy.io

    return scipy.io.mmread(os.path.join(TARGET, "foldoc", "tfidf.mtx")).tocsr()


def median_time(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", default=os.path.join(ROOT, "target", "release", "libminibatchnmf.so"))
    ap.add_argument("--quick", action="store_true", help="small cases, one repeat (checks the script runs)")
    args = ap.parse_args()
    lib = nmf_ctypes.load(args.lib)
    warnings.simplefilter("ignore")

    beta_names = {2: "frobenius", 1: "kullback-leibler", 0.5: 0.5}
    if args.quick:
        cases = [
            ("digits 1797x64 dense", digits(), 10, 256, 5, [2, 1, 0.5]),
            ("foldoc slice 1000x8958 CSR", foldoc_slice(), 10, 256, 3, [2, 1]),
        ]
        repeats = 1
    else:
        cases = [
            ("digits 1797x64 dense", digits(), 10, 256, 20, [2, 1, 0.5]),
            ("fashion 10000x784 dense", fashion(10000), 16, 1024, 5, [2, 1, 0.5]),
            ("foldoc 12014x10000 CSR", foldoc(), 10, 2048, 10, [2, 1]),
        ]
        repeats = 3

    print(f"minibatchnmf {lib.nmf_version().decode()} vs scikit-learn; medians of {repeats} run(s)")
    print(f"{'case':26} {'beta':>6} {'ours s':>8} {'sk 1thr s':>10} {'ratio':>6} {'sk dflt s':>10} {'ratio':>6}")
    worst = 0.0
    for name, x, k, batch, epochs, betas in cases:
        for beta in betas:
            common = dict(n_components=k, init="nndsvda", batch_size=batch, max_iter=epochs, random_state=0)

            def ours():
                m = nmf_ctypes.MiniBatchNmf(
                    lib, k, "nndsvda", batch_size=batch, max_iter=epochs, random_state=0,
                    beta_loss=float(beta), tol=0.0, max_no_improvement_is_none=True,
                )
                m.fit_transform(x)
                return m.fit_info.reconstruction_err

            def sk():
                est = MiniBatchNMF(beta_loss=beta_names[beta], tol=0.0, max_no_improvement=None, **common)
                est.fit(x)
                return est.reconstruction_err_

            t_ours, err_ours = median_time(ours, repeats)
            with threadpool_limits(limits=1):
                t_sk1, err_sk = median_time(sk, repeats)
            t_skd, _ = median_time(sk, repeats)
            rel = abs(err_ours - err_sk) / abs(err_sk)
            worst = max(worst, rel)
            print(
                f"{name:26} {beta:>6} {t_ours:8.3f} {t_sk1:10.3f} {t_sk1 / t_ours:6.1f}x {t_skd:10.3f} {t_skd / t_ours:6.1f}x"
            )
    print(f"largest relative difference of reconstruction_err: {worst:.1e}")
    if worst > 1e-6:
        print("results differ from scikit-learn's", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
