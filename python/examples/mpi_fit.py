"""Data-parallel MiniBatchNMF from Python over MPI (mpi4py), checked against
the single-process fit of the same rows.

    mpirun -np P python mpi_fit.py

Every rank takes its shard of scikit-learn's digits (1797 x 64; even and
uneven shards, every one non-empty), attaches the communicator to the model
(``minibatchnmf.mpi.attach``) and fits on its own rows. Every rank also fits
the whole X alone and checks that its H, n_steps and reconstruction_err, its
rows of W (fit_transform and transform) and a following partial_fit equal
the single process's to 1e-12 relative (1e-10 after an nndsvda init: the
bounds of the C example, c-examples/mpi/nmf_mpi.c), for dense and CSR X,
Frobenius and Kullback-Leibler. Then a negative value on the last rank's
shard must make every rank fail (that rank with ValueError, the others with
RuntimeError) without hanging, and a good fit must work afterwards.

Exit status 0 on every rank when every check passed.
"""

import sys
import warnings

import numpy as np
import scipy.sparse as sp
from mpi4py import MPI
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

import minibatchnmf
from minibatchnmf import MiniBatchNMF

TOL_REL = 1e-12
TOL_REL_NNDSVD = 1e-10

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
minibatchnmf.set_num_threads(1)  # ranks share the machine's cores
warnings.simplefilter("ignore", ConvergenceWarning)

X = load_digits().data
N = X.shape[0]
failed = 0


def check(ok, message):
    global failed
    if not ok:
        failed += 1
        print(f"rank {rank}: FAILED: {message}", file=sys.stderr, flush=True)


def shards(uneven):
    """Row ranges of the ranks: equal, or growing with the rank (none empty)."""
    weights = np.arange(1, size + 1) ** 2 if uneven else np.ones(size)
    cuts = np.concatenate([[0], np.cumsum(weights)]) / weights.sum() * N
    bounds = np.round(cuts).astype(int)
    return [(int(bounds[r]), int(bounds[r + 1])) for r in range(size)]


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.abs(b).max(), 1e-300)
    return float(np.abs(a - b).max() / scale) if a.size else 0.0


def run_case(beta_loss, csr, uneven, init):
    lo, hi = shards(uneven)[rank]
    params = dict(n_components=6, init=init, beta_loss=beta_loss, batch_size=256, max_iter=15,
                  tol=1e-4, random_state=0)
    Xall = sp.csr_matrix(X) if csr else X
    ref = MiniBatchNMF(**params)
    W_ref = ref.fit_transform(Xall)
    T_ref = ref.transform(Xall)

    mine = Xall[lo:hi]
    model = minibatchnmf.mpi.attach(MiniBatchNMF(**params), comm)
    W = model.fit_transform(mine)
    what = f"{beta_loss} {'csr' if csr else 'dense'} {'uneven' if uneven else 'even'} {init}"
    tol = TOL_REL_NNDSVD if init == "nndsvda" else TOL_REL
    dh = rel(model.components_, ref.components_)
    de = abs(model.reconstruction_err_ - ref.reconstruction_err_) / ref.reconstruction_err_
    dw = rel(W, W_ref[lo:hi]) if hi > lo else 0.0
    dt = rel(model.transform(mine), T_ref[lo:hi])
    check(model.n_steps_ == ref.n_steps_ and model.n_iter_ == ref.n_iter_,
          f"{what}: n_steps {model.n_steps_} vs {ref.n_steps_}")
    check(dh <= tol, f"{what}: H differs by {dh:.3g}")
    check(de <= tol, f"{what}: reconstruction_err differs by {de:.3g}")
    check(dw <= tol, f"{what}: W differs by {dw:.3g}")
    check(dt <= tol, f"{what}: transform differs by {dt:.3g}")
    # A collective partial_fit on the same shards is the partial_fit of X.
    model.partial_fit(mine)
    ref.partial_fit(Xall)
    dp = rel(model.components_, ref.components_)
    check(dp <= tol, f"{what}: partial_fit differs by {dp:.3g}")
    # Every rank ends with the same H.
    h0 = comm.bcast(model.components_ if rank == 0 else None, root=0)
    check(np.array_equal(h0, model.components_), f"{what}: H differs between ranks")
    return max(dh, de, dw, dt, dp)


worst = 0.0
for beta_loss, csr, uneven, init in [
    ("frobenius", False, False, "random"),
    ("frobenius", True, True, "random"),
    ("kullback-leibler", False, True, "random"),
    ("kullback-leibler", True, False, "random"),
    ("kullback-leibler", False, True, "nndsvda"),
    ("frobenius", True, False, "nndsvda"),
]:
    worst = max(worst, run_case(beta_loss, csr, uneven, init))
worst = comm.allreduce(worst, op=MPI.MAX)

# A bad shard (a negative value on the last rank) fails every rank, no hang.
lo, hi = shards(True)[rank]
mine = X[lo:hi].copy()
if rank == size - 1:
    mine[0, 0] = -1.0
model = minibatchnmf.mpi.attach(MiniBatchNMF(n_components=4, init="random", random_state=0), comm)
try:
    model.fit(mine)
    check(False, "a negative value on the last rank did not fail the fit")
except ValueError as e:
    check(rank == size - 1, f"ValueError on a good rank: {e}")
except RuntimeError as e:
    check(rank != size - 1, f"RuntimeError on the faulty rank: {e}")
# And the model works afterwards.
model.fit(X[lo:hi])
ref = MiniBatchNMF(n_components=4, init="random", random_state=0).fit(X)
check(rel(model.components_, ref.components_) <= TOL_REL, "fit after the failure differs")

failed = comm.allreduce(failed, op=MPI.SUM)
if rank == 0:
    if failed:
        print(f"mpi_fit.py: {failed} check(s) failed on {size} rank(s)", flush=True)
    else:
        print(f"mpi_fit.py: P = {size}: equal to the single-process fit (worst relative difference "
              f"{worst:.1e}; bounds {TOL_REL:.0e}, {TOL_REL_NNDSVD:.0e} after nndsvda); a bad shard "
              f"fails every rank", flush=True)
sys.exit(1 if failed else 0)
