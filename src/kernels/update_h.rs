//! The online multiplicative update of H from the mini-batch statistics:
//! A ← ρA + H^(1/γ)∘num, B ← ρB + den, H ← (A/B)^γ.

use super::elementwise::{npow, EPS};
use super::workspace::HStats;
use super::{Loss, Penalty};
use crate::float::{NmfFloat, EPSILON_F64};
use ndarray::{Array2, ArrayView2, Axis, Zip};
use rayon::prelude::*;

/// Elements of H per parallel chunk of the update.
pub(crate) const CHUNK: usize = 1 << 13;

/// Turn accumulated statistics into the final H denominator: WᵀW·H for β=2,
/// W's column sums (zeros replaced by 1) for β=1; other β are complete.
pub(crate) fn finalize_den<F: NmfFloat>(stats: &mut HStats<F>, h: ArrayView2<F>, loss: &Loss) {
    if loss.beta == 2.0 {
        // WᵀW·H: for wide H, column blocks in parallel (each element is the
        // same k-term product whatever the cut).
        const COLS: usize = 4096;
        let HStats { wtw, den, .. } = stats;
        if h.ncols() >= 2 * COLS {
            den.axis_chunks_iter_mut(Axis(1), COLS)
                .into_par_iter()
                .zip(h.axis_chunks_iter(Axis(1), COLS).into_par_iter())
                .for_each(|(mut d, hb)| {
                    ndarray::linalg::general_mat_mul(F::one(), &*wtw, &hb, F::zero(), &mut d)
                });
        } else {
            ndarray::linalg::general_mat_mul(F::one(), &*wtw, &h, F::zero(), den);
        }
    } else if loss.beta == 1.0 {
        for (mut row, &s) in stats.den.rows_mut().into_iter().zip(stats.wsum.iter()) {
            row.fill(if s == F::zero() { F::one() } else { s });
        }
    }
}

/// Apply the update in place. Returns ||H_new − H_old|| / ||H_new||, its
/// sums taken in a fixed order (per-chunk partials in `parts`, added in
/// sequence) so that every worker computes the same bits.
///
/// `keep_unobserved` (a masked step, `masked/`): an entry whose denominator
/// statistic is 0 — its column has no observed entry in the batch, or the
/// observed rows' W is 0 there — is left as it is, with its A and B (a
/// column of X never observed keeps its initial H).
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    stats: &HStats<F>,
    loss: &Loss,
    pen: &Penalty,
    rho: f64,
    keep_unobserved: bool,
    parts: &mut Vec<(f64, f64)>,
) -> f64 {
    let l1 = F::from_f64_(pen.l1);
    let l2 = F::from_f64_(pen.l2);
    let eps = F::from_f64_(EPS);
    let rho = F::from_f64_(rho);
    let gamma = loss.gamma;
    let zero_small = loss.beta <= 1.0;
    let tiny = F::from_f64_(EPSILON_F64);
    let kernel = |(d2, n2): (f64, f64), hv: &mut F, av: &mut F, bv: &mut F, &nv: &F, &dv: &F| {
        let old = *hv;
        if keep_unobserved && dv == F::zero() {
            let o = old.to_f64_();
            return (d2, n2 + o * o);
        }
        let mut den = dv;
        if pen.l1 > 0.0 {
            den += l1;
        }
        if pen.l2 > 0.0 {
            den += l2 * old;
        }
        if den == F::zero() {
            den = eps;
        }
        let hg = if gamma != 1.0 {
            npow(old, 1.0 / gamma)
        } else {
            old
        };
        *av = *av * rho + nv * hg;
        *bv = *bv * rho + den;
        let mut new = *av / *bv;
        if gamma != 1.0 {
            new = npow(new, gamma);
        }
        if zero_small && new < tiny {
            new = F::zero();
        }
        *hv = new;
        let d = (new - old).to_f64_();
        (d2 + d * d, n2 + new.to_f64_() * new.to_f64_())
    };
    // All five arrays are owned k×m matrices: walk them as flat slices in
    // parallel chunks (falls back to an element-wise Zip if one is not
    // contiguous).
    let (d2, n2) = match (
        h.as_slice_mut(),
        a.as_slice_mut(),
        b.as_slice_mut(),
        stats.num.as_slice(),
        stats.den.as_slice(),
    ) {
        (Some(hs), Some(as_), Some(bs), Some(ns), Some(ds)) => {
            hs.par_chunks_mut(CHUNK)
                .zip(as_.par_chunks_mut(CHUNK))
                .zip(bs.par_chunks_mut(CHUNK))
                .zip(ns.par_chunks(CHUNK))
                .zip(ds.par_chunks(CHUNK))
                .map(|((((hc, ac), bc), nc), dc)| {
                    let mut acc = (0.0, 0.0);
                    for i in 0..hc.len() {
                        acc = kernel(acc, &mut hc[i], &mut ac[i], &mut bc[i], &nc[i], &dc[i]);
                    }
                    acc
                })
                .collect_into_vec(parts);
            parts.iter().fold((0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1))
        }
        _ => Zip::from(h)
            .and(a)
            .and(b)
            .and(&stats.num)
            .and(&stats.den)
            .fold((0.0, 0.0), kernel),
    };
    d2.sqrt() / n2.sqrt()
}
