//! HALS coordinate sweeps over the rows of a factor: the update of
//! scikit-learn's `NMF(solver="cd")` (Cichocki & Phan 2009), for W's rows
//! against (H·Hᵀ, X·Hᵀ); H's columns (Hᵀ's rows against (A, Bᵀ)) run the
//! same kernel in wider blocks (`hsweep`).
//!
//! Rows are independent given the Gram matrix, so each row runs its
//! sweeps on its own: the same arithmetic as sweeping component by
//! component over all rows, and parallel over fixed blocks of rows.

use crate::float::NmfFloat;
use crate::kernels::workspace::Buf;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Rows per parallel task (fixed, so the violation's partial sums do not
/// depend on the number of threads).
const ROWS: usize = 64;

/// `gram` + `l2` on its diagonal, into `out` (k×k): the Hessian of the
/// penalised Frobenius loss in one row.
pub(crate) fn gram_with_l2<F: NmfFloat>(gram: ArrayView2<F>, l2: f64, mut out: ArrayViewMut2<F>) {
    out.assign(&gram);
    if l2 != 0.0 {
        let l2 = F::from_f64_(l2);
        for t in 0..out.nrows() {
            out[[t, t]] += l2;
        }
    }
}

/// Rows swept together, one per SIMD lane (8 f64: two AVX or four SSE2
/// registers of independent chains, which hides the latency of the
/// division of each coordinate update).
pub(crate) const LANES: usize = 8;

/// Scratch of the sweeps, sized on first use (nothing allocates per step).
#[derive(Default)]
pub(crate) struct SweepBufs<F> {
    /// Per-block violation sums (W) or H-change sums (H).
    pub(crate) parts: Vec<(f64, f64)>,
    /// Per-block lane-major copies of the rows and of their linear terms.
    pub(crate) lanes: Buf<F>,
}

/// `L` rows' sweeps at once, lane-major (`v[t·L + l]` is row l's
/// component t; `lin` likewise): for each component t in order,
/// grad = −(lin_t − l1) + Σ_r hess[t, r]·v_r (r in order), then
/// v_t ← max(v_t − grad / hess[t, t], 0) (skipped when hess[t, t] = 0).
/// Each lane does exactly the arithmetic of one row swept alone, so the
/// result does not depend on which rows share a block, nor on `L`.
/// `viol[l]`: Σ_t |projected gradient| of row l in the last sweep.
#[inline(always)]
fn sweep_lanes<F: NmfFloat, const L: usize>(
    v: &mut [F],
    lin: &[F],
    hess: &[F],
    l1: F,
    sweeps: usize,
    viol: &mut [F; L],
) {
    let k = lin.len() / L;
    let v = &mut v[..k * L];
    let hess = &hess[..k * k];
    for _ in 0..sweeps {
        *viol = [F::zero(); L];
        for t in 0..k {
            let g = &hess[t * k..(t + 1) * k];
            let lt: &[F; L] = lin[t * L..(t + 1) * L].try_into().expect("lanes");
            let mut grad = [F::zero(); L];
            for l in 0..L {
                grad[l] = -(lt[l] - l1);
            }
            for (r, &gr) in g.iter().enumerate() {
                let vr: &[F; L] = v[r * L..(r + 1) * L].try_into().expect("lanes");
                for l in 0..L {
                    grad[l] += gr * vr[l];
                }
            }
            let d = g[t];
            let vt: &mut [F; L] = (&mut v[t * L..(t + 1) * L]).try_into().expect("lanes");
            for l in 0..L {
                let pg = if vt[l] == F::zero() {
                    num_traits::Float::min(grad[l], F::zero())
                } else {
                    grad[l]
                };
                viol[l] += num_traits::Float::abs(pg);
            }
            if d != F::zero() {
                for l in 0..L {
                    let nv = vt[l] - grad[l] / d;
                    vt[l] = if nv > F::zero() { nv } else { F::zero() };
                }
            }
        }
    }
}

/// [`sweep_lanes`] compiled for AVX (the same operations, no FMA: the
/// bits are those of the SSE2 build).
///
/// # Safety
/// The CPU must support AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn sweep_lanes_avx<F: NmfFloat, const L: usize>(
    v: &mut [F],
    lin: &[F],
    hess: &[F],
    l1: F,
    sweeps: usize,
    viol: &mut [F; L],
) {
    sweep_lanes(v, lin, hess, l1, sweeps, viol)
}

/// [`sweep_lanes`] compiled for AVX-512F (the same operations, no FMA:
/// the bits are those of the SSE2 build), for wide blocks.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sweep_lanes_avx512<F: NmfFloat, const L: usize>(
    v: &mut [F],
    lin: &[F],
    hess: &[F],
    l1: F,
    sweeps: usize,
    viol: &mut [F; L],
) {
    sweep_lanes(v, lin, hess, l1, sweeps, viol)
}

/// [`sweep_lanes`] with the widest registers the CPU has (AVX-512 for
/// blocks of 16 lanes or more, where its registers hold enough
/// independent chains).
#[inline]
pub(crate) fn sweep_block<F: NmfFloat, const L: usize>(
    v: &mut [F],
    lin: &[F],
    hess: &[F],
    l1: F,
    sweeps: usize,
    viol: &mut [F; L],
) {
    #[cfg(target_arch = "x86_64")]
    {
        if L >= 16 && std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F is present.
            unsafe { sweep_lanes_avx512(v, lin, hess, l1, sweeps, viol) };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is present.
            unsafe { sweep_lanes_avx(v, lin, hess, l1, sweeps, viol) };
            return;
        }
    }
    sweep_lanes(v, lin, hess, l1, sweeps, viol)
}

/// Lanes of a block from `used` rows of k values (`rows[l]`), padded
/// with zeros (padding lanes never mix with the others and are not read
/// back).
#[inline]
fn gather_rows<F: NmfFloat>(dst: &mut [F], k: usize, rows: &[F], used: usize) {
    dst.fill(F::zero());
    for (l, row) in rows.chunks_exact(k).take(used).enumerate() {
        for (t, &x) in row.iter().enumerate() {
            dst[t * LANES + l] = x;
        }
    }
}

/// `sweeps` HALS sweeps over every row of `v` (n×k, standard layout) with
/// the Hessian `hess` (k×k, penalty included, see [`gram_with_l2`]) and
/// the linear term `lin` (n×k, standard layout; `l1` is subtracted from
/// it), in parallel over blocks of rows, `LANES` rows at a time. Returns
/// Σ|projected gradient| of the last sweep (scikit-learn's `violation`):
/// per-row sums over the components, added row by row within a block and
/// block by block.
pub(crate) fn sweep_rows<F: NmfFloat>(
    mut v: ArrayViewMut2<F>,
    hess: ArrayView2<F>,
    lin: ArrayView2<F>,
    l1: f64,
    sweeps: usize,
    bufs: &mut SweepBufs<F>,
) -> f64 {
    let (n, k) = v.dim();
    if k == 0 || n == 0 {
        return 0.0;
    }
    let l1 = F::from_f64_(l1);
    let hess = hess.as_standard_layout();
    let hs = hess.as_slice().expect("standard layout");
    let blocks = n.div_ceil(ROWS);
    let per = 2 * k * LANES;
    let SweepBufs { parts, lanes } = bufs;
    let lanes = lanes.slice(blocks * per);
    v.axis_chunks_iter_mut(Axis(0), ROWS)
        .into_par_iter()
        .zip(lin.axis_chunks_iter(Axis(0), ROWS).into_par_iter())
        .zip(lanes.par_chunks_mut(per))
        .map(|((mut vc, lc), scratch)| {
            let vs = vc.as_slice_mut().expect("rows of a standard-layout matrix");
            let ls = lc.as_slice().expect("rows of a standard-layout matrix");
            (sweep_slice(vs, ls, k, hs, l1, sweeps, scratch), 0.0)
        })
        .collect_into_vec(parts);
    parts.iter().map(|p| p.0).sum()
}

/// The sweeps of [`sweep_rows`] over contiguous rows `vs` (k values
/// each, linear terms `ls`) on the calling thread, `LANES` rows at a
/// time; `scratch` holds 2·k·`LANES` values. Returns Σ|projected
/// gradient| of the last sweep, added row by row.
pub(crate) fn sweep_slice<F: NmfFloat>(
    vs: &mut [F],
    ls: &[F],
    k: usize,
    hs: &[F],
    l1: F,
    sweeps: usize,
    scratch: &mut [F],
) -> f64 {
    let (vb, lb) = scratch[..2 * k * LANES].split_at_mut(k * LANES);
    let mut acc = 0.0;
    for (vr, lr) in vs.chunks_mut(k * LANES).zip(ls.chunks(k * LANES)) {
        let used = vr.len() / k;
        gather_rows(vb, k, vr, used);
        gather_rows(lb, k, lr, used);
        let mut viol = [F::zero(); LANES];
        sweep_block(vb, lb, hs, l1, sweeps, &mut viol);
        for (l, row) in vr.chunks_exact_mut(k).enumerate() {
            for (t, x) in row.iter_mut().enumerate() {
                *x = vb[t * LANES + l];
            }
            acc += viol[l].to_f64_();
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// One sweep written out as scikit-learn's `_update_cdnmf_fast` does
    /// it (component outer, rows inner).
    fn reference(
        w: &mut ndarray::Array2<f64>,
        hht: &ndarray::Array2<f64>,
        xht: &ndarray::Array2<f64>,
    ) -> f64 {
        let (n, k) = w.dim();
        let mut violation = 0.0;
        for t in 0..k {
            for i in 0..n {
                let mut grad = -xht[[i, t]];
                for r in 0..k {
                    grad += hht[[t, r]] * w[[i, r]];
                }
                let pg = if w[[i, t]] == 0.0 {
                    grad.min(0.0)
                } else {
                    grad
                };
                violation += num_traits::Float::abs(pg);
                if hht[[t, t]] != 0.0 {
                    w[[i, t]] = (w[[i, t]] - grad / hht[[t, t]]).max(0.0);
                }
            }
        }
        violation
    }

    #[test]
    fn row_sweeps_equal_component_sweeps() {
        let hht = array![[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 0.0]];
        let xht = array![
            [1.0, 0.2, 0.5],
            [0.0, 3.0, 0.1],
            [0.7, 0.7, 0.7],
            [0.0, 0.0, 0.0]
        ];
        let mut w = array![
            [0.5, 0.1, 0.0],
            [0.0, 0.2, 1.0],
            [1.0, 1.0, 1.0],
            [0.3, 0.0, 0.2]
        ];
        let mut expected = w.clone();
        let v_ref = reference(&mut expected, &hht, &xht);
        let mut bufs = SweepBufs::default();
        let v = sweep_rows(w.view_mut(), hht.view(), xht.view(), 0.0, 1, &mut bufs);
        assert_eq!(w, expected);
        assert!((v - v_ref).abs() <= 1e-15 * v_ref);
    }
}
