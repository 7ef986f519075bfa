"""One NmfModel* of the C library, and numpy/scipy arrays passed to it.

Arrays are handed over without copying when the C ABI can read them as
they are (C-contiguous, or rows of contiguous values at a fixed stride);
otherwise one row-major copy is made. CSR index arrays become ``uintp``
(the ABI's ``size_t``). Nothing here computes: it only moves memory.
"""

import ctypes as C
import os

import numpy as np
import scipy.sparse as sp

from . import _clib
from ._clib import check, lib

_CTYPE = {np.dtype(np.float64): C.c_double, np.dtype(np.float32): C.c_float}
_SUFFIX = {np.dtype(np.float64): "f64", np.dtype(np.float32): "f32"}


def _ptr(a):
    return a.ctypes.data_as(C.POINTER(_CTYPE[a.dtype]))


def _dense_args(x):
    """(keep-alive, [x ptr, n, m, row_stride]) for a 2-D float array."""
    n, m = x.shape
    item = x.itemsize
    if not x.flags.aligned:  # the ABI requires aligned pointers
        x = np.array(x, order="C")
    if x.flags.c_contiguous:
        return x, [_ptr(x), n, m, 0]
    s0, s1 = x.strides
    if n > 0 and (s1 == item or m == 1) and s0 > 0 and s0 % item == 0 and s0 // item >= m:
        # Rows of contiguous values at a fixed stride: the ABI's row_stride.
        return x, [_ptr(x), n, m, s0 // item]
    x = np.ascontiguousarray(x)
    return x, [_ptr(x), n, m, 0]


def _csr_args(x, dtype):
    """(keep-alive, [indptr, indices, data, nnz, n, m]) for a CSR matrix."""
    if not x.has_canonical_format:
        x = x.copy()
        x.sum_duplicates()  # the ABI rejects repeated columns within a row
    indptr = np.ascontiguousarray(x.indptr, dtype=np.uintp)
    indices = np.ascontiguousarray(x.indices, dtype=np.uintp)
    data = np.ascontiguousarray(x.data, dtype=dtype)
    size_p = C.POINTER(C.c_size_t)
    args = [
        indptr.ctypes.data_as(size_p),
        indices.ctypes.data_as(size_p),
        _ptr(data),
        data.size,
        x.shape[0],
        x.shape[1],
    ]
    return (x, indptr, indices, data), args


def data_args(x, dtype):
    """('dense'|'csr', keep-alive, C arguments) for X converted to dtype."""
    dtype = np.dtype(dtype)
    if sp.issparse(x):
        if x.format != "csr":
            x = x.tocsr()
        keep, args = _csr_args(x, dtype)
        return "csr", keep, args
    x = np.asarray(x)
    if x.dtype != dtype:
        x = x.astype(dtype)
    keep, args = _dense_args(x)
    return "dense", keep, args


class Handle:
    """Owns one ``NmfModel*``; freed with the Python object."""

    __slots__ = ("ptr", "hook")

    def __init__(self, params):
        ptr = C.c_void_p()
        check(lib.nmf_create(C.byref(params), C.byref(ptr)))
        self.ptr = ptr
        self.hook = None

    @classmethod
    def _adopt(cls, ptr):
        self = cls.__new__(cls)
        self.ptr = ptr
        self.hook = None
        return self

    def set_param(self, name, value):
        """One parameter by name and value spelling (nmf_set_param)."""
        check(lib.nmf_set_param(self.ptr, name.encode(), str(value).encode()))

    def get_param(self, name):
        """One parameter by name, as nmf_set_param spells it (nmf_get_param)."""
        size = C.c_size_t()
        check(lib.nmf_get_param_len(self.ptr, name.encode(), C.byref(size)))
        buf = C.create_string_buffer(size.value)
        check(lib.nmf_get_param(self.ptr, name.encode(), buf, size.value))
        return buf.value.decode()

    def set_allreduce(self, hook):
        """Make the model one rank of a distributed fit: ``hook`` is a
        minibatchnmf.mpi hook (its ctypes callback, rank and size), or None
        for a single process again. The callback is kept alive here."""
        if not _clib.HAS_ALLREDUCE:
            raise NotImplementedError("this build of libminibatchnmf has no nmf_set_allreduce")
        if hook is None:
            check(lib.nmf_set_allreduce(self.ptr, _clib.ALLREDUCE_FN(), None, 0, 0))
        else:
            check(lib.nmf_set_allreduce(self.ptr, hook.callback, None, hook.rank, hook.size))
        self.hook = hook

    def __del__(self):
        ptr = getattr(self, "ptr", None)
        if ptr and _clib is not None and lib is not None:
            lib.nmf_free(ptr)
            self.ptr = None
        self.hook = None

    # -- parameters and fitted state ------------------------------------------
    def params(self):
        p = _clib.NmfParams()
        check(lib.nmf_get_params(self.ptr, C.byref(p)))
        return p

    def set_params(self, params):
        check(lib.nmf_set_params(self.ptr, C.byref(params)))

    def set_random_state(self, rs):
        """Draw the initialisation from numpy RandomState ``rs`` (its state)."""
        _, key, pos, has_gauss, cached = rs.get_state(legacy=True)
        key = np.ascontiguousarray(key, dtype=np.uint32)
        check(
            lib.nmf_set_random_state_mt19937(
                self.ptr, key.ctypes.data_as(C.POINTER(C.c_uint32)), key.size,
                int(pos), bool(has_gauss), float(cached),
            )
        )

    def advance_random_state(self, rs):
        """Put ``rs`` in the state the library's draws left the generator in."""
        key = np.empty(_clib.MT19937_KEY_LEN, dtype=np.uint32)
        pos, has_gauss, cached = C.c_size_t(), C.c_bool(), C.c_double()
        check(
            lib.nmf_get_random_state_mt19937(
                self.ptr, key.ctypes.data_as(C.POINTER(C.c_uint32)), key.size,
                C.byref(pos), C.byref(has_gauss), C.byref(cached),
            )
        )
        rs.set_state(("MT19937", key, pos.value, int(has_gauss.value), cached.value))

    def dtype(self):
        d = C.c_int()
        check(lib.nmf_get_dtype(self.ptr, C.byref(d)))
        return {_clib.DTYPE_F32: np.dtype(np.float32), _clib.DTYPE_F64: np.dtype(np.float64)}.get(d.value)

    def _size(self, fn):
        v = C.c_size_t()
        check(fn(self.ptr, C.byref(v)))
        return int(v.value)

    def n_components(self):
        return self._size(lib.nmf_get_n_components)

    def n_features_in(self):
        return self._size(lib.nmf_get_n_features_in)

    def n_steps(self):
        return self._size(lib.nmf_get_n_steps)

    def fit_info(self):
        info = _clib.NmfFitInfo()
        check(lib.nmf_get_fit_info(self.ptr, C.byref(info)))
        return info

    def components(self):
        dtype = self.dtype()
        h = np.empty((self.n_components(), self.n_features_in()), dtype=dtype)
        check(getattr(lib, "nmf_get_components_" + _SUFFIX[dtype])(self.ptr, _ptr(h), h.size))
        return h

    # -- data calls -------------------------------------------------------------
    def fit(self, x, dtype):
        layout, keep, args = data_args(x, dtype)
        check(getattr(lib, f"nmf_fit_{layout}_{_SUFFIX[np.dtype(dtype)]}")(self.ptr, *args))
        del keep

    def fit_transform(self, x, dtype, k, w_init=None, h_init=None):
        dtype = np.dtype(dtype)
        layout, keep, args = data_args(x, dtype)
        w = np.empty((x.shape[0], k), dtype=dtype)
        init = _init_args(w_init, h_init)
        fn = getattr(lib, f"nmf_fit_transform_{layout}_{_SUFFIX[dtype]}")
        check(fn(self.ptr, *args, *init, _ptr(w), w.size))
        del keep
        return w

    def partial_fit(self, x, dtype, w_init=None, h_init=None):
        dtype = np.dtype(dtype)
        layout, keep, args = data_args(x, dtype)
        init = _init_args(w_init, h_init)
        check(getattr(lib, f"nmf_partial_fit_{layout}_{_SUFFIX[dtype]}")(self.ptr, *args, *init))
        del keep

    def transform(self, x):
        dtype = self.dtype()
        layout, keep, args = data_args(x, dtype)
        w = np.empty((x.shape[0], self.n_components()), dtype=dtype)
        check(getattr(lib, f"nmf_transform_{layout}_{_SUFFIX[dtype]}")(self.ptr, *args, _ptr(w), w.size))
        del keep
        return w

    def inverse_transform(self, w):
        dtype = self.dtype()
        layout, keep, args = data_args(w, dtype)
        x = np.empty((w.shape[0], self.n_features_in()), dtype=dtype)
        fn = getattr(lib, f"nmf_inverse_transform_{layout}_{_SUFFIX[dtype]}")
        check(fn(self.ptr, *args, _ptr(x), x.size))
        del keep
        return x

    def cross_validate_rank(self, x, dtype, ks, test_fraction, n_repeats, seed):
        """Held-out scores of each k in ``ks`` (nmf_cross_validate_rank_*):
        (scores of shape (len(ks), n_repeats), the chosen k). The handle
        supplies every other parameter and is not modified."""
        if not _clib.HAS_CROSS_VALIDATE_RANK:
            raise NotImplementedError(
                "this build of libminibatchnmf has no nmf_cross_validate_rank_* (rank by cross-validation)"
            )
        dtype = np.dtype(dtype)
        layout, keep, args = data_args(x, dtype)
        if layout == "dense":
            if args[3] != 0:  # a row stride: this call takes contiguous rows
                keep = np.ascontiguousarray(keep)
                args = [_ptr(keep), *args[1:3]]
            else:
                args = args[:3]
        ks_arr = np.ascontiguousarray(ks, dtype=np.uintp)
        scores = np.empty((ks_arr.size, int(n_repeats)), dtype=np.float64)
        best = C.c_size_t()
        fn = getattr(lib, f"nmf_cross_validate_rank_{layout}_{_SUFFIX[dtype]}")
        check(
            fn(
                self.ptr, *args,
                ks_arr.ctypes.data_as(C.POINTER(C.c_size_t)), ks_arr.size,
                float(test_fraction), int(n_repeats), int(seed),
                scores.ctypes.data_as(C.POINTER(C.c_double)), C.byref(best),
            )
        )
        del keep
        return scores, int(best.value)

    # -- the saving format (issue 7) --------------------------------------------
    def save(self):
        """The model in the library's saving format, as bytes."""
        if not _clib.HAS_PERSIST:
            raise NotImplementedError(
                "this build of libminibatchnmf has no nmf_save_buffer/nmf_load_buffer "
                "(the saving format); a fitted MiniBatchNMF cannot be pickled with it"
            )
        size = C.c_size_t(0)
        check(lib.nmf_save_buffer(self.ptr, None, 0, C.byref(size)))
        buf = (C.c_uint8 * size.value)()
        check(lib.nmf_save_buffer(self.ptr, buf, size.value, C.byref(size)))
        return bytes(buf[: size.value])

    @classmethod
    def load(cls, data):
        """A model from bytes in the library's saving format."""
        if not _clib.HAS_PERSIST:
            raise NotImplementedError(
                "this build of libminibatchnmf has no nmf_load_buffer (the saving format)"
            )
        data = bytes(data)
        buf = (C.c_uint8 * len(data)).from_buffer_copy(data)
        ptr = C.c_void_p()
        check(lib.nmf_load_buffer(buf, len(data), C.byref(ptr)))
        return cls._adopt(ptr)


    def save_file(self, path):
        """Write the model file ``path`` (nmf_save: atomic, safetensors)."""
        if not hasattr(lib, "nmf_save"):
            raise NotImplementedError("this build of libminibatchnmf has no nmf_save (model files)")
        check(lib.nmf_save(self.ptr, os.fsencode(path)))

    @classmethod
    def load_file(cls, path):
        """A model from the model file ``path`` (nmf_load)."""
        if not hasattr(lib, "nmf_load"):
            raise NotImplementedError("this build of libminibatchnmf has no nmf_load (model files)")
        ptr = C.c_void_p()
        check(lib.nmf_load(os.fsencode(path), C.byref(ptr)))
        return cls._adopt(ptr)


def _init_args(w_init, h_init):
    if w_init is None and h_init is None:
        return [None, None, 0]
    k = h_init.shape[0] if h_init is not None else w_init.shape[1]
    return [
        None if w_init is None else _ptr(w_init),
        None if h_init is None else _ptr(h_init),
        k,
    ]
