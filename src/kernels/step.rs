//! One mini-batch step in three parts, so that several workers can share it:
//!
//! 1. [`step_local`]: this worker's rows of the batch: W update (or a fresh
//!    W solve), the divergence plus W's penalty terms (a cost *sum*), and
//!    the H statistics (num, and WᵀW / W's column sums / den as β needs);
//! 2. [`step_reduce`]: those sums added over the workers (nothing at all
//!    for one process);
//! 3. [`step_apply`]: the identical H update on every worker, with H's
//!    penalties from the global batch rows.

use super::update_h;
use super::update_w;
use super::workspace::Workspace;
use super::{Loss, Penalty, StepOutcome};
use crate::dist::Comm;
use crate::error::Result;
use crate::float::{NmfFloat, EPSILON_F64};
use crate::input::Input;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// How W's rows of the batch are obtained.
pub enum WRows<'a, F> {
    /// One multiplicative update of these rows, in place.
    Update(ArrayViewMut2<'a, F>),
    /// Solved from scratch (fresh restarts, `partial_fit`): from the
    /// constant start sqrt(mean/k), with `mean` the mean of the *global*
    /// batch, until `max_iter` updates or the global ||ΔW||/||W|| ≤ `tol`.
    Fresh {
        /// mean of the global batch's X.
        mean: f64,
        /// Update limit.
        max_iter: usize,
        /// Relative change to stop at (0: never).
        tol: f64,
    },
}

/// Part 1: W's rows of this worker's share `x` of the batch; the H
/// statistics are left in `ws`; returns Σ divergence + W's penalty terms
/// over these rows (`x` may have no rows: the sums are then zero, but the
/// worker still takes part in a fresh solve's reduces).
#[allow(clippy::too_many_arguments)]
pub fn step_local<F: NmfFloat>(
    x: &Input<F>,
    w: WRows<F>,
    h: ArrayView2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    comm: Comm,
    ws: &mut Workspace<F>,
) -> Result<f64> {
    let rows = x.n_rows();
    let k = h.nrows();
    ws.hc.refresh(h, loss.beta);
    ws.stats.ensure();
    let Workspace {
        hc,
        threads,
        stats,
        w_fresh,
        xht,
        ..
    } = ws;
    // X·Hᵀ serves the W update, the W solve and the batch cost (β = 2).
    let xht = if loss.beta == 2.0 {
        let mut c = xht.mat(rows, k);
        update_w::xht_par(x, h, hc, c.view_mut(), threads.len());
        Some(c)
    } else {
        None
    };
    let xht = xht.as_ref().map(|c| c.view());
    let mut w = match w {
        WRows::Update(mut w) => {
            update_w::update_w(x, w.view_mut(), h, hc, loss, pen_w, xht, threads);
            w
        }
        WRows::Fresh {
            mean,
            max_iter,
            tol,
        } => {
            let mut wf = w_fresh.mat(rows, k);
            update_w::solve_w_into(
                x,
                h,
                hc,
                loss,
                pen_w,
                max_iter,
                tol,
                mean,
                comm,
                wf.view_mut(),
                xht,
                threads,
            )?;
            wf
        }
    };
    if loss.beta < 1.0 {
        let tiny = F::from_f64_(EPSILON_F64);
        w.mapv_inplace(|v| if v < tiny { F::zero() } else { v });
    }
    if rows == 0 {
        stats.clear(loss.beta);
        return Ok(0.0);
    }
    let div = super::divergence::divergence(x, w.view(), h, hc, loss, xht, Some(stats), threads);
    Ok(div + pen_w.terms(w.view()))
}

/// Part 2: add this worker's H statistics and `cost` to the other
/// workers' (one call of the hook for f64, two for f32). One process:
/// returns at once, touching nothing.
pub fn step_reduce<F: NmfFloat>(
    comm: Comm,
    ws: &mut Workspace<F>,
    loss: &Loss,
    cost: &mut f64,
) -> Result<()> {
    if comm.is_single() {
        return Ok(());
    }
    let Workspace { stats, red, .. } = ws;
    let second: &mut [F] = if loss.beta == 2.0 {
        stats.wtw.as_slice_mut().expect("owned")
    } else if loss.beta == 1.0 {
        stats.wsum.as_slice_mut().expect("owned")
    } else {
        stats.den.as_slice_mut().expect("owned")
    };
    let num = stats.num.as_slice_mut().expect("owned");
    let (a, b) = (num.len(), second.len());
    let buf = red.slice(a + b + 1);
    buf[..a].copy_from_slice(num);
    buf[a..a + b].copy_from_slice(second);
    let mut scalars = [*cost];
    comm.sum_with_scalars(buf, a + b, &mut scalars)?;
    num.copy_from_slice(&buf[..a]);
    second.copy_from_slice(&buf[a..a + b]);
    *cost = scalars[0];
    Ok(())
}

/// Part 3: the H update from the (reduced) statistics, identical on every
/// worker. `batch_rows` are the global batch's rows; `cost` the reduced
/// cost sum. H's penalties count once, here.
#[allow(clippy::too_many_arguments)]
pub fn step_apply<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    loss: &Loss,
    pen_h: &Penalty,
    rho: f64,
    batch_rows: usize,
    cost: f64,
    ws: &mut Workspace<F>,
) -> StepOutcome {
    let batch_cost = (cost + pen_h.terms(h.view())) / batch_rows as f64;
    update_h::finalize_den(&mut ws.stats, h.view(), loss);
    let h_diff = update_h::apply(h, a, b, &ws.stats, loss, pen_h, rho, &mut ws.h_parts);
    StepOutcome { batch_cost, h_diff }
}

/// The three parts for one process (a batch entirely on this worker).
#[allow(clippy::too_many_arguments)]
#[cfg(test)]
pub fn minibatch_step<F: NmfFloat>(
    x: &Input<F>,
    w: WRows<F>,
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    pen_h: &Penalty,
    rho: f64,
    ws: &mut Workspace<F>,
) -> Result<StepOutcome> {
    let comm = Comm::single();
    let mut cost = step_local(x, w, h.view(), loss, pen_w, comm, ws)?;
    step_reduce(comm, ws, loss, &mut cost)?;
    Ok(step_apply(h, a, b, loss, pen_h, rho, x.n_rows(), cost, ws))
}
