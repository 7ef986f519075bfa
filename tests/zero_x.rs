//! An all-zero X (issue 20): scikit-learn 1.9.1's MiniBatchNMF fits it
//! with every init (W = 0 and H = 0: NNDSVD's singular values are all 0,
//! the random init's scale is sqrt(mean(X)/k) = 0). The in-RAM path, the
//! streamed randomized SVD a small budget takes for a tall X (with W in RAM
//! or in a mapped file), a fit read from a file and the C ABI all give that
//! same answer, the same fit summary to the bit.

use minibatchnmf::ffi::*;
use minibatchnmf::io;
use minibatchnmf::{CsrView, Init, Input, MiniBatchNmf, MiniBatchNmfParams};
use ndarray::Array2;
use std::ffi::CString;

/// 3·10^5 × 4, k = 2: the in-RAM SVD blocks (4 × 3·10^5 × 12 values,
/// 110 MiB) make the fit's estimate 188 MiB; "150M" takes the streamed SVD
/// with W in RAM (estimate 102 MiB), "100M" the streamed SVD with W in a
/// mapped file (97 MiB stay in RAM).
const N: usize = 300_000;
const M: usize = 4;
const BUDGETS: [&str; 3] = ["auto", "150M", "100M"];

fn params(init: Init) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(2)
        .init(init)
        .random_state(Some(0))
        .max_iter(3)
}

/// (n_iter, n_steps, reconstruction_err's bits) of a fit whose W and H
/// are checked to be all zeros.
type Summary = (usize, usize, u64);

fn fit(init: Init, budget: &str, x: Input<f64>) -> Summary {
    let mut m = MiniBatchNmf::<f64>::new(params(init)).unwrap();
    m.set_param("max_memory", budget).unwrap();
    let w = m
        .fit_transform(x)
        .unwrap_or_else(|e| panic!("{init:?}, max_memory {budget}: {e}"));
    assert!(w.iter().all(|&v| v == 0.0), "{init:?} {budget}: W ≠ 0");
    let h = m.components().unwrap();
    assert!(h.iter().all(|&v| v == 0.0), "{init:?} {budget}: H ≠ 0");
    let s = m.last_fit().unwrap();
    (s.n_iter, s.n_steps, s.reconstruction_err.to_bits())
}

#[test]
fn all_zero_x_gives_zero_factors_in_ram_streamed_and_spilled() {
    let x = Array2::<f64>::zeros((N, M));
    let indptr = vec![0usize; N + 1];
    let csr = CsrView::new(N, M, &indptr, &[], &[]).unwrap();
    for init in [
        Init::Auto,
        Init::Random,
        Init::Nndsvd,
        Init::Nndsvda,
        Init::Nndsvdar,
    ] {
        let reference = fit(init, "auto", Input::Dense(x.view()));
        assert_eq!(reference.2, 0.0f64.to_bits());
        for budget in BUDGETS {
            for input in [Input::Dense(x.view()), Input::Csr(csr)] {
                assert_eq!(
                    fit(init, budget, input),
                    reference,
                    "{init:?}, max_memory {budget}, sparse={}",
                    input.is_sparse()
                );
            }
        }
    }
}

#[test]
fn all_zero_x_from_a_file_and_through_the_c_abi_gives_zero_factors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeros.npy");
    let x = Array2::<f64>::zeros((N, M));
    let mut out = io::NpyWriter::<f64>::create(&path, (N, M)).unwrap();
    out.write_rows(x.view()).unwrap();
    out.finish().unwrap();
    let reference = fit(Init::Nndsvda, "auto", Input::Dense(x.view()));
    for budget in BUDGETS {
        let mut m = MiniBatchNmf::<f64>::new(params(Init::Nndsvda)).unwrap();
        m.set_param("max_memory", budget).unwrap();
        let mut src = io::open::<f64>(&path).unwrap();
        let s = m.fit_source(src.as_mut()).unwrap();
        assert!(m.components().unwrap().iter().all(|&v| v == 0.0));
        assert_eq!(
            (s.n_iter, s.n_steps, s.reconstruction_err.to_bits()),
            reference,
            "file, max_memory {budget}"
        );
    }

    let mut p = nmf_params_default();
    p.n_components_mode = NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
    p.n_components = 2;
    p.init = NmfInit::NMF_INIT_NNDSVDA;
    p.random_state = 0;
    p.random_state_is_none = false;
    p.max_iter = 3;
    let name = CString::new("max_memory").unwrap();
    for budget in BUDGETS {
        let value = CString::new(budget).unwrap();
        let mut model: *mut NmfModel = std::ptr::null_mut();
        let mut h = [f64::NAN; 2 * M];
        unsafe {
            assert_eq!(nmf_create(&p, &mut model), NmfStatus::NMF_OK);
            assert_eq!(
                nmf_set_param(model, name.as_ptr(), value.as_ptr()),
                NmfStatus::NMF_OK
            );
            assert_eq!(
                nmf_fit_dense_f64(model, x.as_ptr(), N, M, M),
                NmfStatus::NMF_OK,
                "C ABI, max_memory {budget}"
            );
            assert_eq!(
                nmf_get_components_f64(model, h.as_mut_ptr(), h.len()),
                NmfStatus::NMF_OK
            );
            nmf_free(model);
        }
        assert!(h.iter().all(|&v| v == 0.0), "C ABI {budget}: {h:?}");
    }
}
