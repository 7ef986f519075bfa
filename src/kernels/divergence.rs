//! The beta-divergence of X and W·H, optionally accumulating in the same pass
//! the statistics of the H update (they need the same W·H values).
//!
//! Sparse X never materialises a dense n×m product: KL and IS only need W·H
//! at the non-zeros; other betas and the H denominators go through W·H in
//! row blocks.

use super::elementwise::{clip_eps, npow, EPS};
use super::update_w::ratio;
use super::workspace::{rows_per_block, HCache, HStats, RowBufs};
use super::Loss;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::linalg::sparse::{csr_dot_dense, csr_t_dot_dense_with};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, Axis, Zip};

/// Partial sums of the divergence over blocks of rows.
#[derive(Default, Clone, Copy)]
struct Terms {
    /// β=2: Σ(X−WH)² (dense) or ||X||² + Σ(W·HHᵀ)∘W − 2Σ(X·Hᵀ)∘W (sparse).
    /// β=1: Σ X·ln(X/WH). β=0: Σ X/WH − ln(X/WH). Else Σ X^β.
    a: f64,
    /// β=1: Σ X (selected entries). Else Σ X·WH^(β−1).
    b: f64,
    /// Other β: Σ (WH)^β over all entries.
    c: f64,
}

impl std::ops::Add for Terms {
    type Output = Terms;
    fn add(self, o: Terms) -> Terms {
        Terms {
            a: self.a + o.a,
            b: self.b + o.b,
            c: self.c + o.c,
        }
    }
}

/// Divergence terms of one entry X = `x`, W·H = `wh` (β ≠ 2).
#[inline(always)]
fn entry_terms<F: NmfFloat>(x: F, wh: F, beta: f64) -> Terms {
    let mut t = Terms::default();
    let xv = x.to_f64_();
    if beta != 1.0 && beta != 0.0 {
        t.c = npow(wh, beta).to_f64_();
    }
    // Entries of X at or below float32 eps do not contribute (0·log 0 = 0).
    if xv > EPS {
        let whc = clip_eps(wh);
        if beta == 1.0 {
            let div = x / whc;
            t.a = xv * num_traits::Float::ln(div).to_f64_();
            t.b = xv;
        } else if beta == 0.0 {
            let div = x / whc;
            t.a = div.to_f64_() - num_traits::Float::ln(div).to_f64_();
        } else {
            t.a = npow(x, beta).to_f64_();
            t.b = xv * npow(whc, beta - 1.0).to_f64_();
        }
    }
    t
}

/// β-divergence of X and W·H (rows of X and W aligned). When `stats` is
/// given, also accumulates the H-update statistics of these rows:
/// numerator Wᵀ·(X∘(WH)^(β−2)) and, by β, WᵀW (β=2), W's column sums (β=1)
/// or Wᵀ·(WH)^(β−1) (other β).
pub(crate) fn divergence<F: NmfFloat>(
    x: &Input<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    mut stats: Option<&mut HStats<F>>,
    bufs: &mut RowBufs<F>,
) -> f64 {
    let beta = loss.beta;
    let (n, m) = x.shape();
    let k = h.nrows();
    let block = rows_per_block(m);
    let mut terms = Terms::default();
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        let r = end - start;
        let xb = x.slice_rows(start, end);
        let wb = w.slice(s![start..end, ..]);
        match &xb {
            Input::Dense(xd) => {
                let mut wh = bufs.wh.mat(r, m);
                general_mat_mul(F::one(), &wb, &h, F::zero(), &mut wh);
                let want = stats.is_some();
                if beta == 2.0 {
                    terms.a += Zip::from(xd).and(&wh).par_fold(
                        || 0.0,
                        |s, &xv, &v| {
                            let d = (xv - v).to_f64_();
                            s + d * d
                        },
                        |p, q| p + q,
                    );
                } else {
                    let mut d = bufs.wh2.mat(r, m);
                    terms = terms
                        + Zip::from(&mut wh).and(&mut d).and(xd).par_fold(
                            Terms::default,
                            |acc, v, dv, &xv| {
                                let raw = *v;
                                let t = entry_terms(xv, raw, beta);
                                if want {
                                    if beta != 1.0 {
                                        *dv = npow(
                                            if beta < 1.0 { clip_eps(raw) } else { raw },
                                            beta - 1.0,
                                        );
                                    }
                                    *v = xv * ratio(raw, beta);
                                }
                                acc + t
                            },
                            |p, q| p + q,
                        );
                    if let Some(st) = stats.as_deref_mut() {
                        general_mat_mul(F::one(), &wb.t(), &wh, F::one(), &mut st.num);
                        if beta != 1.0 {
                            general_mat_mul(F::one(), &wb.t(), &d, F::one(), &mut st.den);
                        }
                    }
                }
                if beta == 2.0 {
                    if let Some(st) = stats.as_deref_mut() {
                        general_mat_mul(F::one(), &wb.t(), xd, F::one(), &mut st.num);
                    }
                }
            }
            Input::Csr(xc) => {
                if beta == 2.0 {
                    let xv = xc.values();
                    let norm_x: f64 = xv.iter().map(|v| v.to_f64_() * v.to_f64_()).sum();
                    let mut tmp = bufs.num.mat(r, k);
                    general_mat_mul(F::one(), &wb, &hc.hht, F::zero(), &mut tmp);
                    let wwh: f64 = Zip::from(&tmp)
                        .and(&wb)
                        .fold(0.0, |s, &a, &b| s + (a * b).to_f64_());
                    csr_dot_dense(xc, hc.ht.view(), tmp.view_mut());
                    let cross: f64 = Zip::from(&tmp)
                        .and(&wb)
                        .fold(0.0, |s, &a, &b| s + (a * b).to_f64_());
                    terms.a += norm_x + wwh - 2.0 * cross;
                    if let Some(st) = stats.as_deref_mut() {
                        csr_t_dot_dense_with(xc, xv, wb, st.num.view_mut().reversed_axes(), true);
                    }
                } else {
                    // Values at the non-zeros: divergence terms and the
                    // numerator factor X∘ratio(WH).
                    let nnz = xc.nnz();
                    let vals = bufs.nz.slice(nnz);
                    terms = terms + sparse_nz_terms(xc, wb, hc, beta, vals);
                    if let Some(st) = stats.as_deref_mut() {
                        csr_t_dot_dense_with(xc, vals, wb, st.num.view_mut().reversed_axes(), true);
                    }
                    // Σ (WH)^β over all entries and the β≠1 denominator need
                    // W·H densely, block by block.
                    if beta != 1.0 && (beta != 0.0 || stats.is_some()) {
                        let mut wh = bufs.wh.mat(r, m);
                        general_mat_mul(F::one(), &wb, &h, F::zero(), &mut wh);
                        if beta != 1.0 && beta != 0.0 {
                            terms.c += Zip::from(&wh).par_fold(
                                || 0.0,
                                |s, &v| s + npow(v, beta).to_f64_(),
                                |p, q| p + q,
                            );
                        }
                        if let Some(st) = stats.as_deref_mut() {
                            wh.par_mapv_inplace(|v| {
                                npow(if beta < 1.0 { clip_eps(v) } else { v }, beta - 1.0)
                            });
                            general_mat_mul(F::one(), &wb.t(), &wh, F::one(), &mut st.den);
                        }
                    }
                }
            }
        }
        if let Some(st) = stats.as_deref_mut() {
            if beta == 2.0 {
                general_mat_mul(F::one(), &wb.t(), &wb, F::one(), &mut st.wtw);
            }
            st.wsum += &wb.sum_axis(Axis(0));
        } else if beta == 1.0 {
            // Σ WH = (column sums of W)·(row sums of H), accumulated below.
            terms.c += wb
                .sum_axis(Axis(0))
                .iter()
                .zip(hc.hsum.iter())
                .map(|(a, b)| (*a * *b).to_f64_())
                .sum::<f64>();
        }
        start = end;
    }
    if let Some(st) = stats.as_deref() {
        if beta == 1.0 {
            terms.c += st
                .wsum
                .iter()
                .zip(hc.hsum.iter())
                .map(|(a, b)| (*a * *b).to_f64_())
                .sum::<f64>();
        }
    }
    let res = if beta == 2.0 {
        terms.a / 2.0
    } else if beta == 1.0 {
        terms.a + terms.c - terms.b
    } else if beta == 0.0 {
        terms.a - (n as f64) * (m as f64)
    } else {
        (terms.a - beta * terms.b + (beta - 1.0) * terms.c) / (beta * (beta - 1.0))
    };
    res
}

/// Divergence terms at the non-zeros of a CSR block; overwrites `vals` with
/// X∘ratio(W·H) for the H numerator.
fn sparse_nz_terms<F: NmfFloat>(
    xc: &crate::input::CsrView<F>,
    w: ArrayView2<F>,
    hc: &HCache<F>,
    beta: f64,
    vals: &mut [F],
) -> Terms {
    let mut t = Terms::default();
    let mut p = 0;
    for i in 0..xc.n_rows() {
        let (cols, xv) = xc.row(i);
        let wi = w.row(i);
        for (&j, &x) in cols.iter().zip(xv) {
            let wh = wi.dot(&hc.ht.row(j));
            let mut e = entry_terms(x, wh, beta);
            // Σ(WH)^β over all entries is added from the dense blocks.
            e.c = 0.0;
            t = t + e;
            vals[p] = x * ratio(wh, beta);
            p += 1;
        }
    }
    t
}
