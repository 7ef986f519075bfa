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
use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Rows per task of the dense-shaped row passes.
const TASK_ROWS: usize = 64;
/// Columns per task of H's statistics.
const TASK_COLS: usize = 64;

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
    /// Per-task partial sums (added in task order) and per-row divergences.
    parts: Vec<(f64, f64)>,
    row_div: Vec<f64>,
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
            parts: Vec::new(),
            row_div: Vec::new(),
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
        let chunks = r.div_ceil(TASK_ROWS);
        if bufs.parts.len() < chunks {
            bufs.parts.resize(chunks, (0.0, 0.0));
        }
        let MaskedBufs {
            xd,
            wh,
            dd,
            num_w,
            den_w,
            parts,
            ..
        } = bufs;
        let xb = dense_rows(x, a, b, xd);
        let mut wb = w.slice_mut(s![a..b, ..]);
        let mut whv = wh.mat(r, m);
        let mut dv = dd.mat(r, m);
        let mut num = num_w.mat(r, k);
        let mut den = den_w.mat(r, k);
        // Rows are independent: fixed tasks of TASK_ROWS rows, partial sums
        // added in task order (the same numbers for any thread count).
        wb.axis_chunks_iter_mut(Axis(0), TASK_ROWS)
            .into_par_iter()
            .zip(whv.axis_chunks_iter_mut(Axis(0), TASK_ROWS))
            .zip(dv.axis_chunks_iter_mut(Axis(0), TASK_ROWS))
            .zip(num.axis_chunks_iter_mut(Axis(0), TASK_ROWS))
            .zip(den.axis_chunks_iter_mut(Axis(0), TASK_ROWS))
            .zip(parts[..chunks].par_iter_mut())
            .enumerate()
            .for_each(
                |(c, (((((mut wc, mut nv), mut dc), mut nc), mut ec), part))| {
                    let c0 = c * TASK_ROWS;
                    let xc = xb.slice(s![c0..c0 + wc.nrows(), ..]);
                    general_mat_mul(F::one(), &wc, &h, F::zero(), &mut nv);
                    for ((nv, d), &xv) in nv.iter_mut().zip(dc.iter_mut()).zip(xc.iter()) {
                        if xv.is_nan() {
                            *nv = F::zero();
                            *d = F::zero();
                        } else {
                            let (nf, df) = entry_factors(xv, *nv, beta);
                            *nv = nf;
                            *d = df;
                        }
                    }
                    general_mat_mul(F::one(), &nv, &ht, F::zero(), &mut nc);
                    general_mat_mul(F::one(), &dc, &ht, F::zero(), &mut ec);
                    *part = finish_w(wc.view_mut(), nc.view(), ec.view(), pen, gamma);
                },
            );
        for p in &parts[..chunks] {
            acc.0 += p.0;
            acc.1 += p.1;
        }
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
    let want = stats.is_some();
    let mut a = 0;
    while a < n {
        let b = (a + block).min(n);
        let r = b - a;
        if bufs.row_div.len() < r {
            bufs.row_div.resize(r, 0.0);
        }
        let MaskedBufs {
            xd,
            wh,
            dd,
            row_div,
            ..
        } = bufs;
        let xb = dense_rows(x, a, b, xd);
        let wb = w.slice(s![a..b, ..]);
        let mut whv = wh.mat(r, m);
        let mut dv = dd.mat(r, m);
        // W·H, the divergence per row and the factors: rows independent,
        // fixed tasks of TASK_ROWS rows.
        whv.axis_chunks_iter_mut(Axis(0), TASK_ROWS)
            .into_par_iter()
            .zip(dv.axis_chunks_iter_mut(Axis(0), TASK_ROWS))
            .zip(row_div[..r].par_chunks_mut(TASK_ROWS))
            .enumerate()
            .for_each(|(c, ((mut nv, mut dc), rd))| {
                let c0 = c * TASK_ROWS;
                let c1 = c0 + nv.nrows();
                let xc = xb.slice(s![c0..c1, ..]);
                general_mat_mul(F::one(), &wb.slice(s![c0..c1, ..]), &h, F::zero(), &mut nv);
                for (((mut nr, mut dr), xr), t) in nv
                    .rows_mut()
                    .into_iter()
                    .zip(dc.rows_mut())
                    .zip(xc.rows())
                    .zip(rd.iter_mut())
                {
                    *t = 0.0;
                    for ((nv, d), &xv) in nr.iter_mut().zip(dr.iter_mut()).zip(xr.iter()) {
                        if xv.is_nan() {
                            *nv = F::zero();
                            *d = F::zero();
                        } else {
                            *t += entry_divergence(xv, *nv, beta);
                            if want {
                                let (nf, df) = entry_factors(xv, *nv, beta);
                                *nv = nf;
                                *d = df;
                            }
                        }
                    }
                }
            });
        total += row_div[..r].iter().sum::<f64>();
        if let Some((num, den)) = stats.as_mut() {
            // H's statistics over fixed blocks of TASK_COLS columns: each
            // column is one product over the block's rows.
            let (whv, dv) = (whv.view(), dv.view());
            num.axis_chunks_iter_mut(Axis(1), TASK_COLS)
                .into_par_iter()
                .zip(den.axis_chunks_iter_mut(Axis(1), TASK_COLS))
                .enumerate()
                .for_each(|(c, (mut nc, mut dc))| {
                    let c0 = c * TASK_COLS;
                    let c1 = c0 + nc.ncols();
                    general_mat_mul(
                        F::one(),
                        &wb.t(),
                        &whv.slice(s![.., c0..c1]),
                        F::one(),
                        &mut nc,
                    );
                    general_mat_mul(
                        F::one(),
                        &wb.t(),
                        &dv.slice(s![.., c0..c1]),
                        F::one(),
                        &mut dc,
                    );
                });
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

/// Σ (x − v)² in f64 over the entries with x not NaN: eight running sums
/// (a NaN's term is 0 by a select, so the loop vectorises) added in a
/// fixed order.
fn observed_sq_diff<F: NmfFloat>(x: &[F], v: &[F]) -> f64 {
    let term = |x: F, v: F| {
        let d = x.to_f64_() - v.to_f64_();
        if x.is_nan() {
            0.0
        } else {
            d * d
        }
    };
    let mut acc = [0.0f64; 8];
    let (mut ix, mut iv) = (x.chunks_exact(8), v.chunks_exact(8));
    for (cx, cv) in (&mut ix).zip(&mut iv) {
        for l in 0..8 {
            acc[l] += term(cx[l], cv[l]);
        }
    }
    let mut s = 0.0;
    for (&x, &v) in ix.remainder().iter().zip(iv.remainder()) {
        s += term(x, v);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + s
}

/// Rows per task of [`divergence_per_row`].
const DIV_ROWS: usize = 64;

/// The divergence over each row's observed entries, into `out` (one f64 per
/// row of the block, overwritten), in parallel over fixed blocks of
/// [`DIV_ROWS`] rows: each row's sum runs over its entries in a fixed order
/// (column order; for the Frobenius loss eight interleaved running sums),
/// so the values depend neither on the number of threads nor on how X's
/// rows are cut into blocks (callers add the rows in row order).
pub(crate) fn divergence_per_row<F: NmfFloat>(
    x: &Input<F>,
    mode: Missing,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    beta: f64,
    out: &mut [f64],
) {
    let (n, m) = x.shape();
    assert_eq!(out.len(), n, "one sum per row");
    let stored = stored_only(x, mode);
    out.par_chunks_mut(DIV_ROWS).enumerate().for_each_init(
        || (Buf::<F>::default(), Buf::<F>::default()),
        |(xd, wh), (c, sums)| {
            let a = c * DIV_ROWS;
            let b = a + sums.len();
            if let (Input::Csr(cv), true) = (x, stored) {
                for (i, t) in (a..b).zip(sums.iter_mut()) {
                    let (cols, vals) = cv.row(i);
                    let wi = w.row(i);
                    *t = 0.0;
                    for (&j, &xv) in cols.iter().zip(vals) {
                        if !xv.is_nan() {
                            *t += entry_divergence(xv, wi.dot(&ht.row(j)), beta);
                        }
                    }
                }
                return;
            }
            let xb = dense_rows(x, a, b, xd);
            let mut whv = wh.mat(b - a, m);
            general_mat_mul(F::one(), &w.slice(s![a..b, ..]), &h, F::zero(), &mut whv);
            for ((xr, wr), t) in xb.rows().into_iter().zip(whv.rows()).zip(sums.iter_mut()) {
                if let (2.0, Some(xs), Some(ws)) = (beta, xr.as_slice(), wr.as_slice()) {
                    *t = observed_sq_diff(xs, ws) / 2.0;
                    continue;
                }
                *t = 0.0;
                for (&xv, &v) in xr.iter().zip(wr.iter()) {
                    if !xv.is_nan() {
                        *t += entry_divergence(xv, v, beta);
                    }
                }
            }
        },
    );
}
