//! Choosing the number of components by cross-validation on held-out
//! entries: `nmf_cross_validate_rank_{dense,csr}_{f64,f32}`, one call that
//! fits every candidate k in every repeat and fills the caller's score
//! array (the Rust [`crate::cross_validate_rank`]).

#![allow(clippy::missing_safety_doc)] // one contract for all, stated in the header (see cbindgen.toml)

use super::handle::{check_ptr, csr_in, dense_in, model_ref, slice, Matrix, NmfModel};
use super::status::{guard, Failure, FfiResult, NmfStatus};
use crate::float::NmfFloat;
use crate::io::InMemory;
use crate::rank::{check_args, cross_validate_rank, CvOptions};

/// The body of the four exports.
///
/// # Safety
/// As the exports' contract.
#[allow(clippy::too_many_arguments)]
unsafe fn cv_body<F: NmfFloat>(
    model: *const NmfModel,
    x: Matrix<F>,
    ks: *const usize,
    n_ks: usize,
    test_fraction: f64,
    n_repeats: usize,
    seed: u64,
    scores: *mut f64,
    best_k: *mut usize,
) -> FfiResult {
    // SAFETY: the caller passes NULL or a live handle.
    let model = unsafe { model_ref(model)? };
    let invalid = |m: String| Failure::new(NmfStatus::NMF_ERR_INVALID_PARAM, m);
    if n_ks == 0 {
        return Err(invalid(
            "n_ks: no candidate number of components given (n_ks = 0)".into(),
        ));
    }
    if n_repeats == 0 {
        return Err(invalid("n_repeats: must be >= 1, got 0".into()));
    }
    // SAFETY: ks points to n_ks readable values (contract).
    let ks = unsafe { slice(ks, n_ks, "ks")? };
    check_ptr(scores as *const f64, "scores")?;
    check_ptr(best_k as *const usize, "best_k")?;
    let len = n_ks
        .checked_mul(n_repeats)
        .ok_or_else(|| invalid("n_ks * n_repeats overflows".into()))?;
    // SAFETY: x's pointers are as the contract requires.
    let input = unsafe { x.input("x")? };
    let opts = CvOptions {
        test_fraction,
        n_repeats,
        seed,
    };
    check_args(ks, &opts, input.shape())?;
    let params = model.read().params.clone();
    let cv = crate::parallel::install(|| {
        cross_validate_rank(&mut InMemory::new(input), &params, ks, &opts)
    })?;
    // SAFETY: scores is non-NULL and aligned (checked) and has room for
    // n_ks * n_repeats values (contract); best_k is writable.
    unsafe {
        let out = std::slice::from_raw_parts_mut(scores, len);
        for (o, v) in out.iter_mut().zip(cv.scores.iter()) {
            *o = *v;
        }
        best_k.write(cv.best_k);
    }
    Ok(())
}

/// Choose the number of components by cross-validation on held-out
/// entries of dense X (`n_samples` rows of `n_features` `double` values,
/// row-major, contiguous). For each of `n_repeats` repeats, a fraction
/// `test_fraction` (in (0, 1)) of the observed entries is held out (picked
/// by a hash of (`seed`, repeat, row, column)), every candidate `ks[i]`
/// (1 <= k <= min(n_samples, n_features)) is fitted on the rest with the
/// model's parameters (beta_loss, solver, missing, max_iter, …; the model
/// is not modified) and scored on the held-out entries: the mean
/// beta-divergence per held-out entry.
///
/// `scores` (n_ks * n_repeats `double` values) receives the score of
/// `ks[i]` in repeat r at `scores[i * n_repeats + r]`; `*best_k` the chosen
/// k: the smallest candidate whose mean score is within one standard error
/// of the best mean. Bad arguments return NMF_ERR_INVALID_PARAM (n_ks = 0,
/// a k out of range, test_fraction outside (0, 1), n_repeats = 0) or
/// NMF_ERR_NULL_POINTER, with a message naming the argument.
#[no_mangle]
pub unsafe extern "C" fn nmf_cross_validate_rank_dense_f64(
    model: *const NmfModel,
    x: *const f64,
    n_samples: usize,
    n_features: usize,
    ks: *const usize,
    n_ks: usize,
    test_fraction: f64,
    n_repeats: usize,
    seed: u64,
    scores: *mut f64,
    best_k: *mut usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        cv_body(
            model,
            dense_in(x, n_samples, n_features, 0),
            ks,
            n_ks,
            test_fraction,
            n_repeats,
            seed,
            scores,
            best_k,
        )
    })
}

/// `nmf_cross_validate_rank_dense_f64` for CSR X (`indptr` n_samples + 1
/// entries, `indices` and `data` nnz entries). With the model's
/// `missing = "unstored"`, the unstored entries are missing (never held
/// out, never scored); otherwise they are observed zeros.
#[no_mangle]
pub unsafe extern "C" fn nmf_cross_validate_rank_csr_f64(
    model: *const NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f64,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    ks: *const usize,
    n_ks: usize,
    test_fraction: f64,
    n_repeats: usize,
    seed: u64,
    scores: *mut f64,
    best_k: *mut usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        cv_body(
            model,
            csr_in(indptr, indices, data, nnz, n_samples, n_features),
            ks,
            n_ks,
            test_fraction,
            n_repeats,
            seed,
            scores,
            best_k,
        )
    })
}

/// `nmf_cross_validate_rank_dense_f64` for `float` X (fitted in f32; the
/// scores stay `double`).
#[no_mangle]
pub unsafe extern "C" fn nmf_cross_validate_rank_dense_f32(
    model: *const NmfModel,
    x: *const f32,
    n_samples: usize,
    n_features: usize,
    ks: *const usize,
    n_ks: usize,
    test_fraction: f64,
    n_repeats: usize,
    seed: u64,
    scores: *mut f64,
    best_k: *mut usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        cv_body(
            model,
            dense_in(x, n_samples, n_features, 0),
            ks,
            n_ks,
            test_fraction,
            n_repeats,
            seed,
            scores,
            best_k,
        )
    })
}

/// `nmf_cross_validate_rank_csr_f64` for `float` data (fitted in f32; the
/// scores stay `double`).
#[no_mangle]
pub unsafe extern "C" fn nmf_cross_validate_rank_csr_f32(
    model: *const NmfModel,
    indptr: *const usize,
    indices: *const usize,
    data: *const f32,
    nnz: usize,
    n_samples: usize,
    n_features: usize,
    ks: *const usize,
    n_ks: usize,
    test_fraction: f64,
    n_repeats: usize,
    seed: u64,
    scores: *mut f64,
    best_k: *mut usize,
) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe {
        cv_body(
            model,
            csr_in(indptr, indices, data, nnz, n_samples, n_features),
            ks,
            n_ks,
            test_fraction,
            n_repeats,
            seed,
            scores,
            best_k,
        )
    })
}
