//! Checks on data before any state is touched: finiteness, non-negativity,
//! shapes of X and of custom W/H, and zeros when beta <= 0.

use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use ndarray::{ArrayView2, Zip};

/// Every stored value is finite and >= 0; `whom` names the input in errors.
pub fn check_non_negative_finite<F: NmfFloat>(x: &Input<F>, whom: &str) -> Result<()> {
    let (finite, non_negative) = match x {
        Input::Dense(x) => scan(x.view()),
        Input::Csr(x) => scan_slice(x.values()),
    };
    if !finite {
        return Err(Error::NotFinite {
            whom: whom.to_string(),
        });
    }
    if !non_negative {
        return Err(Error::Negative {
            whom: whom.to_string(),
        });
    }
    Ok(())
}

fn scan<F: NmfFloat>(x: ArrayView2<F>) -> (bool, bool) {
    if let Some(s) = x.as_slice_memory_order() {
        return scan_slice(s);
    }
    let (finite, nonneg) = Zip::from(&x).fold((true, true), |(f, n), &v| {
        (f && v.is_finite(), n && v >= F::zero())
    });
    (finite, nonneg)
}

fn scan_slice<F: NmfFloat>(s: &[F]) -> (bool, bool) {
    use rayon::prelude::*;
    s.par_chunks(1 << 16)
        .map(|c| {
            c.iter().fold((true, true), |(f, n), &v| {
                (f && v.is_finite(), n && v >= F::zero())
            })
        })
        .reduce(|| (true, true), |a, b| (a.0 && b.0, a.1 && b.1))
}

/// Whether X has a zero entry (implicit zeros of a CSR matrix count).
pub fn has_zero<F: NmfFloat>(x: &Input<F>) -> bool {
    match x {
        Input::Dense(x) => x.iter().any(|&v| v == F::zero()),
        Input::Csr(c) => {
            c.nnz() < c.n_rows() * c.n_cols() || c.values().iter().any(|&v| v == F::zero())
        }
    }
}

/// X has at least one row and one column.
pub fn check_not_empty<F: NmfFloat>(x: &Input<F>, whom: &str) -> Result<()> {
    let (n, m) = x.shape();
    if n == 0 || m == 0 {
        return Err(Error::Empty {
            whom: whom.to_string(),
            n_samples: n,
            n_features: m,
        });
    }
    Ok(())
}

/// scikit-learn's `_check_init`: shape, finite, non-negative, not all zeros.
pub fn check_init_matrix<F: NmfFloat>(
    a: ArrayView2<F>,
    shape: (usize, usize),
    whom: &str,
) -> Result<()> {
    if a.nrows() != shape.0 {
        return Err(Error::Shape {
            whom: whom.to_string(),
            detail: format!(
                "array with wrong first dimension: expected {}, but got {}",
                shape.0,
                a.nrows()
            ),
        });
    }
    if a.ncols() != shape.1 {
        return Err(Error::Shape {
            whom: whom.to_string(),
            detail: format!(
                "array with wrong second dimension: expected {}, but got {}",
                shape.1,
                a.ncols()
            ),
        });
    }
    check_non_negative_finite(&Input::Dense(a), whom)?;
    if a.iter().all(|&v| v == F::zero()) {
        return Err(Error::AllZeros {
            whom: whom.to_string(),
        });
    }
    Ok(())
}
