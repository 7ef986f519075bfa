//! Missing values (`missing` = "nan" / "unstored"): the masked updates
//! against a numpy reference of their formulas, exactness where nothing is
//! missing, matrix completion on data of known rank, rank selection by
//! cross-validation, and the refusals.

mod common;

use common::masked::{
    assert_close, fro, imputation_rmse, run_case, uniform, with_missing, OneReader,
};
use common::{case_dirs_in, Case};
use minibatchnmf::io::{InMemory, RowSource};
use minibatchnmf::{
    cross_validate_rank, BetaLoss, CsrView, CvOptions, FitArgs, Init, Input, MiniBatchNmf,
    MiniBatchNmfParams, Missing,
};
use ndarray::Array2;
use std::path::Path;

#[test]
fn masked_updates_match_the_numpy_reference_of_the_masked_formulas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases_masked");
    let dirs = case_dirs_in(&root);
    assert!(dirs.len() >= 20, "the masked fixtures are missing");
    for dir in dirs {
        let case = Case::load(&dir).unwrap();
        let s_w = case.array_f64("W").unwrap();
        let s_h = case.array_f64("H").unwrap();
        let s_wt = case.array_f64("Wt").unwrap();
        let s_err: f64 = case.expect("reconstruction_err").unwrap();
        let name = &case.name;
        if case.dtype().unwrap() == "float64" {
            let (w, h, err, wt) = run_case::<f64>(&case);
            assert_close(&format!("{name} W"), w.view(), s_w.view(), 1e-10);
            assert_close(&format!("{name} H"), h.view(), s_h.view(), 1e-10);
            assert_close(&format!("{name} transform"), wt.view(), s_wt.view(), 1e-10);
            assert!(
                (err - s_err).abs() <= 1e-10 * s_err,
                "{name}: reconstruction_err {err} vs {s_err}"
            );
        } else {
            // float32: the rule of tests/parity.rs. R64 = our f64 run of
            // the same (f32-exact) inputs; numpy's f32 result S is off it by
            // δ = ‖S − R64‖ (f32 rounding); ours must be within
            // 4δ + sqrt(N)·eps_f32·‖S‖ of S.
            let (w, h, _, wt) = run_case::<f32>(&case);
            let (w64, h64, _, wt64) = run_case::<f64>(&case);
            let eps = f32::EPSILON as f64;
            for (what, o, r, s) in [
                ("W", &w, &w64, &s_w),
                ("H", &h, &h64, &s_h),
                ("transform", &wt, &wt64, &s_wt),
            ] {
                let delta = fro(s.view(), r.view());
                let norm = s.iter().map(|v| v * v).sum::<f64>().sqrt();
                let allowed = 4.0 * delta + (s.len() as f64).sqrt() * eps * norm;
                let dist = fro(o.view(), s.view());
                assert!(
                    dist <= allowed,
                    "{name} {what}: distance to numpy's f32 result {dist:.3e} > allowed {allowed:.3e}"
                );
            }
        }
    }
}

fn positive_matrix(n: usize, m: usize, seed: u64, zeros: f64) -> Array2<f64> {
    let mut u = uniform(seed);
    Array2::from_shape_fn((n, m), |_| {
        let v = u();
        if v < zeros {
            0.0
        } else {
            0.1 + 3.0 * v
        }
    })
}

fn csr_of(x: &Array2<f64>, store_zeros: bool) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let (mut ip, mut ix, mut dv) = (vec![0], vec![], vec![]);
    for row in x.rows() {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 || store_zeros {
                ix.push(j);
                dv.push(v);
            }
        }
        ip.push(ix.len());
    }
    (ip, ix, dv)
}

fn fit_all(
    params: MiniBatchNmfParams,
    x: Input<f64>,
) -> (Array2<f64>, Array2<f64>, f64, Array2<f64>) {
    let mut model = MiniBatchNmf::<f64>::new(params).unwrap();
    let w = model.fit_transform(x).unwrap();
    let h = model.components().unwrap().to_owned();
    let wt = model.transform(x).unwrap();
    (w, h, model.reconstruction_err().unwrap(), wt)
}

#[test]
fn missing_nan_on_data_without_nan_is_the_unmasked_fit_bit_for_bit() {
    for (beta, zeros) in [
        (BetaLoss::Frobenius, 0.3),
        (BetaLoss::KullbackLeibler, 0.3),
        (BetaLoss::Beta(0.5), 0.3),
        (BetaLoss::ItakuraSaito, 0.0),
    ] {
        let x = positive_matrix(90, 17, 3, zeros);
        let (ip, ix, dv) = csr_of(&x, false);
        let csr = CsrView::new(90, 17, &ip, &ix, &dv).unwrap();
        for fresh in [false, true] {
            let base = MiniBatchNmfParams::new()
                .n_components(4)
                .init(Init::Nndsvda)
                .beta_loss(beta)
                .batch_size(32)
                .max_iter(5)
                .fresh_restarts(fresh)
                .fresh_restarts_max_iter(3)
                .random_state(Some(1));
            for input in [Input::Dense(x.view()), Input::Csr(csr)] {
                let plain = fit_all(base.clone(), input);
                let nan = fit_all(base.clone().missing(Missing::Nan), input);
                assert_eq!(plain.0, nan.0, "{beta:?} W");
                assert_eq!(plain.1, nan.1, "{beta:?} H");
                assert_eq!(plain.2.to_bits(), nan.2.to_bits(), "{beta:?} error");
                assert_eq!(plain.3, nan.3, "{beta:?} transform");
            }
        }
    }
}

#[test]
fn missing_unstored_on_a_csr_matrix_storing_every_entry_equals_the_dense_fit() {
    for beta in [
        BetaLoss::Frobenius,
        BetaLoss::KullbackLeibler,
        BetaLoss::Beta(1.5),
    ] {
        let x = positive_matrix(70, 13, 5, 0.3);
        let (ip, ix, dv) = csr_of(&x, true);
        let csr = CsrView::new(70, 13, &ip, &ix, &dv).unwrap();
        let base = MiniBatchNmfParams::new()
            .n_components(3)
            .init(Init::Random)
            .beta_loss(beta)
            .batch_size(16)
            .max_iter(6)
            .random_state(Some(2));
        let dense = fit_all(base.clone(), Input::Dense(x.view()));
        let unstored = fit_all(base.missing(Missing::Unstored), Input::Csr(csr));
        assert_close("W", unstored.0.view(), dense.0.view(), 1e-10);
        assert_close("H", unstored.1.view(), dense.1.view(), 1e-10);
        assert_close("transform", unstored.3.view(), dense.3.view(), 1e-10);
        assert!((unstored.2 - dense.2).abs() <= 1e-10 * dense.2);
    }
}

/// X = W·H (n×m, rank r) with multiplicative noise of relative size
/// `noise`, and a mask of `missing` share of missing entries.
fn low_rank(n: usize, m: usize, r: usize, noise: f64, seed: u64) -> Array2<f64> {
    let mut u = uniform(seed);
    let w = Array2::from_shape_fn((n, r), |_| if u() < 0.6 { 0.0 } else { u() });
    let h = Array2::from_shape_fn((r, m), |_| if u() < 0.6 { 0.0 } else { u() });
    let mut x = w.dot(&h);
    x.mapv_inplace(|v| v * (1.0 + noise * (2.0 * u() - 1.0) * 3f64.sqrt()));
    x
}

#[test]
fn fresh_restarts_start_from_the_observed_mean_of_a_batch_with_missing_entries() {
    let x = with_missing(&low_rank(120, 15, 3, 0.01, 7), 0.1, 8);
    let p = |fresh: bool| {
        MiniBatchNmfParams::new()
            .n_components(3)
            .init(Init::Random)
            .random_state(Some(0))
            .batch_size(40)
            .max_iter(30)
            .fresh_restarts(fresh)
            .missing(Missing::Nan)
    };
    let (_, h, err, _) = fit_all(p(true), Input::Dense(x.view()));
    let (_, _, err_plain, _) = fit_all(p(false), Input::Dense(x.view()));
    assert!(h.iter().all(|v| v.is_finite()) && err.is_finite());
    // Fresh W solves lose nothing against the in-place updates here.
    assert!(
        err <= 1.5 * err_plain,
        "fresh {err} vs in place {err_plain}"
    );
}

#[test]
fn completion_of_known_rank_data_is_near_the_noise_and_far_below_mean_imputation() {
    let truth = low_rank(1500, 120, 6, 0.02, 7);
    let x = with_missing(&truth, 0.2, 8);
    let params = MiniBatchNmfParams::new()
        .n_components(6)
        .init(Init::Nndsvda)
        .batch_size(500)
        .max_iter(300)
        .tol(0.0)
        .max_no_improvement(None)
        .missing(Missing::Nan)
        .random_state(Some(0));
    let mut model = MiniBatchNmf::<f64>::new(params).unwrap();
    let w = model.fit_transform(&x).unwrap();
    let completed = model.inverse_transform(w.view()).unwrap();
    let clean = {
        // The noise-free product, for the noise level.
        let mut u = uniform(7);
        let w = Array2::from_shape_fn((1500, 6), |_| if u() < 0.6 { 0.0 } else { u() });
        let h = Array2::from_shape_fn((6, 120), |_| if u() < 0.6 { 0.0 } else { u() });
        w.dot(&h)
    };
    let (rmse, rmse_mean, rmse_noise) = imputation_rmse(&x, &truth, &completed, &clean);
    eprintln!("imputation RMSE {rmse:.4}, mean imputation {rmse_mean:.4}, noise {rmse_noise:.4}");
    assert!(
        rmse < 1.5 * rmse_noise,
        "imputation RMSE {rmse} vs noise {rmse_noise}"
    );
    assert!(
        rmse < 0.1 * rmse_mean,
        "imputation RMSE {rmse} vs mean imputation {rmse_mean}"
    );
}

#[test]
fn cross_validation_picks_the_true_rank() {
    let truth = low_rank(1500, 120, 6, 0.02, 11);
    let x = with_missing(&truth, 0.2, 12);
    let params = MiniBatchNmfParams::new()
        .init(Init::Nndsvda)
        .batch_size(500)
        .max_iter(200)
        .tol(0.0)
        .max_no_improvement(None)
        .random_state(Some(0));
    let opts = CvOptions {
        test_fraction: 0.1,
        n_repeats: 3,
        seed: 3,
    };
    let ks = [2, 4, 6, 8, 10];
    let cv = cross_validate_rank(&mut InMemory::new(&x), &params, &ks, &opts).unwrap();
    eprintln!("means {:?} std {:?} best {}", cv.mean, cv.std, cv.best_k);
    assert_eq!(cv.scores.dim(), (5, 3));
    assert_eq!(cv.best_k, 6, "means {:?}", cv.mean);
}

#[test]
fn cross_validation_in_parallel_gives_the_sequential_scores() {
    minibatchnmf::set_num_threads(2).unwrap();
    let x = with_missing(&low_rank(400, 30, 3, 0.02, 21), 0.1, 22);
    let params = MiniBatchNmfParams::new()
        .init(Init::Nndsvda)
        .batch_size(128)
        .max_iter(20)
        .random_state(Some(0));
    let opts = CvOptions {
        test_fraction: 0.2,
        n_repeats: 2,
        seed: 5,
    };
    let ks = [1, 2, 3, 5];
    let src = InMemory::new(&x);
    assert!(src.reader().is_some(), "X in memory has more readers");
    let par = cross_validate_rank(&mut src.clone(), &params, &ks, &opts).unwrap();
    let seq = cross_validate_rank(&mut OneReader(src), &params, &ks, &opts).unwrap();
    assert_eq!(par, seq);
}

#[test]
fn a_row_without_observed_entries_gets_w_zero_and_a_never_observed_column_keeps_its_initial_h() {
    let mut x = positive_matrix(40, 8, 9, 0.0);
    x.row_mut(5).fill(f64::NAN);
    x.column_mut(3).fill(f64::NAN);
    let w0 = Array2::from_elem((40, 2), 0.5);
    let h0 = Array2::from_shape_fn((2, 8), |(i, j)| 0.3 + 0.1 * (i + j) as f64);
    let params = MiniBatchNmfParams::new()
        .n_components(2)
        .init(Init::Custom)
        .batch_size(16)
        .max_iter(4)
        .missing(Missing::Nan);
    let mut model = MiniBatchNmf::<f64>::new(params).unwrap();
    let args = FitArgs {
        w: Some(w0.view()),
        h: Some(h0.view()),
        feature_names: None,
    };
    let w = model.fit_transform_with(&x, args).unwrap();
    assert!(w.row(5).iter().all(|&v| v == 0.0), "{:?}", w.row(5));
    let h = model.components().unwrap();
    assert_eq!(h.column(3), h0.column(3));
    assert!(h.column(2) != h0.column(2));
    let wt = model.transform(&x).unwrap();
    assert!(wt.row(5).iter().all(|&v| v == 0.0));
    assert!(wt.row(6).iter().any(|&v| v > 0.0));
}

#[test]
fn bad_input_is_refused_clearly_and_leaves_the_model_unchanged() {
    let x = positive_matrix(30, 6, 4, 0.0);
    let params = MiniBatchNmfParams::new()
        .n_components(2)
        .init(Init::Random)
        .random_state(Some(0))
        .max_iter(5);
    let mut model = MiniBatchNmf::<f64>::new(params.clone()).unwrap();
    model.fit(&x).unwrap();
    let h = model.components().unwrap().to_owned();
    // NaN with the default missing = "error": scikit-learn's message.
    let mut xn = x.clone();
    xn[[3, 2]] = f64::NAN;
    let e = model.fit(&xn).unwrap_err().to_string();
    assert!(e.contains("NaN") && e.contains("row 3, column 2"), "{e}");
    assert_eq!(model.components().unwrap(), h);
    // "unstored" on dense data.
    model.set_param("missing", "unstored").unwrap();
    let e = model.fit(&x).unwrap_err().to_string();
    assert!(e.contains("missing") && e.contains("dense"), "{e}");
    assert_eq!(model.components().unwrap(), h);
    // Every entry missing.
    model.set_param("missing", "nan").unwrap();
    let e = model.fit(&x.mapv(|_| f64::NAN)).unwrap_err().to_string();
    assert!(e.contains("every entry is missing"), "{e}");
    assert_eq!(model.components().unwrap(), h);
    // Infinity is not a missing value.
    xn[[4, 1]] = f64::INFINITY;
    let e = model.fit(&xn).unwrap_err().to_string();
    assert!(e.contains("row 4, column 1"), "{e}");
    // So are a negative value and −∞ beside NaN (each where the scan's
    // vector lanes see it, and past them); −0 is an observed zero.
    for (at, v) in [
        ((2, 5), -1.0),
        ((6, 3), f64::NEG_INFINITY),
        ((29, 5), -1e-300),
    ] {
        let mut xb = x.clone();
        xb[[3, 2]] = f64::NAN;
        xb[at] = v;
        let e = model.fit(&xb).unwrap_err().to_string();
        assert!(e.contains(&format!("row {}, column {}", at.0, at.1)), "{e}");
        assert_eq!(model.components().unwrap(), h);
    }
    let mut xz = x.clone();
    xz[[3, 2]] = f64::NAN;
    xz[[1, 1]] = -0.0;
    MiniBatchNmf::<f64>::new(params.clone().missing(Missing::Nan))
        .unwrap()
        .fit(&xz)
        .unwrap();
    // A bad value of the parameter (cd takes missing values: tests/missing_cd.rs).
    let mut p = MiniBatchNmfParams::new();
    let e = p.set_param("missing", "zero").unwrap_err().to_string();
    assert!(e.contains("'error', 'nan' or 'unstored'"), "{e}");
    // Cross-validation arguments.
    let cv = |ks: &[usize], f: f64, r: usize| {
        let o = CvOptions {
            test_fraction: f,
            n_repeats: r,
            seed: 0,
        };
        cross_validate_rank(&mut InMemory::new(&x), &params, ks, &o)
            .unwrap_err()
            .to_string()
    };
    assert!(cv(&[], 0.1, 1).contains("ks"));
    assert!(cv(&[0], 0.1, 1).contains("ks"));
    assert!(cv(&[7], 0.1, 1).contains("ks"));
    assert!(cv(&[2], 0.0, 1).contains("test_fraction"));
    assert!(cv(&[2], 1.0, 1).contains("test_fraction"));
    assert!(cv(&[2], 0.1, 0).contains("n_repeats"));
}

#[test]
fn missing_is_persisted_when_set_and_read_back() {
    let x = with_missing(&positive_matrix(30, 6, 4, 0.0), 0.1, 5);
    let params = MiniBatchNmfParams::new()
        .n_components(2)
        .init(Init::Random)
        .random_state(Some(0))
        .max_iter(5)
        .missing(Missing::Nan);
    let mut model = MiniBatchNmf::<f64>::new(params).unwrap();
    model.fit(&x).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model.save(&path).unwrap();
    let loaded = MiniBatchNmf::<f64>::load(&path).unwrap();
    assert_eq!(loaded.params().get_missing(), Missing::Nan);
    assert_eq!(loaded.transform(&x).unwrap(), model.transform(&x).unwrap());
}
