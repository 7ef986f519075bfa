//! Unit tests of the C ABI, calling the exports as a C caller would.
// Every call below passes live handles and buffers of the stated lengths, or
// NULL / bad values on purpose (what the test is about); one comment here
// instead of one per call.
#![allow(clippy::undocumented_unsafe_blocks)]

use super::handle::{NmfDtype, NmfModel};
use super::params::{read_params, to_c, NmfInit, NmfNComponentsMode, NmfParams, DEFAULT_PARAMS};
use super::status::{guard, NmfStatus, ALL_STATUSES};
use super::*;
use crate::params::MiniBatchNmfParams;
use std::ffi::{c_int, CStr};
use std::ptr::{null, null_mut};
use NmfStatus::*;

fn last_error() -> String {
    unsafe { CStr::from_ptr(nmf_last_error()) }
        .to_str()
        .unwrap()
        .to_string()
}

fn params(k: usize) -> NmfParams {
    let mut p = nmf_params_default();
    p.n_components_mode = NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
    p.n_components = k;
    p.init = NmfInit::NMF_INIT_RANDOM;
    p.random_state_is_none = false;
    p.random_state = 0;
    p.max_iter = 50;
    p
}

fn create(p: &NmfParams) -> *mut NmfModel {
    let mut m = null_mut();
    assert_eq!(unsafe { nmf_create(p, &mut m) }, NMF_OK, "{}", last_error());
    assert!(!m.is_null());
    m
}

/// A small non-negative 12 x 5 matrix, row-major.
fn data() -> (Vec<f64>, usize, usize) {
    let (n, m) = (12, 5);
    let x = (0..n * m)
        .map(|i| ((i * 7 + 3) % 11) as f64 / 3.0)
        .collect();
    (x, n, m)
}

fn fitted_f64(k: usize) -> *mut NmfModel {
    let model = create(&params(k));
    let (x, n, m) = data();
    assert_eq!(
        unsafe { nmf_fit_dense_f64(model, x.as_ptr(), n, m, 0) },
        NMF_OK,
        "{}",
        last_error()
    );
    model
}

#[test]
fn status_numbers_are_fixed_and_named() {
    let expected: [(NmfStatus, c_int); 25] = [
        (NMF_OK, 0),
        (NMF_ERR_NULL_POINTER, 1),
        (NMF_ERR_BUFFER_LENGTH, 2),
        (NMF_ERR_NOT_FITTED, 3),
        (NMF_ERR_DTYPE_MISMATCH, 4),
        (NMF_ERR_INVALID_PARAM, 5),
        (NMF_ERR_INVALID_ARGUMENT, 6),
        (NMF_ERR_EMPTY_DATA, 7),
        (NMF_ERR_NEGATIVE_DATA, 8),
        (NMF_ERR_NON_FINITE_DATA, 9),
        (NMF_ERR_ZEROS_WITH_NONPOSITIVE_BETA, 10),
        (NMF_ERR_INVALID_CSR, 11),
        (NMF_ERR_SHAPE, 12),
        (NMF_ERR_FEATURE_MISMATCH, 13),
        (NMF_ERR_INIT, 14),
        (NMF_ERR_LINALG, 15),
        (NMF_ERR_NOT_AVAILABLE, 16),
        (NMF_ERR_THREADS, 17),
        (NMF_ERR_DIVERGED, 18),
        (NMF_ERR_IO, 19),
        (NMF_ERR_CORRUPT_MODEL, 20),
        (NMF_ERR_UNSUPPORTED_FORMAT, 21),
        (NMF_ERR_REDUCE, 23),
        (NMF_ERR_OUT_OF_MEMORY, 25),
        (NMF_ERR_PANIC, 99),
    ];
    assert_eq!(ALL_STATUSES.len(), expected.len());
    for (s, n) in expected {
        assert_eq!(s as c_int, n);
        let name = unsafe { CStr::from_ptr(nmf_status_str(n)) }
            .to_str()
            .unwrap();
        assert_eq!(name, format!("{s:?}"));
    }
    for unknown in [-1, 22, 24, 26, 98, 100, c_int::MAX, c_int::MIN] {
        let name = unsafe { CStr::from_ptr(nmf_status_str(unknown)) };
        assert_eq!(name.to_str().unwrap(), "NMF_UNKNOWN_STATUS");
    }
}

#[test]
fn version_matches_crate() {
    let v = unsafe { CStr::from_ptr(nmf_version()) }.to_str().unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
}

#[test]
fn default_params_are_sklearn_defaults() {
    assert_eq!(nmf_params_default(), to_c(&MiniBatchNmfParams::default()));
    assert_eq!(nmf_params_default(), DEFAULT_PARAMS);
    let back = unsafe { read_params(&DEFAULT_PARAMS, "params") }.unwrap();
    assert_eq!(back, MiniBatchNmfParams::default());
}

#[test]
fn params_round_trip_through_c() {
    let mut p = nmf_params_default();
    p.n_components_mode = NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
    p.n_components = 7;
    p.init = NmfInit::NMF_INIT_NNDSVDAR;
    p.batch_size = 33;
    p.beta_loss = 1.5;
    p.tol = 0.0;
    p.max_no_improvement_is_none = true;
    p.max_iter = 9;
    p.alpha_w = 0.25;
    p.alpha_h = 0.5;
    p.alpha_h_is_same = false;
    p.l1_ratio = 0.3;
    p.forget_factor = 0.0;
    p.fresh_restarts = true;
    p.fresh_restarts_max_iter = 4;
    p.transform_max_iter = 11;
    p.transform_max_iter_is_none = false;
    p.random_state = 4_000_000_000;
    p.random_state_is_none = false;
    p.verbose = false;
    let model = create(&p);
    let mut back = nmf_params_default();
    assert_eq!(unsafe { nmf_get_params(model, &mut back) }, NMF_OK);
    // Numeric fields next to a "none" flag read back as 0.
    p.max_no_improvement = 0;
    assert_eq!(back, p);
    let rust = unsafe { read_params(&p, "params") }.unwrap();
    assert_eq!(rust.get_param("beta_loss").unwrap(), "1.5");
    assert_eq!(rust.get_param("alpha_H").unwrap(), "0.5");
    assert_eq!(rust.get_param("max_no_improvement").unwrap(), "None");
    assert_eq!(rust.get_param("random_state").unwrap(), "4000000000");
    // beta 1 reads back as kullback-leibler.
    p.beta_loss = 1.0;
    assert_eq!(
        unsafe { read_params(&p, "params") }
            .unwrap()
            .get_param("beta_loss")
            .unwrap(),
        "kullback-leibler"
    );
    unsafe { nmf_free(model) };
}

#[test]
fn garbage_enums_and_bools_are_reported_not_trusted() {
    // Write raw integers where the enums and bools live, as a foreign caller could.
    let base = nmf_params_default();
    let mut p = base;
    unsafe {
        let at = std::ptr::addr_of_mut!(p.init).cast::<c_int>();
        at.write(17);
    }
    let mut m = null_mut();
    assert_eq!(unsafe { nmf_create(&p, &mut m) }, NMF_ERR_INVALID_PARAM);
    assert!(m.is_null());
    assert!(last_error().contains("init"), "{}", last_error());

    let mut p = base;
    unsafe {
        std::ptr::addr_of_mut!(p.n_components_mode)
            .cast::<c_int>()
            .write(-3)
    };
    assert_eq!(unsafe { nmf_create(&p, &mut m) }, NMF_ERR_INVALID_PARAM);

    let mut p = base;
    unsafe { std::ptr::addr_of_mut!(p.verbose).cast::<u8>().write(2) };
    assert_eq!(unsafe { nmf_create(&p, &mut m) }, NMF_ERR_INVALID_PARAM);
    assert!(last_error().contains("verbose"), "{}", last_error());
}

#[test]
fn create_checks_params_and_pointers() {
    let mut m = null_mut();
    assert_eq!(unsafe { nmf_create(null(), &mut m) }, NMF_ERR_NULL_POINTER);
    assert!(last_error().contains("params is NULL"), "{}", last_error());
    let p = nmf_params_default();
    assert_eq!(unsafe { nmf_create(&p, null_mut()) }, NMF_ERR_NULL_POINTER);
    for bad in [
        NmfParams { batch_size: 0, ..p },
        NmfParams { max_iter: 0, ..p },
        NmfParams { l1_ratio: 1.5, ..p },
        NmfParams {
            forget_factor: -0.1,
            ..p
        },
        NmfParams {
            beta_loss: f64::NAN,
            ..p
        },
        NmfParams { tol: -1.0, ..p },
        NmfParams {
            n_components_mode: NmfNComponentsMode::NMF_N_COMPONENTS_FIXED,
            n_components: 0,
            ..p
        },
        NmfParams {
            alpha_h_is_same: false,
            alpha_h: -2.0,
            ..p
        },
        NmfParams {
            transform_max_iter_is_none: false,
            transform_max_iter: 0,
            ..p
        },
    ] {
        m = 1 as *mut NmfModel; // must be reset to NULL on failure
        assert_eq!(
            unsafe { nmf_create(&bad, &mut m) },
            NMF_ERR_INVALID_PARAM,
            "{bad:?}"
        );
        assert!(m.is_null());
        assert!(
            last_error().starts_with("invalid parameter"),
            "{}",
            last_error()
        );
    }
    // A success clears the message.
    let model = create(&p);
    assert_eq!(last_error(), "");
    // set_params checks too and changes nothing on failure.
    let bad = NmfParams { batch_size: 0, ..p };
    assert_eq!(
        unsafe { nmf_set_params(model, &bad) },
        NMF_ERR_INVALID_PARAM
    );
    let mut back = nmf_params_default();
    assert_eq!(unsafe { nmf_get_params(model, &mut back) }, NMF_OK);
    assert_eq!(back.batch_size, 1024);
    let good = NmfParams { batch_size: 5, ..p };
    assert_eq!(unsafe { nmf_set_params(model, &good) }, NMF_OK);
    assert_eq!(unsafe { nmf_get_params(model, &mut back) }, NMF_OK);
    assert_eq!(back.batch_size, 5);
    unsafe { nmf_free(model) };
    unsafe { nmf_free(null_mut()) };
}

#[test]
fn null_pointers_are_reported() {
    let (x, n, m) = data();
    let mut w = vec![0.0; n * 2];
    let model = create(&params(2));
    unsafe {
        assert_eq!(
            nmf_fit_dense_f64(null_mut(), x.as_ptr(), n, m, 0),
            NMF_ERR_NULL_POINTER
        );
        assert!(last_error().contains("model is NULL"));
        assert_eq!(
            nmf_fit_dense_f64(model, null(), n, m, 0),
            NMF_ERR_NULL_POINTER
        );
        assert!(last_error().contains("x is NULL"));
        assert_eq!(
            nmf_fit_transform_dense_f64(
                model,
                x.as_ptr(),
                n,
                m,
                0,
                null(),
                null(),
                0,
                null_mut(),
                0
            ),
            NMF_ERR_NULL_POINTER
        );
        assert_eq!(
            nmf_transform_dense_f64(null(), x.as_ptr(), n, m, 0, w.as_mut_ptr(), w.len()),
            NMF_ERR_NULL_POINTER
        );
        assert_eq!(
            nmf_fit_csr_f32(model, null(), null(), null(), 0, 3, 3),
            NMF_ERR_NULL_POINTER
        );
        assert!(last_error().contains("indptr"), "{}", last_error());
        let indptr = [0usize, 1];
        assert_eq!(
            nmf_fit_csr_f64(model, indptr.as_ptr(), null(), null(), 1, 1, 3),
            NMF_ERR_NULL_POINTER
        );
        assert!(last_error().contains("indices"), "{}", last_error());
        assert_eq!(
            nmf_partial_fit_dense_f32(null_mut(), null(), 1, 1, 0, null(), null(), 0),
            NMF_ERR_NULL_POINTER
        );
        assert_eq!(
            nmf_inverse_transform_dense_f64(model, null(), 1, 2, 0, w.as_mut_ptr(), w.len()),
            NMF_ERR_NULL_POINTER
        );
        assert_eq!(
            nmf_get_components_f64(model, null_mut(), 10),
            NMF_ERR_NULL_POINTER
        );
        let mut k = 0usize;
        assert_eq!(nmf_get_n_components(null(), &mut k), NMF_ERR_NULL_POINTER);
        assert_eq!(
            nmf_get_n_components(model, null_mut()),
            NMF_ERR_NULL_POINTER
        );
        assert_eq!(nmf_is_fitted(model, null_mut()), NMF_ERR_NULL_POINTER);
        assert_eq!(nmf_get_params(model, null_mut()), NMF_ERR_NULL_POINTER);
        assert_eq!(nmf_set_params(model, null()), NMF_ERR_NULL_POINTER);
        let mut fitted = true;
        assert_eq!(nmf_is_fitted(model, &mut fitted), NMF_OK);
        assert!(!fitted, "failed calls must leave the model unfitted");
        nmf_free(model);
    }
}

#[test]
fn unfitted_model_is_reported() {
    let (x, n, m) = data();
    let model = create(&params(2));
    let mut w = vec![0.0; n * 2];
    let mut v = 0usize;
    let mut e = 0.0;
    let mut info = std::mem::MaybeUninit::<NmfFitInfo>::uninit();
    let mut dtype = NmfDtype::NMF_DTYPE_F64;
    unsafe {
        assert_eq!(
            nmf_transform_dense_f64(model, x.as_ptr(), n, m, 0, w.as_mut_ptr(), w.len()),
            NMF_ERR_NOT_FITTED
        );
        assert!(last_error().contains("not fitted"), "{}", last_error());
        assert_eq!(
            nmf_inverse_transform_dense_f64(model, w.as_ptr(), n, 2, 0, w.as_mut_ptr(), w.len()),
            NMF_ERR_NOT_FITTED
        );
        assert_eq!(
            nmf_get_components_f64(model, w.as_mut_ptr(), w.len()),
            NMF_ERR_NOT_FITTED
        );
        assert_eq!(nmf_get_n_components(model, &mut v), NMF_ERR_NOT_FITTED);
        assert_eq!(nmf_get_n_features_in(model, &mut v), NMF_ERR_NOT_FITTED);
        assert_eq!(nmf_get_n_iter(model, &mut v), NMF_ERR_NOT_FITTED);
        assert_eq!(nmf_get_n_steps(model, &mut v), NMF_ERR_NOT_FITTED);
        assert_eq!(
            nmf_get_reconstruction_err(model, &mut e),
            NMF_ERR_NOT_FITTED
        );
        assert_eq!(
            nmf_get_fit_info(model, info.as_mut_ptr()),
            NMF_ERR_NOT_FITTED
        );
        assert_eq!(nmf_get_dtype(model, &mut dtype), NMF_OK);
        assert_eq!(dtype, NmfDtype::NMF_DTYPE_NONE);
        nmf_free(model);
    }
}

#[test]
fn bad_arguments_are_reported_before_any_work() {
    let (x, n, m) = data();
    let model = create(&params(3));
    let mut w = vec![0.0; n * 3];
    unsafe {
        // Output buffer one element short: checked before fitting.
        assert_eq!(
            nmf_fit_transform_dense_f64(
                model,
                x.as_ptr(),
                n,
                m,
                0,
                null(),
                null(),
                0,
                w.as_mut_ptr(),
                n * 3 - 1
            ),
            NMF_ERR_BUFFER_LENGTH
        );
        assert!(
            last_error().contains("w_out has length 35"),
            "{}",
            last_error()
        );
        // Row stride shorter than a row.
        assert_eq!(
            nmf_fit_dense_f64(model, x.as_ptr(), n, m, m - 1),
            NMF_ERR_INVALID_ARGUMENT
        );
        assert!(last_error().contains("row_stride"), "{}", last_error());
        // Sizes that overflow.
        assert_eq!(
            nmf_fit_dense_f64(model, x.as_ptr(), usize::MAX, 2, 0),
            NMF_ERR_INVALID_ARGUMENT
        );
        // Misaligned data.
        let bytes = x.as_ptr().cast::<u8>().wrapping_add(1).cast::<f64>();
        assert_eq!(
            nmf_fit_dense_f64(model, bytes, 1, 1, 0),
            NMF_ERR_INVALID_ARGUMENT
        );
        // Custom init arrays without their size.
        assert_eq!(
            nmf_fit_transform_dense_f64(
                model,
                x.as_ptr(),
                n,
                m,
                0,
                x.as_ptr(),
                x.as_ptr(),
                0,
                w.as_mut_ptr(),
                w.len()
            ),
            NMF_ERR_INVALID_ARGUMENT
        );
        // Malformed CSR: column out of range, indptr not ending at nnz, duplicates.
        let (indptr, indices, vals) = ([0usize, 2, 3], [0usize, 5, 1], [1.0, 2.0, 3.0]);
        assert_eq!(
            nmf_fit_csr_f64(
                model,
                indptr.as_ptr(),
                indices.as_ptr(),
                vals.as_ptr(),
                3,
                2,
                3
            ),
            NMF_ERR_INVALID_CSR
        );
        assert!(last_error().contains("out of range"), "{}", last_error());
        assert_eq!(
            nmf_fit_csr_f64(
                model,
                indptr.as_ptr(),
                indices.as_ptr(),
                vals.as_ptr(),
                2,
                2,
                6
            ),
            NMF_ERR_INVALID_CSR
        );
        let dup = [0usize, 0, 1];
        assert_eq!(
            nmf_fit_csr_f64(model, indptr.as_ptr(), dup.as_ptr(), vals.as_ptr(), 3, 2, 3),
            NMF_ERR_INVALID_CSR
        );
        // Negative, non-finite, empty data: checked before initialisation.
        let mut neg = x.clone();
        neg[7] = -1.0;
        assert_eq!(
            nmf_fit_dense_f64(model, neg.as_ptr(), n, m, 0),
            NMF_ERR_NEGATIVE_DATA
        );
        assert!(last_error().contains("negative"), "{}", last_error());
        let mut nan = x.clone();
        nan[3] = f64::NAN;
        assert_eq!(
            nmf_fit_dense_f64(model, nan.as_ptr(), n, m, 0),
            NMF_ERR_NON_FINITE_DATA
        );
        assert_eq!(
            nmf_fit_dense_f64(model, x.as_ptr(), 0, m, 0),
            NMF_ERR_EMPTY_DATA
        );
        let mut fitted = true;
        assert_eq!(nmf_is_fitted(model, &mut fitted), NMF_OK);
        assert!(!fitted);
        nmf_free(model);
    }
}

#[test]
fn zeros_with_nonpositive_beta_are_reported() {
    let mut p = params(2);
    p.beta_loss = 0.0;
    let model = create(&p);
    let (x, n, m) = data(); // contains zeros
    assert_eq!(
        unsafe { nmf_fit_dense_f64(model, x.as_ptr(), n, m, 0) },
        NMF_ERR_ZEROS_WITH_NONPOSITIVE_BETA
    );
    unsafe { nmf_free(model) };
}

#[test]
fn panics_become_a_status_and_leave_the_model_usable() {
    let status = guard(|| panic!("boom {}", 42));
    assert_eq!(status, NMF_ERR_PANIC);
    assert!(last_error().contains("boom 42"), "{}", last_error());
    let status = guard(|| std::panic::panic_any(17u8));
    assert_eq!(status, NMF_ERR_PANIC);

    // A panic while the handle's lock is held poisons it; the handle still works.
    let model = create(&params(2));
    let m_ref = unsafe { &*model };
    let status = guard(|| {
        let _state = m_ref.write();
        panic!("while locked")
    });
    assert_eq!(status, NMF_ERR_PANIC);
    let mut back = nmf_params_default();
    assert_eq!(unsafe { nmf_get_params(model, &mut back) }, NMF_OK);
    assert_eq!(back.n_components, 2);
    unsafe { nmf_free(model) };
}

#[test]
fn last_error_is_per_thread() {
    let status = unsafe { nmf_fit_dense_f64(null_mut(), null(), 1, 1, 0) };
    assert_eq!(status, NMF_ERR_NULL_POINTER);
    let here = last_error();
    assert!(!here.is_empty());
    let there = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(there, "");
    assert_eq!(last_error(), here);
}

#[test]
fn thread_count_can_be_set() {
    assert_eq!(nmf_set_num_threads(2), NMF_OK);
    assert_eq!(nmf_get_num_threads(), 2);
    assert_eq!(nmf_set_num_threads(0), NMF_OK);
    assert!(nmf_get_num_threads() >= 1);
}

// ---------------------------------------------------------------------------
// Calls that fit (they need the numeric kernels).

#[test]
fn fit_transform_getters_and_dtype_rules() {
    let (x, n, m) = data();
    let k = 2;
    let model = create(&params(k));
    let mut w = vec![f64::NAN; n * k + 3];
    unsafe {
        assert_eq!(
            nmf_fit_transform_dense_f64(
                model,
                x.as_ptr(),
                n,
                m,
                0,
                null(),
                null(),
                0,
                w.as_mut_ptr(),
                w.len()
            ),
            NMF_OK,
            "{}",
            last_error()
        );
        assert!(w[..n * k].iter().all(|v| *v >= 0.0));
        assert!(
            w[n * k..].iter().all(|v| v.is_nan()),
            "writes only n*k elements"
        );
        let (mut kk, mut mm, mut it, mut st) = (0, 0, 0, 0);
        assert_eq!(nmf_get_n_components(model, &mut kk), NMF_OK);
        assert_eq!(nmf_get_n_features_in(model, &mut mm), NMF_OK);
        assert_eq!(nmf_get_n_iter(model, &mut it), NMF_OK);
        assert_eq!(nmf_get_n_steps(model, &mut st), NMF_OK);
        assert_eq!((kk, mm), (k, m));
        assert!(it >= 1 && st >= it);
        let mut err = -1.0;
        assert_eq!(nmf_get_reconstruction_err(model, &mut err), NMF_OK);
        assert!(err >= 0.0);
        let mut info = std::mem::MaybeUninit::<NmfFitInfo>::uninit();
        assert_eq!(nmf_get_fit_info(model, info.as_mut_ptr()), NMF_OK);
        let info = info.assume_init();
        assert_eq!(
            (info.n_iter, info.n_steps, info.reconstruction_err),
            (it, st, err)
        );
        let mut dtype = NmfDtype::NMF_DTYPE_NONE;
        assert_eq!(nmf_get_dtype(model, &mut dtype), NMF_OK);
        assert_eq!(dtype, NmfDtype::NMF_DTYPE_F64);

        // Components: buffer checks, then the copy.
        let mut h = vec![0.0; k * m];
        assert_eq!(
            nmf_get_components_f64(model, h.as_mut_ptr(), k * m - 1),
            NMF_ERR_BUFFER_LENGTH
        );
        assert_eq!(
            nmf_get_components_f64(model, h.as_mut_ptr(), h.len()),
            NMF_OK
        );
        let mut hf = vec![0.0f32; k * m];
        assert_eq!(
            nmf_get_components_f32(model, hf.as_mut_ptr(), hf.len()),
            NMF_ERR_DTYPE_MISMATCH
        );

        // transform: same dtype works, the other is a clear mismatch.
        let mut w2 = vec![0.0; n * k];
        assert_eq!(
            nmf_transform_dense_f64(model, x.as_ptr(), n, m, 0, w2.as_mut_ptr(), w2.len()),
            NMF_OK
        );
        assert_eq!(
            nmf_transform_dense_f64(model, x.as_ptr(), n, m, 0, w2.as_mut_ptr(), w2.len() - 1),
            NMF_ERR_BUFFER_LENGTH
        );
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let mut wf = vec![0.0f32; n * k];
        assert_eq!(
            nmf_transform_dense_f32(model, xf.as_ptr(), n, m, 0, wf.as_mut_ptr(), wf.len()),
            NMF_ERR_DTYPE_MISMATCH
        );
        assert!(last_error().contains("f64"), "{}", last_error());
        assert_eq!(
            nmf_partial_fit_dense_f32(model, xf.as_ptr(), n, m, 0, null(), null(), 0),
            NMF_ERR_DTYPE_MISMATCH
        );
        // Wrong number of features.
        assert_eq!(
            nmf_transform_dense_f64(model, x.as_ptr(), n, m - 1, m, w2.as_mut_ptr(), w2.len()),
            NMF_ERR_FEATURE_MISMATCH
        );

        // inverse_transform: X back, n x m; CSR W gives the same as dense W.
        let mut xr = vec![0.0; n * m];
        assert_eq!(
            nmf_inverse_transform_dense_f64(
                model,
                w2.as_ptr(),
                n,
                k,
                0,
                xr.as_mut_ptr(),
                xr.len() - 1
            ),
            NMF_ERR_BUFFER_LENGTH
        );
        assert_eq!(
            nmf_inverse_transform_dense_f64(model, w2.as_ptr(), n, k, 0, xr.as_mut_ptr(), xr.len()),
            NMF_OK
        );
        for i in 0..n {
            for j in 0..m {
                let v: f64 = (0..k).map(|c| w2[i * k + c] * h[c * m + j]).sum();
                assert!((v - xr[i * m + j]).abs() < 1e-12);
            }
        }
        let mut indptr = vec![0usize];
        let (mut indices, mut vals) = (vec![], vec![]);
        for i in 0..n {
            for c in 0..k {
                if w2[i * k + c] != 0.0 {
                    indices.push(c);
                    vals.push(w2[i * k + c]);
                }
            }
            indptr.push(indices.len());
        }
        let mut xr2 = vec![0.0; n * m];
        assert_eq!(
            nmf_inverse_transform_csr_f64(
                model,
                indptr.as_ptr(),
                indices.as_ptr(),
                vals.as_ptr(),
                vals.len(),
                n,
                k,
                xr2.as_mut_ptr(),
                xr2.len()
            ),
            NMF_OK
        );
        assert_eq!(xr, xr2);
        assert_eq!(
            nmf_inverse_transform_dense_f64(
                model,
                w2.as_ptr(),
                n,
                k + 1,
                0,
                xr.as_mut_ptr(),
                xr.len()
            ),
            NMF_ERR_SHAPE
        );

        // A refit with f32 data switches the dtype.
        assert_eq!(
            nmf_fit_dense_f32(model, xf.as_ptr(), n, m, 0),
            NMF_OK,
            "{}",
            last_error()
        );
        assert_eq!(nmf_get_dtype(model, &mut dtype), NMF_OK);
        assert_eq!(dtype, NmfDtype::NMF_DTYPE_F32);
        assert_eq!(
            nmf_get_components_f32(model, hf.as_mut_ptr(), hf.len()),
            NMF_OK
        );
        assert_eq!(
            nmf_get_components_f64(model, h.as_mut_ptr(), h.len()),
            NMF_ERR_DTYPE_MISMATCH
        );
        nmf_free(model);
    }
}

#[test]
fn dense_row_stride_and_csr_match_contiguous() {
    let (x, n, m) = data();
    let k = 2;
    // X embedded in a wider array: columns 1..=m of an n x (m + 3) array.
    let stride = m + 3;
    let mut big = vec![9.0; n * stride];
    for i in 0..n {
        big[i * stride + 1..i * stride + 1 + m].copy_from_slice(&x[i * m..(i + 1) * m]);
    }
    let mut indptr = vec![0usize];
    let (mut indices, mut vals) = (vec![], vec![]);
    for i in 0..n {
        for j in (0..m).rev() {
            if x[i * m + j] != 0.0 {
                indices.push(j);
                vals.push(x[i * m + j]);
            }
        }
        indptr.push(indices.len());
    }
    let mut outs = vec![];
    for variant in 0..3 {
        let model = create(&params(k));
        let mut w = vec![0.0; n * k];
        let s = unsafe {
            match variant {
                0 => nmf_fit_transform_dense_f64(
                    model,
                    x.as_ptr(),
                    n,
                    m,
                    m,
                    null(),
                    null(),
                    0,
                    w.as_mut_ptr(),
                    w.len(),
                ),
                1 => nmf_fit_transform_dense_f64(
                    model,
                    big.as_ptr().add(1),
                    n,
                    m,
                    stride,
                    null(),
                    null(),
                    0,
                    w.as_mut_ptr(),
                    w.len(),
                ),
                _ => nmf_fit_transform_csr_f64(
                    model,
                    indptr.as_ptr(),
                    indices.as_ptr(),
                    vals.as_ptr(),
                    vals.len(),
                    n,
                    m,
                    null(),
                    null(),
                    0,
                    w.as_mut_ptr(),
                    w.len(),
                ),
            }
        };
        assert_eq!(s, NMF_OK, "{}", last_error());
        let mut h = vec![0.0; k * m];
        assert_eq!(
            unsafe { nmf_get_components_f64(model, h.as_mut_ptr(), h.len()) },
            NMF_OK
        );
        outs.push((w, h));
        unsafe { nmf_free(model) };
    }
    assert_eq!(
        outs[0], outs[1],
        "a strided view fits as the contiguous array"
    );
    for (a, b) in outs[0]
        .0
        .iter()
        .chain(&outs[0].1)
        .zip(outs[2].0.iter().chain(&outs[2].1))
    {
        assert!(
            (a - b).abs() <= 1e-9 * (1.0 + a.abs()),
            "dense {a} vs csr {b}"
        );
    }
}

#[test]
fn partial_fit_custom_init_and_availability() {
    let (x, n, m) = data();
    let k = 2;
    let mut p = params(k);
    p.init = NmfInit::NMF_INIT_CUSTOM;
    let model = create(&p);
    let w0 = vec![0.5; n * k];
    let h0 = vec![0.25; k * m];
    unsafe {
        // Custom init needs both arrays.
        assert_eq!(
            nmf_partial_fit_dense_f64(model, x.as_ptr(), n, m, 0, null(), h0.as_ptr(), k),
            NMF_ERR_INIT
        );
        let half = n / 2;
        assert_eq!(
            nmf_partial_fit_dense_f64(model, x.as_ptr(), half, m, 0, w0.as_ptr(), h0.as_ptr(), k),
            NMF_OK,
            "{}",
            last_error()
        );
        assert_eq!(
            nmf_partial_fit_dense_f64(
                model,
                x.as_ptr().add(half * m),
                n - half,
                m,
                0,
                null(),
                null(),
                0
            ),
            NMF_OK
        );
        let mut steps = 0;
        assert_eq!(nmf_get_n_steps(model, &mut steps), NMF_OK);
        assert_eq!(steps, 2);
        let mut it = 0;
        assert_eq!(nmf_get_n_iter(model, &mut it), NMF_ERR_NOT_AVAILABLE);
        let mut e = 0.0;
        assert_eq!(
            nmf_get_reconstruction_err(model, &mut e),
            NMF_ERR_NOT_AVAILABLE
        );
        let mut info = std::mem::MaybeUninit::<NmfFitInfo>::uninit();
        assert_eq!(
            nmf_get_fit_info(model, info.as_mut_ptr()),
            NMF_ERR_NOT_AVAILABLE
        );
        nmf_free(model);

        // n_components 'auto' with custom init takes k from H.
        let mut p = p;
        p.n_components_mode = NmfNComponentsMode::NMF_N_COMPONENTS_AUTO;
        let model = create(&p);
        let mut w = vec![0.0; n * k];
        assert_eq!(
            nmf_fit_transform_dense_f64(
                model,
                x.as_ptr(),
                n,
                m,
                0,
                w0.as_ptr(),
                h0.as_ptr(),
                k,
                w.as_mut_ptr(),
                w.len()
            ),
            NMF_OK,
            "{}",
            last_error()
        );
        let mut kk = 0;
        assert_eq!(nmf_get_n_components(model, &mut kk), NMF_OK);
        assert_eq!(kk, k);
        nmf_free(model);
    }
}

#[test]
fn fit_info_reports_warnings() {
    let (x, n, m) = data();
    let mut p = params(2);
    p.max_iter = 1;
    p.batch_size = n;
    p.max_no_improvement_is_none = true;
    let model = create(&p);
    unsafe {
        assert_eq!(
            nmf_fit_dense_f64(model, x.as_ptr(), n, m, 0),
            NMF_OK,
            "{}",
            last_error()
        );
        let mut info = std::mem::MaybeUninit::<NmfFitInfo>::uninit();
        assert_eq!(nmf_get_fit_info(model, info.as_mut_ptr()), NMF_OK);
        let info = info.assume_init();
        assert_eq!(info.stop_reason, NmfStopReason::NMF_STOP_MAX_ITER);
        assert!(info.convergence_warning);
        assert!(!info.ignored_init_warning);
        nmf_free(model);
    }
}

#[test]
fn one_handle_shared_between_threads() {
    let model = fitted_f64(2) as usize; // raw pointers are not Send; the handle is Sync
    let (x, n, m) = data();
    let transform = |x: &[f64]| {
        let mut w = vec![0.0; n * 2];
        let s = unsafe {
            nmf_transform_dense_f64(
                model as *const NmfModel,
                x.as_ptr(),
                n,
                m,
                0,
                w.as_mut_ptr(),
                w.len(),
            )
        };
        assert_eq!(s, NMF_OK);
        w
    };
    let reference = transform(&x);
    // Readers only: every thread sees the same model.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..5 {
                    assert_eq!(transform(&x), reference);
                }
            });
        }
    });
    // Readers and a writer: every call succeeds; the writer's steps all land.
    std::thread::scope(|scope| {
        for _ in 0..3 {
            scope.spawn(|| {
                for _ in 0..5 {
                    transform(&x);
                    let mut h = vec![0.0; 2 * m];
                    let s = unsafe {
                        nmf_get_components_f64(model as *const NmfModel, h.as_mut_ptr(), h.len())
                    };
                    assert_eq!(s, NMF_OK);
                    assert!(h.iter().all(|v| v.is_finite() && *v >= 0.0));
                }
            });
        }
        scope.spawn(|| {
            for _ in 0..3 {
                let s = unsafe {
                    nmf_partial_fit_dense_f64(
                        model as *mut NmfModel,
                        x.as_ptr(),
                        n,
                        m,
                        0,
                        null(),
                        null(),
                        0,
                    )
                };
                assert_eq!(s, NMF_OK);
            }
        });
    });
    let mut steps = 0;
    assert_eq!(
        unsafe { nmf_get_n_steps(model as *const NmfModel, &mut steps) },
        NMF_OK
    );
    let mut info = std::mem::MaybeUninit::<NmfFitInfo>::uninit();
    assert_eq!(
        unsafe { nmf_get_fit_info(model as *const NmfModel, info.as_mut_ptr()) },
        NMF_OK
    );
    assert_eq!(steps, unsafe { info.assume_init() }.n_steps + 3);
    unsafe { nmf_free(model as *mut NmfModel) };
}

/// Every data call, in both dtypes and both layouts, on the same matrix:
/// dense and CSR give the same numbers, and each dtype keeps to its own.
macro_rules! all_variants_test {
    ($name:ident, $t:ty, $fit_d:ident, $fit_c:ident, $ft_d:ident, $ft_c:ident, $pf_d:ident, $pf_c:ident,
     $tr_d:ident, $tr_c:ident, $inv_d:ident, $inv_c:ident, $comp:ident, $tol:expr) => {
        #[test]
        fn $name() {
            let (x64, n, m) = data();
            let x: Vec<$t> = x64.iter().map(|&v| v as $t).collect();
            let k = 2;
            let mut indptr = vec![0usize];
            let (mut indices, mut vals) = (vec![], vec![]);
            for i in 0..n {
                for j in 0..m {
                    if x[i * m + j] != 0.0 {
                        indices.push(j);
                        vals.push(x[i * m + j]);
                    }
                }
                indptr.push(indices.len());
            }
            let nnz = vals.len();
            let close = |a: &[$t], b: &[$t]| {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|(p, q)| (p - q).abs() <= $tol * (1.0 + p.abs()))
            };
            let comps = |model: *mut NmfModel| {
                let mut h: Vec<$t> = vec![0.0; k * m];
                assert_eq!(
                    unsafe { $comp(model, h.as_mut_ptr(), h.len()) },
                    NMF_OK,
                    "{}",
                    last_error()
                );
                h
            };
            unsafe {
                // fit
                let (a, b) = (create(&params(k)), create(&params(k)));
                assert_eq!($fit_d(a, x.as_ptr(), n, m, 0), NMF_OK, "{}", last_error());
                assert_eq!(
                    $fit_c(
                        b,
                        indptr.as_ptr(),
                        indices.as_ptr(),
                        vals.as_ptr(),
                        nnz,
                        n,
                        m
                    ),
                    NMF_OK
                );
                assert!(close(&comps(a), &comps(b)));
                // fit_transform
                let (c, d) = (create(&params(k)), create(&params(k)));
                let (mut wc, mut wd): (Vec<$t>, Vec<$t>) = (vec![0.0; n * k], vec![0.0; n * k]);
                assert_eq!(
                    $ft_d(
                        c,
                        x.as_ptr(),
                        n,
                        m,
                        0,
                        null(),
                        null(),
                        0,
                        wc.as_mut_ptr(),
                        n * k
                    ),
                    NMF_OK
                );
                assert_eq!(
                    $ft_c(
                        d,
                        indptr.as_ptr(),
                        indices.as_ptr(),
                        vals.as_ptr(),
                        nnz,
                        n,
                        m,
                        null(),
                        null(),
                        0,
                        wd.as_mut_ptr(),
                        n * k
                    ),
                    NMF_OK
                );
                assert!(close(&wc, &wd));
                assert!(
                    close(&comps(a), &comps(c)),
                    "fit and fit_transform learn the same H"
                );
                // partial_fit
                let (e, f) = (create(&params(k)), create(&params(k)));
                assert_eq!($pf_d(e, x.as_ptr(), n, m, 0, null(), null(), 0), NMF_OK);
                assert_eq!(
                    $pf_c(
                        f,
                        indptr.as_ptr(),
                        indices.as_ptr(),
                        vals.as_ptr(),
                        nnz,
                        n,
                        m,
                        null(),
                        null(),
                        0
                    ),
                    NMF_OK
                );
                assert!(close(&comps(e), &comps(f)));
                // transform
                let (mut t1, mut t2): (Vec<$t>, Vec<$t>) = (vec![0.0; n * k], vec![0.0; n * k]);
                assert_eq!(
                    $tr_d(a, x.as_ptr(), n, m, 0, t1.as_mut_ptr(), n * k),
                    NMF_OK
                );
                assert_eq!(
                    $tr_c(
                        a,
                        indptr.as_ptr(),
                        indices.as_ptr(),
                        vals.as_ptr(),
                        nnz,
                        n,
                        m,
                        t2.as_mut_ptr(),
                        n * k
                    ),
                    NMF_OK
                );
                assert!(close(&t1, &t2));
                // inverse_transform of W dense and CSR (W as CSR: all entries stored)
                let w_indptr: Vec<usize> = (0..=n).map(|i| i * k).collect();
                let w_indices: Vec<usize> = (0..n * k).map(|e| e % k).collect();
                let (mut r1, mut r2): (Vec<$t>, Vec<$t>) = (vec![0.0; n * m], vec![0.0; n * m]);
                assert_eq!(
                    $inv_d(a, t1.as_ptr(), n, k, 0, r1.as_mut_ptr(), n * m),
                    NMF_OK
                );
                assert_eq!(
                    $inv_c(
                        a,
                        w_indptr.as_ptr(),
                        w_indices.as_ptr(),
                        t1.as_ptr(),
                        n * k,
                        n,
                        k,
                        r2.as_mut_ptr(),
                        n * m
                    ),
                    NMF_OK
                );
                assert_eq!(r1, r2);
                for model in [a, b, c, d, e, f] {
                    nmf_free(model);
                }
            }
        }
    };
}

all_variants_test!(
    every_f64_variant,
    f64,
    nmf_fit_dense_f64,
    nmf_fit_csr_f64,
    nmf_fit_transform_dense_f64,
    nmf_fit_transform_csr_f64,
    nmf_partial_fit_dense_f64,
    nmf_partial_fit_csr_f64,
    nmf_transform_dense_f64,
    nmf_transform_csr_f64,
    nmf_inverse_transform_dense_f64,
    nmf_inverse_transform_csr_f64,
    nmf_get_components_f64,
    1e-9
);
all_variants_test!(
    every_f32_variant,
    f32,
    nmf_fit_dense_f32,
    nmf_fit_csr_f32,
    nmf_fit_transform_dense_f32,
    nmf_fit_transform_csr_f32,
    nmf_partial_fit_dense_f32,
    nmf_partial_fit_csr_f32,
    nmf_transform_dense_f32,
    nmf_transform_csr_f32,
    nmf_inverse_transform_dense_f32,
    nmf_inverse_transform_csr_f32,
    nmf_get_components_f32,
    // Dense and CSR runs differ only in summation order: each of the at most
    // max_iter (50) steps adds rounding of sums over the n·m (60) entries,
    // about sqrt(n·m)·eps relative for random-like rounding, and the steps
    // add up at worst linearly (f64 keeps the looser 1e-9 above: its bound,
    // ~1e-13, is below what dense and CSR kernels promise each other).
    50.0 * (60.0f32).sqrt() * f32::EPSILON
);

#[test]
fn set_params_keeps_the_fitted_state() {
    let model = fitted_f64(2);
    let mut p = params(2);
    p.max_iter = 7;
    unsafe {
        assert_eq!(nmf_set_params(model, &p), NMF_OK);
        let mut fitted = false;
        assert_eq!(nmf_is_fitted(model, &mut fitted), NMF_OK);
        assert!(fitted);
        let mut back = nmf_params_default();
        assert_eq!(nmf_get_params(model, &mut back), NMF_OK);
        assert_eq!(back.max_iter, 7);
        nmf_free(model);
    }
}

#[test]
fn divergence_is_reported_not_committed() {
    // Finite f32 values so large that W H overflows.
    let (x, n, m) = data();
    let x: Vec<f32> = x.iter().map(|&v| (v as f32 + 1.0) * 1e37).collect();
    let model = create(&params(2));
    let status = unsafe { nmf_fit_dense_f32(model, x.as_ptr(), n, m, 0) };
    assert_eq!(status, NMF_ERR_DIVERGED, "{}", last_error());
    assert!(last_error().contains("diverged"), "{}", last_error());
    let mut fitted = true;
    assert_eq!(unsafe { nmf_is_fitted(model, &mut fitted) }, NMF_OK);
    assert!(!fitted);
    unsafe { nmf_free(model) };
}
