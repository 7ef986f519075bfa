//! The data checks of a fit with missing values (`missing` = "nan" or
//! "unstored"): NaN marks a missing entry instead of being refused; the
//! observed entries must be finite and non-negative as usual.

use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{for_each_block, RowSource};
use crate::params::{Missing, ParamError};

/// What a checking pass over X with missing entries found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskedScan {
    /// Σ of the observed entries.
    pub sum: f64,
    /// Number of observed entries.
    pub observed: usize,
    /// Whether an observed entry is 0.
    pub has_zero: bool,
}

/// "unstored" is for CSR data only.
pub fn check_mode<F: NmfFloat>(src: &dyn RowSource<F>, mode: Missing) -> Result<()> {
    if mode == Missing::Unstored && !src.is_sparse() {
        return Err(Error::Param(ParamError::Invalid {
            name: "missing",
            reason: "'unstored' marks the unstored entries of a CSR matrix as missing; \
                     X is dense (use missing='nan' with NaN at the missing entries)"
                .into(),
        }));
    }
    Ok(())
}

/// One pass: every observed entry finite and >= 0 (the error names the
/// global row and column of the first bad one), their sum and count, and
/// whether one is 0. NaN entries are missing; with "unstored", so are the
/// unstored entries of CSR X.
pub fn scan_masked<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    whom: &str,
    mode: Missing,
) -> Result<MaskedScan> {
    check_mode(src, mode)?;
    let mut s = MaskedScan {
        sum: 0.0,
        observed: 0,
        has_zero: false,
    };
    for_each_block(src, |row0, xb| {
        let bad = |v: F| v.is_infinite() || v < F::zero();
        let mut first_bad: Option<(usize, usize, f64)> = None;
        let mut note = |i: usize, j: usize, v: F, s: &mut MaskedScan| {
            if v.is_nan() {
                return;
            }
            if bad(v) && first_bad.is_none() {
                first_bad = Some((i, j, v.to_f64_()));
            }
            s.sum += v.to_f64_();
            s.observed += 1;
            s.has_zero |= v == F::zero();
        };
        match xb {
            Input::Dense(d) => {
                for ((i, j), &v) in d.indexed_iter() {
                    note(i, j, v, &mut s);
                }
            }
            Input::Csr(c) => {
                for i in 0..c.n_rows() {
                    let (cols, vals) = c.row(i);
                    for (&j, &v) in cols.iter().zip(vals) {
                        note(i, j, v, &mut s);
                    }
                }
                if mode != Missing::Unstored {
                    let (r, m) = xb.shape();
                    let unstored = r * m - c.nnz();
                    s.observed += unstored;
                    s.has_zero |= unstored > 0;
                }
            }
        }
        if let Some((i, j, v)) = first_bad {
            let at = format!("{whom}, first at row {}, column {j}: {v}", row0 + i);
            return Err(if v.is_finite() {
                Error::Negative { whom: at }
            } else {
                Error::NotFinite { whom: at }
            });
        }
        Ok(())
    })?;
    // No observed entry at all is an error of the whole X (over every
    // worker's shard): `dist::preflight` checks it.
    Ok(s)
}
