//! Products and copies of tall matrices in fixed row chunks over the rayon
//! workers.
//!
//! The randomized SVD's tall N×l steps (the dense products X·B, U = Q·Û,
//! the transposed copies of its results, `span_basis`'s Y·R⁻¹) are cut
//! into chunks of rows, each one GEMM or copy on one worker. The chunk
//! length is the caller's, fixed by the shape (never by the number of
//! threads where the bits must not depend on it): the same calls on the
//! same values, whatever the workers.

use crate::float::NmfFloat;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Rows per chunk of the tall steps whose chunks are fixed by the shape.
pub(crate) const CHUNK_ROWS: usize = 2048;

/// Calls `f(first, chunk)` on the rayon workers for each chunk of `len`
/// lanes of `out` along `axis` (`first`: the chunk's first index).
fn par_chunks<F: NmfFloat>(
    mut out: ArrayViewMut2<F>,
    axis: Axis,
    len: usize,
    f: impl Fn(usize, ArrayViewMut2<F>) + Sync,
) {
    out.axis_chunks_iter_mut(axis, len.max(1))
        .into_par_iter()
        .enumerate()
        .for_each(|(c, chunk)| f(c * len.max(1), chunk));
}

/// out = A·B, A's rows (and out's) in chunks of `rows`, one GEMM each.
pub(crate) fn gemm_rows_into<F: NmfFloat>(
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    out: ArrayViewMut2<F>,
    rows: usize,
) {
    par_chunks(out, Axis(0), rows, |s0, mut o| {
        let ac = a.slice(s![s0..s0 + o.nrows(), ..]);
        general_mat_mul(F::one(), &ac, &b, F::zero(), &mut o);
    });
}

/// A ← A·B for a square B, A's rows in chunks of `rows`, each copied
/// aside and multiplied back into place (no second tall buffer): the GEMMs
/// of [`gemm_rows_into`] on the same values, so its bits.
pub(crate) fn gemm_rows_in_place<F: NmfFloat>(
    mut a: ArrayViewMut2<F>,
    b: ArrayView2<F>,
    rows: usize,
) {
    debug_assert!(b.is_square() && a.ncols() == b.nrows());
    par_chunks(a.view_mut(), Axis(0), rows, |_, mut o| {
        let copy = o.to_owned();
        general_mat_mul(F::one(), &copy, &b, F::zero(), &mut o);
    });
}

/// A·B for a tall A (row-major result) in chunks of [`CHUNK_ROWS`] rows;
/// a row-major A with a square B is multiplied in place
/// ([`gemm_rows_in_place`]), so A's buffer becomes the result.
pub(crate) fn rows_dot<F: NmfFloat>(mut a: Array2<F>, b: ArrayView2<F>) -> Array2<F> {
    if a.is_standard_layout() && b.is_square() && a.ncols() == b.nrows() {
        gemm_rows_in_place(a.view_mut(), b, CHUNK_ROWS);
        return a;
    }
    let mut out = Array2::zeros((a.nrows(), b.ncols()));
    gemm_rows_into(a.view(), b, out.view_mut(), CHUNK_ROWS);
    out
}

/// A row-major copy of aᵀ, copied in tiles of [`CHUNK_ROWS`] of a's rows
/// on the rayon workers (a plain copy: the same values).
pub(crate) fn transposed<F: NmfFloat>(a: ArrayView2<F>) -> Array2<F> {
    let (r, c) = a.dim();
    let mut out = Array2::zeros((c, r));
    par_chunks(out.view_mut(), Axis(1), CHUNK_ROWS, |s0, mut o| {
        let w = o.ncols();
        o.assign(&a.slice(s![s0..s0 + w, ..]).t());
    });
    out
}

/// Multiplies column j of `u` by `signs[j]`, rows in chunks of
/// [`CHUNK_ROWS`] on the rayon workers.
pub(crate) fn scale_columns<F: NmfFloat>(u: &mut Array2<F>, signs: &[F]) {
    par_chunks(u.view_mut(), Axis(0), CHUNK_ROWS, |_, mut chunk| {
        for mut row in chunk.rows_mut() {
            row.iter_mut().zip(signs).for_each(|(v, &s)| *v *= s);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::lcg_matrix as sample;

    /// In place and out of place, any chunk length and thread count: the
    /// same bits; the transposed copy is the transpose.
    #[test]
    fn chunked_products_and_copies() {
        let a = sample(5000, 23, 1);
        let b = sample(23, 23, 2);
        let mut want = Array2::zeros((5000, 23));
        gemm_rows_into(a.view(), b.view(), want.view_mut(), CHUNK_ROWS);
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!((&want - &a.dot(&b)).iter().all(|d| d.abs() < 1e-14 * scale));
        for threads in [1, 3] {
            let pool = crate::linalg::test_pool(threads);
            let got = pool.install(|| rows_dot(a.clone(), b.view()));
            assert_eq!(got, want);
            let mut other = Array2::zeros((5000, 23));
            pool.install(|| gemm_rows_into(a.view(), b.view(), other.view_mut(), CHUNK_ROWS));
            assert_eq!(other, want);
        }
        assert_eq!(transposed(a.view()), a.t());
        let mut u = a.clone();
        let signs: Vec<f64> = (0..23)
            .map(|j| if j % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        scale_columns(&mut u, &signs);
        assert_eq!(u.column(1), a.column(1).mapv(|v| -v));
        assert_eq!(u.column(2), a.column(2));
    }
}
