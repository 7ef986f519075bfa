//! Xᵀ of a CSR X as a CSR matrix of its own, its values copied in column
//! order, for products with Xᵀ repeated over the same X (the randomized
//! SVD's power iterations).
//!
//! Row j of the copy is column j of X: its rows in increasing order and
//! their values, contiguous. A product Xᵀ·B then gathers each output row
//! from one run of values (a column index with positions into X's values,
//! `sparse::CscIndex`, reads each value at a random place instead), and
//! sums it over the column's entries in row order from zero: the sums and
//! the rounding of the column gather and of the sequential scatter of
//! Xᵀ·B. The copy holds nnz values and nnz row indices, the memory of the
//! column index it replaces (two indices per entry) in f64, less in f32.

use crate::float::NmfFloat;
use crate::input::CsrView;
use crate::linalg::sparse::column_pointers;
use crate::linalg::sparse_panels::csr_dot_dense_whole;
use ndarray::{ArrayView2, ArrayViewMut2};

/// The CSR matrix Xᵀ (buffers kept and reused by [`CsrTranspose::build`]).
#[derive(Debug, Default)]
pub(crate) struct CsrTranspose<F> {
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<F>,
    /// X's shape (n, m): the copy is m×n.
    of_shape: (usize, usize),
}

impl<F: NmfFloat> CsrTranspose<F> {
    /// Xᵀ of `x`, by a counting sort of its entries by column (within a
    /// column, entries keep X's row order).
    pub(crate) fn build(&mut self, x: &CsrView<F>) {
        let (n, m) = (x.n_rows(), x.n_cols());
        column_pointers(x, &mut self.indptr);
        self.indices.resize(x.nnz(), 0);
        self.data.resize(x.nnz(), F::zero());
        let mut next = self.indptr[..m].to_vec();
        for i in 0..n {
            let (cols, vals) = x.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                let q = next[j];
                self.indices[q] = i;
                self.data[q] = v;
                next[j] = q + 1;
            }
        }
        self.of_shape = (n, m);
    }

    /// The copy as a CSR view (m×n).
    pub(crate) fn view(&self) -> CsrView<'_, F> {
        let (n, m) = self.of_shape;
        CsrView::from_checked_parts(m, n, &self.indptr, &self.indices, &self.data)
    }
}

/// A CSR X held by the caller and its transpose, for the products X·B and
/// Xᵀ·B repeated over the same X: the copy is built at the first product
/// with an X (told by its shape, stored values and their address) and
/// reused while X is the same; both products are row gathers
/// (`sparse_panels::csr_dot_dense_whole`), the bits of the plain gathers.
#[derive(Debug, Default)]
pub(crate) struct CsrBothWays<F> {
    t: CsrTranspose<F>,
    of: Option<(usize, usize, usize, usize)>,
}

impl<F: NmfFloat> CsrBothWays<F> {
    /// Builds the copy of `x` unless it is that of `x` already.
    fn index(&mut self, x: &CsrView<F>) {
        let key = (
            x.n_rows(),
            x.n_cols(),
            x.nnz(),
            x.values().as_ptr() as usize,
        );
        if self.of != Some(key) {
            self.t.build(x);
            self.of = Some(key);
        }
    }

    /// out = X·B (B m×l, out n×l).
    pub(crate) fn dot_into(&mut self, x: &CsrView<F>, b: ArrayView2<F>, out: ArrayViewMut2<F>) {
        self.index(x);
        csr_dot_dense_whole(x, b, out);
    }

    /// out = Xᵀ·B (B n×l, out m×l).
    pub(crate) fn t_dot_into(&mut self, x: &CsrView<F>, b: ArrayView2<F>, out: ArrayViewMut2<F>) {
        self.index(x);
        csr_dot_dense_whole(&self.t.view(), b, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::sparse::{csr_dot_dense, csr_t_dot_dense};
    use ndarray::Array2;

    /// Xᵀ·B through the copy has the bits of the sequential scatter; the
    /// copy's rows are X's columns (an empty row and column included).
    #[test]
    fn transpose_products_have_the_scatters_bits() {
        let (n, m) = (300usize, 170usize);
        let (indptr, indices, data) = crate::linalg::pattern_csr(
            n,
            9,
            |i| i % 11 == 3,
            |i, t| Some((i * 37 + t * 19) % m).filter(|&j| j != 5),
            |i, j| ((i * 13 + j * 7) % 23) as f64 / 7.0 - 1.0,
        );
        let x = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
        let mut xt = CsrTranspose::default();
        xt.build(&x);
        let v = xt.view();
        assert_eq!((v.n_rows(), v.n_cols(), v.nnz()), (m, n, x.nnz()));
        assert!(v.row(5).0.is_empty());
        let b = Array2::from_shape_fn((n, 7), |(i, c)| ((i * 3 + c * 5) % 17) as f64 / 3.0);
        let mut want = Array2::zeros((m, 7));
        csr_t_dot_dense(&x, b.view(), want.view_mut());
        let mut got = Array2::from_elem((m, 7), f64::NAN);
        csr_dot_dense(&v, b.view(), got.view_mut());
        assert_eq!(got, want);
    }
}
