//! What a fitted model knows: its dtype, sizes, counters, error and the
//! summary of its last fit. Each getter writes one value into `*out`.

use super::handle::{read_into, Est, NmfDtype, NmfModel};
use super::status::{guard, Failure, NmfStatus};
use crate::estimator::{StopReason, Warning};

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

fn not_available(what: &str) -> Failure {
    Failure::new(
        NmfStatus::NMF_ERR_NOT_AVAILABLE,
        format!("{what} is set by fit and fit_transform, not by partial_fit"),
    )
}

/// Whether the model is fitted (by a fit, fit_transform or partial_fit).
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for one value.
#[no_mangle]
pub unsafe extern "C" fn nmf_is_fitted(model: *const NmfModel, out: *mut bool) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe { read_into(model, out, |s| Ok(!matches!(s.est, Est::Unfitted))) })
}

/// The dtype the model was fitted with (`NMF_DTYPE_NONE` if unfitted).
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for one value.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_dtype(model: *const NmfModel, out: *mut NmfDtype) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe { read_into(model, out, |s| Ok(s.est.dtype())) })
}

/// Number of components (scikit-learn's `n_components_`). Fitted models only
/// (`NMF_ERR_NOT_FITTED` otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for one value.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_components(
    model: *const NmfModel,
    out: *mut usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        read_into(model, out, |s| {
            let v = s.est.with_any(|e| e.n_components(), |e| e.n_components())?;
            Ok(v.unwrap_or(0))
        })
    })
}

/// Number of features seen at fit (scikit-learn's `n_features_in_`). Fitted
/// models only (`NMF_ERR_NOT_FITTED` otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for one value.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_features_in(
    model: *const NmfModel,
    out: *mut usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        read_into(model, out, |s| {
            let v = s
                .est
                .with_any(|e| e.n_features_in(), |e| e.n_features_in())?;
            Ok(v.unwrap_or(0))
        })
    })
}

/// Passes over the data of the last fit (scikit-learn's `n_iter_`).
/// `NMF_ERR_NOT_AVAILABLE` if the model was only partial_fit,
/// `NMF_ERR_NOT_FITTED` if it is not fitted.
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for one value.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_iter(model: *const NmfModel, out: *mut usize) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        read_into(model, out, |s| {
            let v = s.est.with_any(|e| e.n_iter(), |e| e.n_iter())?;
            v.ok_or_else(|| not_available("n_iter"))
        })
    })
}

/// Mini-batches processed since the last fit, partial_fit calls included
/// (scikit-learn's `n_steps_`). Fitted models only (`NMF_ERR_NOT_FITTED`
/// otherwise).
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for one value.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_n_steps(model: *const NmfModel, out: *mut usize) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        read_into(model, out, |s| {
            let v = s.est.with_any(|e| e.n_steps(), |e| e.n_steps())?;
            Ok(v.unwrap_or(0))
        })
    })
}

/// Reconstruction error of the last fit (scikit-learn's `reconstruction_err_`).
/// `NMF_ERR_NOT_AVAILABLE` if the model was only partial_fit,
/// `NMF_ERR_NOT_FITTED` if it is not fitted.
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for one value.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_reconstruction_err(
    model: *const NmfModel,
    out: *mut f64,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        read_into(model, out, |s| {
            let v = s
                .est
                .with_any(|e| e.reconstruction_err(), |e| e.reconstruction_err())?;
            v.ok_or_else(|| not_available("reconstruction_err"))
        })
    })
}

/// Summary of the last fit: n_iter, n_steps, error, why it stopped and the
/// warnings scikit-learn would have issued. `NMF_ERR_NOT_AVAILABLE` if the
/// model was only partial_fit, `NMF_ERR_NOT_FITTED` if it is not fitted.
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for an `NmfFitInfo`.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_fit_info(
    model: *const NmfModel,
    out: *mut NmfFitInfo,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe { read_into(model, out, fit_info) })
}

/// The C summary of the model's last fit.
fn fit_info(state: &super::handle::State) -> super::status::FfiResult<NmfFitInfo> {
    let summary = state
        .est
        .with_any(|e| e.last_fit().cloned(), |e| e.last_fit().cloned())?
        .ok_or_else(|| not_available("the fit summary"))?;
    Ok(NmfFitInfo {
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
    })
}
