//! Numerical kernels: the beta-divergence and the multiplicative updates of
//! W and H, for dense and CSR mini-batches.

use crate::error::Result;
use crate::float::NmfFloat;
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

/// Buffers reused by every step of a fit.
pub struct Workspace<F> {
    _p: std::marker::PhantomData<F>,
}

impl<F: NmfFloat> Workspace<F> {
    /// Sized for mini-batches of `batch_size` rows of X with k components.
    pub fn for_fit(x: &Input<F>, k: usize, batch_size: usize) -> Self {
        let _ = (x, k, batch_size);
        Workspace { _p: std::marker::PhantomData }
    }
}

/// Result of a W solve.
pub struct SolveWOutcome<F> {
    /// W.
    pub w: Array2<F>,
    /// Iterations run.
    pub n_iter: usize,
}

/// What one mini-batch step measured.
pub struct StepOutcome {
    /// Mean cost of the batch (after the W update, before the H update).
    pub batch_cost: f64,
    /// ||H_new - H_old|| / ||H_new||.
    pub h_diff: f64,
}

/// One mini-batch step. `w = None` solves W from scratch (fresh restarts,
/// partial_fit).
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
    let _ = (x, w, h, a, b, loss, pen_w, pen_h, rho, fresh_max_iter, tol, ws);
    todo!()
}

/// W minimising the loss for fixed H, from the constant start.
pub fn solve_w<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    max_iter: usize,
    tol: f64,
) -> Result<SolveWOutcome<F>> {
    let _ = (x, h, loss, pen_w, max_iter, tol);
    todo!()
}

/// sqrt(2 · beta-divergence(X, W·H)).
pub fn reconstruction_err<F: NmfFloat>(x: &Input<F>, w: ArrayView2<F>, h: ArrayView2<F>, loss: &Loss) -> f64 {
    let _ = (x, w, h, loss);
    todo!()
}
