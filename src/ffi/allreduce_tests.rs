//! The C ABI's all-reduce hook, called as a C caller would.
// Every call below passes live handles and buffers of the stated lengths, or
// NULL / bad values on purpose (what the test is about); one comment here
// instead of one per call.
#![allow(clippy::undocumented_unsafe_blocks)]

use super::allreduce::nmf_set_allreduce;
use super::handle::{NmfDtype, NmfModel};
use super::params::{NmfInit, NmfNComponentsMode, NmfParams};
use super::status::NmfStatus::{self, *};
use super::*;
use std::ffi::{c_int, c_void, CStr};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicUsize, Ordering};

fn last_error() -> String {
    unsafe { CStr::from_ptr(nmf_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn params() -> NmfParams {
    let mut p = nmf_params_default();
    p.n_components_mode = NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
    p.n_components = 3;
    p.init = NmfInit::NMF_INIT_RANDOM;
    p.random_state_is_none = false;
    p.random_state = 1;
    p.batch_size = 5;
    p.max_iter = 20;
    p
}

fn create() -> *mut NmfModel {
    let mut m = null_mut();
    assert_eq!(unsafe { nmf_create(&params(), &mut m) }, NMF_OK);
    m
}

fn data() -> (Vec<f64>, usize, usize) {
    let (n, m) = (17, 6);
    let x = (0..n * m)
        .map(|i| ((i * 5 + 2) % 13) as f64 / 4.0)
        .collect();
    (x, n, m)
}

/// One rank of one: the sum is the buffer itself. Counts calls in ctx.
unsafe extern "C" fn identity(_: *mut c_void, _: usize, _: NmfDtype, ctx: *mut c_void) -> c_int {
    // SAFETY: the tests pass a live AtomicUsize as ctx.
    unsafe { (*(ctx as *const AtomicUsize)).fetch_add(1, Ordering::Relaxed) };
    0
}

unsafe extern "C" fn failing(_: *mut c_void, _: usize, _: NmfDtype, _: *mut c_void) -> c_int {
    7
}

fn fit(model: *mut NmfModel) -> (NmfStatus, Vec<f64>) {
    let (x, n, m) = data();
    let s = unsafe { nmf_fit_dense_f64(model, x.as_ptr(), n, m, 0) };
    let mut h = vec![0.0; 3 * m];
    if s == NMF_OK {
        assert_eq!(
            unsafe { nmf_get_components_f64(model, h.as_mut_ptr(), h.len()) },
            NMF_OK
        );
    }
    (s, h)
}

#[test]
fn a_one_rank_hook_gives_the_single_process_model_bit_for_bit() {
    let plain = create();
    let (s, h_plain) = fit(plain);
    assert_eq!(s, NMF_OK);
    let calls = AtomicUsize::new(0);
    let hooked = create();
    let ctx = &calls as *const AtomicUsize as *mut c_void;
    assert_eq!(
        unsafe { nmf_set_allreduce(hooked, Some(identity), ctx, 0, 1) },
        NMF_OK
    );
    let (s, h_hooked) = fit(hooked);
    assert_eq!(s, NMF_OK, "{}", last_error());
    assert_eq!(h_plain, h_hooked);
    // The opening exchange, one per step (4 steps an epoch, 20 epochs at
    // most), the closing one.
    let n = calls.load(Ordering::Relaxed);
    assert!(n >= 3, "the hook was called {n} times");
    // NULL returns to one process: no more calls.
    assert_eq!(
        unsafe { nmf_set_allreduce(hooked, None, null_mut(), 0, 0) },
        NMF_OK
    );
    assert_eq!(fit(hooked).0, NMF_OK);
    assert_eq!(calls.load(Ordering::Relaxed), n);
    unsafe {
        nmf_free(plain);
        nmf_free(hooked);
    }
}

#[test]
fn a_failing_hook_is_nmf_err_reduce_and_the_model_is_unchanged() {
    let model = create();
    let (s, h_before) = fit(model);
    assert_eq!(s, NMF_OK);
    assert_eq!(
        unsafe { nmf_set_allreduce(model, Some(failing), null_mut(), 0, 1) },
        NMF_OK
    );
    assert_eq!(fit(model).0, NMF_ERR_REDUCE);
    assert!(last_error().contains("returned 7"), "{}", last_error());
    assert_eq!(NMF_ERR_REDUCE as c_int, 23);
    // transform is collective too: it fails the same way.
    let (x, n, m) = data();
    let mut w = vec![0.0; n * 3];
    assert_eq!(
        unsafe { nmf_transform_dense_f64(model, x.as_ptr(), n, m, 0, w.as_mut_ptr(), w.len()) },
        NMF_ERR_REDUCE
    );
    assert_eq!(
        unsafe { nmf_set_allreduce(model, None, null_mut(), 0, 0) },
        NMF_OK
    );
    let mut h = vec![0.0; 3 * m];
    unsafe { nmf_get_components_f64(model, h.as_mut_ptr(), h.len()) };
    assert_eq!(h, h_before);
    unsafe { nmf_free(model) };
}

#[test]
fn bad_rank_arguments_are_rejected() {
    let model = create();
    for (rank, n_ranks) in [(0, 0), (2, 2), (5, 3)] {
        assert_eq!(
            unsafe { nmf_set_allreduce(model, Some(failing), null_mut(), rank, n_ranks) },
            NMF_ERR_INVALID_ARGUMENT
        );
    }
    assert_eq!(
        unsafe { nmf_set_allreduce(null_mut(), None, null_mut(), 0, 1) },
        NMF_ERR_NULL_POINTER
    );
    // The rejected calls left the model a single process.
    assert_eq!(fit(model).0, NMF_OK);
    unsafe { nmf_free(model) };
}
