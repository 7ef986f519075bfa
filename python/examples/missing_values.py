"""Missing values and choosing k: the pictures and figures of the README's
section "Missing values and choosing k" and of docs/missing-values.md.

    make missing-values-example      (or: python missing_values.py --fashion DIR --out DIR)

1. Rank by cross-validation on a synthetic matrix of known rank (3000 × 200,
   rank 6, small noise, 20 % of the entries missing): the held-out score
   against k -> OUT/missing_rank.png; the imputation error of a k = 6 fit on
   the missing entries against the noise level and against column means.
2. Fashion-MNIST (Debian's dataset-fashion-mnist, the Makefile fetches it)
   with 30 % of the pixels removed: original / masked / completed for a few
   images (completed: observed pixels kept, removed ones imputed from W·H)
   -> OUT/missing_fashion.png, and the imputation error of the
   removed pixels against per-pixel means.
3. What missing values cost: fit times masked (missing="nan", with and
   without NaN; missing="unstored" on CSR) against the plain fit on the
   same data, measured in the same run (ratios; the load is printed).

Needs the installed package (pip install ./python) and matplotlib.
"""

import argparse
import gzip
import os
import time
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import minibatchnmf  # noqa: E402
from minibatchnmf import MiniBatchNMF  # noqa: E402

warnings.simplefilter("ignore", ConvergenceWarning)


def load():
    return os.getloadavg()[0]


def rmse(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def fashion(directory, rows):
    path = os.path.join(directory, "usr", "share", "datasets", "fashion-mnist", "train-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, h, w = (int(v) for v in np.frombuffer(raw[:16], dtype=">u4"))
    assert magic == 2051, f"{path}: not an idx3 image file"
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, h * w)[:rows] / 255.0


def synthetic(n, m, k, noise, seed=0):
    """X = W H of rank k times (1 + noise · N(0, 1)), W and H 60 % zeros
    (parts-based factors, as NMF models them), and the noise-free W H."""
    rng = np.random.RandomState(seed)
    W = np.where(rng.rand(n, k) < 0.6, 0.0, rng.rand(n, k))
    H = np.where(rng.rand(k, m) < 0.6, 0.0, rng.rand(k, m))
    clean = W @ H
    return np.abs(clean * (1 + noise * rng.randn(n, m))), clean


def rank_section(out, ks, repeats):
    n, m, k, noise = 3000, 200, 6, 0.05
    X, clean = synthetic(n, m, k, noise)
    rng = np.random.RandomState(1)
    mask = rng.rand(n, m) < 0.2
    Xn = np.where(mask, np.nan, X)
    params = dict(missing="nan", init="nndsvda", batch_size=1024, max_iter=200)
    t = time.perf_counter()
    cv = minibatchnmf.cross_validate_rank(Xn, ks, n_repeats=repeats, random_state=0, **params)
    secs = time.perf_counter() - t
    print(f"## rank by cross-validation: {n} x {m}, rank {k}, relative noise sd {noise}, 20% missing")
    print(f"   {len(ks) * repeats} fits in {secs:.1f} s (load {load():.1f})")
    print(cv)
    ax = cv.plot()
    ax.set_yscale("log")  # the minimum and the rise after it
    ax.set_title(f"{n}×{m}, rank {k}, 20 % missing: chosen k = {cv.best_n_components}", fontsize=10)
    ax.figure.tight_layout()
    ax.figure.savefig(os.path.join(out, "missing_rank.png"), dpi=110)
    plt.close(ax.figure)

    model = MiniBatchNMF(n_components=k, random_state=0, **params)
    W = model.fit_transform(Xn)
    completed = model.inverse_transform(W)
    col = np.nanmean(Xn, axis=0)
    e_nmf = rmse(completed[mask], X[mask])
    e_mean = rmse(np.broadcast_to(col, X.shape)[mask], X[mask])
    e_clean = rmse(completed[mask], clean[mask])
    print(f"   imputation RMSE on the missing entries (k = {k}): {e_nmf:.4f} against X "
          f"({e_clean:.4f} against the noise-free WH; the noise's RMSE there: "
          f"{rmse(X[mask], clean[mask]):.4f}); column means: {e_mean:.4f}")
    return cv, (e_nmf, e_clean, e_mean)


def fashion_section(directory, out, rows, k, epochs):
    X = fashion(directory, rows)
    rng = np.random.RandomState(0)
    mask = rng.rand(*X.shape) < 0.3
    Xn = np.where(mask, np.nan, X)
    model = MiniBatchNMF(n_components=k, init="nndsvda", batch_size=1024, max_iter=epochs, tol=0,
                         max_no_improvement=None, random_state=0, missing="nan")
    t = time.perf_counter()
    W = model.fit_transform(Xn)
    secs = time.perf_counter() - t
    # Completed: the observed pixels as they are, the removed ones from W·H.
    completed = np.where(mask, np.clip(model.inverse_transform(W), 0, 1), X)
    means = np.nanmean(Xn, axis=0)
    e_nmf = rmse(completed[mask], X[mask])
    e_mean = rmse(np.broadcast_to(means, X.shape)[mask], X[mask])
    print(f"## Fashion-MNIST, {rows} images, 30% of the pixels removed, k = {k}, {epochs} passes "
          f"({secs:.1f} s, load {load():.1f})")
    print(f"   imputation RMSE of the removed pixels (0..1): NMF {e_nmf:.4f}, per-pixel means {e_mean:.4f}")

    show = [0, 1, 2, 3, 5, 8]
    fig, axes = plt.subplots(3, len(show), figsize=(1.45 * len(show), 4.8))
    cmap = plt.get_cmap("gray_r").copy()
    cmap.set_bad("tab:red")
    for c, i in enumerate(show):
        for r, (img, name) in enumerate([(X[i], "original"), (Xn[i], "30 % removed"), (completed[i], "completed\n(removed imputed)")]):
            a = axes[r, c]
            a.imshow(np.ma.masked_invalid(img.reshape(28, 28)), cmap=cmap, vmin=0, vmax=1)
            a.set_xticks([])
            a.set_yticks([])
            if c == 0:
                a.set_ylabel(name, fontsize=9)
    fig.suptitle(f"Fashion-MNIST, 30 % of pixels removed (red), MiniBatchNMF(k={k}, missing='nan')\n"
                 f"RMSE of the removed pixels: {e_nmf:.3f} (per-pixel means: {e_mean:.3f})", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "missing_fashion.png"), dpi=110)
    plt.close(fig)
    return e_nmf, e_mean


def timed(make, X, reps=3):
    best = np.inf
    for _ in range(reps):
        model = make()
        t = time.perf_counter()
        model.fit(X)
        best = min(best, time.perf_counter() - t)
    return best


def cost_section(directory, rows):
    """Fit times of the masked modes against the plain fit, same data, same run."""
    X = fashion(directory, rows) if directory else synthetic(rows, 784, 10, 0.05)[0]
    kw = dict(n_components=10, init="nndsvda", batch_size=1024, max_iter=3, tol=0, max_no_improvement=None,
              random_state=0)
    rng = np.random.RandomState(0)
    Xn = np.where(rng.rand(*X.shape) < 0.3, np.nan, X)
    S = sp.csr_matrix(X)
    print(f"## cost: {X.shape[0]} x {X.shape[1]}, k = 10, 3 passes, best of 3 (load {load():.1f})")
    plain = timed(lambda: MiniBatchNMF(**kw), X)
    rows_ = [
        ("dense, missing='nan', no NaN", timed(lambda: MiniBatchNMF(**kw, missing="nan"), X)),
        ("dense, missing='nan', 30% NaN", timed(lambda: MiniBatchNMF(**kw, missing="nan"), Xn)),
    ]
    csr_plain = timed(lambda: MiniBatchNMF(**kw), S)
    csr_unstored = timed(lambda: MiniBatchNMF(**kw, missing="unstored"), S)
    print(f"   dense, plain fit: {plain:.3f} s")
    for name, t in rows_:
        print(f"   {name}: {t:.3f} s = {t / plain:.2f}x the plain dense fit")
    print(f"   CSR ({S.nnz / np.prod(S.shape):.0%} stored), plain fit: {csr_plain:.3f} s; "
          f"missing='unstored': {csr_unstored:.3f} s = {csr_unstored / csr_plain:.2f}x (load {load():.1f})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fashion", help="the unpacked dataset-fashion-mnist package (target/fashion-mnist)")
    ap.add_argument("--out", default="docs", help="folder of the pictures")
    ap.add_argument("--rows", type=int, default=10000, help="Fashion-MNIST images used")
    ap.add_argument("--k", type=int, default=40, help="components of the Fashion-MNIST fit")
    ap.add_argument("--epochs", type=int, default=30, help="passes of the Fashion-MNIST fit")
    ap.add_argument("--ks", default="2,3,4,5,6,7,8,10,12", help="candidate ranks of the synthetic example")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: rank, fashion, cost")
    a = ap.parse_args()
    skip = set(filter(None, a.skip.split(",")))
    os.makedirs(a.out, exist_ok=True)
    print(f"minibatchnmf {minibatchnmf.__version__} (library {minibatchnmf.library_version()}), "
          f"{os.cpu_count()} cores, load {load():.1f}")
    if "rank" not in skip:
        rank_section(a.out, [int(k) for k in a.ks.split(",")], a.repeats)
    if "fashion" not in skip:
        if not a.fashion:
            ap.error("--fashion DIR is needed (or --skip fashion)")
        fashion_section(a.fashion, a.out, a.rows, a.k, a.epochs)
    if "cost" not in skip:
        cost_section(a.fashion, a.rows)


if __name__ == "__main__":
    main()
