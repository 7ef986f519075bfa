//! HALS coordinate sweeps over the rows of a factor: the update of
//! scikit-learn's `NMF(solver="cd")` (Cichocki & Phan 2009), for W's rows
//! against (H·Hᵀ, X·Hᵀ) and for Hᵀ's rows against (A, Bᵀ).
//!
//! Rows are independent given the Gram matrix, so each row runs its
//! sweeps on its own: the same arithmetic as sweeping component by
//! component over all rows, and parallel over fixed blocks of rows.

use crate::float::NmfFloat;
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

/// One row's sweeps: for each component t in order,
/// grad = −(lin_t − l1) + Σ_r hess[t, r]·v_r, then
/// v_t ← max(v_t − grad / hess[t, t], 0) (skipped when hess[t, t] = 0).
/// Returns Σ|projected gradient| of the last sweep.
#[inline]
fn sweep_row<F: NmfFloat>(v: &mut [F], lin: &[F], hess: &[F], l1: F, sweeps: usize) -> F {
    let k = v.len();
    let mut violation = F::zero();
    for _ in 0..sweeps {
        violation = F::zero();
        for t in 0..k {
            let g = &hess[t * k..(t + 1) * k];
            let mut grad = -(lin[t] - l1);
            for (&gr, &vr) in g.iter().zip(v.iter()) {
                grad += gr * vr;
            }
            let pg = if v[t] == F::zero() {
                grad.min(F::zero())
            } else {
                grad
            };
            violation += num_traits::Float::abs(pg);
            let d = g[t];
            if d != F::zero() {
                let nv = v[t] - grad / d;
                v[t] = if nv > F::zero() { nv } else { F::zero() };
            }
        }
    }
    violation
}

/// `sweeps` HALS sweeps over every row of `v` (n×k, standard layout) with
/// the Hessian `hess` (k×k, penalty included, see [`gram_with_l2`]) and
/// the linear term `lin` (n×k, standard layout; `l1` is subtracted from
/// it), in parallel over blocks of rows. Returns Σ|projected gradient|
/// of the last sweep (scikit-learn's `violation`), its per-block partial
/// sums (kept in `parts`) added in block order.
pub(crate) fn sweep_rows<F: NmfFloat>(
    mut v: ArrayViewMut2<F>,
    hess: ArrayView2<F>,
    lin: ArrayView2<F>,
    l1: f64,
    sweeps: usize,
    parts: &mut Vec<f64>,
) -> f64 {
    let k = v.ncols();
    if k == 0 || v.nrows() == 0 {
        return 0.0;
    }
    let l1 = F::from_f64_(l1);
    let hess = hess.as_standard_layout();
    let hs = hess.as_slice().expect("standard layout");
    v.axis_chunks_iter_mut(Axis(0), ROWS)
        .into_par_iter()
        .zip(lin.axis_chunks_iter(Axis(0), ROWS).into_par_iter())
        .map(|(mut vc, lc)| {
            let mut acc = 0.0;
            for (mut vr, lr) in vc.rows_mut().into_iter().zip(lc.rows()) {
                let vs = vr.as_slice_mut().expect("rows of a standard-layout matrix");
                let ls = lr.as_slice().expect("rows of a standard-layout matrix");
                acc += sweep_row(vs, ls, hs, l1, sweeps).to_f64_();
            }
            acc
        })
        .collect_into_vec(parts);
    parts.iter().sum()
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
        let mut parts = Vec::new();
        let v = sweep_rows(w.view_mut(), hht.view(), xht.view(), 0.0, 1, &mut parts);
        assert_eq!(w, expected);
        assert!((v - v_ref).abs() <= 1e-15 * v_ref);
    }
}
