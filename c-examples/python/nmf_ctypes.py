"""minibatchnmf's C library from Python through ctypes, side by side with
scikit-learn's MiniBatchNMF on the same data and parameters.

    python nmf_ctypes.py LIB HEADER DATA_DIR [RUST_MODELS_DIR]

LIB is libminibatchnmf.so, HEADER include/minibatchnmf.h (the NmfParams
mirror below is checked against it), DATA_DIR (tests/data/ of the repository)
holds digits.npy (uint8 pixel counts) and the FOLDOC TF-IDF slice
foldoc1000_{indptr,indices,data}.npy. RUST_MODELS_DIR holds models saved by
the Rust library (cargo run --example save_model -- DIR), checked to load
here with the same transform. Needs numpy and safetensors; scipy and
scikit-learn for the comparison. Exits non-zero if any result differs.
"""

import ctypes as C
import os
import re
import sys
import tempfile
import warnings

import numpy as np
import safetensors
import safetensors.numpy

c_size_p = C.POINTER(C.c_size_t)


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
    _fields_ = [
        ("n_iter", C.c_size_t),
        ("n_steps", C.c_size_t),
        ("reconstruction_err", C.c_double),
        ("stop_reason", C.c_int),
        ("convergence_warning", C.c_bool),
        ("ignored_init_warning", C.c_bool),
    ]


# Values of the header's enums used here.
NMF_OK, NMF_ERR_NOT_FITTED, NMF_ERR_DTYPE_MISMATCH, NMF_ERR_NEGATIVE_DATA = 0, 3, 4, 8
NMF_ERR_IO, NMF_ERR_CORRUPT_MODEL, NMF_ERR_UNSUPPORTED_FORMAT = 19, 20, 21
NMF_N_COMPONENTS_FIXED = 2
INIT = {"random": 1, "nndsvd": 2, "nndsvda": 3, "nndsvdar": 4, "custom": 5}


def header_struct_fields(header_text, name):
    body = re.search(r"typedef struct %s \{(.*?)\} %s;" % (name, name), header_text, re.S).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    return re.findall(r"(\w+);", body)


class NmfError(RuntimeError):
    def __init__(self, lib, status):
        self.status = status
        super().__init__("%s: %s" % (lib.nmf_status_str(status).decode(), lib.nmf_last_error().decode()))


class MiniBatchNmf:
    """A thin Python wrapper around an NmfModel handle (float64 data)."""

    def __init__(self, lib, n_components, init, batch_size=1024, max_iter=200, random_state=0, **extra):
        self.lib = lib
        p = lib.nmf_params_default()
        p.n_components_mode = NMF_N_COMPONENTS_FIXED
        p.n_components = n_components
        p.init = INIT[init]
        p.batch_size = batch_size
        p.max_iter = max_iter
        p.random_state_is_none = False
        p.random_state = random_state
        for key, value in extra.items():
            setattr(p, key, value)
        self.handle = C.c_void_p()
        self._ok(lib.nmf_create(C.byref(p), C.byref(self.handle)))
        self.k = n_components

    def __del__(self):
        if getattr(self, "handle", None):
            self.lib.nmf_free(self.handle)

    def _ok(self, status):
        if status != NMF_OK:
            raise NmfError(self.lib, status)

    @staticmethod
    def _dense(x):
        x = np.ascontiguousarray(x, dtype=np.float64)
        return x, x.ctypes.data_as(C.POINTER(C.c_double))

    @staticmethod
    def _csr(x):
        indptr = np.ascontiguousarray(x.indptr, dtype=np.uintp)
        indices = np.ascontiguousarray(x.indices, dtype=np.uintp)
        data = np.ascontiguousarray(x.data, dtype=np.float64)
        keep = (indptr, indices, data)
        args = (
            indptr.ctypes.data_as(c_size_p),
            indices.ctypes.data_as(c_size_p),
            data.ctypes.data_as(C.POINTER(C.c_double)),
            data.size,
            x.shape[0],
            x.shape[1],
        )
        return keep, args

    def fit_transform(self, x):
        n = x.shape[0]
        w = np.empty((n, self.k))
        wp = w.ctypes.data_as(C.POINTER(C.c_double))
        if hasattr(x, "indptr"):
            keep, args = self._csr(x)
            self._ok(self.lib.nmf_fit_transform_csr_f64(self.handle, *args, None, None, 0, wp, w.size))
        else:
            x, xp = self._dense(x)
            self._ok(self.lib.nmf_fit_transform_dense_f64(self.handle, xp, n, x.shape[1], 0, None, None, 0, wp, w.size))
        return w

    def partial_fit(self, x):
        keep, args = self._csr(x)
        self._ok(self.lib.nmf_partial_fit_csr_f64(self.handle, *args, None, None, 0))

    def transform(self, x):
        n = x.shape[0]
        w = np.empty((n, self.k))
        wp = w.ctypes.data_as(C.POINTER(C.c_double))
        if hasattr(x, "indptr"):
            keep, args = self._csr(x)
            self._ok(self.lib.nmf_transform_csr_f64(self.handle, *args, wp, w.size))
        else:
            x, xp = self._dense(x)
            self._ok(self.lib.nmf_transform_dense_f64(self.handle, xp, n, x.shape[1], 0, wp, w.size))
        return w

    def inverse_transform(self, w):
        m = self.n_features_in
        w, wp = self._dense(w)
        x = np.empty((w.shape[0], m))
        self._ok(
            self.lib.nmf_inverse_transform_dense_f64(
                self.handle, wp, w.shape[0], w.shape[1], 0, x.ctypes.data_as(C.POINTER(C.c_double)), x.size
            )
        )
        return x

    def _size(self, fn):
        v = C.c_size_t()
        self._ok(fn(self.handle, C.byref(v)))
        return v.value

    @property
    def n_features_in(self):
        return self._size(self.lib.nmf_get_n_features_in)

    @property
    def n_steps(self):
        return self._size(self.lib.nmf_get_n_steps)

    @property
    def components(self):
        h = np.empty((self.k, self.n_features_in))
        self._ok(self.lib.nmf_get_components_f64(self.handle, h.ctypes.data_as(C.POINTER(C.c_double)), h.size))
        return h

    @property
    def n_components(self):
        return self._size(self.lib.nmf_get_n_components)

    def save(self, path):
        self._ok(self.lib.nmf_save(self.handle, os.fsencode(path)))

    def to_bytes(self):
        n = C.c_size_t()
        self._ok(self.lib.nmf_save_buffer(self.handle, None, 0, C.byref(n)))
        buf = (C.c_uint8 * n.value)()
        self._ok(self.lib.nmf_save_buffer(self.handle, buf, n.value, C.byref(n)))
        return bytes(buf)

    @classmethod
    def _adopt(cls, lib, handle):
        self = cls.__new__(cls)
        self.lib, self.handle = lib, handle
        self.k = self.n_components
        return self

    @classmethod
    def load(cls, lib, path):
        """A model from a file written by nmf_save or by the Rust library."""
        handle = C.c_void_p()
        status = lib.nmf_load(os.fsencode(path), C.byref(handle))
        if status != NMF_OK:
            raise NmfError(lib, status)
        return cls._adopt(lib, handle)

    @classmethod
    def from_bytes(cls, lib, data):
        handle = C.c_void_p()
        buf = (C.c_uint8 * len(data)).from_buffer_copy(data)
        status = lib.nmf_load_buffer(buf, len(data), C.byref(handle))
        if status != NMF_OK:
            raise NmfError(lib, status)
        return cls._adopt(lib, handle)

    @property
    def fit_info(self):
        info = NmfFitInfo()
        self._ok(self.lib.nmf_get_fit_info(self.handle, C.byref(info)))
        return info


def load(lib_path):
    lib = C.CDLL(lib_path)
    dbl_p = C.POINTER(C.c_double)
    sig = {
        "nmf_version": (C.c_char_p, []),
        "nmf_status_str": (C.c_char_p, [C.c_int]),
        "nmf_last_error": (C.c_char_p, []),
        "nmf_params_default": (NmfParams, []),
        "nmf_create": (C.c_int, [C.POINTER(NmfParams), C.POINTER(C.c_void_p)]),
        "nmf_free": (None, [C.c_void_p]),
        "nmf_fit_transform_dense_f64": (
            C.c_int,
            [C.c_void_p, dbl_p, C.c_size_t, C.c_size_t, C.c_size_t, dbl_p, dbl_p, C.c_size_t, dbl_p, C.c_size_t],
        ),
        "nmf_fit_transform_csr_f64": (
            C.c_int,
            [C.c_void_p, c_size_p, c_size_p, dbl_p, C.c_size_t, C.c_size_t, C.c_size_t]
            + [dbl_p, dbl_p, C.c_size_t, dbl_p, C.c_size_t],
        ),
        "nmf_partial_fit_csr_f64": (
            C.c_int,
            [C.c_void_p, c_size_p, c_size_p, dbl_p, C.c_size_t, C.c_size_t, C.c_size_t, dbl_p, dbl_p, C.c_size_t],
        ),
        "nmf_transform_dense_f64": (
            C.c_int,
            [C.c_void_p, dbl_p, C.c_size_t, C.c_size_t, C.c_size_t, dbl_p, C.c_size_t],
        ),
        "nmf_transform_dense_f32": (
            C.c_int,
            [C.c_void_p, C.POINTER(C.c_float), C.c_size_t, C.c_size_t, C.c_size_t, C.POINTER(C.c_float), C.c_size_t],
        ),
        "nmf_transform_csr_f64": (
            C.c_int,
            [C.c_void_p, c_size_p, c_size_p, dbl_p, C.c_size_t, C.c_size_t, C.c_size_t, dbl_p, C.c_size_t],
        ),
        "nmf_inverse_transform_dense_f64": (
            C.c_int,
            [C.c_void_p, dbl_p, C.c_size_t, C.c_size_t, C.c_size_t, dbl_p, C.c_size_t],
        ),
        "nmf_get_components_f64": (C.c_int, [C.c_void_p, dbl_p, C.c_size_t]),
        "nmf_get_n_features_in": (C.c_int, [C.c_void_p, c_size_p]),
        "nmf_get_n_steps": (C.c_int, [C.c_void_p, c_size_p]),
        "nmf_get_fit_info": (C.c_int, [C.c_void_p, C.POINTER(NmfFitInfo)]),
        "nmf_set_num_threads": (C.c_int, [C.c_size_t]),
        "nmf_get_n_components": (C.c_int, [C.c_void_p, c_size_p]),
        "nmf_save": (C.c_int, [C.c_void_p, C.c_char_p]),
        "nmf_load": (C.c_int, [C.c_char_p, C.POINTER(C.c_void_p)]),
        "nmf_save_buffer": (C.c_int, [C.c_void_p, C.POINTER(C.c_uint8), C.c_size_t, c_size_p]),
        "nmf_load_buffer": (C.c_int, [C.POINTER(C.c_uint8), C.c_size_t, C.POINTER(C.c_void_p)]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = restype, argtypes
    return lib


passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAILED:", what, file=sys.stderr)


def close(ours, theirs, rtol, atol):
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    return ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=rtol, atol=atol)


def side_by_side(title, rows):
    print("\n" + title)
    print("  %-22s %22s %22s" % ("", "minibatchnmf (C ABI)", "scikit-learn"))
    for name, ours, theirs in rows:
        print("  %-22s %22s %22s" % (name, ours, theirs))


def main():
    lib_path, header_path, data_dir = sys.argv[1:4]
    rust_dir = sys.argv[4] if len(sys.argv) > 4 else None
    with open(header_path) as f:
        header = f.read()
    check([n for n, _ in NmfParams._fields_] == header_struct_fields(header, "NmfParams"), "NmfParams mirror")
    check([n for n, _ in NmfFitInfo._fields_] == header_struct_fields(header, "NmfFitInfo"), "NmfFitInfo mirror")

    import scipy.sparse as sp
    import sklearn
    from sklearn.decomposition import MiniBatchNMF

    lib = load(lib_path)
    print("minibatchnmf %s via ctypes; scikit-learn %s" % (lib.nmf_version().decode(), sklearn.__version__))
    defaults = lib.nmf_params_default()
    check(
        (defaults.batch_size, defaults.max_iter, defaults.tol, defaults.forget_factor, defaults.alpha_h_is_same)
        == (1024, 200, 1e-4, 0.7, True),
        "default parameters read through the mirror struct",
    )
    lib.nmf_set_num_threads(0)
    rtol, atol = 1e-9, 1e-12
    warnings.simplefilter("ignore")  # ConvergenceWarning of short fits

    # 1. Dense digits, init nndsvda.
    digits = np.load("%s/digits.npy" % data_dir).astype(np.float64)
    kw = dict(n_components=10, init="nndsvda", batch_size=256, random_state=0)
    ours = MiniBatchNmf(lib, max_iter=200, **kw)
    w = ours.fit_transform(digits)
    skl = MiniBatchNMF(max_iter=200, **kw)
    w_ref = skl.fit_transform(digits)
    info = ours.fit_info
    side_by_side(
        "digits 1797 x 64 dense, k=10, init='nndsvda', batch_size=256, random_state=0",
        [
            ("n_iter_", info.n_iter, skl.n_iter_),
            ("n_steps_", info.n_steps, skl.n_steps_),
            ("reconstruction_err_", "%.12g" % info.reconstruction_err, "%.12g" % skl.reconstruction_err_),
            ("max |W - W_sk|", "%.3g" % np.abs(w - w_ref).max(), ""),
            ("max |H - H_sk|", "%.3g" % np.abs(ours.components - skl.components_).max(), ""),
        ],
    )
    check((info.n_iter, info.n_steps) == (skl.n_iter_, skl.n_steps_), "digits: n_iter_, n_steps_")
    check(np.isclose(info.reconstruction_err, skl.reconstruction_err_, rtol=rtol), "digits: reconstruction_err_")
    check(close(w, w_ref, rtol, atol), "digits: W")
    check(close(ours.components, skl.components_, rtol, atol), "digits: H")
    new = digits[:50] * 0.5
    check(close(ours.transform(new), skl.transform(new), rtol, atol), "digits: transform")
    w_small = w_ref[:5]
    check(close(ours.inverse_transform(w_small), skl.inverse_transform(w_small), rtol, atol), "digits: inverse_transform")

    # 2. Sparse FOLDOC TF-IDF (1000 documents), init random.
    part = lambda name: np.load("%s/foldoc1000_%s.npy" % (data_dir, name))
    x = sp.csr_matrix((part("data"), part("indices"), part("indptr")))
    kw = dict(n_components=8, init="random", batch_size=128, random_state=3)
    ours = MiniBatchNmf(lib, max_iter=30, **kw)
    w = ours.fit_transform(x)
    skl = MiniBatchNMF(max_iter=30, **kw)
    w_ref = skl.fit_transform(x)
    info = ours.fit_info
    side_by_side(
        "FOLDOC TF-IDF %d x %d CSR (%d non-zeros), k=8, init='random', random_state=3" % (x.shape + (x.nnz,)),
        [
            ("n_iter_", info.n_iter, skl.n_iter_),
            ("n_steps_", info.n_steps, skl.n_steps_),
            ("reconstruction_err_", "%.12g" % info.reconstruction_err, "%.12g" % skl.reconstruction_err_),
            ("max |W - W_sk|", "%.3g" % np.abs(w - w_ref).max(), ""),
            ("max |H - H_sk|", "%.3g" % np.abs(ours.components - skl.components_).max(), ""),
        ],
    )
    check((info.n_iter, info.n_steps) == (skl.n_iter_, skl.n_steps_), "foldoc: n_iter_, n_steps_")
    check(np.isclose(info.reconstruction_err, skl.reconstruction_err_, rtol=rtol), "foldoc: reconstruction_err_")
    check(close(w, w_ref, rtol, atol), "foldoc: W")
    check(close(ours.components, skl.components_, rtol, atol), "foldoc: H")
    check(close(ours.transform(x[:100]), skl.transform(x[:100]), rtol, atol), "foldoc: transform (CSR)")

    # 3. partial_fit on chunks of the same matrix.
    ours = MiniBatchNmf(lib, **kw)
    skl = MiniBatchNMF(**kw)
    chunk = 250
    for start in range(0, x.shape[0], chunk):
        ours.partial_fit(x[start : start + chunk])
        skl.partial_fit(x[start : start + chunk])
    side_by_side(
        "partial_fit on %d chunks of %d documents" % (-(-x.shape[0] // chunk), chunk),
        [
            ("n_steps_", ours.n_steps, skl.n_steps_),
            ("max |H - H_sk|", "%.3g" % np.abs(ours.components - skl.components_).max(), ""),
        ],
    )
    check(ours.n_steps == skl.n_steps_, "partial_fit: n_steps_")
    check(close(ours.components, skl.components_, rtol, atol), "partial_fit: H")

    # 4. Saving models: save -> load -> transform, and H read with the
    #    safetensors package alone (no minibatchnmf needed to read a model).
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.safetensors")
        ours.save(path)
        loaded = MiniBatchNmf.load(lib, path)
        check(np.array_equal(loaded.transform(x[:100]), ours.transform(x[:100])),
              "saved: the loaded model transforms exactly as the saved one")
        tensors = safetensors.numpy.load_file(path)
        check(sorted(tensors) == ["components", "components_denominator", "components_numerator"],
              "saved: the three tensors")
        check(tensors["components"].dtype == np.float64 and np.array_equal(tensors["components"], ours.components),
              "saved: safetensors.numpy reads H equal to components")
        with safetensors.safe_open(path, "np") as f:
            meta = f.metadata()
        check(meta["format"] == "minibatchnmf" and int(meta["n_steps"]) == ours.n_steps,
              "saved: metadata format and n_steps")
        check(meta["param.batch_size"] == "128" and float(meta["frozen.rho"]) > 0, "saved: parameters in metadata")
        copy = MiniBatchNmf.from_bytes(lib, ours.to_bytes())
        check(np.array_equal(copy.components, ours.components), "saved: bytes round trip")
        damaged = bytearray(ours.to_bytes())
        damaged[-3] ^= 0x40
        try:
            MiniBatchNmf.from_bytes(lib, bytes(damaged))
            check(False, "a damaged model raises")
        except NmfError as e:
            check(e.status == NMF_ERR_CORRUPT_MODEL, "damaged model: NMF_ERR_CORRUPT_MODEL")
            print("\nexpected error:", e)
        try:
            MiniBatchNmf.load(lib, os.path.join(tmp, "missing.safetensors"))
            check(False, "a missing file raises")
        except NmfError as e:
            check(e.status == NMF_ERR_IO, "missing file: NMF_ERR_IO")
        foreign = os.path.join(tmp, "foreign.safetensors")
        safetensors.numpy.save_file({"weight": np.ones((2, 2), np.float32)}, foreign)
        try:
            MiniBatchNmf.load(lib, foreign)
            check(False, "another program's safetensors file raises")
        except NmfError as e:
            check(e.status == NMF_ERR_UNSUPPORTED_FORMAT, "foreign file: NMF_ERR_UNSUPPORTED_FORMAT")
            print("expected error:", e)

    # Models saved by the Rust library (c-examples/rust/save_model.rs) load here
    # and transform exactly as they did in Rust.
    if rust_dir:
        expected = safetensors.numpy.load_file(os.path.join(rust_dir, "rust_expected.safetensors"))
        xr = expected["x"]
        m64 = MiniBatchNmf.load(lib, os.path.join(rust_dir, "rust_model_f64.safetensors"))
        check(np.array_equal(m64.transform(xr), expected["w_f64"]), "Rust-saved f64 model: identical transform")
        h = safetensors.numpy.load_file(os.path.join(rust_dir, "rust_model_f64.safetensors"))["components"]
        check(np.array_equal(h, m64.components), "Rust-saved f64 model: H read by safetensors.numpy")
        m32 = MiniBatchNmf.load(lib, os.path.join(rust_dir, "rust_model_f32.safetensors"))
        x32 = np.ascontiguousarray(xr, dtype=np.float32)
        w32 = np.empty((xr.shape[0], m32.k), dtype=np.float32)
        fp = C.POINTER(C.c_float)
        m32._ok(lib.nmf_transform_dense_f32(m32.handle, x32.ctypes.data_as(fp), x32.shape[0], x32.shape[1], 0,
                                            w32.ctypes.data_as(fp), w32.size))
        check(np.array_equal(w32, expected["w_f32"]), "Rust-saved f32 model: identical transform")
        print("Rust-saved models (f64, f32) load through ctypes with identical transforms")

    # 5. Error statuses seen from Python.
    fresh = MiniBatchNmf(lib, n_components=2, init="random")
    try:
        fresh.transform(digits[:3])
        check(False, "unfitted transform raises")
    except NmfError as e:
        check(e.status == NMF_ERR_NOT_FITTED, "unfitted transform: NMF_ERR_NOT_FITTED")
        print("\nexpected error:", e)
    try:
        fresh.fit_transform(-digits[:10])
        check(False, "negative data raises")
    except NmfError as e:
        check(e.status == NMF_ERR_NEGATIVE_DATA, "negative data: NMF_ERR_NEGATIVE_DATA")
        print("expected error:", e)
    xf = np.ascontiguousarray(digits[:2], dtype=np.float32)
    wf = np.empty((2, 8), dtype=np.float32)
    status = lib.nmf_transform_dense_f32(
        ours.handle, xf.ctypes.data_as(C.POINTER(C.c_float)), 2, 64, 0, wf.ctypes.data_as(C.POINTER(C.c_float)), wf.size
    )
    check(status == NMF_ERR_DTYPE_MISMATCH, "f32 data on an f64 model: NMF_ERR_DTYPE_MISMATCH")

    print("\npython-example: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
