//! scikit-learn's `svd_flip`: the signs of a truncated SVD made
//! deterministic (the entry of largest magnitude of each singular vector
//! of the deciding side made positive), with numpy's comparisons: the first
//! entry of largest magnitude wins ties, a NaN never replaces one.

use crate::float::NmfFloat;
use crate::linalg::row_chunks::scale_columns;
use ndarray::Array2;

/// numpy's `sign`: -1, 0 or +1 (NaN stays NaN).
fn sign<F: NmfFloat>(v: F) -> F {
    if v > F::zero() {
        F::one()
    } else if v < F::zero() {
        -F::one()
    } else {
        v
    }
}

/// One step of numpy's `argmax(abs(·))` scan: `best` becomes `v` unless
/// |v| is not strictly larger than |best| (a NaN never replaces it).
fn keep_abs_max<F: NmfFloat>(best: &mut Option<F>, v: F) {
    match *best {
        Some(b)
            if num_traits::Float::abs(v).partial_cmp(&num_traits::Float::abs(b))
                != Some(std::cmp::Ordering::Greater) => {}
        _ => *best = Some(v),
    }
}

/// The sign of each column's first entry of largest magnitude (numpy's
/// `sign(u[argmax(abs(u), axis=0), range(k)])`), in one pass over the rows
/// of a row-major U: per column, the same comparisons in the same order as
/// a scan down the column.
fn column_signs<F: NmfFloat>(u: &Array2<F>) -> Vec<F> {
    let mut best: Vec<Option<F>> = vec![None; u.ncols()];
    for row in u.rows() {
        for (b, &v) in best.iter_mut().zip(row) {
            keep_abs_max(b, v);
        }
    }
    best.into_iter()
        .map(|b| sign(b.unwrap_or_else(F::zero)))
        .collect()
}

/// `svd_flip(u, vt)`: the largest-magnitude entry of each column of U
/// becomes positive.
pub(crate) fn flip_signs_by_columns<F: NmfFloat>(u: &mut Array2<F>, vt: &mut Array2<F>) {
    let signs = column_signs(u);
    scale_columns(u, &signs);
    for (mut row, &s) in vt.rows_mut().into_iter().zip(&signs) {
        row.mapv_inplace(|v| v * s);
    }
}

/// `svd_flip(u, vt, u_based_decision=False)`: the largest-magnitude entry
/// of each row of Vt becomes positive.
pub(crate) fn flip_signs_by_rows<F: NmfFloat>(u: &mut Array2<F>, vt: &mut Array2<F>) {
    let signs: Vec<F> = vt
        .rows_mut()
        .into_iter()
        .map(|mut row| {
            let mut best = None;
            row.iter().for_each(|&v| keep_abs_max(&mut best, v));
            let s = sign(best.unwrap_or_else(F::zero));
            row.mapv_inplace(|v| v * s);
            s
        })
        .collect();
    scale_columns(u, &signs);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_entry_of_largest_magnitude_decides() {
        // Column 0: -3 beats 3 (first on ties); column 1: NaN never wins.
        let mut u = ndarray::array![[-3.0, 1.0], [3.0, f64::NAN], [1.0, -2.0]];
        let mut vt = ndarray::array![[1.0, 2.0], [3.0, 4.0]];
        flip_signs_by_columns(&mut u, &mut vt);
        assert_eq!(u.column(0).to_vec(), vec![3.0, -3.0, -1.0]);
        assert_eq!(u[[2, 1]], 2.0);
        assert_eq!(vt, ndarray::array![[-1.0, -2.0], [-3.0, -4.0]]);
        let mut u = ndarray::array![[1.0, 1.0], [1.0, 1.0]];
        let mut vt = ndarray::array![[0.5, -0.5], [0.0, 0.0]];
        flip_signs_by_rows(&mut u, &mut vt);
        assert_eq!(vt, ndarray::array![[0.5, -0.5], [0.0, 0.0]]);
        assert_eq!(u, ndarray::array![[1.0, 0.0], [1.0, 0.0]]);
    }
}
