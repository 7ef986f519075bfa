//! Missing values with the cd solver (issue 18): masked HALS against a
//! plain-loop reference of the masked formulas, `missing="nan"` on data
//! without NaN = the unmasked cd fit bit for bit, CSR "unstored" = dense,
//! file = memory, save → resume bit for bit, completion of known-rank
//! data, and the memory refusal of the per-column statistics.

mod common;

use common::masked::{csr_observed, imputation_rmse, uniform, with_missing};
use minibatchnmf::io::InMemory;
use minibatchnmf::progress::{Control, FitObserver, StepReport};
use minibatchnmf::{
    CdStats, CsrView, FitArgs, Init, Input, MiniBatchNmf, MiniBatchNmfParams, Missing, Solver,
};
use ndarray::{s, Array2, ArrayView2};
use std::sync::Arc;

fn positive(n: usize, m: usize, seed: u64) -> Array2<f64> {
    let mut u = uniform(seed);
    Array2::from_shape_fn((n, m), |_| 0.1 + 3.0 * u())
}

fn cd() -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .solver(Solver::Cd)
        .tol(0.0)
        .max_no_improvement(None)
}

/// One HALS sweep of `v` on (g, c): components in order, skipped when
/// g[t][t] = 0.
fn sweep(v: &mut [f64], g: &Array2<f64>, c: &[f64]) {
    for t in 0..v.len() {
        let mut grad = -c[t];
        for r in 0..v.len() {
            grad += g[[t, r]] * v[r];
        }
        if g[[t, t]] != 0.0 {
            v[t] = (v[t] - grad / g[[t, t]]).max(0.0);
        }
    }
}

/// Σ_{i in rows, x_ij observed} (x_ij · w_i, w_i w_iᵀ) for column j.
fn col_stats(x: &Array2<f64>, w: &Array2<f64>, j: usize) -> (Vec<f64>, Array2<f64>) {
    let k = w.ncols();
    let (mut b, mut a) = (vec![0.0; k], Array2::zeros((k, k)));
    for i in 0..x.nrows() {
        if x[[i, j]].is_nan() {
            continue;
        }
        for t in 0..k {
            b[t] += x[[i, j]] * w[[i, t]];
            for r in 0..k {
                a[[t, r]] += w[[i, t]] * w[[i, r]];
            }
        }
    }
    (b, a)
}

/// The masked online HALS written out with plain loops: per batch, each
/// row one sweep on (Σ_obs h_j h_jᵀ, Σ_obs x_ij h_j); exact per-column
/// statistics A_j, B_j (of all rows' current W; `whole`: the batch's own);
/// each observed column one sweep on (A_j, B_j).
fn reference(
    x: &Array2<f64>,
    w0: &Array2<f64>,
    h0: &Array2<f64>,
    bs: usize,
    epochs: usize,
    (w_sweeps, h_sweeps): (usize, usize),
) -> (Array2<f64>, Array2<f64>) {
    let (n, m) = x.dim();
    let k = h0.nrows();
    let (mut w, mut h) = (w0.clone(), h0.clone());
    for _ in 0..epochs {
        for s0 in (0..n).step_by(bs) {
            for i in s0..(s0 + bs).min(n) {
                let (mut g, mut c) = (Array2::zeros((k, k)), vec![0.0; k]);
                for j in 0..m {
                    if x[[i, j]].is_nan() {
                        continue;
                    }
                    for t in 0..k {
                        c[t] += x[[i, j]] * h[[t, j]];
                        for r in 0..k {
                            g[[t, r]] += h[[t, j]] * h[[r, j]];
                        }
                    }
                }
                let mut v: Vec<f64> = w.row(i).to_vec();
                if (0..k).all(|t| g[[t, t]] == 0.0) {
                    v.fill(0.0);
                }
                for _ in 0..w_sweeps {
                    sweep(&mut v, &g, &c);
                }
                w.row_mut(i).assign(&ndarray::arr1(&v));
            }
            for j in 0..m {
                let (b, a) = col_stats(x, &w, j);
                if (0..k).all(|t| a[[t, t]] == 0.0) {
                    continue;
                }
                let mut v: Vec<f64> = h.column(j).to_vec();
                for _ in 0..h_sweeps {
                    sweep(&mut v, &a, &b);
                }
                h.column_mut(j).assign(&ndarray::arr1(&v));
            }
        }
    }
    (w, h)
}

fn close(what: &str, a: ArrayView2<f64>, b: ArrayView2<f64>, rtol: f64) {
    let d = (&a - &b).mapv(|v| v * v).sum().sqrt();
    let nb = b.mapv(|v| v * v).sum().sqrt();
    assert!(d <= rtol * nb, "{what}: ‖Δ‖ = {d:e}, ‖ref‖ = {nb:e}");
}

#[test]
fn masked_cd_updates_equal_the_plain_loop_reference() {
    let (n, m, k) = (37, 11, 3);
    let mut x = with_missing(&positive(n, m, 1), 0.25, 2);
    // A column observed nowhere keeps its H; a row observed nowhere gets 0.
    x.column_mut(4).fill(f64::NAN);
    x.row_mut(5).fill(f64::NAN);
    let w0 = positive(n, k, 3);
    let h0 = positive(k, m, 4);
    let (ip, ix, dv) = csr_observed(&x);
    let csr = CsrView::new(n, m, &ip, &ix, &dv).unwrap();
    // bs ≥ n: one batch, the statistics are the batch's own (exact in one
    // step); bs < n: the exact incremental statistics over three batches.
    for (bs, epochs, sweeps) in [
        (64, 1, (1, 1)),
        (64, 3, (2, 3)),
        (13, 1, (1, 1)),
        (13, 4, (3, 2)),
    ] {
        let (w_ref, h_ref) = reference(&x, &w0, &h0, bs, epochs, sweeps);
        assert_eq!(h_ref.column(4), h0.column(4));
        let p = cd()
            .n_components(k)
            .init(Init::Custom)
            .batch_size(bs)
            .max_iter(epochs)
            .cd_w_sweeps(sweeps.0)
            .cd_h_sweeps(sweeps.1)
            .cd_stats(CdStats::Exact);
        let args = || FitArgs {
            w: Some(w0.view()),
            h: Some(h0.view()),
            feature_names: None,
        };
        let mut dense = MiniBatchNmf::<f64>::new(p.clone().missing(Missing::Nan)).unwrap();
        let w = dense.fit_transform_with(&x, args()).unwrap();
        close("H dense", dense.components().unwrap(), h_ref.view(), 1e-10);
        close("W dense", w.view(), w_ref.view(), 1e-10);
        close("H dense", dense.components().unwrap(), h_ref.view(), 1e-10);
        assert!(w.row(5).iter().all(|&v| v == 0.0));
        assert_eq!(dense.components().unwrap().column(4), h0.column(4));
        // The reported error is over the observed entries.
        let wh = w.dot(&dense.components().unwrap());
        let mut sse = 0.0;
        for ((i, j), v) in x.indexed_iter() {
            if !v.is_nan() {
                sse += (v - wh[[i, j]]).powi(2);
            }
        }
        let err = dense.reconstruction_err().unwrap();
        assert!(
            (err - sse.sqrt()).abs() <= 1e-10 * err,
            "{err} {}",
            sse.sqrt()
        );
        let mut sparse = MiniBatchNmf::<f64>::new(p.missing(Missing::Unstored)).unwrap();
        let ws = sparse.fit_transform_with(csr, args()).unwrap();
        close("W csr", ws.view(), w_ref.view(), 1e-10);
        close("H csr", sparse.components().unwrap(), h_ref.view(), 1e-10);
    }
}

fn fit_all(p: MiniBatchNmfParams, x: Input<f64>) -> (Array2<f64>, Array2<f64>, u64, Array2<f64>) {
    let mut model = MiniBatchNmf::<f64>::new(p).unwrap();
    let w = model.fit_transform(x).unwrap();
    let h = model.components().unwrap().to_owned();
    let wt = model.transform(x).unwrap();
    (w, h, model.reconstruction_err().unwrap().to_bits(), wt)
}

#[test]
fn missing_nan_on_data_without_nan_is_the_unmasked_cd_fit_bit_for_bit() {
    let mut x = positive(90, 17, 3);
    x.mapv_inplace(|v| if v < 0.8 { 0.0 } else { v });
    let (ip, ix, dv) = csr_observed(&x.mapv(|v| if v == 0.0 { f64::NAN } else { v }));
    let csr = CsrView::new(90, 17, &ip, &ix, &dv).unwrap();
    for stats in [CdStats::Exact, CdStats::Decayed] {
        for fresh in [false, true] {
            let base = cd()
                .n_components(4)
                .init(Init::Nndsvda)
                .batch_size(32)
                .max_iter(5)
                .cd_stats(stats)
                .fresh_restarts(fresh)
                .random_state(Some(1));
            for input in [Input::Dense(x.view()), Input::Csr(csr)] {
                let plain = fit_all(base.clone(), input);
                let nan = fit_all(base.clone().missing(Missing::Nan), input);
                assert_eq!(plain, nan, "{stats:?} fresh={fresh}");
            }
        }
    }
}

#[test]
fn unstored_on_csr_equals_the_dense_nan_fit() {
    let x = with_missing(&positive(70, 13, 5), 0.2, 6);
    let (ip, ix, dv) = csr_observed(&x);
    let csr = CsrView::new(70, 13, &ip, &ix, &dv).unwrap();
    for stats in [CdStats::Exact, CdStats::Decayed] {
        for fresh in [false, true] {
            let base = cd()
                .n_components(3)
                .init(Init::Random)
                .batch_size(16)
                .max_iter(6)
                .cd_stats(stats)
                .fresh_restarts(fresh)
                .random_state(Some(2));
            let dense = fit_all(base.clone().missing(Missing::Nan), Input::Dense(x.view()));
            let sparse = fit_all(base.missing(Missing::Unstored), Input::Csr(csr));
            close("W", sparse.0.view(), dense.0.view(), 1e-10);
            close("H", sparse.1.view(), dense.1.view(), 1e-10);
            close("transform", sparse.3.view(), dense.3.view(), 1e-10);
            let (a, b) = (f64::from_bits(sparse.2), f64::from_bits(dense.2));
            assert!((a - b).abs() <= 1e-10 * b, "{a} {b}");
        }
    }
    // A CSR matrix storing every entry has nothing missing: the dense fit.
    let full = positive(40, 9, 8);
    let (ip, ix, dv) = csr_observed(&full);
    let c = CsrView::new(40, 9, &ip, &ix, &dv).unwrap();
    let base = cd()
        .n_components(3)
        .init(Init::Random)
        .batch_size(16)
        .max_iter(4)
        .random_state(Some(0));
    let d = fit_all(base.clone(), Input::Dense(full.view()));
    let u = fit_all(base.missing(Missing::Unstored), Input::Csr(c));
    close("W full", u.0.view(), d.0.view(), 1e-10);
    close("H full", u.1.view(), d.1.view(), 1e-10);
}

#[test]
fn a_file_gives_the_bits_of_memory() {
    let x = with_missing(&positive(150, 12, 9), 0.15, 10);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.npy");
    ndarray_npy::write_npy(&path, &x).unwrap();
    let p = cd()
        .n_components(3)
        .init(Init::Nndsvda)
        .batch_size(40)
        .max_iter(4)
        .missing(Missing::Nan)
        .random_state(Some(3));
    let mut mem = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
    let wm = mem.fit_transform(&x).unwrap();
    let mut file = MiniBatchNmf::<f64>::new(p).unwrap();
    let mut src = minibatchnmf::io::open::<f64>(&path).unwrap();
    let wf = file
        .fit_transform_source_with(src.as_mut(), FitArgs::default())
        .unwrap();
    assert_eq!(wm, wf);
    assert_eq!(mem.components().unwrap(), file.components().unwrap());
    assert_eq!(mem.reconstruction_err(), file.reconstruction_err());
    let tm = mem.transform(&x).unwrap();
    let tf = file
        .transform_source(minibatchnmf::io::open::<f64>(&path).unwrap().as_mut())
        .unwrap();
    assert_eq!(tm, tf);
}

struct StopAt(usize);
impl FitObserver for StopAt {
    fn on_step(&self, r: &StepReport) -> Control {
        if r.step == self.0 {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

#[test]
fn save_then_resume_is_bit_for_bit() {
    let x = with_missing(&positive(60, 8, 11), 0.2, 12);
    for stats in [CdStats::Exact, CdStats::Decayed] {
        let p = cd()
            .n_components(3)
            .init(Init::Random)
            .batch_size(16)
            .max_iter(5)
            .cd_stats(stats)
            .missing(Missing::Nan)
            .random_state(Some(0));
        let mut whole = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        let w_whole = whole.fit_transform(&x).unwrap();
        let mut model = MiniBatchNmf::<f64>::new(p).unwrap();
        model.set_observer(Some(Arc::new(StopAt(7))));
        let (w, cursor) = model
            .fit_transform_source_resumable(&mut InMemory::new(&x), FitArgs::default())
            .unwrap();
        // The per-column statistics (m × k²) travel in the model file.
        assert_eq!(model.components_denominator().unwrap().dim(), (8, 9));
        let mut loaded = MiniBatchNmf::<f64>::from_bytes(&model.to_bytes().unwrap()).unwrap();
        assert_eq!(
            loaded.components_denominator().unwrap(),
            model.components_denominator().unwrap()
        );
        let (w, cursor) = loaded
            .resume_fit_transform_source(&mut InMemory::new(&x), w, &cursor.unwrap())
            .unwrap();
        assert!(cursor.is_none());
        assert_eq!(w, w_whole);
        assert_eq!(loaded.components().unwrap(), whole.components().unwrap());
        assert_eq!(
            loaded.components_denominator().unwrap(),
            whole.components_denominator().unwrap()
        );
        assert_eq!(loaded.last_fit(), whole.last_fit());
    }
}

#[test]
fn partial_fit_and_transform_take_missing_values() {
    let x = with_missing(&positive(80, 10, 13), 0.2, 14);
    let p = cd()
        .n_components(3)
        .init(Init::Random)
        .missing(Missing::Nan)
        .random_state(Some(0));
    let mut model = MiniBatchNmf::<f64>::new(p).unwrap();
    for c in 0..4 {
        model
            .partial_fit(x.slice(s![c * 20..(c + 1) * 20, ..]))
            .unwrap();
    }
    assert_eq!(model.components_denominator().unwrap().dim(), (10, 9));
    let w = model.transform(&x).unwrap();
    assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0));
    let bytes = model.to_bytes().unwrap();
    let loaded = MiniBatchNmf::<f64>::from_bytes(&bytes).unwrap();
    assert_eq!(loaded.transform(&x).unwrap(), w);
}

/// X = W·H of rank r with multiplicative noise.
fn low_rank(n: usize, m: usize, r: usize, noise: f64, seed: u64) -> (Array2<f64>, Array2<f64>) {
    let mut u = uniform(seed);
    let w = Array2::from_shape_fn((n, r), |_| if u() < 0.6 { 0.0 } else { u() });
    let h = Array2::from_shape_fn((r, m), |_| if u() < 0.6 { 0.0 } else { u() });
    let clean = w.dot(&h);
    let x = clean.mapv(|v| v * (1.0 + noise * (2.0 * u() - 1.0) * 3f64.sqrt()));
    (x, clean)
}

#[test]
fn completion_of_known_rank_data_is_near_the_noise_and_far_below_mean_imputation() {
    let (truth, clean) = low_rank(1500, 120, 6, 0.02, 7);
    let x = with_missing(&truth, 0.2, 8);
    let params = cd()
        .n_components(6)
        .init(Init::Nndsvda)
        .batch_size(500)
        .max_iter(100)
        .missing(Missing::Nan)
        .random_state(Some(0));
    let mut model = MiniBatchNmf::<f64>::new(params).unwrap();
    let w = model.fit_transform(&x).unwrap();
    let completed = model.inverse_transform(w.view()).unwrap();
    let (rmse, rmse_mean, rmse_noise) = imputation_rmse(&x, &truth, &completed, &clean);
    eprintln!(
        "cd imputation RMSE {rmse:.4}, mean imputation {rmse_mean:.4}, noise {rmse_noise:.4}"
    );
    assert!(rmse < 1.5 * rmse_noise, "RMSE {rmse} vs noise {rmse_noise}");
    assert!(
        rmse < 0.1 * rmse_mean,
        "RMSE {rmse} vs mean imputation {rmse_mean}"
    );
}

#[test]
fn per_column_statistics_over_the_budget_are_refused_up_front() {
    // 3 · m · k² · 8 bytes = 3 · 2000 · 1600 · 8 = 73 MiB > 32 MiB, while
    // everything else of the fit is a few MiB.
    let mut x = positive(50, 2000, 15);
    x[[3, 7]] = f64::NAN;
    let mut p = cd()
        .n_components(40)
        .init(Init::Random)
        .missing(Missing::Nan);
    p.set_param("max_memory", "32M").unwrap();
    let mut model = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
    let e = model.fit(&x).unwrap_err().to_string();
    assert!(
        e.contains("not enough memory") && e.contains("solver='mu'"),
        "{e}"
    );
    assert!(e.contains("m·k²"), "{e}");
    assert!(!model.is_fitted());
    // The same data without NaN needs no per-column statistics.
    x[[3, 7]] = 1.0;
    let mut p2 = p.clone();
    p2 = p2.max_iter(1);
    MiniBatchNmf::<f64>::new(p2).unwrap().fit(&x).unwrap();
}
