//! Random sequences of C ABI calls with random shapes, values and
//! parameters. Whatever the sequence: no call panics (NMF_ERR_PANIC would
//! mean a Rust panic reached the guard), every status is a known number,
//! every successful transform / components read gives finite non-negative
//! values, and a model saved to a buffer and loaded back transforms exactly
//! as the original. Shared by the fuzz target and tests/fuzz_regressions.rs.

use arbitrary::{Arbitrary, Unstructured};
use minibatchnmf::ffi::*;
use std::ffi::CStr;
use std::ptr::{null, null_mut};

#[derive(Debug, Arbitrary)]
struct SaneParams {
    k: u8,
    mode: u8,
    init: u8,
    batch_size: u8,
    beta: u8,
    tol_zero: bool,
    max_iter: u8,
    max_no_improvement: u8,
    alpha: u8,
    l1_ratio: u8,
    forget_factor: u8,
    fresh_restarts: bool,
    seed: u8,
}

impl SaneParams {
    fn to_c(&self) -> NmfParams {
        let mut p = nmf_params_default();
        p.n_components_mode = match self.mode % 3 {
            0 => NmfNComponentsMode::NMF_N_COMPONENTS_FIXED,
            1 => NmfNComponentsMode::NMF_N_COMPONENTS_AUTO,
            _ => NmfNComponentsMode::NMF_N_COMPONENTS_ALL,
        };
        p.n_components = (self.k % 7) as usize;
        p.init = match self.init % 6 {
            0 => NmfInit::NMF_INIT_AUTO,
            1 => NmfInit::NMF_INIT_RANDOM,
            2 => NmfInit::NMF_INIT_NNDSVD,
            3 => NmfInit::NMF_INIT_NNDSVDA,
            4 => NmfInit::NMF_INIT_NNDSVDAR,
            _ => NmfInit::NMF_INIT_CUSTOM,
        };
        p.batch_size = (self.batch_size % 8) as usize;
        p.beta_loss = [2.0, 1.0, 0.0, 1.5, 0.5, 3.0, -1.0][(self.beta % 7) as usize];
        p.tol = if self.tol_zero { 0.0 } else { 1e-4 };
        p.max_iter = (self.max_iter % 6) as usize;
        p.max_no_improvement = (self.max_no_improvement % 4) as usize;
        p.alpha_w = [0.0, 0.1, 1.0, -1.0][(self.alpha % 4) as usize];
        p.l1_ratio = [0.0, 0.5, 1.0, 2.0][(self.l1_ratio % 4) as usize];
        p.forget_factor = [0.7, 0.0, 1.0, 1.5][(self.forget_factor % 4) as usize];
        p.fresh_restarts = self.fresh_restarts;
        p.fresh_restarts_max_iter = 3;
        p.random_state_is_none = false;
        p.random_state = self.seed as u32;
        p
    }
}

#[derive(Debug, Arbitrary)]
struct Data {
    n: u8,
    m: u8,
    values: Vec<u8>,
    f32: bool,
    csr: bool,
}

/// A value from a byte: mostly small, with zeros and extremes.
fn value(b: u8) -> f64 {
    match b {
        0..=63 => 0.0,
        64..=239 => (b - 63) as f64 / 16.0,
        240 => 1e-30,
        241 => 1e30,
        242 => f64::NAN,
        243 => -1.0,
        244 => f64::INFINITY,
        245 => 1e-300,
        _ => 1e300,
    }
}

impl Data {
    fn shape(&self) -> (usize, usize) {
        ((self.n % 7) as usize, (self.m % 6) as usize)
    }
    fn dense(&self) -> Vec<f64> {
        let (n, m) = self.shape();
        (0..n * m)
            .map(|i| value(self.values.get(i).copied().unwrap_or(100)))
            .collect()
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    Create(SaneParams),
    CreateRaw(Vec<u8>),
    Free(u8),
    SetParams(u8, SaneParams),
    Fit(u8, Data, bool),
    PartialFit(u8, Data),
    Transform(u8, Data),
    InverseTransform(u8, Data),
    Getters(u8),
    SaveLoad(u8, Option<(u16, u8)>, Option<u16>),
    LoadRaw(Vec<u8>),
}

fn check(status: NmfStatus, what: &str) -> bool {
    let msg = unsafe { CStr::from_ptr(nmf_last_error()) }
        .to_string_lossy()
        .into_owned();
    assert_ne!(status, NmfStatus::NMF_ERR_PANIC, "{what}: {msg}");
    let name = unsafe { CStr::from_ptr(nmf_status_str(status as i32)) };
    assert_ne!(name.to_bytes(), b"NMF_UNKNOWN_STATUS", "{what}");
    if status != NmfStatus::NMF_OK {
        assert!(!msg.is_empty(), "{what}: {status:?} without a message");
    }
    status == NmfStatus::NMF_OK
}

fn pick(models: &[*mut NmfModel], i: u8) -> *mut NmfModel {
    if models.is_empty() || i == 255 {
        null_mut()
    } else {
        models[i as usize % models.len()]
    }
}

fn csr(x: &[f64], n: usize, m: usize) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let (mut indptr, mut indices, mut data) = (vec![0], vec![], vec![]);
    for i in 0..n {
        for j in 0..m {
            if x[i * m + j] != 0.0 {
                indices.push(j);
                data.push(x[i * m + j]);
            }
        }
        indptr.push(data.len());
    }
    (indptr, indices, data)
}

/// transform into a fresh buffer; Some(W) on success.
unsafe fn transform(model: *mut NmfModel, d: &Data) -> Option<Vec<f64>> {
    let (n, m) = d.shape();
    let x = d.dense();
    let mut k = 0usize;
    if nmf_get_n_components(model, &mut k) != NmfStatus::NMF_OK {
        k = 3;
    }
    let len = n * k;
    let (ip, ix, v) = csr(&x, n, m);
    let status;
    let out: Vec<f64>;
    if d.f32 {
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let vf: Vec<f32> = v.iter().map(|&v| v as f32).collect();
        let mut w = vec![0f32; len];
        status = if d.csr {
            nmf_transform_csr_f32(
                model,
                ip.as_ptr(),
                ix.as_ptr(),
                vf.as_ptr(),
                vf.len(),
                n,
                m,
                w.as_mut_ptr(),
                len,
            )
        } else {
            nmf_transform_dense_f32(model, xf.as_ptr(), n, m, 0, w.as_mut_ptr(), len)
        };
        out = w.iter().map(|&v| v as f64).collect();
    } else {
        let mut w = vec![0f64; len];
        status = if d.csr {
            nmf_transform_csr_f64(
                model,
                ip.as_ptr(),
                ix.as_ptr(),
                v.as_ptr(),
                v.len(),
                n,
                m,
                w.as_mut_ptr(),
                len,
            )
        } else {
            nmf_transform_dense_f64(model, x.as_ptr(), n, m, 0, w.as_mut_ptr(), len)
        };
        out = w;
    }
    if check(status, "transform") {
        assert!(
            out.iter().all(|v| v.is_finite() && *v >= 0.0),
            "transform gave {out:?}"
        );
        Some(out)
    } else {
        None
    }
}

unsafe fn fit(model: *mut NmfModel, d: &Data, partial: bool, with_w: bool) {
    let (n, m) = d.shape();
    let x = d.dense();
    let (ip, ix, v) = csr(&x, n, m);
    let len = n * 8;
    let status = if d.f32 {
        let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let vf: Vec<f32> = v.iter().map(|&v| v as f32).collect();
        let mut w = vec![0f32; len];
        match (partial, d.csr) {
            (true, true) => nmf_partial_fit_csr_f32(
                model,
                ip.as_ptr(),
                ix.as_ptr(),
                vf.as_ptr(),
                vf.len(),
                n,
                m,
                null(),
                null(),
                0,
            ),
            (true, false) => {
                nmf_partial_fit_dense_f32(model, xf.as_ptr(), n, m, 0, null(), null(), 0)
            }
            (false, true) if with_w => nmf_fit_transform_csr_f32(
                model,
                ip.as_ptr(),
                ix.as_ptr(),
                vf.as_ptr(),
                vf.len(),
                n,
                m,
                null(),
                null(),
                0,
                w.as_mut_ptr(),
                len,
            ),
            (false, true) => {
                nmf_fit_csr_f32(model, ip.as_ptr(), ix.as_ptr(), vf.as_ptr(), vf.len(), n, m)
            }
            (false, false) if with_w => nmf_fit_transform_dense_f32(
                model,
                xf.as_ptr(),
                n,
                m,
                0,
                null(),
                null(),
                0,
                w.as_mut_ptr(),
                len,
            ),
            (false, false) => nmf_fit_dense_f32(model, xf.as_ptr(), n, m, 0),
        }
    } else {
        let mut w = vec![0f64; len];
        match (partial, d.csr) {
            (true, true) => nmf_partial_fit_csr_f64(
                model,
                ip.as_ptr(),
                ix.as_ptr(),
                v.as_ptr(),
                v.len(),
                n,
                m,
                null(),
                null(),
                0,
            ),
            (true, false) => {
                nmf_partial_fit_dense_f64(model, x.as_ptr(), n, m, 0, null(), null(), 0)
            }
            (false, true) if with_w => nmf_fit_transform_csr_f64(
                model,
                ip.as_ptr(),
                ix.as_ptr(),
                v.as_ptr(),
                v.len(),
                n,
                m,
                null(),
                null(),
                0,
                w.as_mut_ptr(),
                len,
            ),
            (false, true) => {
                nmf_fit_csr_f64(model, ip.as_ptr(), ix.as_ptr(), v.as_ptr(), v.len(), n, m)
            }
            (false, false) if with_w => nmf_fit_transform_dense_f64(
                model,
                x.as_ptr(),
                n,
                m,
                0,
                null(),
                null(),
                0,
                w.as_mut_ptr(),
                len,
            ),
            (false, false) => nmf_fit_dense_f64(model, x.as_ptr(), n, m, 0),
        }
    };
    check(status, if partial { "partial_fit" } else { "fit" });
}

unsafe fn getters(model: *mut NmfModel) {
    let mut b = false;
    let mut u = 0usize;
    let mut f = 0f64;
    let mut p = nmf_params_default();
    check(nmf_is_fitted(model, &mut b), "is_fitted");
    check(nmf_get_n_iter(model, &mut u), "n_iter");
    check(nmf_get_n_steps(model, &mut u), "n_steps");
    check(
        nmf_get_reconstruction_err(model, &mut f),
        "reconstruction_err",
    );
    check(nmf_get_params(model, &mut p), "get_params");
    let (mut k, mut m) = (0usize, 0usize);
    if check(nmf_get_n_components(model, &mut k), "n_components")
        && check(nmf_get_n_features_in(model, &mut m), "n_features_in")
    {
        let mut h = vec![0f64; k * m];
        if check(
            nmf_get_components_f64(model, h.as_mut_ptr(), h.len()),
            "components",
        ) {
            assert!(h.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
        let mut h = vec![0f32; k * m];
        if check(
            nmf_get_components_f32(model, h.as_mut_ptr(), h.len()),
            "components",
        ) {
            assert!(h.iter().all(|v| v.is_finite() && *v >= 0.0));
        }
    }
}

unsafe fn save_load(model: *mut NmfModel, flip: Option<(u16, u8)>, cut: Option<u16>, probe: &Data) {
    let mut len = 0usize;
    if !check(
        nmf_save_buffer(model, null_mut(), 0, &mut len),
        "save_buffer size",
    ) {
        return;
    }
    let mut buf = vec![0u8; len];
    let short = nmf_save_buffer(model, buf.as_mut_ptr(), len.saturating_sub(1), &mut len);
    assert!(len == 0 || short == NmfStatus::NMF_ERR_BUFFER_LENGTH);
    assert!(check(
        nmf_save_buffer(model, buf.as_mut_ptr(), buf.len(), &mut len),
        "save_buffer"
    ));
    let pristine = flip.is_none() && cut.is_none();
    if let Some((pos, x)) = flip {
        let i = pos as usize % buf.len();
        buf[i] ^= x;
    }
    if let Some(c) = cut {
        buf.truncate(c as usize % (buf.len() + 1));
    }
    let mut loaded = null_mut();
    let status = nmf_load_buffer(buf.as_ptr(), buf.len(), &mut loaded);
    if check(status, "load_buffer") {
        assert!(!loaded.is_null());
        if pristine {
            let a = transform(model, probe);
            let b = transform(loaded, probe);
            assert_eq!(
                a.map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
                b.map(|v| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()),
                "a loaded model transforms differently"
            );
        }
        nmf_free(loaded);
    } else {
        assert!(loaded.is_null());
        assert!(
            !pristine,
            "an unaltered model failed to load: {status:?}: {}",
            CStr::from_ptr(nmf_last_error()).to_string_lossy()
        );
    }
}

/// One fuzz input: a sequence of at most 24 calls on at most 3 handles.
pub fn run(bytes: &[u8]) {
    let mut u = Unstructured::new(bytes);
    let mut models: Vec<*mut NmfModel> = Vec::new();
    for _ in 0..24 {
        let Ok(op) = Op::arbitrary(&mut u) else { break };
        unsafe {
            match op {
                Op::Create(p) => {
                    if models.len() < 3 {
                        let mut m = null_mut();
                        if check(nmf_create(&p.to_c(), &mut m), "create") {
                            models.push(m);
                        }
                    }
                }
                Op::CreateRaw(raw) => {
                    // Any bytes as NmfParams: invalid enums and bools must be
                    // reported, never trusted. Such models are not fitted (their
                    // sizes could be anything); only created and freed.
                    let mut p = std::mem::MaybeUninit::<NmfParams>::zeroed();
                    let n = raw.len().min(std::mem::size_of::<NmfParams>());
                    std::ptr::copy_nonoverlapping(raw.as_ptr(), p.as_mut_ptr() as *mut u8, n);
                    let mut m = null_mut();
                    if check(nmf_create(p.as_ptr(), &mut m), "create raw") {
                        check(nmf_set_params(m, p.as_ptr()), "set_params raw");
                        nmf_free(m);
                    }
                }
                Op::Free(i) => {
                    if !models.is_empty() {
                        let m = models.remove(i as usize % models.len());
                        nmf_free(m);
                    } else {
                        nmf_free(null_mut());
                    }
                }
                Op::SetParams(i, p) => {
                    check(nmf_set_params(pick(&models, i), &p.to_c()), "set_params");
                }
                Op::Fit(i, d, with_w) => fit(pick(&models, i), &d, false, with_w),
                Op::PartialFit(i, d) => fit(pick(&models, i), &d, true, false),
                Op::Transform(i, d) => {
                    transform(pick(&models, i), &d);
                }
                Op::InverseTransform(i, d) => {
                    let model = pick(&models, i);
                    let (n, k) = d.shape();
                    let w = d.dense();
                    let mut out = vec![0f64; n * 8];
                    check(
                        nmf_inverse_transform_dense_f64(
                            model,
                            w.as_ptr(),
                            n,
                            k,
                            0,
                            out.as_mut_ptr(),
                            out.len(),
                        ),
                        "inverse_transform",
                    );
                }
                Op::Getters(i) => getters(pick(&models, i)),
                Op::SaveLoad(i, flip, cut) => {
                    let probe = Data {
                        n: 3,
                        m: 0,
                        values: vec![100, 150, 200, 80, 120],
                        f32: false,
                        csr: false,
                    };
                    let model = pick(&models, i);
                    let mut m = 0usize;
                    if nmf_get_n_features_in(model, &mut m) == NmfStatus::NMF_OK {
                        let mut dt = minibatchnmf::ffi::NmfDtype::NMF_DTYPE_NONE;
                        nmf_get_dtype(model, &mut dt);
                        let probe = Data {
                            m: m as u8,
                            f32: dt == minibatchnmf::ffi::NmfDtype::NMF_DTYPE_F32,
                            ..probe
                        };
                        save_load(model, flip, cut, &probe);
                    } else {
                        save_load(model, flip, cut, &probe);
                    }
                }
                Op::LoadRaw(raw) => {
                    let mut m = null_mut();
                    if check(nmf_load_buffer(raw.as_ptr(), raw.len(), &mut m), "load raw") {
                        getters(m);
                        nmf_free(m);
                    }
                }
            }
        }
    }
    for m in models {
        unsafe { nmf_free(m) };
    }
}
