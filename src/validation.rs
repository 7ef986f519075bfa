//! Checks on data before any state is touched: finiteness, non-negativity,
//! shapes of X and of custom W/H, and zeros when beta <= 0.

use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{for_each_block, RowSource};
use ndarray::{ArrayView2, Zip};

mod missing;
pub use missing::{check_mode, scan_masked};

/// Every stored value is finite and >= 0; `whom` names the input in errors.
pub fn check_non_negative_finite<F: NmfFloat>(x: &Input<F>, whom: &str) -> Result<()> {
    let (finite, non_negative) = match x {
        Input::Dense(x) => scan_view(x.view()),
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

/// What one checking pass over X found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scan {
    /// Sum of all entries, in f64, by [`sum_f64`] over the blocks of the
    /// pass (the sum mean(X) of the initialisation and of the W solve uses).
    pub sum: f64,
    /// Sum of the squares of all entries, in f64 (the same runs as `sum`):
    /// ||X||²_F.
    pub sum_sq: f64,
    /// Whether X has a zero entry (implicit zeros of CSR count).
    pub has_zero: bool,
    /// (n_samples, n_features).
    pub shape: (usize, usize),
}

/// One pass over a source: every block checked with [`check_block`] (the
/// error names the global row and column of the first bad value), the sum
/// of X and whether it has zeros.
pub fn scan<F: NmfFloat>(src: &mut dyn RowSource<F>, whom: &str) -> Result<Scan> {
    let (n, m) = src.shape();
    let mut sum = 0.0;
    let mut sum_sq = 0.0;
    let mut has_zero = false;
    for_each_block(src, |row0, xb| {
        if let Input::Dense(d) = xb {
            if let Some(s) = d.as_slice() {
                // One pass: the sum and the smallest value. A finite sum of
                // values whose minimum is >= 0 means all are finite and
                // non-negative, and then a zero is there iff the minimum is
                // 0; otherwise the entry-by-entry check names the culprit
                // (or passes, when only the sum overflowed).
                let (block_sum, min, block_sq) = sum_min_sq_slice(s);
                let checked = block_sum.is_finite() && min >= 0.0;
                if !checked {
                    check_block(xb, row0, whom)?;
                }
                sum += block_sum;
                sum_sq += block_sq;
                has_zero = has_zero
                    || if checked {
                        min == 0.0
                    } else {
                        self::has_zero(xb)
                    };
                return Ok(());
            }
        }
        check_block(xb, row0, whom)?;
        sum = sum_f64(sum, xb);
        sum_sq += sum_sq_f64(xb);
        has_zero = has_zero || self::has_zero(xb);
        Ok(())
    })?;
    Ok(Scan {
        sum,
        sum_sq,
        has_zero,
        shape: (n, m),
    })
}

/// `acc` plus the sum of the entries of X (stored values only for CSR), in
/// f64. The entries are summed in fixed runs of [`SUM_RUN`] values in row
/// order, each over eight interleaved partial sums, and the runs' sums are
/// added in order: the result depends on X alone (not on the number of
/// threads), and a single running sum's add latency no longer bounds the
/// pass.
pub fn sum_f64<F: NmfFloat>(acc: f64, x: &Input<F>) -> f64 {
    match x {
        Input::Dense(d) => match d.as_slice() {
            Some(s) => acc + sum_slice(s),
            None => d.iter().fold(acc, |a, v| a + v.to_f64_()),
        },
        Input::Csr(c) => acc + sum_slice(c.values()),
    }
}

/// The sum of the squares of the entries of X (stored values for CSR),
/// in f64, in the runs of [`sum_f64`].
fn sum_sq_f64<F: NmfFloat>(x: &Input<F>) -> f64 {
    match x {
        Input::Dense(d) => match d.as_slice() {
            Some(s) => sum_min_sq_slice(s).2,
            None => d.iter().map(|v| v.to_f64_() * v.to_f64_()).sum(),
        },
        Input::Csr(c) => sum_min_sq_slice(c.values()).2,
    }
}

/// Values per run of [`sum_f64`].
const SUM_RUN: usize = 1 << 15;

fn sum_slice<F: NmfFloat>(s: &[F]) -> f64 {
    sum_min_slice(s).0
}

/// (the sum of [`sum_f64`], the smallest value as f64) of a slice; a NaN
/// makes the sum NaN.
fn sum_min_slice<F: NmfFloat>(s: &[F]) -> (f64, f64) {
    let (sum, min, _) = runs::<F, false>(s);
    (sum, min)
}

/// [`sum_min_slice`] and the sum of squares (in the same runs and lanes,
/// f64); the sum and the minimum are those of [`sum_min_slice`] to the bit.
fn sum_min_sq_slice<F: NmfFloat>(s: &[F]) -> (f64, f64, f64) {
    runs::<F, true>(s)
}

/// The runs of [`sum_f64`] (in parallel, added in order), each by
/// [`run`]; `SQ`: also the sum of squares.
fn runs<F: NmfFloat, const SQ: bool>(s: &[F]) -> (f64, f64, f64) {
    use rayon::prelude::*;
    if s.len() <= SUM_RUN {
        return run::<F, SQ>(s);
    }
    let mut parts = Vec::with_capacity(s.len().div_ceil(SUM_RUN));
    s.par_chunks(SUM_RUN)
        .map(run::<F, SQ>)
        .collect_into_vec(&mut parts);
    parts
        .iter()
        .fold((0.0, f64::INFINITY, 0.0), |(a, m, q), &(b, n, r)| {
            (a + b, m.min(n), q + r)
        })
}

/// One run: on x86-64 CPUs with AVX2 in that instruction set (the same
/// IEEE operations in the same order, no fused multiply-add: identical
/// results), else in the baseline one.
fn run<F: NmfFloat, const SQ: bool>(c: &[F]) -> (f64, f64, f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { run_avx2::<F, SQ>(c) };
        }
    }
    run_lanes::<F, SQ>(c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<F: NmfFloat, const SQ: bool>(c: &[F]) -> (f64, f64, f64) {
    run_lanes::<F, SQ>(c)
}

/// Eight interleaved partial sums (and minima, and sums of squares),
/// combined in a fixed tree, then the tail in order.
#[inline(always)]
fn run_lanes<F: NmfFloat, const SQ: bool>(c: &[F]) -> (f64, f64, f64) {
    let mut lanes = [0.0f64; 8];
    let mut mins = [f64::INFINITY; 8];
    let mut sqs = [0.0f64; 8];
    let mut chunks = c.chunks_exact(8);
    for ch in &mut chunks {
        for i in 0..8 {
            let v = ch[i].to_f64_();
            lanes[i] += v;
            mins[i] = if v < mins[i] { v } else { mins[i] };
            if SQ {
                sqs[i] += v * v;
            }
        }
    }
    let mut tail = 0.0;
    let mut tail_sq = 0.0;
    let mut min = mins.iter().fold(f64::INFINITY, |a, &b| a.min(b));
    for v in chunks.remainder() {
        let v = v.to_f64_();
        tail += v;
        min = min.min(v);
        if SQ {
            tail_sq += v * v;
        }
    }
    let tree = |l: &[f64; 8], t: f64| {
        ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])) + t
    };
    (
        tree(&lanes, tail),
        min,
        if SQ { tree(&sqs, tail_sq) } else { 0.0 },
    )
}

/// [`check_non_negative_finite`] on a block of rows that starts at global row
/// `row0` of X; the error names the global row and column of the first bad
/// value (in row order).
pub fn check_block<F: NmfFloat>(x: &Input<F>, row0: usize, whom: &str) -> Result<()> {
    if check_non_negative_finite(x, whom).is_ok() {
        return Ok(());
    }
    let (i, j, v) = first_bad(x).expect("a failed scan has a bad value");
    let at = format!("{whom}, first at row {}, column {j}: {v}", row0 + i);
    Err(if v.is_finite() {
        Error::Negative { whom: at }
    } else {
        Error::NotFinite { whom: at }
    })
}

/// Row, column and value of the first negative or non-finite entry.
fn first_bad<F: NmfFloat>(x: &Input<F>) -> Option<(usize, usize, f64)> {
    let bad = |v: F| !v.is_finite() || v < F::zero();
    match x {
        Input::Dense(d) => d
            .indexed_iter()
            .find(|(_, &v)| bad(v))
            .map(|((i, j), &v)| (i, j, v.to_f64_())),
        Input::Csr(c) => (0..c.n_rows()).find_map(|i| {
            let (cols, vals) = c.row(i);
            cols.iter()
                .zip(vals)
                .filter(|(_, &v)| bad(v))
                .min_by_key(|(&j, _)| j)
                .map(|(&j, &v)| (i, j, v.to_f64_()))
        }),
    }
}

fn scan_view<F: NmfFloat>(x: ArrayView2<F>) -> (bool, bool) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::InMemory;
    use ndarray::Array2;

    fn scan_of(x: &Array2<f64>) -> Result<Scan> {
        scan(&mut InMemory::new(Input::Dense(x.view())), "X")
    }

    #[test]
    fn one_pass_scan_agrees_with_the_entry_checks() {
        // Large enough for several summing runs.
        let mut x = Array2::from_shape_fn((300, 301), |(i, j)| ((i * 31 + j * 7) % 13) as f64);
        let s = scan_of(&x).unwrap();
        let plain: f64 = x.iter().sum();
        assert!((s.sum - plain).abs() <= 1e-12 * plain);
        assert!(s.has_zero);
        x.mapv_inplace(|v| v + 0.5);
        assert!(!scan_of(&x).unwrap().has_zero);
        // Finite values whose sum overflows pass the check.
        let mut big = x.clone();
        big[[0, 0]] = f64::MAX;
        big[[5, 5]] = f64::MAX;
        assert!(scan_of(&big).unwrap().sum.is_infinite());
        for (bad, negative) in [(f64::NAN, false), (f64::INFINITY, false), (-1.0, true)] {
            let mut y = x.clone();
            y[[299, 7]] = bad;
            let e = scan_of(&y).unwrap_err();
            assert!(
                matches!(e, Error::Negative { .. }) == negative
                    && matches!(e, Error::NotFinite { .. }) != negative,
                "{bad}: {e}"
            );
            assert!(e.to_string().contains("row 299, column 7"), "{e}");
        }
    }
}
