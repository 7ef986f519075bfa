//! Part 1 of a cd step on dense rows updated in place, in one pass over
//! X: W's rows are independent given H·Hᵀ, so each block of rows small
//! enough to stay in L2 gets, while it is in cache, its X_blk·Hᵀ, its W
//! sweeps, its cost terms (||X_blk||² included) and its share of the
//! statistic B_b (X_blk multiplied by the block's change of W, or by its
//! new W).
//!
//! Blocks are grouped into a fixed number of parts (a cut that depends
//! on the batch's shape alone, never on the number of threads); each
//! part sums its blocks' B products into its own k×m partial, and the
//! partials are added in part order, so the results do not depend on
//! how many threads run the parts.

use super::local::BatchStats;
use super::sweep::{sweep_slice, LANES};
use super::{gram_with_l2, CdBufs, CdConfig};
use crate::float::NmfFloat;
use crate::kernels::elementwise::sum_squares;
use crate::kernels::workspace::{Buf, Workspace};
use crate::kernels::Penalty;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Bytes of X per block of rows (the block stays in a 512 KB L2 with
/// its products).
const BLOCK_BYTES: usize = 192 << 10;

/// At most this many parts (B partials) per batch.
const MAX_PARTS: usize = 8;

/// At most this many elements in all B partials together.
const PARTS_ELEMS: usize = 1 << 21;

/// The dense path's buffers (grown on first use).
#[derive(Default)]
pub(crate) struct DenseBufs<F> {
    /// One k×m partial of B per part.
    b_parts: Buf<F>,
    /// Per part: X_blk·Hᵀ, the block's change of W (both rows×k) and the
    /// sweeps' lanes.
    scratch: Buf<F>,
    /// Per part: the cost terms.
    costs: Vec<f64>,
}

/// Rows per block for rows of `m` features: a multiple of the sweeps'
/// lanes, from 8 to 512.
fn block_rows<F>(m: usize) -> usize {
    let r = BLOCK_BYTES / (m.max(1) * std::mem::size_of::<F>());
    (r / LANES * LANES).clamp(LANES, 512)
}

/// Parts for `blocks` blocks of a k×m statistic: as many as the blocks
/// and the memory bound allow, up to [`MAX_PARTS`].
fn parts_for(blocks: usize, k: usize, m: usize) -> usize {
    let by_mem = (PARTS_ELEMS / (k * m).max(1)).max(1);
    MAX_PARTS.min(by_mem).min(blocks).max(1)
}

/// W's rows `w` of the dense rows `x` by `cfg.w_sweeps` sweeps (in
/// place), the statistics `kind` asks for into `ws.stats` (`num` = B_b,
/// `wtw` = A_b), and the rows' cost: Σ divergence + W's penalty terms.
pub(crate) fn local<F: NmfFloat>(
    x: ArrayView2<F>,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    pen_w: &Penalty,
    cfg: &CdConfig,
    kind: BatchStats,
    ws: &mut Workspace<F>,
) -> f64 {
    let (n, m) = x.dim();
    let k = h.nrows();
    ws.hc.refresh(h, 2.0);
    ws.stats.ensure_for(2.0);
    let Workspace { hc, stats, cd, .. } = ws;
    let CdBufs {
        hess, w_old, dense, ..
    } = cd;
    let mut hess = hess.mat(k, k);
    gram_with_l2(hc.hht.view(), pen_w.l2, hess.view_mut());
    let delta = kind == BatchStats::Delta;
    // W_old is copied only when the statistics are a change.
    let mut old = w_old.mat(n, k);
    if delta {
        old.assign(&w);
    }
    let rb = block_rows::<F>(m);
    let blocks = n.div_ceil(rb);
    let parts = parts_for(blocks, k, m);
    let per_part = blocks.div_ceil(parts) * rb;
    let used = n.div_ceil(per_part);
    let scratch_len = 2 * rb * k + 2 * k * LANES;
    let DenseBufs {
        b_parts,
        scratch,
        costs,
    } = dense;
    let b_parts = b_parts.slice(used * k * m);
    let scratch = scratch.slice(used * scratch_len);
    let l1 = F::from_f64_(pen_w.l1);
    let hs = hess.as_slice().expect("standard layout");
    let hht = hc.hht.view();
    let sweeps = cfg.w_sweeps;
    w.axis_chunks_iter_mut(Axis(0), per_part)
        .into_par_iter()
        .zip(x.axis_chunks_iter(Axis(0), per_part).into_par_iter())
        .zip(b_parts.par_chunks_mut(k * m))
        .zip(scratch.par_chunks_mut(scratch_len))
        .zip(old.axis_chunks_iter_mut(Axis(0), per_part).into_par_iter())
        .map(|((((wp, xp), bp), sc), op)| {
            let bp = ArrayViewMut2::from_shape((k, m), bp).expect("k×m partial");
            let op = if delta { Some(op.view()) } else { None };
            part(xp, wp, op, h, hht, hs, l1, sweeps, bp, sc, rb)
        })
        .collect_into_vec(costs);
    let cost: f64 = costs.iter().sum();
    // B_b: the partials in part order.
    let num = &mut stats.num;
    num.fill(F::zero());
    for p in b_parts.chunks(k * m) {
        let p = ArrayView2::from_shape((k, m), p).expect("k×m partial");
        *num += &p;
    }
    // A_b: W_newᵀW_new (less W_oldᵀW_old for the change).
    general_mat_mul(F::one(), &w.t(), &w, F::zero(), &mut stats.wtw);
    if delta {
        let old = w_old.mat(n, k);
        general_mat_mul(-F::one(), &old.t(), &old, F::one(), &mut stats.wtw);
    }
    cost / 2.0 + pen_w.terms(w.view())
}

/// One part's blocks in order; returns 2·(the rows' divergence):
/// Σ ||x_i||² + w_iᵀ(HHᵀ)w_i − 2 (x_i·Hᵀ)·w_i.
#[allow(clippy::too_many_arguments)]
fn part<F: NmfFloat>(
    x: ArrayView2<F>,
    mut w: ArrayViewMut2<F>,
    old: Option<ArrayView2<F>>,
    h: ArrayView2<F>,
    hht: ArrayView2<F>,
    hess: &[F],
    l1: F,
    sweeps: usize,
    mut b: ArrayViewMut2<F>,
    scratch: &mut [F],
    rb: usize,
) -> f64 {
    let (n, _) = x.dim();
    let k = h.nrows();
    let (cbuf, rest) = scratch.split_at_mut(rb * k);
    let (dbuf, lanes) = rest.split_at_mut(rb * k);
    let mut cost = 0.0;
    b.fill(F::zero());
    let mut s0 = 0;
    while s0 < n {
        let e = (s0 + rb).min(n);
        let r = e - s0;
        let xb = x.slice(s![s0..e, ..]);
        let mut c = ArrayViewMut2::from_shape((r, k), &mut cbuf[..r * k]).expect("rows×k");
        general_mat_mul(F::one(), &xb, &h.t(), F::zero(), &mut c);
        let mut wb = w.slice_mut(s![s0..e, ..]);
        let ws = wb.as_slice_mut().expect("rows of W are contiguous");
        sweep_slice(
            ws,
            c.as_slice().expect("contiguous"),
            k,
            hess,
            l1,
            sweeps,
            lanes,
        );
        // The cost terms of the new rows.
        cost += match xb.as_slice() {
            Some(xs) => sum_squares(xs),
            None => xb.iter().map(|v| v.to_f64_() * v.to_f64_()).sum(),
        };
        for (wr, cr) in wb.rows().into_iter().zip(c.rows()) {
            let mut quad = 0.0;
            let mut cross = 0.0;
            for t in 0..k {
                let mut g = F::zero();
                for q in 0..k {
                    g += hht[[t, q]] * wr[q];
                }
                quad += (g * wr[t]).to_f64_();
                cross += (cr[t] * wr[t]).to_f64_();
            }
            cost += quad - 2.0 * cross;
        }
        // B's share: (W_new − W_old)ᵀX_blk or W_newᵀX_blk.
        let d = match &old {
            Some(o) => {
                let mut d = ArrayViewMut2::from_shape((r, k), &mut dbuf[..r * k]).expect("rows×k");
                d.assign(&wb);
                d -= &o.slice(s![s0..e, ..]);
                ArrayView2::from_shape((r, k), &dbuf[..r * k]).expect("rows×k")
            }
            None => wb.view(),
        };
        general_mat_mul(F::one(), &d.t(), &xb, F::one(), &mut b);
        s0 = e;
    }
    cost
}
