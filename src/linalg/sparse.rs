//! Sparse (CSR) times dense products that touch only the non-zeros.
//!
//! `values` overrides let the solver multiply by a matrix with X's sparsity
//! pattern but other values (e.g. X / WH at the non-zeros) without building
//! a second CSR matrix.

use crate::float::NmfFloat;
use crate::input::CsrView;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// `out = S @ B` where S has X's pattern and the given values (aligned with
/// `x.values()`); B is m×r, out n×r.
pub fn csr_dot_dense_with<F: NmfFloat>(
    x: &CsrView<F>,
    values: &[F],
    b: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
) {
    debug_assert_eq!(values.len(), x.nnz());
    debug_assert_eq!(b.nrows(), x.n_cols());
    debug_assert_eq!(out.dim(), (x.n_rows(), b.ncols()));
    let base = x.offset();
    let r = b.ncols();
    // Row j of B as a slice: the solver passes row-major Hᵀ; other layouts
    // (LAPACK's column-major Q in the randomized SVD) are copied once.
    let b_std = b.as_standard_layout();
    let b_slice = b_std.as_slice();
    let row_job = |i: usize, mut orow: ndarray::ArrayViewMut1<F>| {
        orow.fill(F::zero());
        let range = x.row_range(i);
        let (cols, _) = x.row(i);
        let vals = &values[range.start - base..range.end - base];
        match (b_slice, orow.as_slice_mut()) {
            (Some(bs), Some(o)) => {
                for (&j, &v) in cols.iter().zip(vals) {
                    let brow = &bs[j * r..(j + 1) * r];
                    for (oc, &bc) in o.iter_mut().zip(brow) {
                        *oc += v * bc;
                    }
                }
            }
            _ => {
                for (&j, &v) in cols.iter().zip(vals) {
                    orow.scaled_add(v, &b_std.row(j));
                }
            }
        }
    };
    if x.nnz() * r > 1 << 15 {
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(i, orow)| row_job(i, orow));
    } else {
        for (i, orow) in out.axis_iter_mut(Axis(0)).enumerate() {
            row_job(i, orow);
        }
    }
}

/// `out = X @ B` for CSR X (n×m) and dense B (m×r); out is n×r.
pub fn csr_dot_dense<F: NmfFloat>(x: &CsrView<F>, b: ArrayView2<F>, out: ArrayViewMut2<F>) {
    csr_dot_dense_with(x, x.values(), b, out)
}

/// `out = S^T @ B` (+= when `accumulate`), S with X's pattern and the given
/// values; B is n×r, out m×r.
pub fn csr_t_dot_dense_with<F: NmfFloat>(
    x: &CsrView<F>,
    values: &[F],
    b: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
    accumulate: bool,
) {
    debug_assert_eq!(values.len(), x.nnz());
    debug_assert_eq!(b.nrows(), x.n_rows());
    debug_assert_eq!(out.dim(), (x.n_cols(), b.ncols()));
    if !accumulate {
        out.fill(F::zero());
    }
    let base = x.offset();
    let b = b.as_standard_layout();
    let (s0, s1) = (out.strides()[0], out.strides()[1]);
    // Scatter: rows of X are read in order, rows of `out` written at random.
    // With non-negative strides (any owned or transposed matrix) index the
    // memory directly: ndarray's per-row view machinery costs more than the
    // k multiply-adds it would wrap.
    if let (true, Some(mem)) = (s0 >= 0 && s1 >= 0, out.as_slice_memory_order_mut()) {
        let (s0, s1) = (s0 as usize, s1 as usize);
        for i in 0..x.n_rows() {
            let range = x.row_range(i);
            let (cols, _) = x.row(i);
            let brow = b.row(i);
            for (&j, &v) in cols
                .iter()
                .zip(&values[range.start - base..range.end - base])
            {
                let row0 = j * s0;
                for (c, &bc) in brow.iter().enumerate() {
                    mem[row0 + c * s1] += v * bc;
                }
            }
        }
        return;
    }
    for i in 0..x.n_rows() {
        let range = x.row_range(i);
        let (cols, _) = x.row(i);
        let brow = b.row(i);
        for (&j, &v) in cols
            .iter()
            .zip(&values[range.start - base..range.end - base])
        {
            out.row_mut(j).scaled_add(v, &brow);
        }
    }
}

/// `out = X^T @ B` for CSR X (n×m) and dense B (n×r); out is m×r.
pub fn csr_t_dot_dense<F: NmfFloat>(x: &CsrView<F>, b: ArrayView2<F>, out: ArrayViewMut2<F>) {
    csr_t_dot_dense_with(x, x.values(), b, out, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn sparse_products_match_dense() {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 4]]
        let indptr = [0usize, 2, 2, 4];
        let indices = [2usize, 0, 1, 2];
        let data = [2.0f64, 1.0, 3.0, 4.0];
        let x = CsrView::new(3, 3, &indptr, &indices, &data).unwrap();
        let dense = array![[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 3.0, 4.0]];
        let b = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let mut out = Array2::zeros((3, 2));
        csr_dot_dense(&x, b.view(), out.view_mut());
        assert_eq!(out, dense.dot(&b));
        let mut out_t = Array2::zeros((3, 2));
        csr_t_dot_dense(&x, b.view(), out_t.view_mut());
        assert_eq!(out_t, dense.t().dot(&b));
        // A row-range sub-view reads the right rows.
        let sub = x.slice_rows(1, 3);
        let mut out_s = Array2::zeros((2, 2));
        csr_dot_dense(&sub, b.view(), out_s.view_mut());
        assert_eq!(out_s, dense.slice(ndarray::s![1..3, ..]).dot(&b));
    }
}
