"""ctypes declarations of minibatchnmf's C ABI (include/minibatchnmf.h).

The shared library is built by cargo when the package is installed
(setuptools-rust, ``pyproject.toml``) and shipped inside the package as
``_libminibatchnmf<EXT_SUFFIX>``. Nothing here computes anything: it declares
the functions, mirrors the structs and turns status codes into Python
exceptions.
"""

import ctypes as C
import glob
import os

from sklearn.exceptions import NotFittedError

__all__ = ["lib", "NmfParams", "NmfFitInfo", "check", "HAS_PERSIST"]

c_size_p = C.POINTER(C.c_size_t)
c_double_p = C.POINTER(C.c_double)
c_float_p = C.POINTER(C.c_float)
c_uint8_p = C.POINTER(C.c_uint8)


class NmfParams(C.Structure):
    """Mirror of the header's NmfParams (same fields, same order)."""

    _fields_ = [
        ("n_components_mode", C.c_int),
        ("n_components", C.c_size_t),
        ("init", C.c_int),
        ("batch_size", C.c_size_t),
        ("beta_loss", C.c_double),
        ("tol", C.c_double),
        ("max_no_improvement", C.c_size_t),
        ("max_no_improvement_is_none", C.c_bool),
        ("max_iter", C.c_size_t),
        ("alpha_w", C.c_double),
        ("alpha_h", C.c_double),
        ("alpha_h_is_same", C.c_bool),
        ("l1_ratio", C.c_double),
        ("forget_factor", C.c_double),
        ("fresh_restarts", C.c_bool),
        ("fresh_restarts_max_iter", C.c_size_t),
        ("transform_max_iter", C.c_size_t),
        ("transform_max_iter_is_none", C.c_bool),
        ("random_state", C.c_uint32),
        ("random_state_is_none", C.c_bool),
        ("verbose", C.c_bool),
    ]


class NmfFitInfo(C.Structure):
    """Mirror of the header's NmfFitInfo."""

    _fields_ = [
        ("n_iter", C.c_size_t),
        ("n_steps", C.c_size_t),
        ("reconstruction_err", C.c_double),
        ("stop_reason", C.c_int),
        ("convergence_warning", C.c_bool),
        ("ignored_init_warning", C.c_bool),
    ]


# Enum values of the header.
N_COMPONENTS_AUTO, N_COMPONENTS_ALL, N_COMPONENTS_FIXED = 0, 1, 2
INIT = {None: 0, "random": 1, "nndsvd": 2, "nndsvda": 3, "nndsvdar": 4, "custom": 5}
DTYPE_NONE, DTYPE_F32, DTYPE_F64 = 0, 1, 2

# Status codes (fixed forever by the C ABI).
OK = 0
ERR_NULL_POINTER = 1
ERR_BUFFER_LENGTH = 2
ERR_NOT_FITTED = 3
ERR_DTYPE_MISMATCH = 4
ERR_INVALID_PARAM = 5
ERR_INVALID_ARGUMENT = 6
ERR_EMPTY_DATA = 7
ERR_NEGATIVE_DATA = 8
ERR_NON_FINITE_DATA = 9
ERR_ZEROS_WITH_NONPOSITIVE_BETA = 10
ERR_INVALID_CSR = 11
ERR_SHAPE = 12
ERR_FEATURE_MISMATCH = 13
ERR_INIT = 14
ERR_LINALG = 15
ERR_NOT_AVAILABLE = 16
ERR_THREADS = 17
ERR_DIVERGED = 18
ERR_PANIC = 99

# scikit-learn's own wording where its tests match on it; other statuses
# carry the library's message.
_SKLEARN_MESSAGES = {
    ERR_ZEROS_WITH_NONPOSITIVE_BETA: (
        "When beta_loss <= 0 and X contains zeros, the solver may diverge. "
        "Please add small values to X, or use a positive beta_loss."
    ),
}

# Status -> exception type, as scikit-learn would raise for the same fault.
_EXCEPTIONS = {
    ERR_NOT_FITTED: NotFittedError,
    ERR_DTYPE_MISMATCH: TypeError,
    ERR_INVALID_PARAM: ValueError,
    ERR_INVALID_ARGUMENT: ValueError,
    ERR_EMPTY_DATA: ValueError,
    ERR_NEGATIVE_DATA: ValueError,
    ERR_NON_FINITE_DATA: ValueError,
    ERR_ZEROS_WITH_NONPOSITIVE_BETA: ValueError,
    ERR_INVALID_CSR: ValueError,
    ERR_SHAPE: ValueError,
    ERR_FEATURE_MISMATCH: ValueError,
    ERR_INIT: ValueError,
    ERR_NOT_AVAILABLE: AttributeError,
    ERR_DIVERGED: FloatingPointError,
    ERR_LINALG: RuntimeError,
    ERR_THREADS: RuntimeError,
    ERR_PANIC: RuntimeError,
    ERR_NULL_POINTER: RuntimeError,
    ERR_BUFFER_LENGTH: RuntimeError,
}
# Issue 7's statuses (saving/loading): 19 NMF_ERR_IO, 20 NMF_ERR_CORRUPT_MODEL,
# 21 NMF_ERR_UNSUPPORTED_FORMAT (22 reserved).
_EXCEPTIONS[19] = OSError
for _code in (20, 21, 22):
    _EXCEPTIONS[_code] = ValueError
# Issue 11's status (distributed fits through nmf_set_allreduce, see
# minibatchnmf.mpi): 23 NMF_ERR_REDUCE (24 reserved).
ERR_REDUCE = 23
_EXCEPTIONS[ERR_REDUCE] = RuntimeError
# Issue 20's status: 25 NMF_ERR_OUT_OF_MEMORY (a call over its memory budget,
# max_memory, or an allocation the system refused).
ERR_OUT_OF_MEMORY = 25
_EXCEPTIONS[ERR_OUT_OF_MEMORY] = MemoryError


class MiniBatchNMFError(RuntimeError):
    """Internal failure of the C library (a bug: please report it)."""


def _find_library():
    here = os.path.dirname(os.path.abspath(__file__))
    override = os.environ.get("MINIBATCHNMF_LIBRARY")
    if override:
        return override
    found = sorted(glob.glob(os.path.join(here, "_libminibatchnmf*.so")))
    found += sorted(glob.glob(os.path.join(here, "_libminibatchnmf*.dylib")))
    found += sorted(glob.glob(os.path.join(here, "_libminibatchnmf*.pyd")))
    if not found:
        raise ImportError(
            "minibatchnmf: the compiled library _libminibatchnmf is missing from "
            f"{here}; install the package with 'pip install ./python' from the "
            "repository (it builds the Rust library with cargo)"
        )
    return found[0]


def _declare(lib):
    size = C.c_size_t
    model = C.c_void_p
    sig = {
        "nmf_version": (C.c_char_p, []),
        "nmf_status_str": (C.c_char_p, [C.c_int]),
        "nmf_last_error": (C.c_char_p, []),
        "nmf_set_num_threads": (C.c_int, [size]),
        "nmf_get_num_threads": (size, []),
        "nmf_params_default": (NmfParams, []),
        "nmf_create": (C.c_int, [C.POINTER(NmfParams), C.POINTER(C.c_void_p)]),
        "nmf_free": (None, [model]),
        "nmf_set_params": (C.c_int, [model, C.POINTER(NmfParams)]),
        "nmf_get_params": (C.c_int, [model, C.POINTER(NmfParams)]),
        "nmf_is_fitted": (C.c_int, [model, C.POINTER(C.c_bool)]),
        "nmf_get_dtype": (C.c_int, [model, C.POINTER(C.c_int)]),
        "nmf_get_n_components": (C.c_int, [model, c_size_p]),
        "nmf_get_n_features_in": (C.c_int, [model, c_size_p]),
        "nmf_get_n_iter": (C.c_int, [model, c_size_p]),
        "nmf_get_n_steps": (C.c_int, [model, c_size_p]),
        "nmf_get_reconstruction_err": (C.c_int, [model, c_double_p]),
        "nmf_get_fit_info": (C.c_int, [model, C.POINTER(NmfFitInfo)]),
    }
    for t, tp in (("f64", c_double_p), ("f32", c_float_p)):
        dense = [tp, size, size, size]
        csr = [c_size_p, c_size_p, tp, size, size, size]
        init = [tp, tp, size]
        out = [tp, size]
        for layout, x in (("dense", dense), ("csr", csr)):
            sig[f"nmf_fit_{layout}_{t}"] = (C.c_int, [model, *x])
            sig[f"nmf_fit_transform_{layout}_{t}"] = (C.c_int, [model, *x, *init, *out])
            sig[f"nmf_partial_fit_{layout}_{t}"] = (C.c_int, [model, *x, *init])
            sig[f"nmf_transform_{layout}_{t}"] = (C.c_int, [model, *x, *out])
            sig[f"nmf_inverse_transform_{layout}_{t}"] = (C.c_int, [model, *x, *out])
        sig[f"nmf_get_components_{t}"] = (C.c_int, [model, tp, size])
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes

    # Saving/loading (issue 7). Older libraries lack them: pickling a fitted
    # model then raises a clear error instead of the package failing to load.
    has_persist = hasattr(lib, "nmf_save_buffer") and hasattr(lib, "nmf_load_buffer")
    if has_persist:
        lib.nmf_save_buffer.restype = C.c_int
        lib.nmf_save_buffer.argtypes = [model, c_uint8_p, size, c_size_p]
        lib.nmf_load_buffer.restype = C.c_int
        lib.nmf_load_buffer.argtypes = [c_uint8_p, size, C.POINTER(C.c_void_p)]
    if hasattr(lib, "nmf_save") and hasattr(lib, "nmf_load"):
        lib.nmf_save.restype = C.c_int
        lib.nmf_save.argtypes = [model, C.c_char_p]
        lib.nmf_load.restype = C.c_int
        lib.nmf_load.argtypes = [C.c_char_p, C.POINTER(C.c_void_p)]
    return has_persist


def _declare_random_state(lib):
    """nmf_set/get_random_state_mt19937 (numpy RandomState instances as
    random_state); False with an older library, which takes seeds only."""
    size = C.c_size_t
    c_u32_p = C.POINTER(C.c_uint32)
    if not (hasattr(lib, "nmf_set_random_state_mt19937") and hasattr(lib, "nmf_get_random_state_mt19937")):
        return False
    lib.nmf_set_random_state_mt19937.restype = C.c_int
    lib.nmf_set_random_state_mt19937.argtypes = [C.c_void_p, c_u32_p, size, size, C.c_bool, C.c_double]
    lib.nmf_get_random_state_mt19937.restype = C.c_int
    lib.nmf_get_random_state_mt19937.argtypes = [
        C.c_void_p, c_u32_p, size, c_size_p, C.POINTER(C.c_bool), c_double_p,
    ]
    return True


# The all-reduce hook of a distributed fit (NmfAllreduceFn): buf, count,
# dtype (NMF_DTYPE_F64/F32), ctx -> 0 on success.
ALLREDUCE_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_size_t, C.c_int, C.c_void_p)


def _declare_allreduce(lib):
    """nmf_set_allreduce (issue 11); False with an older library."""
    if not hasattr(lib, "nmf_set_allreduce"):
        return False
    lib.nmf_set_allreduce.restype = C.c_int
    lib.nmf_set_allreduce.argtypes = [C.c_void_p, ALLREDUCE_FN, C.c_void_p, C.c_size_t, C.c_size_t]
    return True


def _declare_named_params(lib):
    """nmf_set_param / nmf_get_param / nmf_get_param_len (parameters by
    name, including those beyond scikit-learn's); False with an older library."""
    names = ("nmf_set_param", "nmf_get_param", "nmf_get_param_len")
    if not all(hasattr(lib, n) for n in names):
        return False
    lib.nmf_set_param.restype = C.c_int
    lib.nmf_set_param.argtypes = [C.c_void_p, C.c_char_p, C.c_char_p]
    lib.nmf_get_param.restype = C.c_int
    lib.nmf_get_param.argtypes = [C.c_void_p, C.c_char_p, C.c_char_p, C.c_size_t]
    lib.nmf_get_param_len.restype = C.c_int
    lib.nmf_get_param_len.argtypes = [C.c_void_p, C.c_char_p, c_size_p]
    return True


def _knows_param(lib, name):
    """Whether the library's nmf_set_param/nmf_get_param know ``name`` (a
    parameter added after them, such as 'missing')."""
    model = C.c_void_p()
    params = lib.nmf_params_default()
    if lib.nmf_create(C.byref(params), C.byref(model)) != OK:
        return False
    try:
        size = C.c_size_t()
        return lib.nmf_get_param_len(model, name.encode(), C.byref(size)) == OK
    finally:
        lib.nmf_free(model)


def _declare_cross_validate_rank(lib):
    """nmf_cross_validate_rank_{dense,csr}_{f64,f32} (rank by cross-validation
    on held-out entries); False with an older library."""
    size = C.c_size_t
    names = [f"nmf_cross_validate_rank_{l}_{t}" for l in ("dense", "csr") for t in ("f64", "f32")]
    if not all(hasattr(lib, n) for n in names):
        return False
    tail = [c_size_p, size, C.c_double, size, C.c_uint64, c_double_p, c_size_p]
    for t, tp in (("f64", c_double_p), ("f32", c_float_p)):
        dense = getattr(lib, f"nmf_cross_validate_rank_dense_{t}")
        dense.restype = C.c_int
        dense.argtypes = [C.c_void_p, tp, size, size, *tail]
        csr = getattr(lib, f"nmf_cross_validate_rank_csr_{t}")
        csr.restype = C.c_int
        csr.argtypes = [C.c_void_p, c_size_p, c_size_p, tp, size, size, size, *tail]
    return True


lib = C.CDLL(_find_library())
HAS_PERSIST = _declare(lib)
HAS_MT19937_STATE = _declare_random_state(lib)
HAS_ALLREDUCE = _declare_allreduce(lib)
HAS_NAMED_PARAMS = _declare_named_params(lib)
# The 'missing' parameter (missing values: "error", "nan", "unstored") and
# the rank's cross-validation arrived together.
HAS_MISSING = HAS_NAMED_PARAMS and _knows_param(lib, "missing")
HAS_CROSS_VALIDATE_RANK = _declare_cross_validate_rank(lib)
# Words of an MT19937 key (NMF_MT19937_KEY_LEN).
MT19937_KEY_LEN = 624


def error_for(status):
    """The exception scikit-learn would raise for a failed call's status."""
    message = _SKLEARN_MESSAGES.get(status)
    if message is None:
        message = lib.nmf_last_error().decode("utf-8", "replace")
        if not message:
            message = lib.nmf_status_str(status).decode()
        elif status == ERR_NEGATIVE_DATA:
            # scikit-learn's "Negative values in data passed to ..."
            message = message[:1].upper() + message[1:]
    exc = _EXCEPTIONS.get(status, MiniBatchNMFError)
    err = exc(message)
    err.nmf_status = lib.nmf_status_str(status).decode()
    return err


def check(status):
    """Raise the matching exception unless status is NMF_OK."""
    if status != OK:
        raise error_for(status)


def version():
    """Version of the C library loaded (e.g. '0.1.0')."""
    return lib.nmf_version().decode()
