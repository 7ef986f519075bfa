//! The exported functions. Every one runs its body inside
//! [`guard`](super::status::guard) (or [`guard_value`]), so no panic
//! unwinds into the caller.
//!
//! The dtype/layout variants of the data calls are written out one by one
//! (cbindgen reads this file and does not expand macros); each is a
//! one-line call of a generic body in [`super::handle`].

#![allow(clippy::missing_safety_doc)] // one contract for all, stated in the header (see cbindgen.toml)

use super::handle::{self, check_ptr, model_ref, Est, InitArrays, Matrix, NmfDtype, NmfModel, Out};
use super::params::{read_params, to_c, NmfParams, DEFAULT_PARAMS};
use super::status::{
    guard, guard_value, last_error_ptr, status_name, Failure, FfiResult, NmfStatus,
};
use crate::estimator::{StopReason, Warning};
use std::ffi::{c_char, c_int};

/// Why the last fit stopped.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmfStopReason {
    /// max_iter passes over the data were done.
    NMF_STOP_MAX_ITER = 0,
    /// The relative change of H fell to tol or below.
    NMF_STOP_SMALL_H_CHANGE = 1,
    /// max_no_improvement mini-batches did not lower the smoothed cost.
    NMF_STOP_NO_IMPROVEMENT = 2,
    /// A progress observer asked the fit to stop (set from Rust with
    /// `MiniBatchNmf::set_observer`).
    NMF_STOP_INTERRUPTED = 3,
}

/// Summary of the last fit / fit_transform.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NmfFitInfo {
    /// Passes over the data started (scikit-learn's `n_iter_`).
    pub n_iter: usize,
    /// Mini-batches processed by that fit (scikit-learn's `n_steps_` right after it).
    pub n_steps: usize,
    /// sqrt(2 * beta-divergence(X, W H)) (scikit-learn's `reconstruction_err_`).
    pub reconstruction_err: f64,
    /// Why the loop ended.
    pub stop_reason: NmfStopReason,
    /// scikit-learn would have issued a ConvergenceWarning (n_iter == max_iter with tol > 0).
    pub convergence_warning: bool,
    /// W or H were passed while init != NMF_INIT_CUSTOM and were ignored
    /// (scikit-learn's RuntimeWarning).
    pub ignored_init_warning: bool,
}

/// Write `v` through a checked out-pointer.
///
/// # Safety
/// `out` must be NULL or point to writable memory for a `T`.
unsafe fn put<T>(out: *mut T, v: T, what: &str) -> FfiResult {
    check_ptr(out as *const T, what)?;
    out.write(v);
    Ok(())
}

fn not_available(what: &str) -> Failure {
    Failure::new(
        NmfStatus::NMF_ERR_NOT_AVAILABLE,
        format!("{what} is set by fit and fit_transform, not by partial_fit"),
    )
}

// ---------------------------------------------------------------------------
// Library information

/// The library's version, e.g. "0.1.0" (compare with `MINIBATCHNMF_VERSION`
/// to detect a header/library mismatch). Static storage; never NULL.
#[no_mangle]
pub extern "C" fn nmf_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The name of a status code, e.g. "NMF_ERR_NOT_FITTED", or
/// "NMF_UNKNOWN_STATUS" for a number that is not one. Static storage; never NULL.
#[no_mangle]
pub extern "C" fn nmf_status_str(code: c_int) -> *const c_char {
    guard_value(c"NMF_UNKNOWN_STATUS".as_ptr(), || status_name(code))
}

/// The message of the last call that returned an `NmfStatus` on the calling
/// thread: what went wrong, or "" if that call succeeded. The message is
/// thread-local (calls on other threads do not change it). The pointer is
/// valid until the next call into the library on this thread; copy the text
/// to keep it. Never NULL.
#[no_mangle]
pub extern "C" fn nmf_last_error() -> *const c_char {
    guard_value(c"".as_ptr(), last_error_ptr)
}

// ---------------------------------------------------------------------------
// Threads

/// Use `n_threads` threads for the library's parallel work (0 = one per
/// core). Applies to every handle, for calls that start afterwards; BLAS
/// stays single-threaded so the two never oversubscribe the cores.
#[no_mangle]
pub extern "C" fn nmf_set_num_threads(n_threads: usize) -> NmfStatus {
    guard(|| {
        crate::parallel::set_num_threads(n_threads).map_err(|e| {
            Failure::new(
                NmfStatus::NMF_ERR_THREADS,
                format!("cannot build the thread pool: {e}"),
            )
        })
    })
}

/// The number of threads the library's parallel work uses.
#[no_mangle]
pub extern "C" fn nmf_get_num_threads() -> usize {
    guard_value(1, crate::parallel::num_threads)
}

// ---------------------------------------------------------------------------
// Parameters and lifecycle

/// scikit-learn's default parameters. Start from these and set only what you change.
#[no_mangle]
pub extern "C" fn nmf_params_default() -> NmfParams {
    DEFAULT_PARAMS
}

/// Create an unfitted model with the given parameters (checked here).
/// On success `*out` receives the handle, to be released with `nmf_free`;
/// on failure `*out` is set to NULL (when `out` is not NULL).
#[no_mangle]
pub unsafe extern "C" fn nmf_create(
    params: *const NmfParams,
    out: *mut *mut NmfModel,
) -> NmfStatus {
    guard(|| {
        check_ptr(out as *const *mut NmfModel, "out")?;
        out.write(std::ptr::null_mut());
        let p = read_params(params, "params")?;
        let model = NmfModel::new(p)?;
        out.write(Box::into_raw(Box::new(model)));
        Ok(())
    })
}

/// Release a model. NULL is accepted and ignored. The handle must not be in
/// use by another thread, and must not be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn nmf_free(model: *mut NmfModel) {
    guard_value((), || {
        if !model.is_null() {
            drop(Box::from_raw(model));
        }
    })
}

/// Replace the parameters (scikit-learn's `set_params`); they are checked
/// first and an invalid set changes nothing. As in scikit-learn, a fitted
/// model stays fitted; the new parameters apply to later calls (values fixed
/// at the first fit, such as n_components, batch size and beta, stay as they
/// were until the next fit).
#[no_mangle]
pub unsafe extern "C" fn nmf_set_params(
    model: *mut NmfModel,
    params: *const NmfParams,
) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        let p = read_params(params, "params")?;
        let mut state = model.write();
        let p = p.with_extensions_of(&state.params)?;
        p.check()?;
        state.apply_params(p)
    })
}

/// The model's parameters (scikit-learn's `get_params`).
#[no_mangle]
pub unsafe extern "C" fn nmf_get_params(model: *const NmfModel, out: *mut NmfParams) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const NmfParams, "out")?;
        let p = to_c(&model.read().params);
        put(out, p, "out")
    })
}

// ---------------------------------------------------------------------------
// Fitted state

/// Whether the model is fitted (by a fit, fit_transform or partial_fit).
#[no_mangle]
pub unsafe extern "C" fn nmf_is_fitted(model: *const NmfModel, out: *mut bool) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const bool, "out")?;
        let fitted = !matches!(model.read().est, Est::Unfitted);
        put(out, fitted, "out")
    })
}

/// The dtype the model was fitted with (`NMF_DTYPE_NONE` if unfitted).
#[no_mangle]
pub unsafe extern "C" fn nmf_get_dtype(model: *const NmfModel, out: *mut NmfDtype) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const NmfDtype, "out")?;
        let d = model.read().est.dtype();
        put(out, d, "out")
    })
}

/// Number of components (scikit-learn's `n_components_`). Fitted models only.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_components(
    model: *const NmfModel,
    out: *mut usize,
) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const usize, "out")?;
        let v = model
            .read()
            .est
            .with_any(|e| e.n_components(), |e| e.n_components())?;
        put(out, v.unwrap_or(0), "out")
    })
}

/// Number of features seen at fit (scikit-learn's `n_features_in_`). Fitted models only.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_features_in(
    model: *const NmfModel,
    out: *mut usize,
) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const usize, "out")?;
        let v = model
            .read()
            .est
            .with_any(|e| e.n_features_in(), |e| e.n_features_in())?;
        put(out, v.unwrap_or(0), "out")
    })
}

/// Passes over the data of the last fit (scikit-learn's `n_iter_`).
/// `NMF_ERR_NOT_AVAILABLE` if the model was only partial_fit.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_iter(model: *const NmfModel, out: *mut usize) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const usize, "out")?;
        let v = model.read().est.with_any(|e| e.n_iter(), |e| e.n_iter())?;
        put(out, v.ok_or_else(|| not_available("n_iter"))?, "out")
    })
}

/// Mini-batches processed since the last fit, partial_fit calls included
/// (scikit-learn's `n_steps_`). Fitted models only.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_steps(model: *const NmfModel, out: *mut usize) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const usize, "out")?;
        let v = model
            .read()
            .est
            .with_any(|e| e.n_steps(), |e| e.n_steps())?;
        put(out, v.unwrap_or(0), "out")
    })
}

/// Reconstruction error of the last fit (scikit-learn's `reconstruction_err_`).
/// `NMF_ERR_NOT_AVAILABLE` if the model was only partial_fit.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_reconstruction_err(
    model: *const NmfModel,
    out: *mut f64,
) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const f64, "out")?;
        let v = model
            .read()
            .est
            .with_any(|e| e.reconstruction_err(), |e| e.reconstruction_err())?;
        put(
            out,
            v.ok_or_else(|| not_available("reconstruction_err"))?,
            "out",
        )
    })
}

/// Summary of the last fit: n_iter, n_steps, error, why it stopped and the
/// warnings scikit-learn would have issued. `NMF_ERR_NOT_AVAILABLE` if the
/// model was only partial_fit.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_fit_info(
    model: *const NmfModel,
    out: *mut NmfFitInfo,
) -> NmfStatus {
    guard(|| {
        let model = model_ref(model)?;
        check_ptr(out as *const NmfFitInfo, "out")?;
        let summary = model
            .read()
            .est
            .with_any(|e| e.last_fit().cloned(), |e| e.last_fit().cloned())?
            .ok_or_else(|| not_available("the fit summary"))?;
        let info = NmfFitInfo {
            n_iter: summary.n_iter,
            n_steps: summary.n_steps,
            reconstruction_err: summary.reconstruction_err,
            stop_reason: match summary.stop_reason {
                StopReason::MaxIter => NmfStopReason::NMF_STOP_MAX_ITER,
                StopReason::SmallHChange => NmfStopReason::NMF_STOP_SMALL_H_CHANGE,
                StopReason::NoImprovement => NmfStopReason::NMF_STOP_NO_IMPROVEMENT,
                StopReason::Interrupted => NmfStopReason::NMF_STOP_INTERRUPTED,
            },
            convergence_warning: summary
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::Convergence { .. })),
            ignored_init_warning: summary
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::IgnoredInitialGuess)),
        };
        put(out, info, "out")
    })
}

// ---------------------------------------------------------------------------
// Data calls: {fit, fit_transform, partial_fit, transform} x {dense, csr} x
// {f64, f32}, inverse_transform x {dense, csr} x {f64, f32}, components.

/// Learn the model from X (scikit-learn's `fit`).
/// X is dense row-major `double` (see "Dense input" above).
/// The model is replaced on success (a refit may change the dtype).
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_dense_f64(
    model: *mut NmfModel,
    x: *const f64,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
) -> NmfStatus {
    guard(|| {
        handle::fit(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            InitArrays::none(),
            None,
        )
    })
}

/// Learn the model from X and write W (scikit-learn's `fit_transform`).
/// X is dense row-major `double` (see "Dense input" above).
/// `w_init`/`h_init`: custom W (n_samples x init_n_components) and H
/// (init_n_components x n_features), C-contiguous `double`, used when
/// `init == NMF_INIT_CUSTOM`; pass NULL, NULL, 0 otherwise. They are not modified.
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components.
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
    guard(|| {
        handle::fit(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
            Some(Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            }),
        )
    })
}

/// One online step on a chunk of rows (scikit-learn's `partial_fit`).
/// X is dense row-major `double` (see "Dense input" above).
/// The first call on an unfitted model chooses the dtype and may take a
/// custom W (n_samples x init_n_components) and H (init_n_components x
/// n_features) when `init == NMF_INIT_CUSTOM`; later calls ignore them.
/// Pass NULL, NULL, 0 for none.
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
    guard(|| {
        handle::partial_fit(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
        )
    })
}

/// W for new data with H fixed (scikit-learn's `transform`).
/// X is dense row-major `double` (see "Dense input" above).
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` must
/// be at least n_samples * n_components.
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
    guard(|| {
        handle::transform(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            },
        )
    })
}

/// Learn the model from X (scikit-learn's `fit`).
/// X is CSR with `double` values (see "CSR input" above).
/// The model is replaced on success (a refit may change the dtype).
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
    guard(|| {
        handle::fit(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            InitArrays::none(),
            None,
        )
    })
}

/// Learn the model from X and write W (scikit-learn's `fit_transform`).
/// X is CSR with `double` values (see "CSR input" above).
/// `w_init`/`h_init`: custom W (n_samples x init_n_components) and H
/// (init_n_components x n_features), C-contiguous `double`, used when
/// `init == NMF_INIT_CUSTOM`; pass NULL, NULL, 0 otherwise. They are not modified.
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components.
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
    guard(|| {
        handle::fit(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
            Some(Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            }),
        )
    })
}

/// One online step on a chunk of rows (scikit-learn's `partial_fit`).
/// X is CSR with `double` values (see "CSR input" above).
/// The first call on an unfitted model chooses the dtype and may take a
/// custom W (n_samples x init_n_components) and H (init_n_components x
/// n_features) when `init == NMF_INIT_CUSTOM`; later calls ignore them.
/// Pass NULL, NULL, 0 for none.
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
    guard(|| {
        handle::partial_fit(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
        )
    })
}

/// W for new data with H fixed (scikit-learn's `transform`).
/// X is CSR with `double` values (see "CSR input" above).
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` must
/// be at least n_samples * n_components.
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
    guard(|| {
        handle::transform(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            },
        )
    })
}

/// X = W * H back from W (scikit-learn's `inverse_transform`). W is dense
/// row-major `double`, n_samples x n_components, rows `row_stride` elements
/// apart (0 = n_components). `x_out` receives X (n_samples x n_features,
/// row-major); `x_out_len` must be at least n_samples * n_features.
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
    guard(|| {
        handle::inverse_transform(
            model,
            Matrix::Dense {
                ptr: w,
                n_rows: n_samples,
                n_cols: n_components,
                row_stride,
            },
            Out {
                ptr: x_out,
                len: x_out_len,
                what: "x_out",
            },
        )
    })
}

/// `inverse_transform` of a CSR W (n_samples x n_components, `double` values).
/// `x_out` receives X (n_samples x n_features, row-major); `x_out_len` must be
/// at least n_samples * n_features.
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
    guard(|| {
        handle::inverse_transform(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_components,
            },
            Out {
                ptr: x_out,
                len: x_out_len,
                what: "x_out",
            },
        )
    })
}

/// Copy H (scikit-learn's `components_`, n_components x n_features,
/// row-major) into `out`, whose length `out_len` must be at least
/// n_components * n_features. The model must have been fitted with `double` data.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_components_f64(
    model: *const NmfModel,
    out: *mut f64,
    out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::components(
            model,
            Out {
                ptr: out,
                len: out_len,
                what: "out",
            },
        )
    })
}

/// Learn the model from X (scikit-learn's `fit`).
/// X is dense row-major `float` (see "Dense input" above).
/// The model is replaced on success (a refit may change the dtype).
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_dense_f32(
    model: *mut NmfModel,
    x: *const f32,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
) -> NmfStatus {
    guard(|| {
        handle::fit(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            InitArrays::none(),
            None,
        )
    })
}

/// Learn the model from X and write W (scikit-learn's `fit_transform`).
/// X is dense row-major `float` (see "Dense input" above).
/// `w_init`/`h_init`: custom W (n_samples x init_n_components) and H
/// (init_n_components x n_features), C-contiguous `float`, used when
/// `init == NMF_INIT_CUSTOM`; pass NULL, NULL, 0 otherwise. They are not modified.
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components.
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_transform_dense_f32(
    model: *mut NmfModel,
    x: *const f32,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
    w_init: *const f32,
    h_init: *const f32,
    init_n_components: usize,
    w_out: *mut f32,
    w_out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::fit(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
            Some(Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            }),
        )
    })
}

/// One online step on a chunk of rows (scikit-learn's `partial_fit`).
/// X is dense row-major `float` (see "Dense input" above).
/// The first call on an unfitted model chooses the dtype and may take a
/// custom W (n_samples x init_n_components) and H (init_n_components x
/// n_features) when `init == NMF_INIT_CUSTOM`; later calls ignore them.
/// Pass NULL, NULL, 0 for none.
#[no_mangle]
pub unsafe extern "C" fn nmf_partial_fit_dense_f32(
    model: *mut NmfModel,
    x: *const f32,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
    w_init: *const f32,
    h_init: *const f32,
    init_n_components: usize,
) -> NmfStatus {
    guard(|| {
        handle::partial_fit(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
        )
    })
}

/// W for new data with H fixed (scikit-learn's `transform`).
/// X is dense row-major `float` (see "Dense input" above).
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` must
/// be at least n_samples * n_components.
#[no_mangle]
pub unsafe extern "C" fn nmf_transform_dense_f32(
    model: *const NmfModel,
    x: *const f32,
    n_samples: usize,
    n_features: usize,
    row_stride: usize,
    w_out: *mut f32,
    w_out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::transform(
            model,
            Matrix::Dense {
                ptr: x,
                n_rows: n_samples,
                n_cols: n_features,
                row_stride,
            },
            Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            },
        )
    })
}

/// Learn the model from X (scikit-learn's `fit`).
/// X is CSR with `float` values (see "CSR input" above).
/// The model is replaced on success (a refit may change the dtype).
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_csr_f32(
    model: *mut NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f32,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
) -> NmfStatus {
    guard(|| {
        handle::fit(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            InitArrays::none(),
            None,
        )
    })
}

/// Learn the model from X and write W (scikit-learn's `fit_transform`).
/// X is CSR with `float` values (see "CSR input" above).
/// `w_init`/`h_init`: custom W (n_samples x init_n_components) and H
/// (init_n_components x n_features), C-contiguous `float`, used when
/// `init == NMF_INIT_CUSTOM`; pass NULL, NULL, 0 otherwise. They are not modified.
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` is its
/// length in elements and must be at least n_samples * n_components.
#[no_mangle]
pub unsafe extern "C" fn nmf_fit_transform_csr_f32(
    model: *mut NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f32,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    w_init: *const f32,
    h_init: *const f32,
    init_n_components: usize,
    w_out: *mut f32,
    w_out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::fit(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
            Some(Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            }),
        )
    })
}

/// One online step on a chunk of rows (scikit-learn's `partial_fit`).
/// X is CSR with `float` values (see "CSR input" above).
/// The first call on an unfitted model chooses the dtype and may take a
/// custom W (n_samples x init_n_components) and H (init_n_components x
/// n_features) when `init == NMF_INIT_CUSTOM`; later calls ignore them.
/// Pass NULL, NULL, 0 for none.
#[no_mangle]
pub unsafe extern "C" fn nmf_partial_fit_csr_f32(
    model: *mut NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f32,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    w_init: *const f32,
    h_init: *const f32,
    init_n_components: usize,
) -> NmfStatus {
    guard(|| {
        handle::partial_fit(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            InitArrays {
                w: w_init,
                h: h_init,
                n_components: init_n_components,
            },
        )
    })
}

/// W for new data with H fixed (scikit-learn's `transform`).
/// X is CSR with `float` values (see "CSR input" above).
/// `w_out` receives W (n_samples x n_components, row-major); `w_out_len` must
/// be at least n_samples * n_components.
#[no_mangle]
pub unsafe extern "C" fn nmf_transform_csr_f32(
    model: *const NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f32,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    w_out: *mut f32,
    w_out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::transform(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_features,
            },
            Out {
                ptr: w_out,
                len: w_out_len,
                what: "w_out",
            },
        )
    })
}

/// X = W * H back from W (scikit-learn's `inverse_transform`). W is dense
/// row-major `float`, n_samples x n_components, rows `row_stride` elements
/// apart (0 = n_components). `x_out` receives X (n_samples x n_features,
/// row-major); `x_out_len` must be at least n_samples * n_features.
#[no_mangle]
pub unsafe extern "C" fn nmf_inverse_transform_dense_f32(
    model: *const NmfModel,
    w: *const f32,
    n_samples: usize,
    n_components: usize,
    row_stride: usize,
    x_out: *mut f32,
    x_out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::inverse_transform(
            model,
            Matrix::Dense {
                ptr: w,
                n_rows: n_samples,
                n_cols: n_components,
                row_stride,
            },
            Out {
                ptr: x_out,
                len: x_out_len,
                what: "x_out",
            },
        )
    })
}

/// `inverse_transform` of a CSR W (n_samples x n_components, `float` values).
/// `x_out` receives X (n_samples x n_features, row-major); `x_out_len` must be
/// at least n_samples * n_features.
#[no_mangle]
pub unsafe extern "C" fn nmf_inverse_transform_csr_f32(
    model: *const NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f32,
    nnz: usize,
    n_samples: usize,
    n_components: usize,
    x_out: *mut f32,
    x_out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::inverse_transform(
            model,
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows: n_samples,
                n_cols: n_components,
            },
            Out {
                ptr: x_out,
                len: x_out_len,
                what: "x_out",
            },
        )
    })
}

/// Copy H (scikit-learn's `components_`, n_components x n_features,
/// row-major) into `out`, whose length `out_len` must be at least
/// n_components * n_features. The model must have been fitted with `float` data.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_components_f32(
    model: *const NmfModel,
    out: *mut f32,
    out_len: usize,
) -> NmfStatus {
    guard(|| {
        handle::components(
            model,
            Out {
                ptr: out,
                len: out_len,
                what: "out",
            },
        )
    })
}
