//! The cd solver through the C ABI: `nmf_set_param(model, "solver", "cd")`
//! (and the sweep counts) reaches the same estimator as Rust's
//! `set_param`: a C fit equals the Rust fit bit for bit, bad values are
//! refused with a message naming them and change nothing, and a saved cd
//! model loads back as cd.

use minibatchnmf::ffi::*;
use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams};
use ndarray::Array2;
use std::ffi::{c_char, CStr, CString};
use std::ptr::null_mut;

fn set(m: *mut NmfModel, name: &str, value: &str) -> NmfStatus {
    let (n, v) = (CString::new(name).unwrap(), CString::new(value).unwrap());
    // SAFETY: a live handle and NUL-terminated strings.
    unsafe { nmf_set_param(m, n.as_ptr(), v.as_ptr()) }
}

fn get(m: *const NmfModel, name: &str) -> String {
    let n = CString::new(name).unwrap();
    let mut buf = [0 as c_char; 64];
    // SAFETY: buf holds 64 bytes.
    let st = unsafe { nmf_get_param(m, n.as_ptr(), buf.as_mut_ptr(), buf.len()) };
    assert_eq!(st, NmfStatus::NMF_OK);
    // SAFETY: NUL-terminated on success.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_string()
}

fn last_error() -> String {
    // SAFETY: nmf_last_error returns a valid NUL-terminated string.
    unsafe { CStr::from_ptr(nmf_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn solver_cd_set_by_name_through_the_c_abi_fits_as_rust_does() {
    let x = Array2::from_shape_fn((50, 7), |(i, j)| ((i * 5 + j * 3) % 11) as f64 / 4.0);
    let mut p = nmf_params_default();
    p.n_components_mode = NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
    p.n_components = 3;
    p.init = NmfInit::NMF_INIT_RANDOM;
    p.random_state = 5;
    p.random_state_is_none = false;
    p.batch_size = 16;
    p.max_iter = 20;
    let mut m: *mut NmfModel = null_mut();
    // SAFETY: valid pointers.
    assert_eq!(unsafe { nmf_create(&p, &mut m) }, NmfStatus::NMF_OK);
    assert_eq!(get(m, "solver"), "mu");
    assert_eq!(set(m, "solver", "cd"), NmfStatus::NMF_OK);
    assert_eq!(set(m, "cd_w_sweeps", "4"), NmfStatus::NMF_OK);
    assert_eq!(set(m, "cd_h_sweeps", "2"), NmfStatus::NMF_OK);
    assert_eq!(get(m, "solver"), "cd");
    assert_eq!(get(m, "cd_w_sweeps"), "4");

    // Refused, with the parameter named, and nothing changed.
    assert_eq!(set(m, "cd_h_sweeps", "0"), NmfStatus::NMF_ERR_INVALID_PARAM);
    assert!(last_error().contains("cd_h_sweeps"), "{}", last_error());
    assert_eq!(
        set(m, "beta_loss", "kullback-leibler"),
        NmfStatus::NMF_ERR_INVALID_PARAM
    );
    assert!(last_error().contains("solver"), "{}", last_error());
    assert_eq!(set(m, "solver", "hals"), NmfStatus::NMF_ERR_INVALID_PARAM);
    assert_eq!(
        (get(m, "cd_h_sweeps").as_str(), get(m, "beta_loss").as_str()),
        ("2", "frobenius")
    );
    assert_eq!(get(m, "solver"), "cd");

    // SAFETY: x is a 50×7 row-major array.
    let st = unsafe { nmf_fit_dense_f64(m, x.as_ptr(), 50, 7, 7) };
    assert_eq!(st, NmfStatus::NMF_OK, "{}", last_error());
    let mut h = vec![0.0f64; 3 * 7];
    // SAFETY: h holds k × m values.
    assert_eq!(
        unsafe { nmf_get_components_f64(m, h.as_mut_ptr(), h.len()) },
        NmfStatus::NMF_OK
    );
    let params = MiniBatchNmfParams::new()
        .n_components(3)
        .init(minibatchnmf::Init::Random)
        .random_state(Some(5))
        .batch_size(16)
        .max_iter(20)
        .solver(minibatchnmf::Solver::Cd)
        .cd_w_sweeps(4)
        .cd_h_sweeps(2);
    let mut r = MiniBatchNmf::<f64>::new(params).unwrap();
    r.fit(&x).unwrap();
    let hr: Vec<f64> = r.components().unwrap().iter().copied().collect();
    assert_eq!(h, hr, "the C fit equals the Rust fit");

    // Saved and loaded: still cd, same H.
    let mut len = 0usize;
    // SAFETY: size query.
    assert_eq!(
        unsafe { nmf_save_buffer(m, null_mut(), 0, &mut len) },
        NmfStatus::NMF_OK
    );
    let mut bytes = vec![0u8; len];
    // SAFETY: bytes holds len bytes.
    assert_eq!(
        unsafe { nmf_save_buffer(m, bytes.as_mut_ptr(), len, &mut len) },
        NmfStatus::NMF_OK
    );
    let mut loaded: *mut NmfModel = null_mut();
    // SAFETY: valid buffer and out pointer.
    assert_eq!(
        unsafe { nmf_load_buffer(bytes.as_ptr(), len, &mut loaded) },
        NmfStatus::NMF_OK,
        "{}",
        last_error()
    );
    assert_eq!(get(loaded, "solver"), "cd");
    assert_eq!(get(loaded, "cd_w_sweeps"), "4");
    // SAFETY: live handles, freed once.
    unsafe {
        nmf_free(loaded);
        nmf_free(m);
    }
}
