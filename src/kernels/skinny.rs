//! Products of a tall dense block (rows × m) with k-wide factors, cut into
//! row blocks small enough for OpenBLAS's small-matrix path.
//!
//! OpenBLAS packs both operands of a GEMM before its kernel runs; when one
//! side is only k = 10..50 wide, packing the tall side costs as much as the
//! multiply (a profile of a dense Frobenius fit showed `dgemm_oncopy` as
//! long as `dgemm_kernel`). Products of at most about half a million
//! multiply-adds go through OpenBLAS's unpacked small-matrix kernels on
//! AVX-512 cores: measured (CPU time, OpenBLAS 0.3.21, Cooperlake kernels)
//! on Fashion-MNIST shapes (1024×784, k = 10), X·Hᵀ in 64-row blocks ran
//! 2.6× faster than in one call, and Wᵀ·X 1.3×; at k = 50 (13-row blocks)
//! X·Hᵀ 1.3×. Other cores take the packed path for each block: with
//! OPENBLAS_CORETYPE=Haswell the blocks cost the same as one call at k = 10
//! and up to ~10% more at k = 50 (noisy, shared machine). The cut depends
//! only on the shapes (never on the number of threads), so results do not
//! depend on how rows are shared out.

use crate::float::NmfFloat;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, ArrayViewMut2};

/// Multiply-adds per GEMM call below which OpenBLAS's small-matrix kernels
/// were measured to run (2^19).
const SMALL_MNK: usize = 1 << 19;

/// Rows per call for a product of `width`-column rows with a k-wide factor.
pub(crate) fn rows_per_call(k: usize, width: usize) -> usize {
    (SMALL_MNK / (k.max(1) * width.max(1))).max(8)
}

/// out (r×k) = a (r×m) · bᵀ, with b k×m.
pub(crate) fn a_bt<F: NmfFloat>(a: ArrayView2<F>, b: ArrayView2<F>, mut out: ArrayViewMut2<F>) {
    let (r, m) = a.dim();
    let step = rows_per_call(b.nrows(), m);
    let mut start = 0;
    while start < r {
        let end = (start + step).min(r);
        general_mat_mul(
            F::one(),
            &a.slice(s![start..end, ..]),
            &b.t(),
            F::zero(),
            &mut out.slice_mut(s![start..end, ..]),
        );
        start = end;
    }
}

/// acc (k×m) += wᵀ (k×r) · a (r×m).
pub(crate) fn acc_wt_a<F: NmfFloat>(w: ArrayView2<F>, a: ArrayView2<F>, mut acc: ArrayViewMut2<F>) {
    let (r, m) = a.dim();
    let step = rows_per_call(w.ncols(), m);
    let mut start = 0;
    while start < r {
        let end = (start + step).min(r);
        general_mat_mul(
            F::one(),
            &w.slice(s![start..end, ..]).t(),
            &a.slice(s![start..end, ..]),
            F::one(),
            &mut acc,
        );
        start = end;
    }
}

/// out (r×m) = w (r×k) · h (k×m).
pub(crate) fn w_h<F: NmfFloat>(w: ArrayView2<F>, h: ArrayView2<F>, mut out: ArrayViewMut2<F>) {
    let (r, k) = w.dim();
    let step = rows_per_call(k, h.ncols());
    let mut start = 0;
    while start < r {
        let end = (start + step).min(r);
        general_mat_mul(
            F::one(),
            &w.slice(s![start..end, ..]),
            &h,
            F::zero(),
            &mut out.slice_mut(s![start..end, ..]),
        );
        start = end;
    }
}
