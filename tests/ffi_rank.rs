//! Rank selection through the C ABI: `nmf_cross_validate_rank_*` fills the
//! caller's scores as the Rust `cross_validate_rank` computes them (the
//! model's parameters, `missing` set by name included), leaves the model
//! untouched, and refuses bad arguments naming them.

mod common;

use common::masked::csr_observed;
use minibatchnmf::ffi::*;
use minibatchnmf::io::InMemory;
use minibatchnmf::{cross_validate_rank, CsrView, CvOptions, Init, MiniBatchNmfParams, Missing};
use ndarray::Array2;
use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};

fn last_error() -> String {
    // SAFETY: nmf_last_error returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(nmf_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn model(missing: &str) -> *mut NmfModel {
    let mut p = nmf_params_default();
    p.init = NmfInit::NMF_INIT_RANDOM;
    p.random_state = 3;
    p.random_state_is_none = false;
    p.batch_size = 16;
    p.max_iter = 30;
    let mut m: *mut NmfModel = null_mut();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { nmf_create(&p, &mut m) }, NmfStatus::NMF_OK);
    let (n, v) = (
        CString::new("missing").unwrap(),
        CString::new(missing).unwrap(),
    );
    // SAFETY: a live handle and NUL-terminated strings.
    assert_eq!(
        unsafe { nmf_set_param(m, n.as_ptr(), v.as_ptr()) },
        NmfStatus::NMF_OK
    );
    m
}

fn rust_params(missing: Missing) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .init(Init::Random)
        .random_state(Some(3))
        .batch_size(16)
        .max_iter(30)
        .missing(missing)
}

fn data() -> Array2<f64> {
    Array2::from_shape_fn((40, 9), |(i, j)| {
        if (i * 13 + j * 7) % 10 == 0 {
            f64::NAN
        } else {
            ((i % 5 + 1) * (j % 3 + 1)) as f64 / 3.0 + ((i * j) % 4) as f64 / 10.0
        }
    })
}

#[test]
fn dense_cv_through_the_c_abi_is_the_rust_cv() {
    let x = data();
    let m = model("nan");
    let ks = [1usize, 2, 3];
    let mut scores = [0.0f64; 6];
    let mut best = 0usize;
    // SAFETY: arrays of the sizes passed.
    let st = unsafe {
        nmf_cross_validate_rank_dense_f64(
            m,
            x.as_ptr(),
            40,
            9,
            ks.as_ptr(),
            3,
            0.2,
            2,
            7,
            scores.as_mut_ptr(),
            &mut best,
        )
    };
    assert_eq!(st, NmfStatus::NMF_OK, "{}", last_error());
    let opts = CvOptions {
        test_fraction: 0.2,
        n_repeats: 2,
        seed: 7,
    };
    let cv = cross_validate_rank(
        &mut InMemory::new(&x),
        &rust_params(Missing::Nan),
        &ks,
        &opts,
    )
    .unwrap();
    assert_eq!(scores.as_slice(), cv.scores.as_slice().unwrap());
    assert_eq!(best, cv.best_k);
    assert!(scores.iter().all(|s| s.is_finite() && *s >= 0.0));
    // The model is not fitted by it.
    let mut fitted = true;
    // SAFETY: a live handle.
    unsafe { nmf_is_fitted(m, &mut fitted) };
    assert!(!fitted);
    // f32 twin: runs, scores close to f64's.
    let x32 = x.mapv(|v| v as f32);
    let mut s32 = [0.0f64; 6];
    // SAFETY: arrays of the sizes passed.
    let st = unsafe {
        nmf_cross_validate_rank_dense_f32(
            m,
            x32.as_ptr(),
            40,
            9,
            ks.as_ptr(),
            3,
            0.2,
            2,
            7,
            s32.as_mut_ptr(),
            &mut best,
        )
    };
    assert_eq!(st, NmfStatus::NMF_OK, "{}", last_error());
    for (a, b) in s32.iter().zip(&scores) {
        assert!((a - b).abs() <= 2e-2 * b.abs(), "{a} vs {b}");
    }
    // SAFETY: a live handle.
    unsafe { nmf_free(m) };
}

#[test]
fn csr_cv_with_unstored_missing_through_the_c_abi_is_the_rust_cv() {
    let x = data();
    let (ip, ix, dv) = csr_observed(&x);
    let m = model("unstored");
    let ks = [1usize, 2];
    let mut scores = [0.0f64; 2];
    let mut best = 0usize;
    // SAFETY: arrays of the sizes passed.
    let st = unsafe {
        nmf_cross_validate_rank_csr_f64(
            m,
            ip.as_ptr(),
            ix.as_ptr(),
            dv.as_ptr(),
            dv.len(),
            40,
            9,
            ks.as_ptr(),
            2,
            0.25,
            1,
            1,
            scores.as_mut_ptr(),
            &mut best,
        )
    };
    assert_eq!(st, NmfStatus::NMF_OK, "{}", last_error());
    let csr = CsrView::new(40, 9, &ip, &ix, &dv).unwrap();
    let opts = CvOptions {
        test_fraction: 0.25,
        n_repeats: 1,
        seed: 1,
    };
    let cv = cross_validate_rank(
        &mut InMemory::new(csr),
        &rust_params(Missing::Unstored),
        &ks,
        &opts,
    )
    .unwrap();
    assert_eq!(scores.as_slice(), cv.scores.as_slice().unwrap());
    assert_eq!(best, cv.best_k);
    let d32: Vec<f32> = dv.iter().map(|&v| v as f32).collect();
    // SAFETY: arrays of the sizes passed.
    let st = unsafe {
        nmf_cross_validate_rank_csr_f32(
            m,
            ip.as_ptr(),
            ix.as_ptr(),
            d32.as_ptr(),
            d32.len(),
            40,
            9,
            ks.as_ptr(),
            2,
            0.25,
            1,
            1,
            scores.as_mut_ptr(),
            &mut best,
        )
    };
    assert_eq!(st, NmfStatus::NMF_OK, "{}", last_error());
    // SAFETY: a live handle.
    unsafe { nmf_free(m) };
}

#[test]
fn bad_arguments_are_refused_naming_them() {
    let x = data();
    let m = model("nan");
    let mut scores = [0.0f64; 4];
    let mut best = 0usize;
    let call = |ks: &[usize], n_ks: usize, f: f64, r: usize, sp: *mut f64, bp: *mut usize| {
        // SAFETY: arrays of the sizes passed (or NULL, refused).
        let st = unsafe {
            nmf_cross_validate_rank_dense_f64(
                m,
                x.as_ptr(),
                40,
                9,
                if ks.is_empty() { null() } else { ks.as_ptr() },
                n_ks,
                f,
                r,
                0,
                sp,
                bp,
            )
        };
        (st, last_error())
    };
    let (sp, bp) = (scores.as_mut_ptr(), &mut best as *mut usize);
    for (ks, n_ks, f, r, expect) in [
        (&[][..], 0, 0.1, 1, "n_ks"),
        (&[0][..], 1, 0.1, 1, "ks"),
        (&[10][..], 1, 0.1, 1, "ks"),
        (&[2][..], 1, 0.0, 1, "test_fraction"),
        (&[2][..], 1, 1.0, 1, "test_fraction"),
        (&[2][..], 1, f64::NAN, 1, "test_fraction"),
        (&[2][..], 1, 0.1, 0, "n_repeats"),
    ] {
        let (st, msg) = call(ks, n_ks, f, r, sp, bp);
        assert_eq!(st, NmfStatus::NMF_ERR_INVALID_PARAM, "{expect}: {msg}");
        assert!(msg.contains(expect), "{expect}: {msg}");
    }
    let (st, msg) = call(&[], 1, 0.1, 1, sp, bp);
    assert_eq!(st, NmfStatus::NMF_ERR_NULL_POINTER, "{msg}");
    assert!(msg.contains("ks"), "{msg}");
    let (st, msg) = call(&[2], 1, 0.1, 1, null_mut(), bp);
    assert_eq!(st, NmfStatus::NMF_ERR_NULL_POINTER);
    assert!(msg.contains("scores"), "{msg}");
    let (st, msg) = call(&[2], 1, 0.1, 1, sp, null_mut());
    assert_eq!(st, NmfStatus::NMF_ERR_NULL_POINTER);
    assert!(msg.contains("best_k"), "{msg}");
    // SAFETY: NULL model.
    let st = unsafe {
        nmf_cross_validate_rank_dense_f64(
            null(),
            x.as_ptr(),
            40,
            9,
            [2].as_ptr(),
            1,
            0.1,
            1,
            0,
            sp,
            bp,
        )
    };
    assert_eq!(st, NmfStatus::NMF_ERR_NULL_POINTER);
    // SAFETY: a live handle.
    unsafe { nmf_free(m) };
}
