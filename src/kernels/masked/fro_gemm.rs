//! The masked Frobenius step on dense batches with many missing entries:
//! E = M∘(W·H) by one GEMM per row block (zeroed at the missing entries),
//! then W's denominator E·Hᵀ and H's denominator Wᵀ·E by GEMM, instead of
//! the Gram-trick products minus a correction per missing entry
//! (`fro_corr.rs` for a step updating W once, `frobenius.rs` for a fresh
//! W's inner iterations). [`use_gemm`] chooses between them per batch.
//!
//! Cost model (flops, k components, b×m batch, a share p missing): the
//! corrections add about 4k flops per missing entry and update (a k-dot
//! and a k-axpy on a row of Hᵀ: ≈ 4·p·b·m·k); the GEMM path adds two
//! b×m×k products per update (W·H and E·Hᵀ, or W·H and Wᵀ·E, in place of
//! the k×k Gram products: ≈ 4·b·m·k) at BLAS speed. The corrections run
//! [`SCALAR_COST`] times slower per flop than the BLAS products, so the
//! GEMM path wins above p ≈ 1 / SCALAR_COST.
//!
//! Exactness: W's and H's denominators are summed over the observed
//! entries directly (no subtraction), the cost as Σ (Xz − E)² over the
//! batch. Parallel over fixed row blocks (W, E, the cost) and column
//! blocks (H's statistics); partial sums added in block order, so the
//! results do not depend on the number of threads.

use super::frobenius::{grow, FroBufs, COL_BLOCK, ROW_CHUNK};
use crate::float::NmfFloat;
use crate::kernels::update_w::finish_w;
use crate::kernels::Penalty;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU8, Ordering};

/// How many times slower a flop of the corrections runs than a flop of the
/// BLAS products (measured: `tests/missing_cost.rs`, `frobenius_paths`,
/// 20000×784, k = 10, with the vectorised fused corrections of
/// `fro_corr.rs`: their CPU time is 0.65–0.85× the GEMM path's at 2–10 %
/// NaN, about equal at 30 %, 2.5× at 50 %).
const SCALAR_COST: f64 = 4.0;

/// 0: choose by the cost model; 1: always the corrections; 2: always GEMM.
static FORCE: AtomicU8 = AtomicU8::new(0);

/// For benchmarks and tests only: force the masked dense Frobenius step's
/// path (`Some(false)`: per-missing-entry corrections, `Some(true)`: the
/// GEMM path, `None`: chosen per batch by the cost model). Both paths give
/// the same numbers up to rounding.
#[doc(hidden)]
pub fn force_masked_frobenius_path(gemm: Option<bool>) {
    FORCE.store(
        match gemm {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        },
        Ordering::Relaxed,
    );
}

/// Whether a batch with `missing` of its `total` entries missing takes the
/// GEMM path (the counts are over all workers, so every worker and one
/// process choose alike).
pub(crate) fn use_gemm(missing: f64, total: f64) -> bool {
    match FORCE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => missing * SCALAR_COST > total,
    }
}

avx2_compiled! {
    /// `t` (rows of the batch, m columns) set to 0 where X is missing
    /// (branch-free select, vectorised).
    pub(super) fn zero_missing<F: NmfFloat>(t: &mut ArrayViewMut2<F>, x: ArrayView2<F>) {
        for (mut tr, xr) in t.rows_mut().into_iter().zip(x.rows()) {
            let ts = tr.as_slice_mut().expect("buffer rows are contiguous");
            match xr.as_slice() {
                Some(xs) => {
                    for (t, &v) in ts.iter_mut().zip(xs) {
                        *t = if v.is_nan() { F::zero() } else { *t };
                    }
                }
                None => {
                    for (t, &v) in ts.iter_mut().zip(xr) {
                        *t = if v.is_nan() { F::zero() } else { *t };
                    }
                }
            }
        }
    }
}

/// One masked update of W (b×k) from the prepared batch: den = E·Hᵀ.
/// Returns (Σ(W_new − W_old)², Σ W_new²).
pub(crate) fn update_w<F: NmfFloat>(
    x: ArrayView2<F>,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    pen: &Penalty,
    fb: &mut FroBufs<F>,
) -> (f64, f64) {
    let (b, k) = w.dim();
    let m = ht.nrows();
    let chunks = b.div_ceil(ROW_CHUNK);
    grow(&mut fb.parts, chunks);
    let FroBufs {
        xht,
        whh,
        wh,
        parts,
        ..
    } = fb;
    let num = xht.mat(b, k);
    let num = num.view();
    let mut den = whh.mat(b, k);
    let mut e = wh.mat(b, m);
    w.axis_chunks_iter_mut(Axis(0), ROW_CHUNK)
        .into_par_iter()
        .zip(den.axis_chunks_iter_mut(Axis(0), ROW_CHUNK))
        .zip(e.axis_chunks_iter_mut(Axis(0), ROW_CHUNK))
        .zip(parts[..chunks].par_iter_mut())
        .enumerate()
        .for_each(|(c, (((mut wc, mut dc), mut ec), part))| {
            let a = c * ROW_CHUNK;
            let r = wc.nrows();
            general_mat_mul(F::one(), &wc, &h, F::zero(), &mut ec);
            zero_missing(&mut ec, x.slice(s![a..a + r, ..]));
            general_mat_mul(F::one(), &ec, &ht, F::zero(), &mut dc);
            *part = finish_w(
                wc.view_mut(),
                num.slice(s![a..a + r, ..]),
                dc.view(),
                pen,
                1.0,
            );
        });
    parts[..chunks]
        .iter()
        .fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1))
}

/// Σ over the observed entries of ½(x − wh)² and H's masked statistics
/// (`num` = Wᵀ·Xz, `den` = Wᵀ·E; k×m, overwritten), W the updated rows
/// of the batch; `wtw` = WᵀW as the Gram path leaves it.
pub(crate) fn cost_and_stats<F: NmfFloat>(
    x: ArrayView2<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    mut num: ArrayViewMut2<F>,
    mut den: ArrayViewMut2<F>,
    wtw: &mut ndarray::Array2<F>,
    fb: &mut FroBufs<F>,
) -> f64 {
    let (b, m) = x.dim();
    general_mat_mul(F::one(), &w.t(), &w, F::zero(), wtw);
    let chunks = b.div_ceil(ROW_CHUNK);
    grow(&mut fb.parts, chunks);
    let FroBufs { xz, wh, parts, .. } = fb;
    let xz = xz.mat(b, m);
    let xz = xz.view();
    let mut e = wh.mat(b, m);
    // E = M∘(W·H) and Σ (Xz − E)² (0 at the missing entries) per row block.
    e.axis_chunks_iter_mut(Axis(0), ROW_CHUNK)
        .into_par_iter()
        .zip(parts[..chunks].par_iter_mut())
        .enumerate()
        .for_each(|(c, (mut ec, part))| {
            let a = c * ROW_CHUNK;
            let r = ec.nrows();
            general_mat_mul(F::one(), &w.slice(s![a..a + r, ..]), &h, F::zero(), &mut ec);
            zero_missing(&mut ec, x.slice(s![a..a + r, ..]));
            let xc = xz.slice(s![a..a + r, ..]);
            let xs = xc.as_slice().expect("buffer rows are contiguous");
            let es = ec.as_slice().expect("buffer rows are contiguous");
            *part = (sum_sq_diff(xs, es), 0.0);
        });
    let cost: f64 = parts[..chunks].iter().map(|p| p.0).sum();
    // H's statistics over fixed column blocks: each column is one product
    // over the batch's rows.
    let e = e.view();
    num.axis_chunks_iter_mut(Axis(1), COL_BLOCK)
        .into_par_iter()
        .zip(den.axis_chunks_iter_mut(Axis(1), COL_BLOCK))
        .enumerate()
        .for_each(|(c, (mut nc, mut dc))| {
            let c0 = c * COL_BLOCK;
            let c1 = c0 + nc.ncols();
            general_mat_mul(
                F::one(),
                &w.t(),
                &xz.slice(s![.., c0..c1]),
                F::zero(),
                &mut nc,
            );
            general_mat_mul(
                F::one(),
                &w.t(),
                &e.slice(s![.., c0..c1]),
                F::zero(),
                &mut dc,
            );
        });
    cost / 2.0
}

avx2_compiled! {
    /// Σ (a − b)² in f64, eight running sums added in a fixed order.
    pub(super) fn sum_sq_diff<F: NmfFloat>(a: &[F], b: &[F]) -> f64 {
        let mut acc = [0.0f64; 8];
        let mut ia = a.chunks_exact(8);
        let mut ib = b.chunks_exact(8);
        for (ca, cb) in (&mut ia).zip(&mut ib) {
            for ((s, &x), &y) in acc.iter_mut().zip(ca).zip(cb) {
                let d = x.to_f64_() - y.to_f64_();
                *s += d * d;
            }
        }
        let mut s = 0.0;
        for (&x, &y) in ia.remainder().iter().zip(ib.remainder()) {
            let d = x.to_f64_() - y.to_f64_();
            s += d * d;
        }
        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + s
    }
}
