"""``cross_validate_rank``: choosing n_components by cross-validation on
held-out entries (the library's nmf_cross_validate_rank_*).

A random fraction of the observed entries of X is held out, each candidate
k is fitted on the rest with the same parameters, and the held-out entries
are scored with the model's beta-divergence (per held-out entry); this is
repeated with different splits. The library chooses the smallest k whose
mean score is within one standard error of the best mean.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

from . import _clib
from ._estimator import _U32_MAX, MiniBatchNMF
from ._handle import Handle

__all__ = ["cross_validate_rank", "RankCV"]


class RankCV:
    """The result of :func:`cross_validate_rank`.

    Attributes
    ----------
    n_components : ndarray of shape (n_ks,)
        The candidate ranks, in the order given.
    scores_ : ndarray of shape (n_ks, n_repeats)
        Mean held-out beta-divergence per held-out entry, of each k (row)
        in each repeat (column). Lower is better.
    mean_ : ndarray of shape (n_ks,)
        The mean over the repeats.
    std_ : ndarray of shape (n_ks,)
        The standard deviation over the repeats (ddof=1; 0 for one repeat).
    sem_ : ndarray of shape (n_ks,)
        The standard error of the mean, ``std_ / sqrt(n_repeats)``.
    best_n_components : int
        The chosen k: the smallest whose mean is within one standard error
        of the best mean (computed by the library).
    test_fraction, n_repeats, seed :
        The split: the fraction of observed entries held out, the number of
        splits, and the split's seed.
    """

    def __init__(self, n_components, scores, best, test_fraction, n_repeats, seed):
        self.n_components = np.asarray(n_components, dtype=np.int64)
        self.scores_ = scores
        self.mean_ = scores.mean(axis=1)
        self.std_ = scores.std(axis=1, ddof=1) if scores.shape[1] > 1 else np.zeros(scores.shape[0])
        self.sem_ = self.std_ / np.sqrt(scores.shape[1])
        self.best_n_components = int(best)
        self.test_fraction = test_fraction
        self.n_repeats = n_repeats
        self.seed = seed

    def __repr__(self):
        lines = [f"RankCV: best_n_components={self.best_n_components} "
                 f"(test_fraction={self.test_fraction}, n_repeats={self.n_repeats})",
                 f"{'k':>6} {'mean':>14} {'std':>12}"]
        for k, m, s in zip(self.n_components, self.mean_, self.std_):
            mark = "  <- chosen" if k == self.best_n_components else ""
            lines.append(f"{k:>6} {m:>14.6g} {s:>12.3g}{mark}")
        return "\n".join(lines)

    def plot(self, ax=None):
        """The held-out score against k, with one standard deviation as
        error bars and the chosen k marked. ``ax``: a matplotlib Axes (a new
        figure's by default). Returns the Axes. Needs matplotlib (imported
        here, not with the package)."""
        import matplotlib.pyplot as plt  # lazily: the package does not need it

        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3.5))
        ax.errorbar(self.n_components, self.mean_, yerr=self.std_, marker="o", ms=4,
                    capsize=3, lw=1.2, label="held-out score (mean ± std)")
        best = self.n_components == self.best_n_components
        ax.plot(self.n_components[best], self.mean_[best], "o", ms=10, mfc="none", mew=2,
                color="C3", label=f"chosen k = {self.best_n_components}")
        ax.set_xlabel("n_components (k)")
        ax.set_ylabel("beta-divergence per held-out entry")
        ax.legend(frameon=False)
        return ax


def _seeds(random_state):
    """(u32 seed of the fits' initialisation, u64 seed of the splits) from
    random_state: an int is both; None (numpy's global RandomState, as
    scikit-learn's estimators) or a RandomState instance is drawn from."""
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if not 0 <= int(random_state) <= _U32_MAX:
            raise ValueError(f"Seed must be between 0 and 2**32 - 1, got {random_state}")
        return int(random_state), int(random_state)
    rs = check_random_state(random_state)
    init = int(rs.randint(0, _U32_MAX, dtype=np.uint32))
    hi, lo = (int(v) for v in rs.randint(0, _U32_MAX, size=2, dtype=np.uint32))
    return init, (hi << 32) | lo


def _candidates(n_components):
    if isinstance(n_components, (numbers.Integral, str)) or n_components is None:
        raise ValueError(
            f"n_components must be a list or range of candidate ranks, got {n_components!r}"
        )
    ks = list(n_components)
    if not ks:
        raise ValueError("n_components must hold at least one candidate rank")
    for k in ks:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"each candidate rank must be an int >= 1, got {k!r}")
    return [int(k) for k in ks]


def cross_validate_rank(X, n_components, *, test_fraction=0.1, n_repeats=3, random_state=None, **params):
    """Choose n_components by cross-validation on held-out entries.

    A random ``test_fraction`` of the observed entries of X is held out,
    each candidate k is fitted on the rest (as ``MiniBatchNMF(n_components=k,
    **params)`` would fit with those entries missing), the held-out entries
    are scored with the model's beta-divergence, and this is repeated
    ``n_repeats`` times with different splits.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Non-negative data. With ``missing='nan'`` (in params) NaN entries
        are missing, with ``missing='unstored'`` (sparse X) the unstored
        ones; only observed entries are held out.
    n_components : list or range of int
        The candidate ranks.
    test_fraction : float, default=0.1
        Fraction of the observed entries held out in each repeat, in (0, 1).
    n_repeats : int, default=3
        Number of splits.
    random_state : int, RandomState instance or None, default=None
        Seeds the fits' initialisation and the splits. None: numpy's global
        RandomState (as the estimator), so ``np.random.seed(s)`` first makes
        the result reproducible.
    **params
        Any other parameter of :class:`MiniBatchNMF` (beta_loss, init,
        batch_size, max_iter, missing, ...).

    Returns
    -------
    RankCV
        ``scores_`` (n_ks, n_repeats), ``mean_``, ``std_``, ``sem_``,
        ``n_components``, ``best_n_components`` and ``plot(ax=None)``.

    Examples
    --------
    >>> import numpy as np, minibatchnmf
    >>> rng = np.random.RandomState(0)
    >>> X = rng.rand(200, 4) @ rng.rand(4, 30)
    >>> cv = minibatchnmf.cross_validate_rank(X, [2, 4, 6], random_state=0, max_iter=100)
    >>> cv.scores_.shape
    (3, 3)
    """
    for name in ("n_components", "random_state"):
        if name in params:
            raise TypeError(f"cross_validate_rank() got multiple values for argument '{name}'")
    ks = _candidates(n_components)
    if isinstance(test_fraction, (bool, np.bool_)) or not isinstance(test_fraction, numbers.Real) \
            or not 0.0 < float(test_fraction) < 1.0:
        raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
    if isinstance(n_repeats, (bool, np.bool_)) or not isinstance(n_repeats, numbers.Integral) or n_repeats < 1:
        raise ValueError(f"n_repeats must be an int >= 1, got {n_repeats!r}")
    if not _clib.HAS_CROSS_VALIDATE_RANK:
        raise NotImplementedError(
            "this build of libminibatchnmf has no nmf_cross_validate_rank_* (rank by cross-validation)"
        )
    init_seed, split_seed = _seeds(random_state)
    model = MiniBatchNMF(n_components=ks[0], random_state=init_seed, **params)
    model._validate_params()  # scikit-learn's parameter checks and messages
    X = model._validate_x(X, reset=True)
    model._check_non_negative(X)
    if model.init == "custom":
        raise ValueError("cross_validate_rank does not take init='custom' (no W and H per k)")
    handle = Handle(model._c_params(seed=init_seed))
    model._apply_extensions(handle)
    scores, best = handle.cross_validate_rank(X, X.dtype, ks, test_fraction, n_repeats, split_seed)
    return RankCV(ks, scores, best, float(test_fraction), int(n_repeats), split_seed)
