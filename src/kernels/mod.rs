//! Numerical kernels: the beta-divergence and the multiplicative updates of
//! W and H, for dense and CSR mini-batches, and one mini-batch step built
//! from them.

pub mod cd;
mod divergence;
mod elementwise;
mod log_terms;
pub mod masked;
mod simd_log;
mod skinny;
mod step;
mod stream;
mod update_h;
mod update_w;
mod workspace;

#[cfg(test)]
use step::minibatch_step;
pub use step::{step_apply, step_local, step_reduce, StepCtx, StepSolver, WRows};
pub use stream::{beta_divergence_source, solve_w_source};
pub(crate) use workspace::block_elems;
pub use workspace::Workspace;

#[cfg(test)]
use crate::dist::Comm;
#[cfg(test)]
use crate::error::Result;
use crate::float::NmfFloat;
#[cfg(test)]
use crate::input::Input;
use crate::params::ValidParams;
use ndarray::{Array2, ArrayView2};

/// The beta-divergence and its MM exponent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Loss {
    /// beta.
    pub beta: f64,
    /// gamma (Fevotte & Idier 2011).
    pub gamma: f64,
}

impl Loss {
    /// Loss for a given beta.
    pub fn new(beta: f64) -> Self {
        let gamma = if beta < 1.0 {
            1.0 / (2.0 - beta)
        } else if beta > 2.0 {
            1.0 / (beta - 1.0)
        } else {
            1.0
        };
        Loss { beta, gamma }
    }
}

/// Scaled L1/L2 penalty constants of W or H.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Penalty {
    /// L1 constant.
    pub l1: f64,
    /// L2 constant.
    pub l2: f64,
}

impl Penalty {
    /// W's penalty: alpha_W scaled by n_features.
    pub fn for_w(p: &ValidParams, n_features: usize) -> Self {
        let a = p.get_alpha_w();
        let r = p.get_l1_ratio();
        Penalty {
            l1: n_features as f64 * a * r,
            l2: n_features as f64 * a * (1.0 - r),
        }
    }
    /// H's penalty: alpha_H scaled by the batch's rows.
    pub fn for_h(p: &ValidParams, batch_rows: usize) -> Self {
        Self::for_h_rows(p, batch_rows as f64)
    }
    /// H's penalty for statistics standing for `rows` rows (cd: the rows
    /// behind A and B, a decayed count with forgetting).
    pub fn for_h_rows(p: &ValidParams, rows: f64) -> Self {
        let a = p.alpha_h_value();
        let r = p.get_l1_ratio();
        Penalty {
            l1: rows * a * r,
            l2: rows * a * (1.0 - r),
        }
    }

    /// l1·Σv + l2·Σv² (each term only when its constant is non-zero: a
    /// zero constant times a finite sum adds nothing).
    pub fn terms<F: NmfFloat>(&self, v: ArrayView2<F>) -> f64 {
        let mut t = 0.0;
        if self.l1 != 0.0 {
            t += self.l1 * v.iter().map(|x| x.to_f64_()).sum::<f64>();
        }
        if self.l2 != 0.0 {
            t += self.l2 * v.iter().map(|x| x.to_f64_() * x.to_f64_()).sum::<f64>();
        }
        t
    }
}

/// Result of a W solve.
pub struct SolveWOutcome<F> {
    /// W.
    pub w: Array2<F>,
}

/// What one mini-batch step measured.
pub struct StepOutcome {
    /// Mean cost of the batch (after the W update, before the H update),
    /// penalties included.
    pub batch_cost: f64,
    /// ||H_new − H_old|| / ||H_new||.
    pub h_diff: f64,
}

/// W minimising the loss for X with H fixed, from the constant start
/// sqrt(mean/k) (scikit-learn's `_solve_W`; `mean` is mean(X), over all
/// workers' rows when distributed): [`solve_w_source`] over X in memory.
/// With several workers the stopping test uses the global ||ΔW||/||W||, so
/// every worker runs the same updates.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub fn solve_w<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    max_iter: usize,
    tol: f64,
    mean: f64,
    comm: Comm,
) -> Result<SolveWOutcome<F>> {
    let mut src = crate::io::InMemory::new(*x);
    solve_w_source(&mut src, h, loss, pen_w, max_iter, tol, mean, comm)
}

/// β-divergence of X and W·H (without the square root), as
/// scikit-learn's `_beta_divergence`.
#[cfg(test)]
pub fn beta_divergence<F: NmfFloat>(
    x: &Input<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    beta: f64,
) -> f64 {
    let mut ws = Workspace::for_rows(x, h.nrows());
    ws.hc.refresh(h, beta);
    divergence::divergence(
        x,
        w,
        h,
        &ws.hc,
        &Loss::new(beta),
        None,
        None,
        &mut ws.threads,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::CsrView;
    use ndarray::Array2;

    /// Deterministic pseudo-random non-negative matrix with ~`zeros` share of
    /// exact zeros.
    fn matrix(r: usize, c: usize, seed: u64, zeros: f64) -> Array2<f64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        Array2::from_shape_fn((r, c), |_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            if u < zeros {
                0.0
            } else {
                u * 3.0
            }
        })
    }

    fn to_csr(x: &Array2<f64>) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
        let (mut ip, mut ix, mut dv) = (vec![0], vec![], vec![]);
        for row in x.rows() {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    ix.push(j);
                    dv.push(v);
                }
            }
            ip.push(ix.len());
        }
        (ip, ix, dv)
    }

    /// The beta-divergence written out entry by entry from its definition.
    fn plain_divergence(x: &Array2<f64>, wh: &Array2<f64>, beta: f64) -> f64 {
        let eps = f32::EPSILON as f64;
        let mut total = 0.0;
        for (&a, &b) in x.iter().zip(wh.iter()) {
            total += if beta == 2.0 {
                (a - b) * (a - b) / 2.0
            } else if beta == 1.0 {
                let t = if a > eps {
                    a * (a / b.max(eps)).ln() - a
                } else {
                    0.0
                };
                t + b
            } else if beta == 0.0 {
                a / b - (a / b).ln() - 1.0
            } else {
                let (xb, cross) = if a > eps {
                    (a.powf(beta), a * b.max(eps).powf(beta - 1.0))
                } else {
                    (0.0, 0.0)
                };
                (xb - beta * cross + (beta - 1.0) * b.powf(beta)) / (beta * (beta - 1.0))
            };
        }
        total
    }

    #[test]
    fn divergence_matches_definition_dense_and_sparse() {
        for &beta in &[2.0, 1.0, 0.0, 0.5, 1.5, 3.0, -0.5] {
            let zeros = if beta <= 0.0 { 0.0 } else { 0.4 };
            let x = matrix(23, 11, 1, zeros);
            let w = matrix(23, 3, 2, 0.0);
            let h = matrix(3, 11, 3, 0.0);
            let expected = plain_divergence(&x, &w.dot(&h), beta);
            let dense = beta_divergence(&Input::Dense(x.view()), w.view(), h.view(), beta);
            let (ip, ix, dv) = to_csr(&x);
            let csr = CsrView::new(23, 11, &ip, &ix, &dv).unwrap();
            let sparse = beta_divergence(&Input::Csr(csr), w.view(), h.view(), beta);
            assert!(
                (dense - expected).abs() <= 1e-10 * expected.abs(),
                "beta {beta}: dense {dense} vs {expected}"
            );
            assert!(
                (sparse - expected).abs() <= 1e-10 * expected.abs(),
                "beta {beta}: sparse {sparse} vs {expected}"
            );
        }
    }

    /// What a masked fit keeps of its batches (whether each has a missing
    /// entry, their counts, which choose the Frobenius path) gives the
    /// steps that looking again gives, bit for bit: three epochs over a
    /// batch with 10 % NaN (corrections path), one without (unmasked path)
    /// and one with 40 % (GEMM path), with and without `StepCtx::batch`.
    #[test]
    fn masked_steps_keep_what_they_learn_of_a_batch() {
        let mut x = matrix(40, 9, 7, 0.0);
        let mut seed = 5u64;
        for ((i, _), v) in x.indexed_iter_mut() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = ((seed >> 11) as f64) / ((1u64 << 53) as f64);
            let share = [0.1, 0.0, 0.4][i / 16];
            if u < share {
                *v = f64::NAN;
            }
        }
        let input = Input::Dense(x.view());
        let run = |keep: bool| {
            let mut w = matrix(40, 4, 8, 0.0);
            let mut h = matrix(4, 9, 9, 0.0);
            let mut a = h.clone();
            let mut b = Array2::ones(h.raw_dim());
            let mut ws = Workspace::for_fit(&input, 4, 16);
            ws.masked.expect_batches(3);
            let mut costs = Vec::new();
            for step in 0..9 {
                let start = (step % 3) * 16;
                let end = (start + 16).min(40);
                let ctx = StepCtx {
                    loss: Loss::new(2.0),
                    pen_w: Penalty { l1: 0.1, l2: 0.2 },
                    rho: 0.7,
                    solver: StepSolver::Mu,
                    comm: Comm::single(),
                    missing: crate::params::Missing::Nan,
                    batch: keep.then_some(step % 3),
                };
                let o = minibatch_step(
                    &input.slice_rows(start, end),
                    WRows::Update(w.slice_mut(ndarray::s![start..end, ..])),
                    &mut h,
                    &mut a,
                    &mut b,
                    &Penalty { l1: 0.0, l2: 0.0 },
                    &ctx,
                    &mut ws,
                )
                .unwrap();
                costs.push(o.batch_cost.to_bits());
            }
            (w, h, costs)
        };
        let (kept, looked) = (run(true), run(false));
        assert!(kept.0.iter().all(|v| v.is_finite()));
        assert_eq!(kept, looked);
    }

    #[test]
    fn dense_and_sparse_steps_agree() {
        for &beta in &[2.0, 1.0, 0.5, 1.5, 3.0] {
            let x = matrix(40, 9, 7, 0.5);
            let (ip, ix, dv) = to_csr(&x);
            let csr = CsrView::new(40, 9, &ip, &ix, &dv).unwrap();
            let loss = Loss::new(beta);
            let pen_w = Penalty { l1: 0.1, l2: 0.2 };
            let pen_h = Penalty { l1: 0.05, l2: 0.0 };
            let mut out = Vec::new();
            for input in [Input::Dense(x.view()), Input::Csr(csr)] {
                let mut w = matrix(40, 4, 8, 0.0);
                let mut h = matrix(4, 9, 9, 0.0);
                let mut a = h.clone();
                let mut b = Array2::ones(h.raw_dim());
                let mut ws = Workspace::for_fit(&input, 4, 16);
                let mut costs = Vec::new();
                for start in [0, 16, 32] {
                    let end = (start + 16).min(40);
                    let xb = input.slice_rows(start, end);
                    let wb = w.slice_mut(ndarray::s![start..end, ..]);
                    let ctx = StepCtx {
                        loss,
                        pen_w,
                        rho: 0.7,
                        solver: StepSolver::Mu,
                        comm: Comm::single(),
                        missing: crate::params::Missing::Error,
                        batch: None,
                    };
                    let o = minibatch_step(
                        &xb,
                        WRows::Update(wb),
                        &mut h,
                        &mut a,
                        &mut b,
                        &pen_h,
                        &ctx,
                        &mut ws,
                    )
                    .unwrap();
                    costs.push(o.batch_cost);
                }
                let mean = crate::init::mean(&input);
                let wt = solve_w(
                    &input,
                    h.view(),
                    &loss,
                    &pen_w,
                    50,
                    1e-4,
                    mean,
                    Comm::single(),
                )
                .unwrap()
                .w;
                out.push((w, h, a, costs, wt));
            }
            let close = |p: &Array2<f64>, q: &Array2<f64>| {
                p.iter()
                    .zip(q)
                    .all(|(u, v)| (u - v).abs() <= 1e-10 * (1.0 + v.abs()))
            };
            assert!(close(&out[0].0, &out[1].0), "beta {beta}: W differs");
            assert!(close(&out[0].1, &out[1].1), "beta {beta}: H differs");
            assert!(close(&out[0].2, &out[1].2), "beta {beta}: A differs");
            assert!(
                close(&out[0].4, &out[1].4),
                "beta {beta}: transform W differs"
            );
            for (c0, c1) in out[0].3.iter().zip(&out[1].3) {
                assert!(
                    (c0 - c1).abs() <= 1e-10 * c0.abs(),
                    "beta {beta}: cost {c0} vs {c1}"
                );
            }
        }
    }

    #[test]
    fn w_update_decreases_divergence() {
        for &beta in &[2.0, 1.0, 0.0, 0.5, 3.0] {
            let x = matrix(30, 8, 11, if beta <= 0.0 { 0.0 } else { 0.3 });
            let h = matrix(3, 8, 12, 0.0);
            let loss = Loss::new(beta);
            let none = Penalty { l1: 0.0, l2: 0.0 };
            let input = Input::Dense(x.view());
            let (mean, one) = (crate::init::mean(&input), Comm::single());
            let w5 = solve_w(&input, h.view(), &loss, &none, 5, 0.0, mean, one)
                .unwrap()
                .w;
            let w50 = solve_w(&input, h.view(), &loss, &none, 50, 0.0, mean, one)
                .unwrap()
                .w;
            let d5 = beta_divergence(&input, w5.view(), h.view(), beta);
            let d50 = beta_divergence(&input, w50.view(), h.view(), beta);
            assert!(d50 <= d5 * (1.0 + 1e-12), "beta {beta}: {d50} > {d5}");
        }
    }
}
