//! Scalar helpers shared by the kernels: numpy-compatible powers, the eps
//! floor, and a parallel row-wise fold.

use crate::float::{NmfFloat, EPSILON_F32};
use ndarray::{ArrayView1, ArrayView2, ArrayViewMut1, ArrayViewMut2, Zip};

/// scikit-learn's `EPSILON` (float32 eps), as f64.
pub(crate) const EPS: f64 = EPSILON_F32;

/// Below this many elements a pass runs on the calling thread.
pub(crate) const PAR_MIN_ELEMS: usize = 1 << 14;

/// max(v, float32 eps).
#[inline(always)]
pub(crate) fn clip_eps<F: NmfFloat>(v: F) -> F {
    let e = F::from_f64_(EPS);
    if v < e {
        e
    } else {
        v
    }
}

/// x^e with numpy's fast paths for the exponents it special-cases (so the
/// results are the same bits as `x ** e` in numpy).
#[inline(always)]
pub(crate) fn npow<F: NmfFloat>(x: F, e: f64) -> F {
    if e == 1.0 {
        x
    } else if e == 2.0 {
        x * x
    } else if e == -1.0 {
        F::one() / x
    } else if e == 0.5 {
        num_traits::Float::sqrt(x)
    } else if e == 0.0 {
        F::one()
    } else {
        num_traits::Float::powf(x, F::from_f64_(e))
    }
}

/// Fold over matching rows of one mutable and two read-only matrices, in
/// parallel for large inputs; the per-row results (f64 pairs) are summed.
pub(crate) fn par_rows_fold<F, G>(
    mut a: ArrayViewMut2<F>,
    b: ArrayView2<F>,
    c: ArrayView2<F>,
    f: G,
) -> (f64, f64)
where
    F: NmfFloat,
    G: Fn(ArrayViewMut1<F>, ArrayView1<F>, ArrayView1<F>) -> (f64, f64) + Send + Sync,
{
    let add = |x: (f64, f64), y: (f64, f64)| (x.0 + y.0, x.1 + y.1);
    let zip = Zip::from(a.rows_mut()).and(b.rows()).and(c.rows());
    if b.len() < PAR_MIN_ELEMS {
        zip.fold((0.0, 0.0), |acc, ar, br, cr| add(acc, f(ar, br, cr)))
    } else {
        zip.par_fold(
            || (0.0, 0.0),
            |acc, ar, br, cr| add(acc, f(ar, br, cr)),
            add,
        )
    }
}
