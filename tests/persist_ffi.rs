//! Model files across the C ABI: a model saved from Rust loads through
//! `nmf_load` / `nmf_load_buffer` and transforms identically (f32 and f64),
//! a model saved through the C ABI loads in Rust, and every failure is its
//! status (NMF_ERR_IO 19, NMF_ERR_CORRUPT_MODEL 20,
//! NMF_ERR_UNSUPPORTED_FORMAT 21, NULL pointers, unfitted models).

mod gen;

use minibatchnmf::ffi::*;
use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams};
use std::ffi::{CStr, CString};
use std::ptr::{null, null_mut};
use NmfStatus::*;

fn last_error() -> String {
    unsafe { CStr::from_ptr(nmf_last_error()) }
        .to_string_lossy()
        .into_owned()
}

fn cpath(p: &std::path::Path) -> CString {
    CString::new(p.to_str().unwrap()).unwrap()
}

fn rust_model_f64() -> (MiniBatchNmf<f64>, ndarray::Array2<f64>) {
    let x = gen::matrix(30, 5, 9, 0.3, false);
    let mut m = MiniBatchNmf::<f64>::new(
        MiniBatchNmfParams::new()
            .n_components(3)
            .batch_size(8)
            .random_state(Some(2)),
    )
    .unwrap();
    m.fit(&x).unwrap();
    (m, x)
}

#[test]
fn model_saved_from_rust_loads_through_the_c_abi_with_identical_transform() {
    let dir = gen::TempDir::new("ffi");
    let (m, x) = rust_model_f64();
    let path = dir.path("rust.safetensors");
    m.save(&path).unwrap();
    let want = m.transform(&x).unwrap();

    let mut h: *mut NmfModel = null_mut();
    assert_eq!(
        unsafe { nmf_load(cpath(&path).as_ptr(), &mut h) },
        NMF_OK,
        "{}",
        last_error()
    );
    let mut dt = NmfDtype::NMF_DTYPE_NONE;
    assert_eq!(unsafe { nmf_get_dtype(h, &mut dt) }, NMF_OK);
    assert_eq!(dt, NmfDtype::NMF_DTYPE_F64);
    let (n, k) = (x.nrows(), 3);
    let xs: Vec<f64> = x.iter().copied().collect();
    let mut w = vec![0.0; n * k];
    assert_eq!(
        unsafe {
            nmf_transform_dense_f64(h, xs.as_ptr(), n, x.ncols(), 0, w.as_mut_ptr(), w.len())
        },
        NMF_OK
    );
    let want_bits: Vec<u64> = want.iter().map(|v| v.to_bits()).collect();
    assert_eq!(w.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), want_bits);

    // Buffer round trip: size query, too-small buffer, then load.
    let mut len = 0usize;
    assert_eq!(
        unsafe { nmf_save_buffer(h, null_mut(), 0, &mut len) },
        NMF_OK
    );
    assert!(len > 0);
    let mut buf = vec![0u8; len];
    let mut len2 = 0usize;
    assert_eq!(
        unsafe { nmf_save_buffer(h, buf.as_mut_ptr(), len - 1, &mut len2) },
        NMF_ERR_BUFFER_LENGTH
    );
    assert_eq!(len2, len);
    assert_eq!(
        unsafe { nmf_save_buffer(h, buf.as_mut_ptr(), len, &mut len2) },
        NMF_OK
    );
    let mut h2: *mut NmfModel = null_mut();
    assert_eq!(
        unsafe { nmf_load_buffer(buf.as_ptr(), len, &mut h2) },
        NMF_OK
    );
    let mut w2 = vec![0.0; n * k];
    assert_eq!(
        unsafe {
            nmf_transform_dense_f64(h2, xs.as_ptr(), n, x.ncols(), 0, w2.as_mut_ptr(), w2.len())
        },
        NMF_OK
    );
    assert_eq!(
        w2.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        want_bits
    );
    // The buffer is a model file Rust reads too.
    assert_eq!(
        MiniBatchNmf::<f64>::from_bytes(&buf)
            .unwrap()
            .components()
            .unwrap(),
        m.components().unwrap()
    );

    // Saved through C, loaded in Rust.
    let cfile = dir.path("from_c.safetensors");
    assert_eq!(
        unsafe { nmf_save(h2, cpath(&cfile).as_ptr()) },
        NMF_OK,
        "{}",
        last_error()
    );
    let back = MiniBatchNmf::<f64>::load(&cfile).unwrap();
    assert_eq!(back.transform(&x).unwrap(), want);
    unsafe {
        nmf_free(h);
        nmf_free(h2);
    }
}

#[test]
fn f32_model_round_trips_through_the_c_abi() {
    let x = gen::cast::<f32>(&gen::matrix(20, 4, 4, 0.2, false));
    let mut m = MiniBatchNmf::<f32>::new(
        MiniBatchNmfParams::new()
            .n_components(2)
            .random_state(Some(3)),
    )
    .unwrap();
    m.partial_fit(&x).unwrap();
    let bytes = m.to_bytes().unwrap();
    let mut h: *mut NmfModel = null_mut();
    assert_eq!(
        unsafe { nmf_load_buffer(bytes.as_ptr(), bytes.len(), &mut h) },
        NMF_OK
    );
    let mut dt = NmfDtype::NMF_DTYPE_NONE;
    unsafe { nmf_get_dtype(h, &mut dt) };
    assert_eq!(dt, NmfDtype::NMF_DTYPE_F32);
    let xs: Vec<f32> = x.iter().copied().collect();
    let mut w = vec![0f32; 20 * 2];
    assert_eq!(
        unsafe { nmf_transform_dense_f32(h, xs.as_ptr(), 20, 4, 0, w.as_mut_ptr(), w.len()) },
        NMF_OK
    );
    let want: Vec<f32> = m.transform(&x).unwrap().iter().copied().collect();
    assert_eq!(w, want);
    // The f64 entry points refuse it with the dtype status.
    let mut w64 = vec![0f64; 40];
    let x64: Vec<f64> = xs.iter().map(|&v| v as f64).collect();
    assert_eq!(
        unsafe { nmf_transform_dense_f64(h, x64.as_ptr(), 20, 4, 0, w64.as_mut_ptr(), 40) },
        NMF_ERR_DTYPE_MISMATCH
    );
    unsafe { nmf_free(h) };
}

#[test]
fn c_abi_save_and_load_report_each_failure_with_its_status() {
    let dir = gen::TempDir::new("ffi-err");
    let good = dir.path("m.safetensors");
    let (m, _) = rust_model_f64();
    m.save(&good).unwrap();
    let p = cpath(&good);
    let mut out: *mut NmfModel = 1 as *mut NmfModel;

    // NULL pointers.
    assert_eq!(
        unsafe { nmf_save(null(), p.as_ptr()) },
        NMF_ERR_NULL_POINTER
    );
    assert_eq!(unsafe { nmf_load(null(), &mut out) }, NMF_ERR_NULL_POINTER);
    assert!(out.is_null(), "out is set to NULL on failure");
    assert_eq!(
        unsafe { nmf_load(p.as_ptr(), null_mut()) },
        NMF_ERR_NULL_POINTER
    );
    assert_eq!(
        unsafe { nmf_load_buffer(null(), 10, &mut out) },
        NMF_ERR_NULL_POINTER
    );
    assert_eq!(
        unsafe { nmf_save_buffer(null(), null_mut(), 0, null_mut()) },
        NMF_ERR_NULL_POINTER
    );

    // Unfitted models are not saved.
    let params = nmf_params_default();
    let mut fresh: *mut NmfModel = null_mut();
    assert_eq!(unsafe { nmf_create(&params, &mut fresh) }, NMF_OK);
    let unfitted = cpath(&dir.path("unfitted"));
    assert_eq!(
        unsafe { nmf_save(fresh, unfitted.as_ptr()) },
        NMF_ERR_NOT_FITTED
    );
    assert!(nmf_status_name(NMF_ERR_NOT_FITTED).contains("NOT_FITTED"));
    let mut len = 0usize;
    assert_eq!(
        unsafe { nmf_save_buffer(fresh, null_mut(), 0, &mut len) },
        NMF_ERR_NOT_FITTED
    );
    unsafe { nmf_free(fresh) };

    // 19: I/O, 20: corrupt, 21: unsupported.
    let missing = cpath(&dir.path("missing.safetensors"));
    assert_eq!(unsafe { nmf_load(missing.as_ptr(), &mut out) }, NMF_ERR_IO);
    assert!(
        last_error().contains("missing.safetensors"),
        "{}",
        last_error()
    );
    assert_eq!(NMF_ERR_IO as i32, 19);
    let bytes = std::fs::read(&good).unwrap();
    assert_eq!(
        unsafe { nmf_load_buffer(bytes.as_ptr(), bytes.len() - 1, &mut out) },
        NMF_ERR_CORRUPT_MODEL
    );
    assert_eq!(NMF_ERR_CORRUPT_MODEL as i32, 20);
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    assert_eq!(
        unsafe { nmf_load_buffer(flipped.as_ptr(), flipped.len(), &mut out) },
        NMF_ERR_CORRUPT_MODEL
    );
    assert!(last_error().contains("checksum"), "{}", last_error());
    let foreign = b"\x02\x00\x00\x00\x00\x00\x00\x00{}";
    assert_eq!(
        unsafe { nmf_load_buffer(foreign.as_ptr(), foreign.len(), &mut out) },
        NMF_ERR_UNSUPPORTED_FORMAT
    );
    assert_eq!(NMF_ERR_UNSUPPORTED_FORMAT as i32, 21);
    assert!(out.is_null());
    // An unwritable destination, and the previous file survives a failed save.
    let mut h: *mut NmfModel = null_mut();
    assert_eq!(unsafe { nmf_load(p.as_ptr(), &mut h) }, NMF_OK);
    let bad_dir = cpath(&dir.path("no/such/dir/m"));
    assert_eq!(unsafe { nmf_save(h, bad_dir.as_ptr()) }, NMF_ERR_IO);
    assert_eq!(std::fs::read(&good).unwrap(), bytes);
    unsafe { nmf_free(h) };
}

fn nmf_status_name(s: NmfStatus) -> String {
    unsafe { CStr::from_ptr(nmf_status_str(s as i32)) }
        .to_string_lossy()
        .into_owned()
}
