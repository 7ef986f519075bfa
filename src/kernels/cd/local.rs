//! Part 1 of a cd step: W's rows of this worker's share of the batch by
//! coordinate sweeps (or a W solve from zeros), the batch cost, and the
//! batch statistics A_b, B_b of H.

use super::{gram_with_l2, solve_rows, sweep_rows, CdBufs, CdConfig};
use crate::dist::Comm;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::kernels::divergence::divergence;
use crate::kernels::skinny;
use crate::kernels::update_w::xht_par;
use crate::kernels::workspace::{plan_parts, HStats, ThreadBufs, Workspace};
use crate::kernels::{Loss, Penalty, WRows};
use crate::linalg::sparse::{csc_t_dot_dense_cols, csc_t_dot_dense_with};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// What the batch statistics left in the workspace are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchStats {
    /// A_b = W_newᵀW_new, B_b = W_newᵀX_b.
    Full,
    /// The change of the rows' contribution: W_newᵀW_new − W_oldᵀW_old and
    /// (W_new − W_old)ᵀX_b.
    Delta,
}

/// W's rows of `x` (this worker's share of the batch), their cost (Σ
/// divergence + W's penalty terms) and the statistics `kind` asks for,
/// left in `ws.stats` (`num` = B_b, `wtw` = A_b). `Delta` needs the rows'
/// previous W: the rows updated in place, or a fresh solve's `keep`
/// (without it the rows are new and their previous contribution is zero).
#[allow(clippy::too_many_arguments)]
pub(crate) fn local<F: NmfFloat>(
    x: &Input<F>,
    w: WRows<F>,
    h: ArrayView2<F>,
    pen_w: &Penalty,
    cfg: &CdConfig,
    kind: BatchStats,
    comm: Comm,
    ws: &mut Workspace<F>,
) -> Result<f64> {
    let rows = x.n_rows();
    // B's change is left in `stats.num` unless the CSR branch below says
    // otherwise.
    ws.cd.compact = false;
    // Dense rows updated in place: the fused one-pass step.
    let w = match (x, w) {
        (Input::Dense(xd), WRows::Update(w)) if rows > 0 => {
            return Ok(super::dense::local(xd.view(), w, h, pen_w, cfg, kind, ws));
        }
        (_, w) => w,
    };
    let k = h.nrows();
    let loss = Loss::new(2.0);
    ws.hc.refresh(h, 2.0);
    ws.stats.ensure_for(2.0);
    let Workspace {
        hc,
        threads,
        stats,
        w_fresh,
        xht,
        cd,
        ..
    } = ws;
    let CdBufs {
        hess,
        w_old,
        sweep,
        compact,
        cols,
        bcols,
        ..
    } = cd;
    let mut c = xht.mat(rows, k);
    xht_par(x, h, hc, c.view_mut(), threads.len());
    let xht = c.view();
    let mut hess = hess.mat(k, k);
    gram_with_l2(hc.hht.view(), pen_w.l2, hess.view_mut());
    // W_old is kept only when the statistics are a change.
    let (w, had_old) = match w {
        WRows::Update(mut w) => {
            if kind == BatchStats::Delta {
                w_old.mat(rows, k).assign(&w);
            }
            sweep_rows(
                w.view_mut(),
                hess.view(),
                xht,
                pen_w.l1,
                cfg.w_sweeps,
                sweep,
            );
            (w, true)
        }
        WRows::Fresh {
            max_iter,
            tol,
            keep,
            ..
        } => {
            let mut wf = w_fresh.mat(rows, k);
            wf.fill(F::zero());
            solve_rows(
                wf.view_mut(),
                hess.view(),
                xht,
                pen_w.l1,
                max_iter,
                tol,
                comm,
                sweep,
            )?;
            let had_old = match keep {
                Some(mut old) => {
                    if kind == BatchStats::Delta {
                        w_old.mat(rows, k).assign(&old);
                    }
                    old.assign(&wf);
                    true
                }
                None => false,
            };
            (wf, had_old)
        }
    };
    if rows == 0 {
        stats.clear(2.0);
        return Ok(0.0);
    }
    let delta = kind == BatchStats::Delta && had_old;
    let cost = if delta {
        let cost = divergence(x, w.view(), h, hc, &loss, Some(xht), None, threads);
        let mut d = w_old.mat(rows, k);
        // W_oldᵀW_old first, then d = W_new − W_old and B_b = dᵀX_b (which
        // also zeroes wtw), then A_b = W_newᵀW_new − W_oldᵀW_old.
        let mut a_old = hess.view_mut();
        general_mat_mul(F::one(), &d.t(), &d, F::zero(), &mut a_old);
        d.zip_mut_with(&w, |o, &n| *o = n - *o);
        match x {
            // One process, CSR: B changes only in the batch's columns.
            Input::Csr(xc) if comm.is_single() => {
                let m = xc.n_cols();
                stats.csc.build(xc);
                cols.clear();
                cols.reserve(m);
                stats.csc.touched(cols);
                bcols.reserve(k * m);
                let out = bcols.slice(cols.len() * k);
                csc_t_dot_dense_cols(&stats.csc, xc.values(), d.view(), cols, out);
                *compact = true;
            }
            _ => wt_x(x, d.view(), stats, threads),
        }
        general_mat_mul(F::one(), &w.t(), &w, F::zero(), &mut stats.wtw);
        stats.wtw -= &a_old;
        cost
    } else {
        divergence(x, w.view(), h, hc, &loss, Some(xht), Some(stats), threads)
    };
    Ok(cost + pen_w.terms(w.view()))
}

/// `stats.num` = dᵀX (k×m) for this worker's rows, in parallel (dense:
/// per-thread partial products added in thread order; CSR: gathered per
/// column through the batch's column index). Zeroes `stats.wtw`.
pub(super) fn wt_x<F: NmfFloat>(
    x: &Input<F>,
    d: ArrayView2<F>,
    stats: &mut HStats<F>,
    threads: &mut [ThreadBufs<F>],
) {
    let (n, m) = x.shape();
    match x {
        Input::Dense(xd) => {
            let parts = plan_parts(n, m, threads.len());
            let chunk = n.div_ceil(parts).max(1);
            let used = n.div_ceil(chunk);
            threads[..used]
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, tb)| {
                    let (s0, e) = (i * chunk, ((i + 1) * chunk).min(n));
                    tb.stats.clear_with(2.0, true);
                    skinny::acc_wt_a(
                        d.slice(s![s0..e, ..]),
                        xd.slice(s![s0..e, ..]),
                        tb.stats.num.view_mut(),
                    );
                });
            stats.sum_of(&threads[..used], 2.0, true);
        }
        Input::Csr(xc) => {
            stats.clear(2.0);
            stats.csc.build(xc);
            let num: ArrayViewMut2<F> = stats.num.view_mut().reversed_axes();
            csc_t_dot_dense_with(&stats.csc, xc.values(), d, num, false);
        }
    }
}
