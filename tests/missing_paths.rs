//! The masked dense Frobenius step has two paths (src/kernels/masked/
//! fro_corr.rs and frobenius.rs: the Gram-trick products minus a
//! correction per missing entry; fro_fused.rs and fro_gemm.rs: M∘(W·H) by
//! GEMM), chosen per batch by the missing
//! share. Both, forced, must match the numpy reference of the masked
//! formulas and each other, whatever the share (including rows and columns
//! with more missing than observed entries). Its own test binary: the
//! forcing switch is process-wide.

mod common;

use common::masked::{assert_close, run_case, uniform, with_missing};
use common::{case_dirs_in, Case};
use minibatchnmf::{
    force_masked_frobenius_path, BetaLoss, Init, Input, MiniBatchNmf, MiniBatchNmfParams, Missing,
};
use ndarray::Array2;
use std::path::Path;

fn fit(x: &Array2<f64>, k: usize) -> (Array2<f64>, Array2<f64>, f64) {
    let p = MiniBatchNmfParams::new()
        .n_components(k)
        .init(Init::Random)
        .random_state(Some(3))
        .beta_loss(BetaLoss::Frobenius)
        .batch_size(70)
        .max_iter(6)
        .tol(0.0)
        .max_no_improvement(None)
        .alpha_w(0.01)
        .l1_ratio(0.3)
        .missing(Missing::Nan);
    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
    let w = m.fit_transform(Input::Dense(x.view())).unwrap();
    let h = m.components().unwrap().to_owned();
    (w, h, m.reconstruction_err().unwrap())
}

#[test]
fn both_frobenius_paths_match_the_reference_and_each_other() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases_masked");
    let dirs: Vec<_> = case_dirs_in(&root)
        .into_iter()
        .filter(|d| d.file_name().unwrap().to_string_lossy() == "b2_dense_64")
        .collect();
    assert_eq!(dirs.len(), 1, "the b2_dense_64 fixture");
    let case = Case::load(&dirs[0]).unwrap();
    for path in [Some(false), Some(true)] {
        force_masked_frobenius_path(path);
        let (w, h, err, wt) = run_case::<f64>(&case);
        assert_close("W", w.view(), case.array_f64("W").unwrap().view(), 1e-10);
        assert_close("H", h.view(), case.array_f64("H").unwrap().view(), 1e-10);
        assert_close("Wt", wt.view(), case.array_f64("Wt").unwrap().view(), 1e-10);
        let s_err: f64 = case.expect("reconstruction_err").unwrap();
        assert!(
            (err - s_err).abs() <= 1e-10 * s_err,
            "{path:?}: {err} vs {s_err}"
        );
    }

    let mut u = uniform(11);
    let x = Array2::from_shape_fn((300, 50), |_| 0.1 + 3.0 * u());
    // k = 4, 10, 17: one, three and five lane groups of the corrections'
    // kernels (the last beyond their fixed sizes).
    for (share, k) in [
        (0.02, 4),
        (0.3, 4),
        (0.6, 4),
        (0.3, 10),
        (0.1, 17),
        (0.6, 17),
    ] {
        let mut xm = with_missing(&x, share, 12);
        // A row and a column with more missing than observed entries (the
        // corrections path sums those directly), and an all-missing row.
        for j in 0..40 {
            xm[[5, j]] = f64::NAN;
        }
        for i in 0..200 {
            xm[[i, 7]] = f64::NAN;
        }
        xm.row_mut(9).fill(f64::NAN);
        force_masked_frobenius_path(Some(false));
        let a = fit(&xm, k);
        force_masked_frobenius_path(Some(true));
        let b = fit(&xm, k);
        force_masked_frobenius_path(None);
        let c = fit(&xm, k);
        assert_close("W", b.0.view(), a.0.view(), 1e-10);
        assert_close("H", b.1.view(), a.1.view(), 1e-10);
        assert!(
            (a.2 - b.2).abs() <= 1e-10 * a.2,
            "{share}, k = {k}: {} vs {}",
            a.2,
            b.2
        );
        // The cost model picks one of the two.
        assert!(c.1 == a.1 || c.1 == b.1, "{share}: auto is neither path");
        assert!(a.0.row(9).iter().all(|&v| v == 0.0));
    }
    force_masked_frobenius_path(None);
}
