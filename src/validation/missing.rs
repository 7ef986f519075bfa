//! The data checks of a fit with missing values (`missing` = "nan" or
//! "unstored"): NaN marks a missing entry instead of being refused; the
//! observed entries must be finite and non-negative as usual.

use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{for_each_block, RowSource};
use crate::params::{Missing, ParamError};
use num_traits::Float;

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

/// Values per task of the dense scan: fixed, so the sums (added run by run
/// in order) do not depend on the number of threads.
const RUN: usize = 1 << 14;

/// What one run of a dense block holds.
#[derive(Clone, Copy, Default)]
struct Run {
    /// Σ of the observed entries (eight interleaved lanes, added in a fixed order).
    sum: f64,
    /// NaN (missing) entries.
    nan: usize,
    /// Whether an entry is 0.
    zero: bool,
    /// Whether an entry is negative or infinite.
    bad: bool,
}

/// One run: on x86-64 CPUs with AVX2 in that instruction set (the same
/// IEEE operations in the same order: identical results), else in the
/// baseline one.
fn scan_run<F: NmfFloat>(c: &[F]) -> Run {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { scan_run_avx2(c) };
        }
    }
    scan_run_lanes(c)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scan_run_avx2<F: NmfFloat>(c: &[F]) -> Run {
    scan_run_lanes(c)
}

/// [`scan_run`]'s body, branch-free over lanes of eight: per lane a sum,
/// counts (NaN, zero) and extremes, which vectorise, where flags would not.
#[inline(always)]
fn scan_run_lanes<F: NmfFloat>(c: &[F]) -> Run {
    let (zero, inf) = (F::zero(), F::infinity());
    let mut sums = [0.0f64; 8];
    let mut nans = [0u64; 8];
    let mut zeros = [0u64; 8];
    // The smallest and largest observed value per lane (a NaN never wins a
    // compare): bad is lo < 0 (−∞ too) or hi = ∞. As compares, LLVM would
    // fold `v < 0 | v = ∞` into a class test it lowers lane by lane.
    let mut lo = [F::zero(); 8];
    let mut hi = [F::zero(); 8];
    let mut chunks = c.chunks_exact(8);
    for ch in &mut chunks {
        for l in 0..8 {
            let v = ch[l];
            let nan = v.is_nan();
            sums[l] += if nan { 0.0 } else { v.to_f64_() };
            nans[l] += nan as u64;
            zeros[l] += (v == zero) as u64;
            lo[l] = if v < lo[l] { v } else { lo[l] };
            hi[l] = if v > hi[l] { v } else { hi[l] };
        }
    }
    let mut r = Run::default();
    for &v in chunks.remainder() {
        let nan = v.is_nan();
        r.sum += if nan { 0.0 } else { v.to_f64_() };
        r.nan += nan as usize;
        r.zero |= v == zero;
        r.bad |= (v < zero) | (Float::abs(v) == inf);
    }
    r.sum +=
        ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
    r.nan += nans.iter().sum::<u64>() as usize;
    r.zero |= zeros.iter().any(|&z| z > 0);
    r.bad |= lo.iter().any(|&v| v < zero) | hi.contains(&inf);
    r
}

/// A contiguous dense block scanned in parallel runs of [`RUN`] values;
/// `None` when an observed entry is bad (the caller then names it).
fn scan_dense_slice<F: NmfFloat>(s: &[F]) -> Option<Run> {
    use rayon::prelude::*;
    let runs: Vec<Run> = s.par_chunks(RUN).map(scan_run).collect();
    let mut t = Run::default();
    for r in runs {
        if r.bad {
            return None;
        }
        t.sum += r.sum;
        t.nan += r.nan;
        t.zero |= r.zero;
    }
    Some(t)
}

/// One pass: every observed entry finite and >= 0 (the error names the
/// global row and column of the first bad one), their sum and count, and
/// whether one is 0. NaN entries are missing; with "unstored", so are the
/// unstored entries of CSR X. Contiguous dense blocks are scanned in
/// parallel, vectorised runs (the entry-by-entry pass only names a bad
/// entry).
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
        if let Input::Dense(d) = xb {
            if let Some(r) = d.as_slice().and_then(scan_dense_slice) {
                s.sum += r.sum;
                s.observed += d.len() - r.nan;
                s.has_zero |= r.zero;
                return Ok(());
            }
        }
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
