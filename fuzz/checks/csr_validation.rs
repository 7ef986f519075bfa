//! CSR validation: `CsrView::new` on arbitrary arrays and sizes either
//! rejects them with an error or returns a view whose every row can be read
//! and sliced; it never panics, reads out of bounds or allocates by the
//! sizes claimed (n_rows and n_cols may be anything, the arrays are small).
//! Shared by the fuzz target and tests/fuzz_regressions.rs.

use arbitrary::{Arbitrary, Unstructured};
use minibatchnmf::CsrView;

#[derive(Debug, Arbitrary)]
struct Case {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
    /// Small sizes most of the time, so the checks after the first are reached.
    small: bool,
}

/// One fuzz input.
pub fn run(bytes: &[u8]) {
    let Ok(c) = Case::arbitrary_take_rest(Unstructured::new(bytes)) else {
        return;
    };
    let (n_rows, n_cols) = if c.small {
        (c.n_rows % 8, c.n_cols % 8)
    } else {
        (c.n_rows, c.n_cols)
    };
    let small = |v: Vec<usize>, m: usize| -> Vec<usize> {
        if c.small {
            v.iter().map(|x| x % m).collect()
        } else {
            v
        }
    };
    let indptr = small(c.indptr.clone(), 16);
    let indices = small(c.indices.clone(), 9);
    if let Ok(x) = CsrView::new(n_rows, n_cols, &indptr, &indices, &c.data) {
        assert_eq!(x.n_rows(), n_rows);
        assert_eq!(x.n_cols(), n_cols);
        assert_eq!(x.nnz(), c.data.len());
        let mut seen = 0;
        for i in 0..n_rows {
            let (cols, vals) = x.row(i);
            assert_eq!(cols.len(), vals.len());
            assert!(cols.iter().all(|&j| j < n_cols));
            let mut sorted = cols.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), cols.len(), "duplicate column accepted");
            seen += cols.len();
        }
        assert_eq!(seen, x.nnz());
        let half = n_rows / 2;
        let a = x.slice_rows(0, half);
        let b = x.slice_rows(half, n_rows);
        assert_eq!(a.nnz() + b.nnz(), x.nnz());
    }
}
