//! Part 3 of a cd step, identical on every worker: the (reduced) batch
//! statistics folded into A and B, then H by coordinate sweeps on them.

use super::{gram_with_l2, sweep_cols, CdBufs, StatUpdate};
use crate::float::NmfFloat;
use crate::kernels::workspace::{HCache, HStats};
use crate::kernels::Penalty;
use ndarray::{Array2, Zip};

/// A (k×k) and B (k×m) from the batch statistics, then `h_sweeps` sweeps
/// over H's columns (rows of Hᵀ) with H's penalty. Returns
/// ||H_new − H_old|| / ||H_new||. Hᵀ of the new H is left in `hc` (the
/// next local step then skips its transpose).
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
    hc: &mut HCache<F>,
) -> f64 {
    fold(a, &stats.wtw, update);
    let k = h.nrows();
    let CdBufs {
        hess,
        sweep,
        compact,
        cols,
        bcols,
        ..
    } = bufs;
    // B's change in the batch's columns only: added by the H sweep, block
    // by block, just before it reads them.
    let add = if *compact {
        debug_assert_eq!(update, StatUpdate::Add);
        Some((&cols[..], &bcols.slice(cols.len() * k)[..]))
    } else {
        fold(b, &stats.num, update);
        None
    };
    let mut hess = hess.mat(k, k);
    gram_with_l2(a.view(), pen.l2, hess.view_mut());
    let has_ht = hc.ht.dim() == (h.ncols(), k);
    let ht = has_ht.then_some(&mut hc.ht);
    let change = sweep_cols(h, hess.view(), b, add, pen.l1, h_sweeps, sweep, ht);
    hc.ht_fresh = has_ht;
    change
}

/// `s` ← ρ·s + t (ρ = 0: `s` ← t) or `s` ← s + t.
fn fold<F: NmfFloat>(s: &mut Array2<F>, t: &Array2<F>, update: StatUpdate) {
    match update {
        StatUpdate::Decay(0.0) => s.assign(t),
        StatUpdate::Decay(rho) => {
            let rho = F::from_f64_(rho);
            Zip::from(s).and(t).par_for_each(|s, &t| *s = *s * rho + t);
        }
        StatUpdate::Add => Zip::from(s).and(t).par_for_each(|s, &t| *s += t),
    }
}
