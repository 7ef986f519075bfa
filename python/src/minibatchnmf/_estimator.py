"""``MiniBatchNMF``: scikit-learn's estimator on minibatchnmf's C library.

Parameters, defaults, validation messages, attributes, warnings and
exceptions are scikit-learn's (its own validation utilities are used for
the inputs and the parameters); every number is computed by the library.
"""

import numbers
import pickle
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, check_non_negative, validate_data

from . import _clib
from ._handle import Handle

__all__ = ["MiniBatchNMF"]

_BETA = {"frobenius": 2.0, "kullback-leibler": 1.0, "itakura-saito": 0.0}
_U32_MAX = np.iinfo(np.uint32).max


def _in_place(given, checked, result):
    """Whether a caller's custom W/H array can receive the result in place."""
    return (
        isinstance(given, np.ndarray)
        and given is checked
        and result is not None
        and given.shape == result.shape
        and given.dtype == result.dtype
        and given.flags.writeable
    )


_BETA_NAMES = {v: k for k, v in _BETA.items()}
_INIT_NAMES = {v: k for k, v in _clib.INIT.items()}


# Parameters beyond scikit-learn's signature (the library's extensions),
# with their defaults; the C library receives them by name (nmf_set_param).
_EXTENSIONS = dict(
    solver="mu", cd_w_sweeps=10, cd_h_sweeps=5, cd_stats="exact", max_memory=None, missing="error"
)
# The order they are given to a handle: 'missing' first, the solver last ('cd'
# is checked against the other parameters).
_EXT_ORDER = ("missing", "cd_w_sweeps", "cd_h_sweeps", "cd_stats", "max_memory", "solver")
_MISSING = ("error", "nan", "unstored")


def _ext_names():
    """The extension parameters this build of the library knows."""
    return tuple(n for n in _EXT_ORDER if n != "missing" or _clib.HAS_MISSING)


def _ext_value(name, value):
    """The nmf_set_param spelling of an extension parameter's value."""
    if name == "max_memory" and value is None:
        return "auto"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, numbers.Integral)):
        # The library parses strings; refuse what str() would disguise (True, 10.0).
        raise ValueError(
            f"invalid parameter '{name}': got {value!r}, expected "
            + ("'auto', None, a number of bytes or a size such as '512M'" if name == "max_memory"
               else "an int" if name in ("cd_w_sweeps", "cd_h_sweeps") else "a string")
        )
    return str(int(value)) if isinstance(value, numbers.Integral) else value


def _ext_from_library(name, text):
    """An extension parameter as nmf_get_param spells it, as the constructor takes it."""
    if name in ("cd_w_sweeps", "cd_h_sweeps"):
        return int(text)
    if name == "max_memory":
        if text == "auto":
            return None
        return int(text) if text.isdigit() else text
    return text


def _python_params(p):
    """The constructor's keyword arguments of an NmfParams (a loaded model's)."""
    if p.n_components_mode == _clib.N_COMPONENTS_AUTO:
        n_components = "auto"
    elif p.n_components_mode == _clib.N_COMPONENTS_ALL:
        n_components = None
    else:
        n_components = int(p.n_components)
    return dict(
        n_components=n_components,
        init=_INIT_NAMES[p.init],
        batch_size=int(p.batch_size),
        beta_loss=_BETA_NAMES.get(p.beta_loss, float(p.beta_loss)),
        tol=float(p.tol),
        max_no_improvement=None if p.max_no_improvement_is_none else int(p.max_no_improvement),
        max_iter=int(p.max_iter),
        alpha_W=float(p.alpha_w),
        alpha_H="same" if p.alpha_h_is_same else float(p.alpha_h),
        l1_ratio=float(p.l1_ratio),
        forget_factor=float(p.forget_factor),
        fresh_restarts=bool(p.fresh_restarts),
        fresh_restarts_max_iter=int(p.fresh_restarts_max_iter),
        transform_max_iter=None if p.transform_max_iter_is_none else int(p.transform_max_iter),
        random_state=None if p.random_state_is_none else int(p.random_state),
        verbose=int(p.verbose),
    )


def _handle_extensions(handle):
    """The extension parameters of a handle (a loaded model's), by name."""
    if not _clib.HAS_NAMED_PARAMS:
        return {}
    return {name: _ext_from_library(name, handle.get_param(name)) for name in _ext_names()}


class MiniBatchNMF(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Mini-Batch Non-Negative Matrix Factorization, computed by minibatchnmf.

    A drop-in replacement for :class:`sklearn.decomposition.MiniBatchNMF`
    (scikit-learn 1.9.1): the same constructor, defaults, methods, fitted
    attributes, errors and warnings, and results equal to scikit-learn's to
    rounding. X (n_samples, n_features), non-negative, is factorised as
    W (n_samples, n_components) times H = ``components_``.

    Parameters
    ----------
    n_components : int, {'auto'} or None, default='auto'
        Number of components. 'auto': the rows of H with ``init='custom'``,
        otherwise n_features. None: n_features.
    init : {'random', 'nndsvd', 'nndsvda', 'nndsvdar', 'custom'}, default=None
        Initialisation of W and H. None: 'nndsvda' if n_components <=
        min(n_samples, n_features), otherwise 'random'.
    batch_size : int, default=1024
        Rows per mini-batch.
    beta_loss : float or {'frobenius', 'kullback-leibler', 'itakura-saito'}, default='frobenius'
        The beta-divergence minimised. Values <= 0 need X without zeros.
    tol : float, default=1e-4
        Stop when the relative change of H is at most tol (0 disables).
    max_no_improvement : int or None, default=10
        Stop after this many mini-batches without improvement of the
        smoothed cost (None disables).
    max_iter : int, default=200
        Maximum number of passes over the data.
    alpha_W : float, default=0.0
        Regularisation constant of W (scaled by n_features).
    alpha_H : float or 'same', default='same'
        Regularisation constant of H (scaled by the batch's rows).
    l1_ratio : float, default=0.0
        Share of L1 in the regularisation, in [0, 1].
    forget_factor : float, default=0.7
        Weight of past mini-batches in H's statistics.
    fresh_restarts : bool, default=False
        Solve W completely at each step.
    fresh_restarts_max_iter : int, default=30
        Iterations of each such solve.
    transform_max_iter : int or None, default=None
        Iterations of the W solve in ``transform`` (None: max_iter).
    random_state : int, RandomState instance or None, default=None
        Seed of the initialisation: an int in [0, 2**32 - 1] gives the same
        W and H as scikit-learn; a RandomState instance is drawn from as
        scikit-learn draws from it (the library gets its MT19937 state, and
        the instance is advanced as scikit-learn's draws would advance it);
        None: numpy's global RandomState, as in scikit-learn (so
        ``np.random.seed(s)`` before ``fit`` gives scikit-learn's numbers and
        leaves ``np.random`` in the state scikit-learn leaves it in).
    verbose : int or bool, default=0
        Print per-step progress (on stderr, from the library).
    solver : {'mu', 'cd'}, default='mu'
        Beyond scikit-learn: 'mu' is scikit-learn's multiplicative-update
        algorithm (its numbers); 'cd' is the library's online coordinate
        descent (Frobenius loss only; another ``beta_loss`` is refused with a
        ValueError at fit).
    cd_w_sweeps : int, default=10
        Beyond scikit-learn ('cd'): coordinate-descent sweeps over W per
        mini-batch (>= 1).
    cd_h_sweeps : int, default=5
        Beyond scikit-learn ('cd'): coordinate-descent sweeps over H per
        mini-batch (>= 1).
    cd_stats : {'exact', 'decayed'}, default='exact'
        Beyond scikit-learn ('cd'): how the statistics of H are kept
        ('exact': each row's latest contribution; 'decayed': forgetting
        with ``forget_factor``).
    max_memory : int, str or None, default=None
        Beyond scikit-learn: the library's memory budget, in bytes or as
        '512M'/'4G'; None (or 'auto') is the library's default. A call over
        the budget raises MemoryError.
    missing : {'error', 'nan', 'unstored'}, default='error'
        Beyond scikit-learn: missing values. 'error' refuses NaN as
        scikit-learn does; 'nan': NaN entries of X (dense, or stored in a
        sparse matrix) are missing; 'unstored': the entries a sparse matrix
        does not store are missing (stored zeros are observed zeros; the
        ratings convention), refused for dense X. The loss, every update,
        ``reconstruction_err_`` and ``transform`` use the observed entries
        only; ``inverse_transform(transform(X))`` is the completed matrix.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    n_components_ : int
    reconstruction_err_ : float
        Set by ``fit``/``fit_transform``.
    n_iter_ : int
        Set by ``fit``/``fit_transform``.
    n_steps_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined when X has string column names (e.g. a pandas DataFrame).

    Examples
    --------
    >>> import numpy as np
    >>> from minibatchnmf import MiniBatchNMF
    >>> X = np.array([[1, 1], [2, 1], [3, 1.2], [4, 1], [5, 0.8], [6, 1]])
    >>> model = MiniBatchNMF(n_components=2, init='random', random_state=0)
    >>> W = model.fit_transform(X)
    >>> W.shape, model.components_.shape
    ((6, 2), (2, 2))
    """

    _parameter_constraints: dict = {
        "n_components": [Interval(Integral, 1, None, closed="left"), None, StrOptions({"auto"})],
        "init": [StrOptions({"random", "nndsvd", "nndsvda", "nndsvdar", "custom"}), None],
        "beta_loss": [StrOptions(set(_BETA)), Real],
        "tol": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "alpha_W": [Interval(Real, 0, None, closed="left")],
        "alpha_H": [Interval(Real, 0, None, closed="left"), StrOptions({"same"})],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "verbose": ["verbose"],
        "max_no_improvement": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "forget_factor": [Interval(Real, 0, 1, closed="both")],
        "fresh_restarts": ["boolean"],
        "fresh_restarts_max_iter": [Interval(Integral, 1, None, closed="left")],
        "transform_max_iter": [Interval(Integral, 1, None, closed="left"), None],
        # Beyond scikit-learn: validated by the library (its messages) when
        # the handle is made, i.e. at fit.
        "solver": "no_validation",
        "cd_w_sweeps": "no_validation",
        "cd_h_sweeps": "no_validation",
        "cd_stats": "no_validation",
        "max_memory": "no_validation",
        # Checked here (it decides how X is validated), then by the library.
        "missing": [StrOptions(set(_MISSING))],
    }

    def __init__(
        self,
        n_components="auto",
        *,
        init=None,
        batch_size=1024,
        beta_loss="frobenius",
        tol=1e-4,
        max_no_improvement=10,
        max_iter=200,
        alpha_W=0.0,
        alpha_H="same",
        l1_ratio=0.0,
        forget_factor=0.7,
        fresh_restarts=False,
        fresh_restarts_max_iter=30,
        transform_max_iter=None,
        random_state=None,
        verbose=0,
        solver="mu",
        cd_w_sweeps=10,
        cd_h_sweeps=5,
        cd_stats="exact",
        max_memory=None,
        missing="error",
    ):
        self.n_components = n_components
        self.init = init
        self.batch_size = batch_size
        self.beta_loss = beta_loss
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.max_iter = max_iter
        self.alpha_W = alpha_W
        self.alpha_H = alpha_H
        self.l1_ratio = l1_ratio
        self.forget_factor = forget_factor
        self.fresh_restarts = fresh_restarts
        self.fresh_restarts_max_iter = fresh_restarts_max_iter
        self.transform_max_iter = transform_max_iter
        self.random_state = random_state
        self.verbose = verbose
        self.solver = solver
        self.cd_w_sweeps = cd_w_sweeps
        self.cd_h_sweeps = cd_h_sweeps
        self.cd_stats = cd_stats
        self.max_memory = max_memory
        self.missing = missing

    # -- parameters for the C library --------------------------------------------
    def _c_params(self, seed=None):
        """The NmfParams of the current parameters. ``seed``: the u32 seed to
        use, or None to draw it from ``random_state`` (see _seed)."""
        p = _clib.lib.nmf_params_default()
        if self.n_components == "auto":
            p.n_components_mode = _clib.N_COMPONENTS_AUTO
        elif self.n_components is None:
            p.n_components_mode = _clib.N_COMPONENTS_ALL
        else:
            p.n_components_mode = _clib.N_COMPONENTS_FIXED
            p.n_components = int(self.n_components)
        p.init = _clib.INIT[self.init]
        p.batch_size = int(self.batch_size)
        p.beta_loss = _BETA.get(self.beta_loss) if isinstance(self.beta_loss, str) else float(self.beta_loss)
        p.tol = float(self.tol)
        p.max_no_improvement_is_none = self.max_no_improvement is None
        if self.max_no_improvement is not None:
            p.max_no_improvement = int(self.max_no_improvement)
        p.max_iter = int(self.max_iter)
        p.alpha_w = float(self.alpha_W)
        p.alpha_h_is_same = isinstance(self.alpha_H, str)
        if not p.alpha_h_is_same:
            p.alpha_h = float(self.alpha_H)
        p.l1_ratio = float(self.l1_ratio)
        p.forget_factor = float(self.forget_factor)
        p.fresh_restarts = bool(self.fresh_restarts)
        p.fresh_restarts_max_iter = int(self.fresh_restarts_max_iter)
        p.transform_max_iter_is_none = self.transform_max_iter is None
        if self.transform_max_iter is not None:
            p.transform_max_iter = int(self.transform_max_iter)
        if seed is None:
            seed = self._seed()
        p.random_state_is_none = seed is False
        if seed is not False:
            p.random_state = int(seed)
        p.verbose = bool(self.verbose)
        return p

    def _ext_params(self):
        """The extension parameters as nmf_set_param spells them (ValueError
        for a value of the wrong type)."""
        return {name: _ext_value(name, getattr(self, name)) for name in _ext_names()}

    def _apply_extensions(self, handle):
        """Give ``handle`` the extension parameters (nmf_set_param); the
        library validates them (ValueError with its message)."""
        if not _clib.HAS_MISSING and self.missing != "error":
            raise ValueError(
                "this build of libminibatchnmf has no 'missing' parameter (missing values): "
                "missing must be 'error'"
            )
        wanted = self._ext_params()
        if not _clib.HAS_NAMED_PARAMS:
            defaults = {n: _ext_value(n, v) for n, v in _EXTENSIONS.items()}
            if wanted != defaults:
                raise ValueError(
                    "this build of libminibatchnmf has no nmf_set_param: solver, cd_* and "
                    "max_memory must keep their defaults"
                )
            return
        for name in _ext_names():
            if handle.get_param(name) != wanted[name]:
                handle.set_param(name, wanted[name])

    def _seed(self):
        """u32 seed for a new fit, or False for random_state=None."""
        rs = self.random_state
        if (rs is None or rs is np.random.mtrand._rand) and not _clib.HAS_MT19937_STATE:
            # An older library: a seed from the OS (not numpy's global stream).
            return False
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            if not 0 <= int(rs) <= _U32_MAX:
                raise ValueError(f"Seed must be between 0 and 2**32 - 1, got {rs}")
            return int(rs)
        if self._instance() is not None:
            # Its state is handed to the library (_initialise), which draws
            # from it exactly as scikit-learn draws from the instance.
            return False
        # An older library without nmf_set_random_state_mt19937: a seed drawn
        # from the instance (reproducible, but not scikit-learn's numbers).
        return int(rs.randint(0, _U32_MAX, dtype=np.uint32))

    def _instance(self):
        """The RandomState the library draws from (its MT19937 state), else
        None. As scikit-learn's check_random_state: random_state=None is
        numpy's global RandomState (np.random.mtrand._rand), so
        ``np.random.seed(s)`` before a fit makes it reproducible and the
        global stream moves on as scikit-learn's draws move it."""
        if not _clib.HAS_MT19937_STATE:
            return None
        rs = self.random_state
        if rs is None:
            return np.random.mtrand._rand
        if isinstance(rs, np.random.RandomState):
            return rs
        return None

    def _initialise(self, call):
        """A new handle for the current parameters, and ``call(handle)`` on it
        (a fit or first partial_fit). A RandomState instance gives the library
        its state, and afterwards is left where scikit-learn's draws would
        have left it."""
        handle = Handle(self._c_params())
        self._apply_extensions(handle)
        hook = getattr(self, "_allreduce", None)
        if hook is not None:  # a rank of a distributed fit (minibatchnmf.mpi)
            handle.set_allreduce(hook)
        rs = self._instance()
        if rs is not None:
            handle.set_random_state(rs)
        result = call(handle)
        if rs is not None:
            handle.advance_random_state(rs)
        return handle, result

    def _collective(self, validate):
        """``validate()`` (the Python-side checks of a call's inputs); when the
        model is a rank of a distributed fit, every rank then learns whether
        all ranks' inputs passed, so a rejected shard fails every rank
        instead of leaving the others waiting in the library."""
        hook = getattr(self, "_allreduce", None)
        if hook is None:
            return validate()
        try:
            out = validate()
        except Exception:
            hook.all_ok(False)
            raise
        if not hook.all_ok(True):
            raise RuntimeError(
                "distributed call failed: another rank rejected its input (see that rank's error)"
            )
        return out

    def _sync_params(self):
        """Push parameters changed by set_params to the fitted handle (its seed stays)."""
        handle = self._handle
        current = handle.params()
        wanted = self._c_params(seed=False if current.random_state_is_none else current.random_state)
        ext = self._ext_params() if _clib.HAS_NAMED_PARAMS else None
        if bytes(wanted) == bytes(current) and (
            ext is None or all(handle.get_param(n) == v for n, v in ext.items())
        ):
            return
        if ext is None:
            handle.set_params(wanted)
            return
        # 'cd' accepts the Frobenius loss only, so the solver goes to 'mu'
        # while scikit-learn's parameters change, and is set last; a refused
        # value puts the handle back as it was.
        before = {n: handle.get_param(n) for n in _ext_names()}
        try:
            handle.set_param("solver", "mu")
            handle.set_params(wanted)
            self._apply_extensions(handle)
        except Exception:
            handle.set_param("solver", "mu")
            handle.set_params(current)
            for n in _ext_names():
                handle.set_param(n, before[n])
            raise

    # -- fitting ------------------------------------------------------------------
    def _validate_x(self, X, reset):
        missing = self.missing if isinstance(self.missing, str) else None
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=[np.float64, np.float32],
            reset=reset,
            ensure_all_finite="allow-nan" if missing == "nan" else True,
        )
        if missing == "unstored" and not sp.issparse(X):
            raise ValueError(
                "missing='unstored' takes a sparse matrix (its unstored entries are the missing "
                "ones); X is dense: mark the missing entries with NaN and use missing='nan'"
            )
        return X

    def _check_non_negative(self, X):
        """scikit-learn's check; with missing='nan', over the observed entries
        (its min over X would be NaN and let negative values through)."""
        if self.missing == "nan":
            values = X.data if sp.issparse(X) else X
            if values.size and np.nanmin(values) < 0:
                raise ValueError("Negative values in data passed to MiniBatchNMF (input X).")
            return
        check_non_negative(X, "MiniBatchNMF (input X)")

    def _check_w_h(self, X, W, H):
        """Custom W/H checked as scikit-learn does, or dropped with its warning."""
        if self.init != "custom":
            if W is not None or H is not None:
                warnings.warn(
                    "When init!='custom', provided W or H are ignored. Set "
                    " init='custom' to use them as initialization.",
                    RuntimeWarning,
                )
            return None, None
        n_samples, n_features = X.shape
        if H is not None:
            H = check_array(H, dtype=None)
            if H.shape[1] != n_features:
                raise ValueError(
                    "Array with wrong second dimension passed to NMF (input H). "
                    f"Expected {n_features}, but got {H.shape[1]}."
                )
            k = H.shape[0]
        if W is not None:
            W = check_array(W, dtype=None)
            if W.shape[0] != n_samples:
                raise ValueError(
                    "Array with wrong first dimension passed to NMF (input W). "
                    f"Expected {n_samples}, but got {W.shape[0]}."
                )
        if H is not None and W is not None and W.shape[1] != k:
            raise ValueError(
                "Array with wrong second dimension passed to NMF (input W). "
                f"Expected {k}, but got {W.shape[1]}."
            )
        dtypes = [A.dtype for A in (H, W) if A is not None]
        if any(d != X.dtype for d in dtypes):
            raise TypeError(
                "H and W should have the same dtype as X. Got "
                f"H.dtype = {None if H is None else H.dtype} and "
                f"W.dtype = {None if W is None else W.dtype}."
            )
        W = None if W is None else np.ascontiguousarray(W)
        H = None if H is None else np.ascontiguousarray(H)
        return W, H

    def _expected_k(self, X, H):
        if isinstance(self.n_components, Integral):
            return int(self.n_components)
        if self.n_components == "auto" and self.init == "custom" and H is not None:
            return H.shape[0]
        return X.shape[1]

    def _set_fitted(self, handle, fit_info=None):
        self._handle = handle
        self.components_ = handle.components()
        self.n_components_ = self.components_.shape[0]
        self._n_components = self.n_components_
        self.n_steps_ = handle.n_steps()
        if fit_info is not None:
            self.n_iter_ = int(fit_info.n_iter)
            self.reconstruction_err_ = float(fit_info.reconstruction_err)
            if fit_info.convergence_warning:
                warnings.warn(
                    f"Maximum number of iterations {self.max_iter} reached. "
                    "Increase it to improve convergence.",
                    ConvergenceWarning,
                )

    def _fit(self, X, W, H, return_w):
        W_in, H_in = W, H

        def validate():
            X_ = self._validate_x(X, reset=True)
            self._check_non_negative(X_)
            return (X_, *self._check_w_h(X_, W, H))

        X, W, H = self._collective(validate)
        if return_w or W is not None or H is not None:
            k = self._expected_k(X, H)
            handle, W_out = self._initialise(lambda h: h.fit_transform(X, X.dtype, k, W, H))
        else:
            handle, W_out = self._initialise(lambda h: h.fit(X, X.dtype))
        self._set_fitted(handle, handle.fit_info())
        # As scikit-learn: a custom W and H (numpy arrays of X's dtype) are
        # updated in place and become the returned W and components_.
        if _in_place(H_in, H, self.components_):
            H_in[...] = self.components_
            self.components_ = H_in
        if _in_place(W_in, W, W_out):
            W_in[...] = W_out
            W_out = W_in
        return W_out

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, **params):
        """Learn a NMF model for the data X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        **params : ``W`` and ``H``, as for :meth:`fit_transform`.

        Returns
        -------
        self
        """
        unknown = set(params) - {"W", "H"}
        if unknown:
            raise TypeError(f"fit() got unexpected keyword arguments {sorted(unknown)}")
        self._fit(X, params.get("W"), params.get("H"), return_w=False)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, W=None, H=None):
        """Learn a NMF model for the data X and return the transformed data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        W : array-like of shape (n_samples, n_components), default=None
            Initial W when ``init='custom'``.
        H : array-like of shape (n_components, n_features), default=None
            Initial H when ``init='custom'``.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
        """
        return self._fit(X, W, H, return_w=True)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, W=None, H=None):
        """Update the model with the mini-batch X (online learning).

        W and H (with ``init='custom'``) are used by the first call only.

        Returns
        -------
        self
        """
        fitted = hasattr(self, "components_") and getattr(self, "_handle", None) is not None
        H_in = H

        def validate():
            X_ = self._validate_x(X, reset=not fitted)
            if fitted:
                return X_, W, H
            self._check_non_negative(X_)
            return (X_, *self._check_w_h(X_, W, H))

        X, W, H = self._collective(validate)
        if not fitted:
            handle, _ = self._initialise(lambda h: h.partial_fit(X, X.dtype, W, H))
            self._set_fitted(handle)
            # As scikit-learn: a custom H becomes components_, updated in place.
            if _in_place(H_in, H, self.components_):
                H_in[...] = self.components_
                self.components_ = H_in
        else:
            handle = self._handle
            self._sync_params()
            handle.partial_fit(X, handle.dtype())
            # As scikit-learn, components_ is updated in place.
            previous = self.components_
            self._set_fitted(handle)
            if previous.shape == self.components_.shape and previous.flags.writeable:
                previous[...] = self.components_
                self.components_ = previous
        return self

    # -- using the model ---------------------------------------------------------
    def transform(self, X):
        """W for the data X, with H = ``components_`` fixed.

        Returns
        -------
        W : ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self)
        X = self._collective(lambda: self._validate_x(X, reset=False))
        self._sync_params()
        return self._handle.transform(X)

    def inverse_transform(self, X):
        """Data back in the original space: X @ ``components_``.

        Parameters
        ----------
        X : {ndarray, sparse matrix} of shape (n_samples, n_components)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = check_array(X, accept_sparse=("csr", "csc"), dtype=[np.float64, np.float32])
        if X.shape[1] != self.n_components_:
            raise ValueError(
                f"X has {X.shape[1]} columns, but MiniBatchNMF has "
                f"{self.n_components_} components"
            )
        return self._handle.inverse_transform(X)

    @property
    def _n_features_out(self):
        """Number of transformed output features."""
        return self.components_.shape[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        tags.input_tags.sparse = True
        tags.input_tags.allow_nan = self.missing == "nan"
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    # -- model files (the library's safetensors format) ---------------------------
    def save(self, path):
        """Write the fitted model to the model file ``path`` (.safetensors).

        The file is the library's format (nmf_save; written atomically), read
        by ``minibatchnmf.load``/``MiniBatchNMF.load``, by the command-line tool
        (``minibatchnmf info/transform/partial-fit``), by R's ``mbnmf_load``
        and by the C and Rust libraries. It holds the parameters, H and the
        online statistics (so ``partial_fit`` continues exactly), in the
        fitted dtype (float32 or float64). Not stored: ``feature_names_in_``,
        and a RandomState instance given as ``random_state`` (it loads as
        None).

        Returns
        -------
        path
        """
        check_is_fitted(self)
        self._sync_params()
        self._handle.save_file(path)
        return path

    @classmethod
    def load(cls, path):
        """A fitted model from the model file ``path`` (written by ``save``,
        the command-line tool, R's ``mbnmf_save`` or the C/Rust libraries).

        Its parameters are the file's; ``components_``, ``n_components_``,
        ``n_features_in_`` and ``n_steps_`` are set, and ``n_iter_`` and
        ``reconstruction_err_`` when the file comes from a fit (not only
        partial_fit). The dtype is the file's.
        """
        handle = Handle.load_file(path)
        model = cls(**_python_params(handle.params()), **_handle_extensions(handle))
        try:
            info = handle.fit_info()
        except AttributeError:  # only partial_fit: no fit summary
            info = None
        with warnings.catch_warnings():
            # The file's fit may have ended with a ConvergenceWarning: it was
            # issued when that fit ran, not now.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model._set_fitted(handle, info)
        model.n_features_in_ = handle.n_features_in()
        return model

    # -- pickle through the library's saving format ------------------------------
    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        state.pop("_allreduce", None)  # an MPI attachment does not travel
        handle = state.pop("_handle", None)
        if handle is not None:
            try:
                state["_handle_bytes"] = handle.save()
            except NotImplementedError as e:
                raise pickle.PicklingError(str(e)) from e
        return state

    def __setstate__(self, state):
        state = dict(state)
        data = state.pop("_handle_bytes", None)
        for name, default in _EXTENSIONS.items():  # a pickle from before the extensions
            state.setdefault(name, default)
        super().__setstate__(state)
        if data is not None:
            self._handle = Handle.load(data)

