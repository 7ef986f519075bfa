//! Numerical kernels: the beta-divergence and the multiplicative updates of
//! W and H, for dense and CSR mini-batches, and one mini-batch step built
//! from them.

mod divergence;
mod elementwise;
mod update_h;
mod update_w;
mod workspace;

pub use workspace::Workspace;

use crate::error::Result;
use crate::float::{NmfFloat, EPSILON_F64};
use crate::input::Input;
use crate::params::ValidParams;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

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
        let a = p.alpha_h_value();
        let r = p.get_l1_ratio();
        Penalty {
            l1: batch_rows as f64 * a * r,
            l2: batch_rows as f64 * a * (1.0 - r),
        }
    }
}

/// Result of a W solve.
pub struct SolveWOutcome<F> {
    /// W.
    pub w: Array2<F>,
    /// Updates run.
    pub n_iter: usize,
}

/// What one mini-batch step measured.
pub struct StepOutcome {
    /// Mean cost of the batch (after the W update, before the H update),
    /// penalties included.
    pub batch_cost: f64,
    /// ||H_new − H_old|| / ||H_new||.
    pub h_diff: f64,
}

/// One mini-batch step (scikit-learn's `_minibatch_step` with update_H):
/// update W's rows (or, with `w = None`, solve W from scratch as fresh
/// restarts and `partial_fit` do), measure the batch cost, then update H and
/// its online statistics A, B.
#[allow(clippy::too_many_arguments)]
pub fn minibatch_step<F: NmfFloat>(
    x: &Input<F>,
    w: Option<ArrayViewMut2<F>>,
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    pen_h: &Penalty,
    rho: f64,
    fresh_max_iter: usize,
    tol: f64,
    ws: &mut Workspace<F>,
) -> Result<StepOutcome> {
    let rows = x.n_rows();
    let k = h.nrows();
    ws.hc.refresh(h.view());
    let Workspace {
        hc,
        rows: bufs,
        stats,
        w_fresh,
        xht,
    } = ws;
    let mut w = match w {
        Some(mut w) => {
            update_w::update_w(x, w.view_mut(), h.view(), hc, loss, pen_w, None, bufs);
            w
        }
        None => {
            let mut wf = w_fresh.mat(rows, k);
            update_w::solve_w_into(x, h.view(), hc, loss, pen_w, fresh_max_iter, tol, wf.view_mut(), xht, bufs);
            wf
        }
    };
    if loss.beta < 1.0 {
        let tiny = F::from_f64_(EPSILON_F64);
        w.mapv_inplace(|v| if v < tiny { F::zero() } else { v });
    }
    stats.clear();
    let div = divergence::divergence(x, w.view(), h.view(), hc, loss, Some(stats), bufs);
    let sum = |v: ArrayView2<F>| v.iter().map(|x| x.to_f64_()).sum::<f64>();
    let sum_sq = |v: ArrayView2<F>| v.iter().map(|x| x.to_f64_() * x.to_f64_()).sum::<f64>();
    let (w_sum, w_sq) = (sum(w.view()), sum_sq(w.view()));
    let (h_sum, h_sq) = (sum(h.view()), sum_sq(h.view()));
    let batch_cost =
        (div + pen_w.l1 * w_sum + pen_h.l1 * h_sum + pen_w.l2 * w_sq + pen_h.l2 * h_sq) / rows as f64;
    update_h::finalize_den(stats, h.view(), loss);
    let h_diff = update_h::apply(h, a, b, stats, loss, pen_h, rho);
    Ok(StepOutcome { batch_cost, h_diff })
}

/// W minimising the loss for X with H fixed, from the constant start
/// sqrt(mean(X)/k) (scikit-learn's `_solve_W`).
pub fn solve_w<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    max_iter: usize,
    tol: f64,
) -> Result<SolveWOutcome<F>> {
    let (w, n_iter) = update_w::solve_w_alloc(x, h, loss, pen_w, max_iter, tol);
    Ok(SolveWOutcome { w, n_iter })
}

/// sqrt(2 · beta-divergence(X, W·H)), scikit-learn's `reconstruction_err_`.
pub fn reconstruction_err<F: NmfFloat>(x: &Input<F>, w: ArrayView2<F>, h: ArrayView2<F>, loss: &Loss) -> f64 {
    let mut hc = workspace::HCache::new(h.nrows(), h.ncols());
    hc.refresh(h);
    let mut bufs = workspace::RowBufs::default();
    let res = divergence::divergence(x, w, h, &hc, loss, None, &mut bufs);
    (2.0 * res.max(0.0)).sqrt()
}

/// β-divergence of X and W·H (without the square root), as
/// scikit-learn's `_beta_divergence`.
pub fn beta_divergence<F: NmfFloat>(x: &Input<F>, w: ArrayView2<F>, h: ArrayView2<F>, beta: f64) -> f64 {
    let mut hc = workspace::HCache::new(h.nrows(), h.ncols());
    hc.refresh(h);
    let mut bufs = workspace::RowBufs::default();
    divergence::divergence(x, w, h, &hc, &Loss::new(beta), None, &mut bufs)
}
