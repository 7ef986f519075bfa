//! Whole-X kernels streamed over a [`RowSource`]: the W solve with its
//! global stopping rule (transform, and the final W of fresh restarts) and
//! the beta-divergence behind the reconstruction error. Distributed, the
//! source is this worker's shard and the stopping rule's norms are summed
//! over the workers ([`Comm`]). Blocks come from [`crate::io::for_each_block`],
//! whose cut depends on X's shape alone, so every source gives the same
//! numbers; X small enough for one block is computed exactly as a single
//! in-memory call.

use super::divergence::divergence;
use super::update_w::{update_w, xht_par};
use super::{Loss, Penalty, SolveWOutcome, Workspace};
use crate::dist::Comm;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{for_each_block, pass_rows, RowSource};
use crate::linalg::sparse_panels::csr_dot_ht;
use ndarray::{s, Array2, ArrayView2};

fn workspace<F: NmfFloat>(src: &dyn RowSource<F>, k: usize) -> Workspace<F> {
    let (n, m) = src.shape();
    let block = pass_rows::<F>(n, m, src.nnz(), src.is_sparse());
    Workspace::for_pass(m, k, block.clamp(1, 1 << 16))
}

/// W minimising the loss for X with H fixed, from the constant start
/// sqrt(mean(X)/k) (scikit-learn's `_solve_W`): `max_iter` passes at most,
/// stopping when ||ΔW||/||W|| over all rows (of all workers) falls to
/// `tol`. `mean` is mean(X) as [`crate::validation::scan`] computes it (over
/// all workers' rows: [`crate::dist::Shard::mean`]). For beta = 2, X·Hᵀ is
/// computed in one pass and kept (n×k); other losses read X at each update.
/// A worker with no rows still takes part in every reduce.
#[allow(clippy::too_many_arguments)]
pub fn solve_w_source<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    h: ArrayView2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    max_iter: usize,
    tol: f64,
    mean: f64,
    comm: Comm,
) -> Result<SolveWOutcome<F>> {
    let (n, k) = (src.shape().0, h.nrows());
    let mut ws = workspace(src, k);
    // β = 2 reads Hᵀ only through X·Hᵀ, computed here once: for CSR X
    // straight from H in cache-sized panels, without an m×k copy of Hᵀ.
    let panels = loss.beta == 2.0 && src.is_sparse();
    if panels {
        ws.hc.refresh_without_ht(h, loss.beta);
    } else {
        ws.hc.refresh(h, loss.beta);
    }
    let xht = if loss.beta == 2.0 {
        let mut c = Array2::zeros((n, k));
        let workers = ws.threads.len();
        for_each_block(src, |s0, xb| {
            let e = s0 + xb.n_rows();
            match xb {
                Input::Csr(xc) if panels => csr_dot_ht(xc, h, c.slice_mut(s![s0..e, ..])),
                _ => xht_par(xb, h, &ws.hc, c.slice_mut(s![s0..e, ..]), workers),
            }
            Ok(())
        })?;
        Some(c)
    } else {
        None
    };
    let mut w = Array2::from_elem((n, k), F::from_f64_((mean / k as f64).sqrt()));
    let mut it = 0;
    while it < max_iter {
        let (mut d2, mut n2) = (0.0, 0.0);
        for_each_block(src, |s0, xb| {
            let e = s0 + xb.n_rows();
            let (a, b) = update_w(
                xb,
                w.slice_mut(s![s0..e, ..]),
                h,
                &ws.hc,
                loss,
                pen_w,
                xht.as_ref().map(|c| c.slice(s![s0..e, ..])),
                &mut ws.threads,
                tol > 0.0,
            );
            d2 += a;
            n2 += b;
            Ok(())
        })?;
        it += 1;
        if tol > 0.0 {
            let mut norms = [d2, n2];
            comm.sum_f64(&mut norms)?;
            if f64::sqrt(norms[0]) / f64::sqrt(norms[1]) <= tol {
                break;
            }
        }
    }
    Ok(SolveWOutcome { w })
}

/// beta-divergence(X, W·H) (without the square root) summed over the
/// blocks of X: this worker's share, when distributed.
pub fn beta_divergence_source<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    loss: &Loss,
) -> Result<f64> {
    let mut ws = workspace(src, h.nrows());
    ws.hc.refresh(h, loss.beta);
    let loss = Loss::new(loss.beta);
    let mut total = 0.0;
    for_each_block(src, |s0, xb| {
        let e = s0 + xb.n_rows();
        total += divergence(
            xb,
            w.slice(s![s0..e, ..]),
            h,
            &ws.hc,
            &loss,
            None,
            None,
            &mut ws.threads,
        );
        Ok(())
    })?;
    Ok(total)
}
