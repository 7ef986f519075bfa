//! The data calls in `double` (`_f64`): fit, fit_transform, partial_fit and
//! transform of dense and CSR X, inverse_transform of dense and CSR W, and
//! the components. Each body is one call of a generic function of
//! [`super::handle`]; `data_f32.rs` is the same file in `float` (cbindgen
//! does not expand macros, so the twins are written out; `tests/header.rs`
//! checks that they take the same arguments).

use super::handle::{self, csr_in, dense_in, init_in, out_buf, InitArrays, NmfModel};
use super::status::{guard, NmfStatus};

/// Learn the model from X (scikit-learn's `fit`). The model is replaced on
/// success (a refit may change its dtype).
///
/// X is dense: `x` points to `n_samples` rows of `n_features` `double` values,
/// row-major, row i starting at `x + i * row_stride` (`row_stride >=
/// n_features`; 0 means `n_features`).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_dense_f64(
    model: *mut NmfModel,
    x: *const f64,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::fit(
            model,
            dense_in(x, n_samples, n_features, row_stride),
            InitArrays::none(),
            None,
        )
    })
}

/// Learn the model from X and write W (scikit-learn's `fit_transform`). The
/// model is replaced on success (a refit may change its dtype).
///
/// X is dense: `x` points to `n_samples` rows of `n_features` `double` values,
/// row-major, row i starting at `x + i * row_stride` (`row_stride >=
/// n_features`; 0 means `n_features`).
///
/// `w_init`/`h_init`: custom W (n_samples x init_n_components) and H
/// (init_n_components x n_features), C-contiguous `double`, used when `init ==
/// NMF_INIT_CUSTOM`; pass NULL, NULL, 0 otherwise. They are not modified.
///
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components
/// (NMF_ERR_BUFFER_LENGTH otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_transform_dense_f64(
    model: *mut NmfModel,
    x: *const f64,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
    w_init: *const f64,
    h_init: *const f64,
    init_n_components: usize,
    w_out: *mut f64,
    w_out_len: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::fit(
            model,
            dense_in(x, n_samples, n_features, row_stride),
            init_in(w_init, h_init, init_n_components),
            Some(out_buf(w_out, w_out_len, "w_out")),
        )
    })
}

/// One online step on a chunk of rows (scikit-learn's `partial_fit`).
///
/// X is dense: `x` points to `n_samples` rows of `n_features` `double` values,
/// row-major, row i starting at `x + i * row_stride` (`row_stride >=
/// n_features`; 0 means `n_features`).
///
/// The first call on an unfitted model makes its dtype `double` and may take a
/// custom W (n_samples x init_n_components) and H (init_n_components x
/// n_features), C-contiguous `double`, when `init == NMF_INIT_CUSTOM`; later
/// calls ignore them and must use the model's dtype (NMF_ERR_DTYPE_MISMATCH
/// otherwise). Pass NULL, NULL, 0 for none.
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_partial_fit_dense_f64(
    model: *mut NmfModel,
    x: *const f64,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
    w_init: *const f64,
    h_init: *const f64,
    init_n_components: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::partial_fit(
            model,
            dense_in(x, n_samples, n_features, row_stride),
            init_in(w_init, h_init, init_n_components),
        )
    })
}

/// W for new data with H fixed (scikit-learn's `transform`).
///
/// X is dense: `x` points to `n_samples` rows of `n_features` `double` values,
/// row-major, row i starting at `x + i * row_stride` (`row_stride >=
/// n_features`; 0 means `n_features`).
///
/// The model must have been fitted with `double` data (NMF_ERR_DTYPE_MISMATCH
/// otherwise).
///
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components
/// (NMF_ERR_BUFFER_LENGTH otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_transform_dense_f64(
    model: *const NmfModel,
    x: *const f64,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
    w_out: *mut f64,
    w_out_len: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::transform(
            model,
            dense_in(x, n_samples, n_features, row_stride),
            out_buf(w_out, w_out_len, "w_out"),
        )
    })
}

/// Learn the model from X (scikit-learn's `fit`). The model is replaced on
/// success (a refit may change its dtype).
///
/// X is CSR: `indptr` has `n_samples + 1` entries (`indptr[0] == 0`,
/// non-decreasing, `indptr[n_samples] == nnz`); `indices` (column indices in
/// `[0, n_features)`, any order within a row, no repeats) and `data` (`double`
/// values) have `nnz` entries and may be NULL when `nnz == 0`.
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_csr_f64(
    model: *mut NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f64,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::fit(
            model,
            csr_in(indptr, indices, data, nnz, n_samples, n_features),
            InitArrays::none(),
            None,
        )
    })
}

/// Learn the model from X and write W (scikit-learn's `fit_transform`). The
/// model is replaced on success (a refit may change its dtype).
///
/// X is CSR: `indptr` has `n_samples + 1` entries (`indptr[0] == 0`,
/// non-decreasing, `indptr[n_samples] == nnz`); `indices` (column indices in
/// `[0, n_features)`, any order within a row, no repeats) and `data` (`double`
/// values) have `nnz` entries and may be NULL when `nnz == 0`.
///
/// `w_init`/`h_init`: custom W (n_samples x init_n_components) and H
/// (init_n_components x n_features), C-contiguous `double`, used when `init ==
/// NMF_INIT_CUSTOM`; pass NULL, NULL, 0 otherwise. They are not modified.
///
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components
/// (NMF_ERR_BUFFER_LENGTH otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_transform_csr_f64(
    model: *mut NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f64,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    w_init: *const f64,
    h_init: *const f64,
    init_n_components: usize,
    w_out: *mut f64,
    w_out_len: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::fit(
            model,
            csr_in(indptr, indices, data, nnz, n_samples, n_features),
            init_in(w_init, h_init, init_n_components),
            Some(out_buf(w_out, w_out_len, "w_out")),
        )
    })
}

/// One online step on a chunk of rows (scikit-learn's `partial_fit`).
///
/// X is CSR: `indptr` has `n_samples + 1` entries (`indptr[0] == 0`,
/// non-decreasing, `indptr[n_samples] == nnz`); `indices` (column indices in
/// `[0, n_features)`, any order within a row, no repeats) and `data` (`double`
/// values) have `nnz` entries and may be NULL when `nnz == 0`.
///
/// The first call on an unfitted model makes its dtype `double` and may take a
/// custom W (n_samples x init_n_components) and H (init_n_components x
/// n_features), C-contiguous `double`, when `init == NMF_INIT_CUSTOM`; later
/// calls ignore them and must use the model's dtype (NMF_ERR_DTYPE_MISMATCH
/// otherwise). Pass NULL, NULL, 0 for none.
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_partial_fit_csr_f64(
    model: *mut NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f64,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    w_init: *const f64,
    h_init: *const f64,
    init_n_components: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::partial_fit(
            model,
            csr_in(indptr, indices, data, nnz, n_samples, n_features),
            init_in(w_init, h_init, init_n_components),
        )
    })
}

/// W for new data with H fixed (scikit-learn's `transform`).
///
/// X is CSR: `indptr` has `n_samples + 1` entries (`indptr[0] == 0`,
/// non-decreasing, `indptr[n_samples] == nnz`); `indices` (column indices in
/// `[0, n_features)`, any order within a row, no repeats) and `data` (`double`
/// values) have `nnz` entries and may be NULL when `nnz == 0`.
///
/// The model must have been fitted with `double` data (NMF_ERR_DTYPE_MISMATCH
/// otherwise).
///
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components
/// (NMF_ERR_BUFFER_LENGTH otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_transform_csr_f64(
    model: *const NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f64,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    w_out: *mut f64,
    w_out_len: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::transform(
            model,
            csr_in(indptr, indices, data, nnz, n_samples, n_features),
            out_buf(w_out, w_out_len, "w_out"),
        )
    })
}

/// X = W * H back from W (scikit-learn's `inverse_transform`).
///
/// W is dense: `w` points to `n_samples` rows of `n_components` `double`
/// values, row-major, row i starting at `w + i * row_stride` (`row_stride >=
/// n_components`; 0 means `n_components`).
///
/// The model must have been fitted with `double` data (NMF_ERR_DTYPE_MISMATCH
/// otherwise).
///
/// `x_out` receives X (n_samples x n_features, row-major); `x_out_len` is its
/// length in elements and must be at least n_samples * n_features
/// (NMF_ERR_BUFFER_LENGTH otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_inverse_transform_dense_f64(
    model: *const NmfModel,
    w: *const f64,
    n_samples: usize,
    n_components: usize,
    row_stride: usize,
    x_out: *mut f64,
    x_out_len: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::inverse_transform(
            model,
            dense_in(w, n_samples, n_components, row_stride),
            out_buf(x_out, x_out_len, "x_out"),
        )
    })
}

/// X = W * H back from a CSR W (scikit-learn's `inverse_transform`).
///
/// W is CSR, n_samples x n_components: `indptr` has `n_samples + 1` entries
/// (`indptr[0] == 0`, non-decreasing, `indptr[n_samples] == nnz`); `indices`
/// (column indices in `[0, n_components)`, any order within a row, no repeats)
/// and `data` (`double` values) have `nnz` entries and may be NULL when `nnz ==
/// 0`.
///
/// The model must have been fitted with `double` data (NMF_ERR_DTYPE_MISMATCH
/// otherwise).
///
/// `x_out` receives X (n_samples x n_features, row-major); `x_out_len` is its
/// length in elements and must be at least n_samples * n_features
/// (NMF_ERR_BUFFER_LENGTH otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_inverse_transform_csr_f64(
    model: *const NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f64,
    nnz: usize,
    n_samples: usize,
    n_components: usize,
    x_out: *mut f64,
    x_out_len: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        handle::inverse_transform(
            model,
            csr_in(indptr, indices, data, nnz, n_samples, n_components),
            out_buf(x_out, x_out_len, "x_out"),
        )
    })
}

/// Copy H (scikit-learn's `components_`, n_components x n_features, row-major)
/// into `out`, whose length `out_len` must be at least n_components *
/// n_features (NMF_ERR_BUFFER_LENGTH otherwise).
///
/// The model must have been fitted with `double` data (NMF_ERR_DTYPE_MISMATCH
/// otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; every other pointer is NULL or points to
/// at least as many elements as the sizes passed with it describe, and outputs
/// do not overlap inputs.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_components_f64(
    model: *const NmfModel,
    out: *mut f64,
    out_len: usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe { handle::components(model, out_buf(out, out_len, "out")) })
}
