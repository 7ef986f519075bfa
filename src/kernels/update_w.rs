//! The multiplicative update of W (H fixed), and the W solve used by
//! `transform`, fresh restarts and `partial_fit`.
//!
//! Rows of W are independent given H, so the rows of a batch are split into
//! one contiguous range per worker thread, each with its own buffers; BLAS
//! runs single-threaded inside each range.

use super::elementwise::{beta_powers, den_powers_block, EPS};
use super::skinny;
use super::workspace::{plan_parts, rows_per_block, Buf, HCache, RowBufs, ThreadBufs};
use super::{Loss, Penalty};
use crate::dist::Comm;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::linalg::sparse::{csr_dot_dense, csr_nz_fused};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Rows per block of the W update when no dense W·H block bounds it.
const W_ROWS: usize = 1024;

/// One multiplicative update of the rows of W for the rows of X.
/// `xht`, when given, is the precomputed X·Hᵀ (beta = 2 only).
/// Returns (Σ(W_new − W_old)², Σ W_new²) when `norms` (a stopping test
/// reads them), else (0, 0): the new W is the same either way.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_w<F: NmfFloat>(
    x: &Input<F>,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    pen: &Penalty,
    xht: Option<ArrayView2<F>>,
    threads: &mut [ThreadBufs<F>],
    norms: bool,
) -> (f64, f64) {
    let (n, m) = x.shape();
    let parts = plan_parts(n, m, threads.len());
    let chunk = n.div_ceil(parts).max(1);
    w.axis_chunks_iter_mut(Axis(0), chunk)
        .into_par_iter()
        .zip(threads.par_iter_mut())
        .enumerate()
        .map(|(i, (wc, tb))| {
            let start = i * chunk;
            let end = start + wc.nrows();
            let xht_part = xht.map(|c| c.slice_move(s![start..end, ..]));
            update_w_rows(
                &x.slice_rows(start, end),
                wc,
                h,
                hc,
                loss,
                pen,
                xht_part,
                &mut tb.rows,
                norms,
            )
        })
        .reduce(|| (0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1))
}

/// [`update_w`] on one thread's rows.
#[allow(clippy::too_many_arguments)]
fn update_w_rows<F: NmfFloat>(
    x: &Input<F>,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    pen: &Penalty,
    xht: Option<ArrayView2<F>>,
    bufs: &mut RowBufs<F>,
    norms: bool,
) -> (f64, f64) {
    let (n, m) = x.shape();
    let k = h.nrows();
    // Only the dense W·H of the β ≠ 2 paths needs bounded row blocks.
    let needs_wh = loss.beta != 2.0 && (matches!(x, Input::Dense(_)) || loss.beta != 1.0);
    // The others in blocks of at most W_ROWS rows, so that the numerator
    // and denominator buffers stay small when one call holds many rows
    // (transform): each row's update is the same whatever the cut.
    let block = if needs_wh {
        rows_per_block(m)
    } else {
        n.clamp(1, W_ROWS)
    };
    let mut acc = (0.0, 0.0);
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        let xb = x.slice_rows(start, end);
        let r = end - start;
        let mut wb = w.slice_mut(s![start..end, ..]);
        let RowBufs {
            num,
            den,
            wh,
            wh2,
            nz,
        } = bufs;
        let mut den_v = den.mat(r, k);
        let mut num_v = num.mat(r, k);
        // β = 2 with X·Hᵀ at hand: it is the numerator as it stands.
        let given = xht.filter(|_| loss.beta == 2.0);
        if loss.beta == 2.0 {
            if given.is_none() {
                xht_into(&xb, h, hc, num_v.view_mut());
            }
            general_mat_mul(F::one(), &wb, &hc.hht, F::zero(), &mut den_v);
        } else {
            beta_w_terms(
                &xb,
                wb.view(),
                h,
                hc,
                loss,
                num_v.view_mut(),
                den_v.view_mut(),
                wh,
                wh2,
                nz,
            );
        }
        let num_r = match given {
            Some(c) => c.slice_move(s![start..end, ..]),
            None => num_v.view(),
        };
        let (d, nrm) = if norms {
            finish_w(wb.view_mut(), num_r, den_v.view(), pen, loss.gamma)
        } else {
            finish_w_rows::<F, false>(wb.view_mut(), num_r, den_v.view(), pen, loss.gamma)
        };
        acc.0 += d;
        acc.1 += nrm;
        start = end;
    }
    acc
}

/// X·Hᵀ into `out` (rows×k), on the calling thread.
pub(crate) fn xht_into<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    out: ArrayViewMut2<F>,
) {
    match x {
        Input::Dense(xd) => skinny::a_bt(xd.view(), h, out),
        Input::Csr(xc) => csr_dot_dense(xc, hc.ht.view(), out),
    }
}

/// X·Hᵀ for all rows of X, split across the workers.
pub(crate) fn xht_par<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    mut out: ArrayViewMut2<F>,
    workers: usize,
) {
    let (n, m) = x.shape();
    let parts = plan_parts(n, m, workers);
    let chunk = n.div_ceil(parts).max(1);
    out.axis_chunks_iter_mut(Axis(0), chunk)
        .into_par_iter()
        .enumerate()
        .for_each(|(i, oc)| {
            let start = i * chunk;
            let end = start + oc.nrows();
            xht_into(&x.slice_rows(start, end), h, hc, oc);
        });
}

/// Numerator X∘(WH)^(β-2)·Hᵀ and denominator (WH)^(β-1)·Hᵀ (or H's row sums
/// for β = 1) of the W update, for β ≠ 2.
#[allow(clippy::too_many_arguments)]
fn beta_w_terms<F: NmfFloat>(
    x: &Input<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    mut num: ArrayViewMut2<F>,
    mut den: ArrayViewMut2<F>,
    wh: &mut Buf<F>,
    wh2: &mut Buf<F>,
    nz: &mut Buf<F>,
) {
    let beta = loss.beta;
    let (r, m) = x.shape();
    match x {
        Input::Dense(xd) => {
            let mut whv = wh.mat(r, m);
            skinny::w_h(w, h, whv.view_mut());
            if beta == 1.0 {
                // X/WH only: the denominator is H's row sums.
                for (mut vrow, xrow) in whv.rows_mut().into_iter().zip(xd.rows()) {
                    for (v, &xv) in vrow.iter_mut().zip(xrow.iter()) {
                        *v = xv * beta_powers(*v, 1.0).0;
                    }
                }
            } else {
                let mut d = wh2.mat(r, m);
                for ((mut vrow, mut drow), xrow) in
                    whv.rows_mut().into_iter().zip(d.rows_mut()).zip(xd.rows())
                {
                    for ((v, dv), &xv) in vrow.iter_mut().zip(drow.iter_mut()).zip(xrow.iter()) {
                        let (ratio, dd) = beta_powers(*v, beta);
                        *dv = dd;
                        *v = xv * ratio;
                    }
                }
                skinny::a_bt(d.view(), h, den.view_mut());
            }
            skinny::a_bt(whv.view(), h, num.view_mut());
        }
        Input::Csr(xc) => {
            // X∘(WH)^(β−2) at the non-zeros and its product with Hᵀ in one
            // pass over the gathered rows of Hᵀ.
            let vals = nz.slice(xc.nnz());
            csr_nz_fused(xc, w, hc.ht.view(), num.view_mut(), vals, |x, wh| {
                x * beta_powers(wh, beta).0
            });
            if beta != 1.0 {
                let mut whv = wh.mat(r, m);
                general_mat_mul(F::one(), &w, &h, F::zero(), &mut whv);
                den_powers_block(whv.as_slice_mut().expect("contiguous"), beta, false);
                general_mat_mul(F::one(), &whv, &hc.ht, F::zero(), &mut den);
            }
        }
    }
    if beta == 1.0 {
        for mut row in den.rows_mut() {
            row.assign(&hc.hsum);
        }
    }
}

/// W ← W ∘ (num / den)^γ with the penalties added to den. Returns
/// (Σ(ΔW)², ΣW²).
pub(crate) fn finish_w<F: NmfFloat>(
    w: ArrayViewMut2<F>,
    num: ArrayView2<F>,
    den: ArrayView2<F>,
    pen: &Penalty,
    gamma: f64,
) -> (f64, f64) {
    finish_w_rows::<F, true>(w, num, den, pen, gamma)
}

/// [`finish_w`]; without `NORMS` the sums are not taken (returns (0, 0)).
#[inline(always)]
fn finish_w_rows<F: NmfFloat, const NORMS: bool>(
    mut w: ArrayViewMut2<F>,
    num: ArrayView2<F>,
    den: ArrayView2<F>,
    pen: &Penalty,
    gamma: f64,
) -> (f64, f64) {
    let l1 = F::from_f64_(pen.l1);
    let l2 = F::from_f64_(pen.l2);
    let eps = F::from_f64_(EPS);
    let mut acc = (0.0, 0.0);
    for ((mut wr, nr), dr) in w.rows_mut().into_iter().zip(num.rows()).zip(den.rows()) {
        for ((wv, &nv), &dv) in wr.iter_mut().zip(nr).zip(dr) {
            let mut d = dv;
            if pen.l1 > 0.0 {
                d += l1;
            }
            if pen.l2 > 0.0 {
                d += l2 * *wv;
            }
            if d == F::zero() {
                d = eps;
            }
            let mut delta = nv / d;
            if gamma != 1.0 {
                delta = super::elementwise::npow(delta, gamma);
            }
            let old = *wv;
            let new = old * delta;
            *wv = new;
            if NORMS {
                let diff = (new - old).to_f64_();
                acc.0 += diff * diff;
                acc.1 += new.to_f64_() * new.to_f64_();
            }
        }
    }
    acc
}

/// Solve for W with H fixed from the constant start sqrt(mean/k), until
/// `max_iter` updates or ||ΔW||/||W|| <= tol (scikit-learn's `_solve_W`).
/// `mean` is mean(X) over all workers' rows, and the norms of the stopping
/// test are summed over the workers (a reduce per update, only when
/// tol > 0 and there are several workers). Writes into `w` (n×k). `xht` is
/// X·Hᵀ when beta = 2 (it does not change while H is fixed). Returns the
/// number of updates done.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_w_into<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    pen: &Penalty,
    max_iter: usize,
    tol: f64,
    mean: f64,
    comm: Comm,
    mut w: ArrayViewMut2<F>,
    xht: Option<ArrayView2<F>>,
    threads: &mut [ThreadBufs<F>],
) -> Result<usize> {
    let k = h.nrows();
    let avg = F::from_f64_((mean / k as f64).sqrt());
    w.fill(avg);
    let mut it = 0;
    while it < max_iter {
        let (d2, n2) = update_w(x, w.view_mut(), h, hc, loss, pen, xht, threads, tol > 0.0);
        it += 1;
        if tol > 0.0 {
            let mut norms = [d2, n2];
            comm.sum_f64(&mut norms)?;
            if norms[0].sqrt() / norms[1].sqrt() <= tol {
                break;
            }
        }
    }
    Ok(it)
}
