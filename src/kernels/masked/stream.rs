//! Whole-X masked kernels over a row source: the W solve from each row's
//! observed entries (`transform`, the final W of fresh restarts) and the
//! divergence over the observed entries (`reconstruction_err_`). Callers
//! first ask [`source_has_missing`]: X without a missing entry takes the
//! unmasked kernels (the same numbers as `missing = "error"`).

use super::rows::{divergence_per_row, has_missing, update_w, MaskedBufs};
use crate::dist::Comm;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::io::{for_each_block, RowSource};
use crate::kernels::{Loss, Penalty, SolveWOutcome};
use crate::params::Missing;
use ndarray::{s, Array2, ArrayView2};

/// Whether X (this worker's rows; over all workers when distributed) has a
/// missing entry under `mode`: one pass over the source.
pub fn source_has_missing<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    mode: Missing,
    comm: Comm,
) -> Result<bool> {
    let mut any = false;
    if mode.is_masked() {
        for_each_block(src, |_, xb| {
            any = any || has_missing(xb, mode);
            Ok(())
        })?;
    }
    if comm.is_single() {
        return Ok(any);
    }
    let mut flag = [if any { 1.0 } else { 0.0 }];
    comm.sum_f64(&mut flag)?;
    Ok(flag[0] > 0.0)
}

/// W minimising the loss over the observed entries of X with H fixed,
/// from sqrt(mean/k) (`mean` over the observed entries): `max_iter`
/// masked updates at most, stopping when the global ||ΔW||/||W|| ≤ `tol`.
/// Rows without an observed entry get W = 0.
#[allow(clippy::too_many_arguments)]
pub fn solve_w_source_masked<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    mode: Missing,
    h: ArrayView2<F>,
    loss: &Loss,
    pen_w: &Penalty,
    max_iter: usize,
    tol: f64,
    mean: f64,
    comm: Comm,
) -> Result<SolveWOutcome<F>> {
    let (n, k) = (src.shape().0, h.nrows());
    let ht = h.t().as_standard_layout().into_owned();
    let mut bufs = MaskedBufs::default();
    let mut w = Array2::from_elem((n, k), F::from_f64_((mean / k as f64).sqrt()));
    for _ in 0..max_iter {
        let (mut d2, mut n2) = (0.0, 0.0);
        for_each_block(src, |s0, xb| {
            let e = s0 + xb.n_rows();
            let (a, b) = update_w(
                xb,
                mode,
                w.slice_mut(s![s0..e, ..]),
                h,
                ht.view(),
                loss.beta,
                loss.gamma,
                pen_w,
                &mut bufs,
            );
            d2 += a;
            n2 += b;
            Ok(())
        })?;
        if tol > 0.0 {
            let mut norms = [d2, n2];
            comm.sum_f64(&mut norms)?;
            if norms[0].sqrt() / norms[1].sqrt() <= tol {
                break;
            }
        }
    }
    Ok(SolveWOutcome { w })
}

/// The beta-divergence over the observed entries of X (this worker's
/// share, when distributed): each row's sum in parallel, the rows added
/// in row order (the same number for any thread count and any source).
pub fn beta_divergence_source_masked<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    mode: Missing,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    loss: &Loss,
) -> Result<f64> {
    let ht = h.t().as_standard_layout().into_owned();
    let mut rows = vec![0.0f64; src.shape().0];
    for_each_block(src, |s0, xb| {
        let e = s0 + xb.n_rows();
        divergence_per_row(
            xb,
            mode,
            w.slice(s![s0..e, ..]),
            h,
            ht.view(),
            loss.beta,
            &mut rows[s0..e],
        );
        Ok(())
    })?;
    Ok(rows.iter().sum())
}
