//! Part 3 of a cd step, identical on every worker: the (reduced) batch
//! statistics folded into A and B, then H by coordinate sweeps on them.

use super::{gram_with_l2, sweep_rows, CdBufs, StatUpdate};
use crate::float::NmfFloat;
use crate::kernels::workspace::HStats;
use crate::kernels::Penalty;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

/// Columns of H per parallel task of the write-back (fixed, so the
/// H-change sums do not depend on the number of threads).
const COLS: usize = 1024;

/// A (k×k) and B (k×m) from the batch statistics, then `h_sweeps` sweeps
/// over H's columns (rows of Hᵀ) with H's penalty. Returns
/// ||H_new − H_old|| / ||H_new||.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    stats: &HStats<F>,
    pen: &Penalty,
    update: StatUpdate,
    h_sweeps: usize,
    bufs: &mut CdBufs<F>,
) -> f64 {
    fold(a, &stats.wtw, update);
    fold(b, &stats.num, update);
    let (k, m) = h.dim();
    let CdBufs {
        hess,
        ht,
        bt,
        parts,
        h_parts,
        ..
    } = bufs;
    let mut hess = hess.mat(k, k);
    gram_with_l2(a.view(), pen.l2, hess.view_mut());
    let mut ht = ht.mat(m, k);
    let mut bt = bt.mat(m, k);
    transpose_into(h.view(), ht.view_mut());
    transpose_into(b.view(), bt.view_mut());
    sweep_rows(
        ht.view_mut(),
        hess.view(),
        bt.view(),
        pen.l1,
        h_sweeps,
        parts,
    );
    write_back(h, ht.view(), h_parts)
}

/// `s` ← ρ·s + t (ρ = 0: `s` ← t) or `s` ← s + t.
fn fold<F: NmfFloat>(s: &mut Array2<F>, t: &Array2<F>, update: StatUpdate) {
    match update {
        StatUpdate::Decay(rho) if rho == 0.0 => s.assign(t),
        StatUpdate::Decay(rho) => {
            let rho = F::from_f64_(rho);
            Zip::from(s).and(t).par_for_each(|s, &t| *s = *s * rho + t);
        }
        StatUpdate::Add => Zip::from(s).and(t).par_for_each(|s, &t| *s += t),
    }
}

/// `out` (m×k) ← `src`ᵀ (src k×m), in parallel over blocks of out's rows.
fn transpose_into<F: NmfFloat>(src: ArrayView2<F>, mut out: ArrayViewMut2<F>) {
    out.axis_chunks_iter_mut(Axis(0), COLS)
        .into_par_iter()
        .enumerate()
        .for_each(|(c, mut oc)| {
            let j0 = c * COLS;
            let sc = src.slice(ndarray::s![.., j0..j0 + oc.nrows()]);
            oc.assign(&sc.t());
        });
}

/// H ← (Hᵀ)ᵀ, returning ||H_new − H_old|| / ||H_new|| (per-block sums
/// added in block order).
fn write_back<F: NmfFloat>(
    h: &mut Array2<F>,
    ht: ArrayView2<F>,
    parts: &mut Vec<(f64, f64)>,
) -> f64 {
    h.axis_chunks_iter_mut(Axis(1), COLS)
        .into_par_iter()
        .zip(ht.axis_chunks_iter(Axis(0), COLS).into_par_iter())
        .map(|(mut hc, tc)| {
            let (mut d2, mut n2) = (0.0, 0.0);
            Zip::from(&mut hc).and(&tc.t()).for_each(|hv, &nv| {
                let d = (nv - *hv).to_f64_();
                d2 += d * d;
                n2 += nv.to_f64_() * nv.to_f64_();
                *hv = nv;
            });
            (d2, n2)
        })
        .collect_into_vec(parts);
    let (d2, n2) = parts.iter().fold((0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1));
    d2.sqrt() / n2.sqrt()
}
