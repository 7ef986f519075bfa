//! The masked multiplicative-update kernels on a block of rows: W's update
//! from each row's observed entries, and the divergence over the observed
//! entries with H's statistics (numerator and denominator, k×m) in the same
//! pass.
//!
//! Two shapes of mask, both read off the block itself:
//! - dense-shaped (dense X with NaN, or CSR X whose NaN values are the
//!   missing entries and whose unstored zeros are observed): the block is
//!   viewed densely (CSR rows scattered into a buffer), W·H is a GEMM, the
//!   factors are zeroed at missing entries, and the products with Hᵀ and Wᵀ
//!   are GEMMs: the cost of the unmasked β ≠ 2 path;
//! - stored-only (`missing = "unstored"`: only the stored, non-NaN entries
//!   of a CSR block are observed): W·H is evaluated at the stored entries
//!   only, O(stored × k); never densified.

use super::entry::{entry_divergence, entry_factors};
use crate::float::NmfFloat;
use crate::input::{CsrView, Input};
use crate::kernels::update_w::finish_w;
use crate::kernels::workspace::{rows_per_block, Buf};
use crate::kernels::Penalty;
use crate::params::Missing;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2};

/// The masked kernels' buffers (grown on first use, reused by every step).
pub(crate) struct MaskedBufs<F> {
    /// A CSR block scattered densely (dense-shaped CSR masks).
    xd: Buf<F>,
    /// W·H of a row block, then the numerator factors.
    wh: Buf<F>,
    /// The denominator factors of a row block.
    dd: Buf<F>,
    /// W's numerator and denominator (rows×k).
    num_w: Buf<F>,
    den_w: Buf<F>,
    /// Stored-only masks: H's statistics accumulated transposed (m×k).
    num_t: Buf<F>,
    den_t: Buf<F>,
    /// The Frobenius step of dense batches (`frobenius.rs`).
    pub(crate) fro: super::frobenius::FroBufs<F>,
}

impl<F: NmfFloat> Default for MaskedBufs<F> {
    fn default() -> Self {
        MaskedBufs {
            xd: Buf::default(),
            wh: Buf::default(),
            dd: Buf::default(),
            num_w: Buf::default(),
            den_w: Buf::default(),
            num_t: Buf::default(),
            den_t: Buf::default(),
            fro: Default::default(),
        }
    }
}

/// Whether the block has a missing entry under `mode`.
pub(crate) fn has_missing<F: NmfFloat>(x: &Input<F>, mode: Missing) -> bool {
    match (x, mode) {
        (_, Missing::Error) => false,
        (Input::Dense(d), _) => d.iter().any(|v| v.is_nan()),
        (Input::Csr(c), Missing::Nan) => c.values().iter().any(|v| v.is_nan()),
        (Input::Csr(c), Missing::Unstored) => {
            c.nnz() < c.n_rows() * c.n_cols() || c.values().iter().any(|v| v.is_nan())
        }
    }
}

/// Whether the block is read through its stored entries only.
fn stored_only<F>(x: &Input<F>, mode: Missing) -> bool {
    matches!((x, mode), (Input::Csr(_), Missing::Unstored))
}

/// Rows [a, b) of a dense-shaped block as a dense view (CSR scattered
/// into `xd`, NaN values kept: they mark the missing entries).
fn dense_rows<'b, F: NmfFloat>(
    x: &'b Input<F>,
    a: usize,
    b: usize,
    xd: &'b mut Buf<F>,
) -> ArrayView2<'b, F> {
    match x {
        Input::Dense(d) => d.slice(s![a..b, ..]),
        Input::Csr(c) => {
            let m = c.n_cols();
            let v: &'b mut [F] = xd.slice((b - a) * m);
            v.fill(F::zero());
            for i in a..b {
                let (cols, vals) = c.row(i);
                for (&j, &val) in cols.iter().zip(vals) {
                    v[(i - a) * m + j] = val;
                }
            }
            ArrayView2::from_shape((b - a, m), &*v).expect("the buffer holds the block")
        }
    }
}

/// One masked multiplicative update of W's rows for the rows of X, H fixed
/// (`ht` = Hᵀ, m×k). Rows without an observed entry become 0. Returns
/// (Σ(W_new − W_old)², Σ W_new²).
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_w<F: NmfFloat>(
    x: &Input<F>,
    mode: Missing,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    beta: f64,
    gamma: f64,
    pen: &Penalty,
    bufs: &mut MaskedBufs<F>,
) -> (f64, f64) {
    let (n, m) = x.shape();
    let k = h.nrows();
    if n == 0 {
        return (0.0, 0.0);
    }
    if let (Input::Csr(c), true) = (x, stored_only(x, mode)) {
        let mut num = bufs.num_w.mat(n, k);
        let mut den = bufs.den_w.mat(n, k);
        num.fill(F::zero());
        den.fill(F::zero());
        for i in 0..n {
            let (cols, vals) = c.row(i);
            let wi = w.row(i);
            for (&j, &xv) in cols.iter().zip(vals) {
                if xv.is_nan() {
                    continue;
                }
                let hj = ht.row(j);
                let (nf, df) = entry_factors(xv, wi.dot(&hj), beta);
                for a in 0..k {
                    num[[i, a]] += nf * hj[a];
                    den[[i, a]] += df * hj[a];
                }
            }
        }
        return finish_w(w, num.view(), den.view(), pen, gamma);
    }
    let block = rows_per_block(m);
    let mut acc = (0.0, 0.0);
    let mut a = 0;
    while a < n {
        let b = (a + block).min(n);
        let r = b - a;
        let MaskedBufs {
            xd,
            wh,
            dd,
            num_w,
            den_w,
            ..
        } = bufs;
        let xb = dense_rows(x, a, b, xd);
        let mut wb = w.slice_mut(s![a..b, ..]);
        let mut whv = wh.mat(r, m);
        general_mat_mul(F::one(), &wb, &h, F::zero(), &mut whv);
        let mut dv = dd.mat(r, m);
        for ((nv, d), &xv) in whv.iter_mut().zip(dv.iter_mut()).zip(xb.iter()) {
            if xv.is_nan() {
                *nv = F::zero();
                *d = F::zero();
            } else {
                let (nf, df) = entry_factors(xv, *nv, beta);
                *nv = nf;
                *d = df;
            }
        }
        let mut num = num_w.mat(r, k);
        let mut den = den_w.mat(r, k);
        general_mat_mul(F::one(), &whv, &ht, F::zero(), &mut num);
        general_mat_mul(F::one(), &dv, &ht, F::zero(), &mut den);
        let (d2, n2) = finish_w(wb.view_mut(), num.view(), den.view(), pen, gamma);
        acc.0 += d2;
        acc.1 += n2;
        a = b;
    }
    acc
}

/// Σ divergence over the observed entries of the block (rows of X and W
/// aligned) and, with `stats` = (num, den) (k×m each, added to), H's
/// masked statistics: num += Wᵀ·(M∘X∘(WH)^(β−2)), den += Wᵀ·(M∘(WH)^(β−1)).
#[allow(clippy::too_many_arguments)]
pub(crate) fn divergence_stats<F: NmfFloat>(
    x: &Input<F>,
    mode: Missing,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    beta: f64,
    mut stats: Option<(ArrayViewMut2<F>, ArrayViewMut2<F>)>,
    bufs: &mut MaskedBufs<F>,
) -> f64 {
    let (n, m) = x.shape();
    let k = h.nrows();
    if n == 0 {
        return 0.0;
    }
    let mut total = 0.0;
    if let (Input::Csr(c), true) = (x, stored_only(x, mode)) {
        return stored_divergence_stats(c, w, ht, beta, stats, bufs, k, m);
    }
    let block = rows_per_block(m);
    let mut a = 0;
    while a < n {
        let b = (a + block).min(n);
        let r = b - a;
        let MaskedBufs { xd, wh, dd, .. } = bufs;
        let xb = dense_rows(x, a, b, xd);
        let wb = w.slice(s![a..b, ..]);
        let mut whv = wh.mat(r, m);
        general_mat_mul(F::one(), &wb, &h, F::zero(), &mut whv);
        let mut dv = dd.mat(r, m);
        let want = stats.is_some();
        for ((nv, d), &xv) in whv.iter_mut().zip(dv.iter_mut()).zip(xb.iter()) {
            if xv.is_nan() {
                *nv = F::zero();
                *d = F::zero();
            } else {
                total += entry_divergence(xv, *nv, beta);
                if want {
                    let (nf, df) = entry_factors(xv, *nv, beta);
                    *nv = nf;
                    *d = df;
                }
            }
        }
        if let Some((num, den)) = stats.as_mut() {
            general_mat_mul(F::one(), &wb.t(), &whv, F::one(), num);
            general_mat_mul(F::one(), &wb.t(), &dv, F::one(), den);
        }
        a = b;
    }
    total
}

/// [`divergence_stats`] of a stored-only mask: per stored entry, O(stored
/// × k); H's statistics accumulate transposed (m×k, contiguous per column
/// of X) and are added to `stats` once.
#[allow(clippy::too_many_arguments)]
fn stored_divergence_stats<F: NmfFloat>(
    c: &CsrView<F>,
    w: ArrayView2<F>,
    ht: ArrayView2<F>,
    beta: f64,
    stats: Option<(ArrayViewMut2<F>, ArrayViewMut2<F>)>,
    bufs: &mut MaskedBufs<F>,
    k: usize,
    m: usize,
) -> f64 {
    let mut total = 0.0;
    let want = stats.is_some();
    let (mut nt, mut dt) = if want {
        let mut nt = bufs.num_t.mat(m, k);
        nt.fill(F::zero());
        let mut dt = bufs.den_t.mat(m, k);
        dt.fill(F::zero());
        (Some(nt), Some(dt))
    } else {
        (None, None)
    };
    for i in 0..c.n_rows() {
        let (cols, vals) = c.row(i);
        let wi = w.row(i);
        for (&j, &xv) in cols.iter().zip(vals) {
            if xv.is_nan() {
                continue;
            }
            let wh = wi.dot(&ht.row(j));
            total += entry_divergence(xv, wh, beta);
            if let (Some(nt), Some(dt)) = (nt.as_mut(), dt.as_mut()) {
                let (nf, df) = entry_factors(xv, wh, beta);
                for a in 0..k {
                    nt[[j, a]] += nf * wi[a];
                    dt[[j, a]] += df * wi[a];
                }
            }
        }
    }
    if let (Some((mut num, mut den)), Some(nt), Some(dt)) = (stats, nt, dt) {
        num += &nt.t();
        den += &dt.t();
    }
    total
}
