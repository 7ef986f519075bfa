//! The masked Frobenius step on a dense batch with many missing entries,
//! fused per block of rows: for each block of [`ROW_CHUNK`] rows, while it
//! is in cache, Xz (X with its missing entries set to 0), W's numerator
//! Xz·Hᵀ, E = M∘(W·H), W's denominator E·Hᵀ, W's update, then E again
//! with the updated rows, their share of the cost Σ (Xz − E)² and of H's
//! statistics Wᵀ·Xz and Wᵀ·E. X is read once; every product is a BLAS
//! GEMM on the block. `fro_gemm.rs` runs the same products as separate
//! passes over the batch (a fresh W's inner iterations need a reduction
//! between the passes).
//!
//! Parallel over fixed groups of consecutive row blocks ([`groups`]: the
//! cut depends on the batch's rows and k only). Each group accumulates its
//! k×m share of Wᵀ·Xz and Wᵀ·E in its own buffer (block after block, in
//! row order); the groups' shares and sums are then added in group order,
//! so the results do not depend on the number of threads.

use super::fro_gemm::{sum_sq_diff, zero_missing};
use super::frobenius::{grow, ROW_CHUNK};
use crate::float::NmfFloat;
use crate::kernels::update_w::finish_w;
use crate::kernels::workspace::Buf;
use crate::kernels::Penalty;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// At most this many groups (each holds two k×m partial products).
const MAX_GROUPS: usize = 32;
/// Elements per task of the reduction of the groups' shares.
const REDUCE_RUN: usize = 4096;

/// The fused step's buffers (grown on first use, reused by every step).
#[derive(Default)]
pub(crate) struct FusedBufs<F> {
    /// Per group: Xz and E of one block (ROW_CHUNK×m each), W's numerator
    /// and denominator of one block (ROW_CHUNK×k each).
    rows: Buf<F>,
    /// Per group: its share of Wᵀ·Xz and of Wᵀ·E (k×m each).
    part: Buf<F>,
    /// Per group: Σ(W_new − W_old)², Σ W_new², Σ (Xz − E)².
    sums: Vec<[f64; 3]>,
}

/// (number of groups, rows per group) of a batch of `b` rows (no group
/// when it has none): at most
/// [`MAX_GROUPS`], and the groups' partial products (2·k·m each) at most
/// about half the batch (b·m).
pub(super) fn groups(b: usize, k: usize) -> (usize, usize) {
    let blocks = b.div_ceil(ROW_CHUNK).max(1);
    let cap = (b / (4 * k.max(1))).clamp(1, MAX_GROUPS);
    let per = blocks.div_ceil(blocks.min(cap)) * ROW_CHUNK;
    (b.div_ceil(per), per)
}

/// Missing entries (NaN) of a dense batch: a branch-free count over fixed
/// row blocks in parallel.
pub(crate) fn count_missing<F: NmfFloat>(x: ArrayView2<F>) -> usize {
    x.axis_chunks_iter(Axis(0), ROW_CHUNK)
        .into_par_iter()
        .map(count_block)
        .sum()
}

avx2_compiled! {
    /// [`count_missing`] of one block (the batch's first touch: one compare
    /// per vector of entries).
    fn count_block<F: NmfFloat>(xc: ArrayView2<F>) -> usize {
        let mut n = 0usize;
        for xr in xc.rows() {
            match xr.as_slice() {
                Some(xs) => n += xs.iter().map(|v| v.is_nan() as usize).sum::<usize>(),
                None => n += xr.iter().filter(|v| v.is_nan()).count(),
            }
        }
        n
    }
}

avx2_compiled! {
    /// `z` (r×m) = the rows `x` with NaN set to 0 (branch-free select).
    fn zero_filled<F: NmfFloat>(z: &mut ArrayViewMut2<F>, x: ArrayView2<F>) {
        for (mut zr, xr) in z.rows_mut().into_iter().zip(x.rows()) {
            let zs = zr.as_slice_mut().expect("buffer rows are contiguous");
            match xr.as_slice() {
                Some(xs) => {
                    for (z, &v) in zs.iter_mut().zip(xs) {
                        *z = if v.is_nan() { F::zero() } else { v };
                    }
                }
                None => {
                    for (z, &v) in zs.iter_mut().zip(xr) {
                        *z = if v.is_nan() { F::zero() } else { v };
                    }
                }
            }
        }
    }
}

/// `out` (contiguous) = Σ over the `ng` groups, in group order, of the
/// share each holds at `off` in its `ps`-element run of `part` (0 for no
/// group: a worker without rows of the batch).
pub(super) fn add_group_shares<F: NmfFloat>(
    part: &[F],
    ps: usize,
    off: usize,
    ng: usize,
    mut out: ArrayViewMut2<F>,
) {
    let out = out.as_slice_mut().expect("H's statistics are contiguous");
    out.par_chunks_mut(REDUCE_RUN)
        .enumerate()
        .for_each(|(c, o)| {
            let o0 = off + c * REDUCE_RUN;
            if ng == 0 {
                o.fill(F::zero());
                return;
            }
            o.copy_from_slice(&part[o0..o0 + o.len()]);
            for g in 1..ng {
                let p = &part[g * ps + o0..g * ps + o0 + o.len()];
                for (v, &q) in o.iter_mut().zip(p) {
                    *v += q;
                }
            }
        });
}

/// An r×c view of the front of a scratch slice.
pub(super) fn view<F>(buf: &mut [F], r: usize, c: usize) -> ArrayViewMut2<'_, F> {
    ArrayViewMut2::from_shape((r, c), &mut buf[..r * c]).expect("scratch holds r*c elements")
}

/// One masked update of the batch's rows of W (b×k) and, with the updated
/// rows, H's masked statistics (`num` = Wᵀ·Xz, `den` = Wᵀ·E, k×m,
/// overwritten), `wtw` = WᵀW, and the cost Σ over the observed entries of
/// ½(x − wh)². Returns (cost, (Σ(W_new − W_old)², Σ W_new²)).
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<F: NmfFloat>(
    x: ArrayView2<F>,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    pen: &Penalty,
    mut num: ArrayViewMut2<F>,
    mut den: ArrayViewMut2<F>,
    wtw: &mut Array2<F>,
    fb: &mut FusedBufs<F>,
) -> (f64, (f64, f64)) {
    let (b, m) = x.dim();
    let k = h.nrows();
    let (ng, per) = groups(b, k);
    let rs = 2 * ROW_CHUNK * (m + k);
    let ps = 2 * k * m;
    grow(&mut fb.sums, ng);
    let FusedBufs { rows, part, sums } = fb;
    let rows = rows.slice(ng * rs);
    let part = part.slice(ng * ps);
    w.axis_chunks_iter_mut(Axis(0), per)
        .into_par_iter()
        .zip(rows.par_chunks_mut(rs))
        .zip(part.par_chunks_mut(ps))
        .zip(sums[..ng].par_iter_mut())
        .enumerate()
        .for_each(|(g, (((mut wg, rbuf), pbuf), sum))| {
            let (zb, rest) = rbuf.split_at_mut(ROW_CHUNK * m);
            let (eb, rest) = rest.split_at_mut(ROW_CHUNK * m);
            let (nb, db) = rest.split_at_mut(ROW_CHUNK * k);
            let (pn, pd) = pbuf.split_at_mut(k * m);
            let (mut pn, mut pd) = (view(pn, k, m), view(pd, k, m));
            *sum = [0.0; 3];
            for (c, mut wc) in wg.axis_chunks_iter_mut(Axis(0), ROW_CHUNK).enumerate() {
                let r = wc.nrows();
                let a = g * per + c * ROW_CHUNK;
                let xc = x.slice(s![a..a + r, ..]);
                let (mut z, mut e) = (view(zb, r, m), view(eb, r, m));
                let (mut nw, mut dw) = (view(nb, r, k), view(db, r, k));
                zero_filled(&mut z, xc);
                general_mat_mul(F::one(), &z, &ht, F::zero(), &mut nw);
                general_mat_mul(F::one(), &wc, &h, F::zero(), &mut e);
                zero_missing(&mut e, xc);
                general_mat_mul(F::one(), &e, &ht, F::zero(), &mut dw);
                let (d2, n2) = finish_w(wc.view_mut(), nw.view(), dw.view(), pen, 1.0);
                general_mat_mul(F::one(), &wc, &h, F::zero(), &mut e);
                zero_missing(&mut e, xc);
                let zs = z.as_slice().expect("scratch is contiguous");
                let es = e.as_slice().expect("scratch is contiguous");
                let cost = sum_sq_diff(zs, es);
                let acc = if c == 0 { F::zero() } else { F::one() };
                general_mat_mul(F::one(), &wc.t(), &z, acc, &mut pn);
                general_mat_mul(F::one(), &wc.t(), &e, acc, &mut pd);
                sum[0] += d2;
                sum[1] += n2;
                sum[2] += cost;
            }
        });
    // The groups' shares of Wᵀ·Xz and Wᵀ·E, added in group order.
    add_group_shares(&part[..], ps, 0, ng, num.view_mut());
    add_group_shares(&part[..], ps, k * m, ng, den.view_mut());
    general_mat_mul(F::one(), &w.t(), &w, F::zero(), wtw);
    let t = sums[..ng]
        .iter()
        .fold([0.0; 3], |t, s| [t[0] + s[0], t[1] + s[1], t[2] + s[2]]);
    (t[2] / 2.0, (t[0], t[1]))
}
