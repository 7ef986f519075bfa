//! The held-out entries of one cross-validation repeat, picked by a hash
//! of (seed, repeat, row, column): no mask is stored, and any row source
//! (memory or file) is masked block by block as it is read.

use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::{CsrView, Input};
use crate::io::RowSource;
use crate::params::Missing;

/// Which entries a repeat holds out: an observed entry (i, j) is held out
/// when a 64-bit hash of (seed, repeat, i, j) falls below
/// `test_fraction`·2⁶⁴.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holdout {
    seed: u64,
    repeat: u64,
    threshold: u64,
}

/// splitmix64's finaliser.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Holdout {
    pub(crate) fn new(seed: u64, repeat: usize, test_fraction: f64) -> Self {
        Holdout {
            seed,
            repeat: repeat as u64,
            threshold: (test_fraction * 2f64.powi(64)).min(u64::MAX as f64) as u64,
        }
    }

    /// Whether entry (i, j) (global row i) is held out (when observed).
    #[inline(always)]
    pub(crate) fn held_out(&self, i: usize, j: usize) -> bool {
        let h = mix(mix(mix(self.seed ^ mix(self.repeat)) ^ i as u64) ^ (j as u64).rotate_left(32));
        h < self.threshold
    }
}

/// The training view of X in one repeat: the held-out entries are missing
/// (NaN in dense blocks; CSR blocks lose their held-out stored entries
/// under "unstored", and store NaN at their held-out entries otherwise).
pub(crate) struct Training<'s, F: NmfFloat> {
    inner: &'s mut dyn RowSource<F>,
    holdout: Holdout,
    mode: Missing,
    dense: Vec<F>,
    values: Vec<F>,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    row: Vec<Option<F>>,
    nnz: usize,
}

impl<'s, F: NmfFloat> Training<'s, F> {
    /// `mode`: how the fit sees missing entries ("nan", or "unstored" for
    /// CSR X whose unstored entries are missing).
    pub(crate) fn new(inner: &'s mut dyn RowSource<F>, holdout: Holdout, mode: Missing) -> Self {
        let nnz = inner.nnz();
        Training {
            inner,
            holdout,
            mode,
            dense: Vec::new(),
            values: Vec::new(),
            indptr: Vec::new(),
            indices: Vec::new(),
            row: Vec::new(),
            nnz,
        }
    }
}

impl<F: NmfFloat> RowSource<F> for Training<'_, F> {
    fn shape(&self) -> (usize, usize) {
        self.inner.shape()
    }
    fn nnz(&self) -> usize {
        // The block cut of whole passes depends on it: keep X's.
        self.nnz
    }
    fn is_sparse(&self) -> bool {
        self.inner.is_sparse()
    }
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, F>> {
        let Training {
            inner,
            holdout,
            mode,
            dense,
            values,
            indptr,
            indices,
            row,
            ..
        } = self;
        let block = inner.rows(start, end)?;
        match block {
            Input::Dense(d) => {
                dense.clear();
                dense.extend(d.indexed_iter().map(|((i, j), &v)| {
                    if holdout.held_out(start + i, j) {
                        F::nan()
                    } else {
                        v
                    }
                }));
                let view = ndarray::ArrayView2::from_shape(d.dim(), &dense[..])
                    .expect("a block's own shape");
                Ok(Input::Dense(view))
            }
            Input::Csr(c) => {
                indptr.clear();
                indices.clear();
                values.clear();
                indptr.push(0);
                let m = c.n_cols();
                for i in 0..c.n_rows() {
                    let (cols, vals) = c.row(i);
                    let g = start + i;
                    if *mode == Missing::Unstored {
                        for (&j, &v) in cols.iter().zip(vals) {
                            if !holdout.held_out(g, j) {
                                indices.push(j);
                                values.push(v);
                            }
                        }
                    } else {
                        // Every entry is observed (unstored ones are 0):
                        // the row's entries in column order.
                        row.clear();
                        row.resize(m, None);
                        for (&j, &v) in cols.iter().zip(vals) {
                            row[j] = Some(v);
                        }
                        for (j, v) in row.iter().enumerate() {
                            if holdout.held_out(g, j) {
                                indices.push(j);
                                values.push(F::nan());
                            } else if let Some(v) = v {
                                indices.push(j);
                                values.push(*v);
                            }
                        }
                    }
                    indptr.push(indices.len());
                }
                Ok(Input::Csr(CsrView::from_checked_parts(
                    c.n_rows(),
                    m,
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
