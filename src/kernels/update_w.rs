//! The multiplicative update of W (H fixed), and the W solve used by
//! `transform`, fresh restarts and `partial_fit`.

use super::elementwise::{clip_eps, npow, par_rows_fold, EPS};
use super::workspace::{rows_per_block, Buf, HCache, RowBufs};
use super::{Loss, Penalty};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::linalg::sparse::{csr_dot_dense, csr_dot_dense_with};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Zip};
use rayon::prelude::*;

/// One multiplicative update of the rows of W for the rows of X.
/// `xht`, when given, is the precomputed X·Hᵀ (beta = 2 only).
/// Returns (Σ(W_new − W_old)², Σ W_new²).
pub(crate) fn update_w<F: NmfFloat>(
    x: &Input<F>,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    pen: &Penalty,
    xht: Option<ArrayView2<F>>,
    bufs: &mut RowBufs<F>,
) -> (f64, f64) {
    let (n, m) = x.shape();
    let k = h.nrows();
    let block = if loss.beta == 2.0 {
        n.max(1)
    } else {
        rows_per_block(m)
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
        if loss.beta == 2.0 {
            match xht {
                Some(c) => num_v.assign(&c.slice(s![start..end, ..])),
                None => xht_into(&xb, h, hc, num_v.view_mut()),
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
        let (d, nrm) = finish_w(wb.view_mut(), num_v.view(), den_v.view(), pen, loss.gamma);
        acc.0 += d;
        acc.1 += nrm;
        start = end;
    }
    acc
}

/// X·Hᵀ into `out` (rows×k).
pub(crate) fn xht_into<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    mut out: ArrayViewMut2<F>,
) {
    match x {
        Input::Dense(xd) => general_mat_mul(F::one(), xd, &h.t(), F::zero(), &mut out),
        Input::Csr(xc) => csr_dot_dense(xc, hc.ht.view(), out),
    }
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
            general_mat_mul(F::one(), &w, &h, F::zero(), &mut whv);
            let mut d = wh2.mat(r, m);
            Zip::from(&mut whv)
                .and(&mut d)
                .and(xd)
                .par_for_each(|v, d, &xv| {
                    let raw = *v;
                    if beta != 1.0 {
                        *d = npow(if beta < 1.0 { clip_eps(raw) } else { raw }, beta - 1.0);
                    }
                    *v = xv * ratio(raw, beta);
                });
            general_mat_mul(F::one(), &whv, &hc.ht, F::zero(), &mut num);
            if beta != 1.0 {
                general_mat_mul(F::one(), &d, &hc.ht, F::zero(), &mut den);
            }
        }
        Input::Csr(xc) => {
            let vals = nz.slice(xc.nnz());
            nz_ratio(xc, w, hc.ht.view(), beta, vals);
            csr_dot_dense_with(xc, vals, hc.ht.view(), num.view_mut());
            if beta != 1.0 {
                let block = rows_per_block(m);
                let mut start = 0;
                while start < r {
                    let end = (start + block).min(r);
                    let mut whv = wh.mat(end - start, m);
                    general_mat_mul(
                        F::one(),
                        &w.slice(s![start..end, ..]),
                        &h,
                        F::zero(),
                        &mut whv,
                    );
                    whv.par_mapv_inplace(|v| {
                        npow(if beta < 1.0 { clip_eps(v) } else { v }, beta - 1.0)
                    });
                    general_mat_mul(
                        F::one(),
                        &whv,
                        &hc.ht,
                        F::zero(),
                        &mut den.slice_mut(s![start..end, ..]),
                    );
                    start = end;
                }
            }
        }
    }
    if beta == 1.0 {
        for mut row in den.rows_mut() {
            row.assign(&hc.hsum);
        }
    }
}

/// The factor multiplying X in the numerators: (WH)^(β-2) with WH floored
/// at float32 eps for β < 2 (1/WH for KL, 1/WH² for IS).
#[inline(always)]
pub(crate) fn ratio<F: NmfFloat>(wh: F, beta: f64) -> F {
    if beta == 1.0 {
        F::one() / clip_eps(wh)
    } else if beta == 0.0 {
        let inv = F::one() / clip_eps(wh);
        inv * inv
    } else if beta < 2.0 {
        npow(clip_eps(wh), beta - 2.0)
    } else {
        npow(wh, beta - 2.0)
    }
}

/// vals[p] = X_p · ratio((W·H)_p) at the non-zeros of a CSR block.
pub(crate) fn nz_ratio<F: NmfFloat>(
    xc: &crate::input::CsrView<F>,
    w: ArrayView2<F>,
    ht: ArrayView2<F>,
    beta: f64,
    vals: &mut [F],
) {
    let base = xc.offset();
    // Split `vals` by rows so each row's slice is written by one task.
    let mut chunks: Vec<(usize, &mut [F])> = Vec::with_capacity(xc.n_rows());
    let mut rest = vals;
    for i in 0..xc.n_rows() {
        let len = xc.row_range(i).len();
        let (head, tail) = rest.split_at_mut(len);
        chunks.push((i, head));
        rest = tail;
    }
    let _ = base;
    chunks.into_par_iter().for_each(|(i, out)| {
        let (cols, xv) = xc.row(i);
        let wi = w.row(i);
        for ((o, &j), &x) in out.iter_mut().zip(cols).zip(xv) {
            let dot = wi.dot(&ht.row(j));
            *o = x * ratio(dot, beta);
        }
    });
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
    let l1 = F::from_f64_(pen.l1);
    let l2 = F::from_f64_(pen.l2);
    let eps = F::from_f64_(EPS);
    par_rows_fold(w, num, den, |mut wr, nr, dr| {
        let mut acc = (0.0, 0.0);
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
                delta = npow(delta, gamma);
            }
            let old = *wv;
            let new = old * delta;
            *wv = new;
            let diff = (new - old).to_f64_();
            acc.0 += diff * diff;
            acc.1 += new.to_f64_() * new.to_f64_();
        }
        acc
    })
}

/// Solve for W with H fixed from the constant start sqrt(mean(X)/k), until
/// `max_iter` updates or ||ΔW||/||W|| <= tol (scikit-learn's `_solve_W`).
/// Writes into `w` (n×k). Returns the number of updates done.
#[allow(clippy::too_many_arguments)]
pub(crate) fn solve_w_into<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    pen: &Penalty,
    max_iter: usize,
    tol: f64,
    mut w: ArrayViewMut2<F>,
    xht_buf: &mut Buf<F>,
    bufs: &mut RowBufs<F>,
) -> usize {
    let (n, _) = x.shape();
    let k = h.nrows();
    let avg = F::from_f64_((crate::init::mean(x) / k as f64).sqrt());
    w.fill(avg);
    // X·Hᵀ does not change while H is fixed: compute it once.
    let xht = if loss.beta == 2.0 {
        let mut c = xht_buf.mat(n, k);
        xht_into(x, h, hc, c.view_mut());
        Some(c)
    } else {
        None
    };
    let mut it = 0;
    while it < max_iter {
        let (d2, n2) = update_w(
            x,
            w.view_mut(),
            h,
            hc,
            loss,
            pen,
            xht.as_ref().map(|c| c.view()),
            bufs,
        );
        it += 1;
        let diff = d2.sqrt() / n2.sqrt();
        if tol > 0.0 && diff <= tol {
            break;
        }
    }
    it
}

/// Allocating form of [`solve_w_into`].
pub(crate) fn solve_w_alloc<F: NmfFloat>(
    x: &Input<F>,
    h: ArrayView2<F>,
    loss: &Loss,
    pen: &Penalty,
    max_iter: usize,
    tol: f64,
) -> (Array2<F>, usize) {
    let (n, m) = x.shape();
    let k = h.nrows();
    let mut hc = HCache::new(k, m);
    hc.refresh(h);
    let mut w = Array2::zeros((n, k));
    let mut xht = Buf::default();
    let mut bufs = RowBufs::default();
    let it = solve_w_into(
        x,
        h,
        &hc,
        loss,
        pen,
        max_iter,
        tol,
        w.view_mut(),
        &mut xht,
        &mut bufs,
    );
    (w, it)
}
