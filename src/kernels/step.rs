//! One mini-batch step in three parts, so that several workers can share it:
//!
//! 1. [`step_local`]: this worker's rows of the batch: W update (or a fresh
//!    W solve), the divergence plus W's penalty terms (a cost *sum*), and
//!    the H statistics (num, and WᵀW / W's column sums / den as β needs);
//! 2. [`step_reduce`]: those sums added over the workers (nothing at all
//!    for one process);
//! 3. [`step_apply`]: the identical H update on every worker, with H's
//!    penalties from the global batch rows.
//!
//! The solver ([`StepSolver`]) decides what parts 1 and 3 compute: MU
//! (scikit-learn's multiplicative updates) or cd (coordinate descent,
//! [`super::cd`]); the reduce and the callers do not care which.

use super::cd::{self, BatchStats, CdConfig, StatUpdate};
use super::update_h;
use super::update_w;
use super::workspace::Workspace;
use super::{Loss, Penalty, StepOutcome};
use crate::dist::Comm;
use crate::error::Result;
use crate::float::{NmfFloat, EPSILON_F64};
use crate::input::Input;
use crate::params::Missing;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// How W's rows of the batch are obtained.
pub enum WRows<'a, F> {
    /// One multiplicative update of these rows, in place.
    Update(ArrayViewMut2<'a, F>),
    /// Solved from scratch (fresh restarts, `partial_fit`). MU: from the
    /// constant start sqrt(mean/k), with `mean` the mean of the *global*
    /// batch, until `max_iter` updates or the global ||ΔW||/||W|| ≤ `tol`.
    /// cd: from zeros, until `max_iter` sweeps or the global violation ≤
    /// `tol` times the first.
    Fresh {
        /// mean of the global batch's X.
        mean: f64,
        /// Update limit.
        max_iter: usize,
        /// Relative change to stop at (0: never).
        tol: f64,
        /// cd: the rows' stored W (their previous contribution to the
        /// statistics), overwritten by the solution. None: new rows.
        keep: Option<ArrayViewMut2<'a, F>>,
    },
}

/// The algorithm of a step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StepSolver {
    /// scikit-learn's multiplicative updates (every beta).
    Mu,
    /// Coordinate descent (Frobenius).
    Cd {
        /// Sweeps and statistics form.
        cfg: CdConfig,
        /// How this step folds the batch's statistics into A and B.
        update: StatUpdate,
    },
}

/// What every part of a step needs besides the data and the state.
#[derive(Clone, Copy)]
pub struct StepCtx<'a> {
    /// The loss.
    pub loss: Loss,
    /// W's penalty.
    pub pen_w: Penalty,
    /// MU's forget factor ρ of the H statistics.
    pub rho: f64,
    /// The solver.
    pub solver: StepSolver,
    /// The workers (one process: [`Comm::single`]).
    pub comm: Comm<'a>,
    /// Which entries are missing ([`Missing::Error`]: none may be).
    pub missing: Missing,
    /// The batch's place in the fit's cycle of batches: the same rows, so
    /// the same data, each time it comes back (what is learnt of its data
    /// may be kept); None for a batch seen once (`partial_fit`, transform).
    pub batch: Option<usize>,
}

/// Part 1: W's rows of this worker's share `x` of the batch; the H
/// statistics are left in `ws`; returns Σ divergence + W's penalty terms
/// over these rows (`x` may have no rows: the sums are then zero, but the
/// worker still takes part in a fresh solve's reduces).
pub fn step_local<F: NmfFloat>(
    x: &Input<F>,
    w: WRows<F>,
    h: ArrayView2<F>,
    ctx: &StepCtx,
    ws: &mut Workspace<F>,
) -> Result<f64> {
    let (loss, pen_w, comm) = (&ctx.loss, &ctx.pen_w, ctx.comm);
    ws.masked.active = false;
    // A batch with missing entries takes the masked updates (masked/).
    if ctx.missing.is_masked()
        && ctx.solver == StepSolver::Mu
        && super::masked::batch_is_masked(x, ctx, &mut ws.masked)?
    {
        return super::masked::local(x, w, h, ctx, ws);
    }
    if let StepSolver::Cd { cfg, update } = &ctx.solver {
        let kind = match update {
            StatUpdate::Add => BatchStats::Delta,
            StatUpdate::Decay(_) => BatchStats::Full,
        };
        if cfg.masked {
            return cd::masked_step::local(x, w, h, pen_w, cfg, kind, ctx.missing, ws);
        }
        return cd::local(x, w, h, pen_w, cfg, kind, comm, ws);
    }
    let rows = x.n_rows();
    let k = h.nrows();
    ws.hc.refresh(h, loss.beta);
    ws.stats.ensure_for(loss.beta);
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
            update_w::update_w(x, w.view_mut(), h, hc, loss, pen_w, xht, threads, false);
            w
        }
        WRows::Fresh {
            mean,
            max_iter,
            tol,
            ..
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
    ctx: &StepCtx,
    ws: &mut Workspace<F>,
    cost: &mut f64,
) -> Result<()> {
    let (comm, loss) = (ctx.comm, &ctx.loss);
    if comm.is_single() {
        return Ok(());
    }
    if let StepSolver::Cd { cfg, .. } = &ctx.solver {
        if cfg.masked {
            let Workspace { stats, cd, red, .. } = ws;
            let (num, second) = cd::masked_step::reduce_parts(stats, cd);
            return reduce_two(comm, num, second, red, cost);
        }
    }
    // A masked step's statistics are the full numerator and denominator.
    let masked = ws.masked.active;
    let Workspace { stats, red, .. } = ws;
    let second: &mut [F] = if masked {
        stats.den.as_slice_mut().expect("owned")
    } else if loss.beta == 2.0 {
        stats.wtw.as_slice_mut().expect("owned")
    } else if loss.beta == 1.0 {
        stats.wsum.as_slice_mut().expect("owned")
    } else {
        stats.den.as_slice_mut().expect("owned")
    };
    let num = stats.num.as_slice_mut().expect("owned");
    reduce_two(comm, num, second, red, cost)
}

/// Sums two flat statistics and the cost over the workers (one buffer).
fn reduce_two<F: NmfFloat>(
    comm: Comm,
    num: &mut [F],
    second: &mut [F],
    red: &mut super::workspace::Buf<F>,
    cost: &mut f64,
) -> Result<()> {
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
/// cost sum. H's penalties count once, here. `a`, `b` are the model's
/// statistics: MU's numerator and denominator (k×m); cd's B = WᵀX (k×m)
/// and A = WᵀW (k×k), in that order.
#[allow(clippy::too_many_arguments)]
pub fn step_apply<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    pen_h: &Penalty,
    batch_rows: usize,
    cost: f64,
    ctx: &StepCtx,
    ws: &mut Workspace<F>,
) -> StepOutcome {
    let batch_cost = (cost + pen_h.terms(h.view())) / batch_rows as f64;
    let h_diff = match ctx.solver {
        StepSolver::Mu => {
            // A masked step's statistics are complete as reduced (masked/).
            let masked = ws.masked.active;
            update_h::apply(
                h,
                a,
                b,
                &ws.stats,
                &ctx.loss,
                pen_h,
                ctx.rho,
                masked,
                &mut ws.h_parts,
                &mut ws.h_den,
            )
        }
        StepSolver::Cd { cfg, update } if cfg.masked => {
            cd::masked_step::apply(h, b, a, &ws.stats, pen_h, update, cfg.h_sweeps, &mut ws.cd)
        }
        StepSolver::Cd { cfg, update } => cd::apply(
            h,
            b,
            a,
            &ws.stats,
            pen_h,
            update,
            cfg.h_sweeps,
            &mut ws.cd,
            &mut ws.hc,
        ),
    };
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
    pen_h: &Penalty,
    ctx: &StepCtx,
    ws: &mut Workspace<F>,
) -> Result<StepOutcome> {
    let mut cost = step_local(x, w, h.view(), ctx, ws)?;
    step_reduce(ctx, ws, &mut cost)?;
    Ok(step_apply(h, a, b, pen_h, x.n_rows(), cost, ctx, ws))
}
