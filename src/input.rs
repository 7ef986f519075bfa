//! Borrowed views of the data matrix X: dense (any strides) or CSR.
//!
//! Nothing here copies the caller's data. A mini-batch is a row range of the
//! view: for CSR it is a sub-slice of `indptr` over the same `indices`/`data`.

use crate::float::NmfFloat;
use ndarray::{s, ArrayView2};

/// Errors in the structure of a CSR matrix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsrError {
    /// indptr must have n_rows + 1 entries.
    #[error("CSR indptr has length {got}, expected n_rows + 1 = {expected}")]
    IndptrLength {
        /// Actual length.
        got: usize,
        /// n_rows + 1.
        expected: usize,
    },
    /// indptr must start at 0, be non-decreasing and end at nnz.
    #[error("CSR indptr is not a valid offset array: {0}")]
    Indptr(String),
    /// indices and data must have the same length (nnz).
    #[error("CSR indices has length {indices} but data has length {data}")]
    Lengths {
        /// indices length.
        indices: usize,
        /// data length.
        data: usize,
    },
    /// A column index is out of range.
    #[error("CSR column index {index} at position {pos} is out of range for {n_cols} columns")]
    ColumnOutOfRange {
        /// The bad index.
        index: usize,
        /// Its position in `indices`.
        pos: usize,
        /// Number of columns.
        n_cols: usize,
    },
    /// A column appears twice in one row (ambiguous value).
    #[error("CSR row {row} repeats column {col}; sum duplicates before fitting")]
    DuplicateColumn {
        /// Row.
        row: usize,
        /// Column.
        col: usize,
    },
}

/// A compressed-sparse-row matrix borrowed from the caller.
///
/// Column indices within a row may be in any order but must not repeat.
#[derive(Debug, Clone, Copy)]
pub struct CsrView<'a, F> {
    n_rows: usize,
    n_cols: usize,
    /// Absolute offsets into `indices`/`data`; `indptr[0]` need not be 0 for
    /// a row-range sub-view.
    indptr: &'a [usize],
    indices: &'a [usize],
    data: &'a [F],
}

impl<'a, F: NmfFloat> CsrView<'a, F> {
    /// Check the structure and wrap the arrays (O(nnz)).
    ///
    /// ```
    /// use minibatchnmf::CsrView;
    /// // [[1, 0, 2],
    /// //  [0, 3, 0]]
    /// let indptr = [0usize, 2, 3];
    /// let indices = [0usize, 2, 1];
    /// let data = [1.0f64, 2.0, 3.0];
    /// let x = CsrView::new(2, 3, &indptr, &indices, &data).unwrap();
    /// assert_eq!(x.nnz(), 3);
    /// assert!(CsrView::new(2, 2, &indptr, &indices, &data).is_err()); // column 2 out of range
    /// ```
    pub fn new(
        n_rows: usize,
        n_cols: usize,
        indptr: &'a [usize],
        indices: &'a [usize],
        data: &'a [F],
    ) -> Result<Self, CsrError> {
        // n_rows + 1 may overflow for a hostile n_rows: no array has that length.
        if n_rows.checked_add(1) != Some(indptr.len()) {
            return Err(CsrError::IndptrLength {
                got: indptr.len(),
                expected: n_rows.saturating_add(1),
            });
        }
        if indices.len() != data.len() {
            return Err(CsrError::Lengths {
                indices: indices.len(),
                data: data.len(),
            });
        }
        if indptr[0] != 0 {
            return Err(CsrError::Indptr(format!(
                "indptr[0] = {}, expected 0",
                indptr[0]
            )));
        }
        if indptr[n_rows] != data.len() {
            return Err(CsrError::Indptr(format!(
                "indptr[n_rows] = {} but nnz = {}",
                indptr[n_rows],
                data.len()
            )));
        }
        // Duplicate columns in a row are found with one mark per column,
        // O(nnz + n_cols), when n_cols is of the order of the arrays given;
        // a huge n_cols (which costs the caller nothing to claim) is handled
        // by sorting each row's columns instead, so memory stays bounded by
        // the arrays actually passed.
        let nnz = data.len();
        let mut last_row_seen = if n_cols <= nnz.saturating_mul(4).max(4096) {
            vec![usize::MAX; n_cols]
        } else {
            Vec::new()
        };
        let mut row_cols: Vec<usize> = Vec::new();
        for row in 0..n_rows {
            let (a, b) = (indptr[row], indptr[row + 1]);
            if b < a {
                return Err(CsrError::Indptr(format!(
                    "indptr decreases at row {row} ({a} > {b})"
                )));
            }
            if b > nnz {
                return Err(CsrError::Indptr(format!(
                    "indptr[{}] = {b} exceeds nnz = {nnz}",
                    row + 1
                )));
            }
            for (pos, &col) in indices.iter().enumerate().take(b).skip(a) {
                if col >= n_cols {
                    return Err(CsrError::ColumnOutOfRange {
                        index: col,
                        pos,
                        n_cols,
                    });
                }
                if !last_row_seen.is_empty() {
                    if last_row_seen[col] == row {
                        return Err(CsrError::DuplicateColumn { row, col });
                    }
                    last_row_seen[col] = row;
                }
            }
            if last_row_seen.is_empty() {
                row_cols.clear();
                row_cols.extend_from_slice(&indices[a..b]);
                row_cols.sort_unstable();
                if let Some(w) = row_cols.windows(2).find(|w| w[0] == w[1]) {
                    return Err(CsrError::DuplicateColumn { row, col: w[0] });
                }
            }
        }
        Ok(CsrView {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// Wraps arrays whose structure the caller has checked (a row source
    /// checks each block it reads without allocating).
    pub(crate) fn from_checked_parts(
        n_rows: usize,
        n_cols: usize,
        indptr: &'a [usize],
        indices: &'a [usize],
        data: &'a [F],
    ) -> Self {
        debug_assert_eq!(indptr.len(), n_rows + 1);
        debug_assert_eq!(indptr[n_rows], data.len());
        CsrView {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        }
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }
    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.n_cols
    }
    /// Number of stored entries in this view.
    pub fn nnz(&self) -> usize {
        self.indptr[self.n_rows] - self.indptr[0]
    }
    /// Stored values of this view's rows.
    pub fn values(&self) -> &'a [F] {
        &self.data[self.indptr[0]..self.indptr[self.n_rows]]
    }
    /// Column indices and values of one row.
    #[inline]
    pub fn row(&self, i: usize) -> (&'a [usize], &'a [F]) {
        let (a, b) = (self.indptr[i], self.indptr[i + 1]);
        (&self.indices[a..b], &self.data[a..b])
    }
    /// Absolute offset range of row `i` in the underlying arrays.
    #[inline]
    pub(crate) fn row_range(&self, i: usize) -> std::ops::Range<usize> {
        self.indptr[i]..self.indptr[i + 1]
    }
    /// Absolute offset of the first stored entry of this view.
    #[inline]
    pub(crate) fn offset(&self) -> usize {
        self.indptr[0]
    }
    /// Rows `start..end` as a view sharing the same storage.
    pub fn slice_rows(&self, start: usize, end: usize) -> CsrView<'a, F> {
        debug_assert!(start <= end && end <= self.n_rows);
        CsrView {
            n_rows: end - start,
            n_cols: self.n_cols,
            indptr: &self.indptr[start..=end],
            indices: self.indices,
            data: self.data,
        }
    }
}

/// The data matrix X as the solver sees it.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a, F> {
    /// A dense matrix view (row-major is fastest; any layout is accepted).
    Dense(ArrayView2<'a, F>),
    /// A CSR sparse matrix; implicit entries are zeros.
    Csr(CsrView<'a, F>),
}

impl<'a, F: NmfFloat> Input<'a, F> {
    /// (n_samples, n_features).
    pub fn shape(&self) -> (usize, usize) {
        match self {
            Input::Dense(x) => x.dim(),
            Input::Csr(x) => (x.n_rows(), x.n_cols()),
        }
    }
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.shape().0
    }
    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.shape().1
    }
    /// Whether the matrix is stored sparse.
    pub fn is_sparse(&self) -> bool {
        matches!(self, Input::Csr(_))
    }
    /// Rows `start..end` (a mini-batch), without copying.
    pub fn slice_rows(&self, start: usize, end: usize) -> Input<'a, F> {
        match self {
            Input::Dense(x) => {
                let x: ArrayView2<'a, F> = *x;
                Input::Dense(x.slice_move(s![start..end, ..]))
            }
            Input::Csr(x) => Input::Csr(x.slice_rows(start, end)),
        }
    }
}

impl<'a, F: NmfFloat> From<ArrayView2<'a, F>> for Input<'a, F> {
    fn from(x: ArrayView2<'a, F>) -> Self {
        Input::Dense(x)
    }
}

impl<'a, F: NmfFloat> From<&'a ndarray::Array2<F>> for Input<'a, F> {
    fn from(x: &'a ndarray::Array2<F>) -> Self {
        Input::Dense(x.view())
    }
}

impl<'a, F: NmfFloat> From<CsrView<'a, F>> for Input<'a, F> {
    fn from(x: CsrView<'a, F>) -> Self {
        Input::Csr(x)
    }
}
