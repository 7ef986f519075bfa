//! CSR validation: `CsrView::new` on arbitrary arrays and sizes either
//! rejects them with an error or returns a view whose every row can be read
//! and sliced; it never panics, reads out of bounds or allocates by the
//! sizes claimed (the arrays are what they are; n_cols may be anything).
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use minibatchnmf::CsrView;

#[derive(Debug, Arbitrary)]
struct Case {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
    /// Use small sizes most of the time so the checks past the first get exercised.
    small: bool,
}

fuzz_target!(|c: Case| {
    let (n_rows, n_cols) = if c.small {
        (c.n_rows % 8, c.n_cols % 8)
    } else {
        (c.n_rows, c.n_cols)
    };
    let indptr: Vec<usize> = if c.small {
        c.indptr.iter().map(|v| v % 16).collect()
    } else {
        c.indptr
    };
    let indices: Vec<usize> = if c.small {
        c.indices.iter().map(|v| v % 9).collect()
    } else {
        c.indices
    };
    if let Ok(x) = CsrView::new(n_rows, n_cols, &indptr, &indices, &c.data) {
        assert_eq!(x.n_rows(), n_rows);
        assert_eq!(x.n_cols(), n_cols);
        assert_eq!(x.nnz(), c.data.len());
        let mut seen = 0;
        for i in 0..n_rows {
            let (cols, vals) = x.row(i);
            assert_eq!(cols.len(), vals.len());
            assert!(cols.iter().all(|&j| j < n_cols));
            seen += cols.len();
        }
        assert_eq!(seen, x.nnz());
        let half = n_rows / 2;
        let a = x.slice_rows(0, half);
        let b = x.slice_rows(half, n_rows);
        assert_eq!(a.nnz() + b.nnz(), x.nnz());
    }
});
