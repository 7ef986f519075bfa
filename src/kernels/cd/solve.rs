//! W with H fixed by coordinate descent from W = 0, as scikit-learn's
//! `NMF(solver="cd")` transform does: sweeps until the violation falls to
//! `tol` times the first sweep's, or `max_iter` sweeps.

use super::{gram_with_l2, sweep_rows, SweepBufs};
use crate::dist::Comm;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::io::{for_each_block, pass_rows, RowSource};
use crate::kernels::update_w::xht_par;
use crate::kernels::{Penalty, SolveWOutcome, Workspace};
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

/// Sweeps over `w` (its start, usually zeros) against (hess, xht) until
/// violation ≤ tol · first violation (its sums over the workers when
/// distributed: every worker then runs the same sweeps) or `max_iter`
/// sweeps; stops at once if the first violation is 0. Returns the sweeps
/// done.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_rows<F: NmfFloat>(
    mut w: ArrayViewMut2<F>,
    hess: ArrayView2<F>,
    xht: ArrayView2<F>,
    l1: f64,
    max_iter: usize,
    tol: f64,
    comm: Comm,
    bufs: &mut SweepBufs<F>,
) -> Result<usize> {
    let mut first = 0.0;
    for it in 1..=max_iter {
        let mut v = [sweep_rows(w.view_mut(), hess, xht, l1, 1, bufs)];
        if !comm.is_single() {
            comm.sum_f64(&mut v)?;
        }
        if it == 1 {
            first = v[0];
        }
        if first == 0.0 || v[0] / first <= tol {
            return Ok(it);
        }
    }
    Ok(max_iter)
}

/// [`solve_rows`] over X read from a source (X·Hᵀ, n×k, computed in one
/// pass and kept; the sweeps do not read X again).
pub fn solve_w_source_cd<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    h: ArrayView2<F>,
    pen_w: &Penalty,
    max_iter: usize,
    tol: f64,
    comm: Comm,
) -> Result<SolveWOutcome<F>> {
    let (n, m) = src.shape();
    let k = h.nrows();
    let block = pass_rows::<F>(n, m, src.nnz(), src.is_sparse());
    let mut ws = Workspace::for_pass(m, k, block.clamp(1, 1 << 16));
    ws.hc.refresh(h, 2.0);
    let mut xht = Array2::zeros((n, k));
    let workers = ws.threads.len();
    for_each_block(src, |s0, xb| {
        let e = s0 + xb.n_rows();
        xht_par(xb, h, &ws.hc, xht.slice_mut(s![s0..e, ..]), workers);
        Ok(())
    })?;
    let mut hess = Array2::zeros((k, k));
    gram_with_l2(ws.hc.hht.view(), pen_w.l2, hess.view_mut());
    let mut w = Array2::zeros((n, k));
    let mut bufs = SweepBufs::default();
    solve_rows(
        w.view_mut(),
        hess.view(),
        xht.view(),
        pen_w.l1,
        max_iter,
        tol,
        comm,
        &mut bufs,
    )?;
    Ok(SolveWOutcome { w })
}
