//! Helpers of the missing-value tests (tests/missing*.rs).

use super::{Case, Matrix};
use minibatchnmf::io::{InMemory, RowSource};
use minibatchnmf::{FitArgs, Input, MiniBatchNmf, NmfFloat};
use ndarray::{Array2, ArrayView2};

/// Deterministic uniform values in [0, 1).
pub fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn with_missing(x: &Array2<f64>, share: f64, seed: u64) -> Array2<f64> {
    let mut u = uniform(seed);
    x.mapv(|v| if u() < share { f64::NAN } else { v })
}

/// W, H, reconstruction_err and transform(X) of a fixture case's fit.
pub fn run_case<F: NmfFloat>(case: &Case) -> (Array2<f64>, Array2<f64>, f64, Array2<f64>) {
    let x: Matrix<F> = case.matrix("X").unwrap();
    let w0: Array2<F> = case.array("W0").unwrap();
    let h0: Array2<F> = case.array("H0").unwrap();
    let params = case.build_params().unwrap();
    let mut model = MiniBatchNmf::<F>::new(params).unwrap();
    let args = FitArgs {
        w: Some(w0.view()),
        h: Some(h0.view()),
        feature_names: None,
    };
    let w = model.fit_transform_with(x.input(), args).unwrap();
    let wt = model.transform(x.input()).unwrap();
    let h = model.components().unwrap().mapv(|v| v.to_f64_());
    let err = model.reconstruction_err().unwrap();
    (w.mapv(|v| v.to_f64_()), h, err, wt.mapv(|v| v.to_f64_()))
}

pub fn fro(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Elementwise |a − b| <= rtol · max(|b|, 1e-3 · max|B|).
pub fn assert_close(what: &str, a: ArrayView2<f64>, b: ArrayView2<f64>, rtol: f64) {
    assert_eq!(a.dim(), b.dim(), "{what}: shapes");
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for ((idx, x), y) in a.indexed_iter().zip(b.iter()) {
        let tol = rtol * y.abs().max(1e-3 * scale);
        assert!(
            (x - y).abs() <= tol,
            "{what}: at {idx:?} got {x:.17e}, expected {y:.17e}"
        );
    }
}

/// CSR (indptr, indices, data) of the non-NaN entries of `x` (NaN entries
/// unstored).
pub fn csr_observed(x: &Array2<f64>) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let (mut ip, mut ix, mut dv) = (vec![0], vec![], vec![]);
    for row in x.rows() {
        for (j, &v) in row.iter().enumerate() {
            if !v.is_nan() {
                ix.push(j);
                dv.push(v);
            }
        }
        ip.push(ix.len());
    }
    (ip, ix, dv)
}

/// RMSE over the missing (NaN) entries of `x` of the completed matrix, of
/// the per-column means of the observed entries, and of the noise-free
/// `clean` matrix, each against `truth`.
pub fn imputation_rmse(
    x: &Array2<f64>,
    truth: &Array2<f64>,
    completed: &Array2<f64>,
    clean: &Array2<f64>,
) -> (f64, f64, f64) {
    let col_mean: Vec<f64> = x
        .columns()
        .into_iter()
        .map(|c| {
            let obs: Vec<f64> = c.iter().copied().filter(|v| !v.is_nan()).collect();
            obs.iter().sum::<f64>() / obs.len() as f64
        })
        .collect();
    let (mut err, mut err_mean, mut noise, mut count) = (0.0, 0.0, 0.0, 0.0);
    for ((i, j), v) in x.indexed_iter() {
        if v.is_nan() {
            let t = truth[[i, j]];
            err += (completed[[i, j]] - t).powi(2);
            err_mean += (col_mean[j] - t).powi(2);
            noise += (clean[[i, j]] - t).powi(2);
            count += 1.0;
        }
    }
    (
        (err / count).sqrt(),
        (err_mean / count).sqrt(),
        (noise / count).sqrt(),
    )
}

/// X in memory behind a source with one reader (no `reader()`): rank
/// cross-validation then fits its candidates one after the other.
pub struct OneReader<'a>(pub InMemory<'a, f64>);

impl RowSource<f64> for OneReader<'_> {
    fn shape(&self) -> (usize, usize) {
        self.0.shape()
    }
    fn nnz(&self) -> usize {
        self.0.nnz()
    }
    fn is_sparse(&self) -> bool {
        self.0.is_sparse()
    }
    fn rows(&mut self, start: usize, end: usize) -> minibatchnmf::Result<Input<'_, f64>> {
        self.0.rows(start, end)
    }
    fn describe(&self) -> String {
        "one reader".into()
    }
}
