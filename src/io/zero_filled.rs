//! A row source that shows X with its NaN entries replaced by a value (the
//! start of a fit with missing values: the initialisation sees NaN as the
//! mean of the observed entries). Blocks without NaN are passed through
//! untouched.

use super::RowSource;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::{CsrView, Input};

/// X with NaN replaced by `fill`, block by block (buffers reused).
pub(crate) struct ZeroFilled<'s, F: NmfFloat> {
    inner: &'s mut dyn RowSource<F>,
    fill: F,
    dense: Vec<F>,
    values: Vec<F>,
    indptr: Vec<usize>,
    indices: Vec<usize>,
}

impl<'s, F: NmfFloat> ZeroFilled<'s, F> {
    pub(crate) fn new(inner: &'s mut dyn RowSource<F>, fill: F) -> Self {
        ZeroFilled {
            inner,
            fill,
            dense: Vec::new(),
            values: Vec::new(),
            indptr: Vec::new(),
            indices: Vec::new(),
        }
    }
}

impl<F: NmfFloat> RowSource<F> for ZeroFilled<'_, F> {
    fn shape(&self) -> (usize, usize) {
        self.inner.shape()
    }
    fn nnz(&self) -> usize {
        self.inner.nnz()
    }
    fn is_sparse(&self) -> bool {
        self.inner.is_sparse()
    }
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, F>> {
        let ZeroFilled {
            inner,
            fill,
            dense,
            values,
            indptr,
            indices,
        } = self;
        let block = inner.rows(start, end)?;
        let nan = |v: &F| v.is_nan();
        match block {
            Input::Dense(d) => {
                if !d.iter().any(nan) {
                    return Ok(Input::Dense(d));
                }
                dense.clear();
                dense.extend(d.iter().map(|&v| if v.is_nan() { *fill } else { v }));
                let view = ndarray::ArrayView2::from_shape(d.dim(), &dense[..])
                    .expect("a block's own shape");
                Ok(Input::Dense(view))
            }
            Input::Csr(c) => {
                if !c.values().iter().any(nan) {
                    return Ok(Input::Csr(c));
                }
                indptr.clear();
                indices.clear();
                values.clear();
                indptr.push(0);
                for i in 0..c.n_rows() {
                    let (cols, vals) = c.row(i);
                    indices.extend_from_slice(cols);
                    values.extend(vals.iter().map(|&v| if v.is_nan() { *fill } else { v }));
                    indptr.push(indices.len());
                }
                Ok(Input::Csr(CsrView::from_checked_parts(
                    c.n_rows(),
                    c.n_cols(),
                    indptr,
                    indices,
                    values,
                )))
            }
        }
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}
