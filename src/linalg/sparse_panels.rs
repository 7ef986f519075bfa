//! X·Hᵀ for CSR X straight from H (k×m), in column panels: no m×k copy
//! of Hᵀ. For each panel of columns `c0..c1` the panel of Hᵀ (a few
//! hundred KiB: it stays in L2 while every row of X reads its values in
//! the panel) is transposed once and shared by the threads; each row of X
//! keeps a cursor to its first value not yet used. Used where X·Hᵀ is
//! computed once for many rows (transform's W solve), so that each row of
//! the panel is gathered many times from cache.
//!
//! Each output row is summed from zero over its stored values in the
//! order they are stored, as [`super::sparse::csr_dot_dense`] sums it:
//! identical results, whatever the number of threads. That needs each
//! row's columns in increasing order; X with an unsorted row goes through
//! a full transpose and `csr_dot_dense` instead.
//!
//! The same row kernel (compiled for AVX2 where the CPU has it) multiplies
//! X by a row-major B taken whole as one panel ([`csr_dot_dense_whole`]:
//! the randomized SVD's products, where panels do not pay).

use super::sparse::{csr_dot_dense, prefetch, PREFETCH_AHEAD};
use crate::float::NmfFloat;
use crate::input::CsrView;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Bytes of one panel of Hᵀ (well inside a core's L2).
const PANEL_BYTES: usize = 1 << 20;

/// Rows of X per parallel task of a panel.
const ROWS_PER_TASK: usize = 256;

/// Whether every row's columns are strictly increasing.
fn rows_sorted<F: NmfFloat>(x: &CsrView<F>) -> bool {
    (0..x.n_rows()).all(|i| x.row(i).0.windows(2).all(|w| w[0] < w[1]))
}

/// `out = X @ Hᵀ` (X n×m CSR, H k×m, out n×k), the bits of
/// `csr_dot_dense(x, Hᵀ, out)`.
pub fn csr_dot_ht<F: NmfFloat>(x: &CsrView<F>, h: ArrayView2<F>, mut out: ArrayViewMut2<F>) {
    let (n, m) = (x.n_rows(), x.n_cols());
    let k = h.nrows();
    debug_assert_eq!(h.ncols(), m);
    debug_assert_eq!(out.dim(), (n, k));
    let h_std = h.as_standard_layout();
    let (Some(hs), true, true) = (h_std.as_slice(), k > 0, rows_sorted(x)) else {
        let ht: Array2<F> = h.t().as_standard_layout().into_owned();
        return csr_dot_dense(x, ht.view(), out);
    };
    out.fill(F::zero());
    let width = (PANEL_BYTES / (k * std::mem::size_of::<F>())).clamp(16, m.max(16));
    let mut panel = vec![F::zero(); width.min(m) * k];
    // Position (in x's values) of each row's first value not yet used.
    let mut cursor: Vec<usize> = (0..n).map(|i| x.row_range(i).start).collect();
    let parallel = x.nnz() * k > 1 << 15;
    let mut c0 = 0;
    while c0 < m {
        let c1 = (c0 + width).min(m);
        let pw = c1 - c0;
        let p = &mut panel[..pw * k];
        // Transpose H[:, c0..c1] into the pw×k panel, in column tiles.
        let tr = |t: usize, tile: &mut [F]| {
            let j0 = c0 + t * 64;
            let w = tile.len() / k;
            for c in 0..k {
                let src = &hs[c * m + j0..c * m + j0 + w];
                for (jj, &v) in src.iter().enumerate() {
                    tile[jj * k + c] = v;
                }
            }
        };
        if parallel {
            p.par_chunks_mut(64 * k)
                .enumerate()
                .for_each(|(t, tile)| tr(t, tile));
        } else {
            p.chunks_mut(64 * k)
                .enumerate()
                .for_each(|(t, tile)| tr(t, tile));
        }
        panel_pass(x, p, k, (c0, c1), out.view_mut(), &mut cursor, parallel);
        c0 = c1;
    }
}

/// `out = X @ B` (X n×m CSR, B m×k, out n×k), the bits of
/// `csr_dot_dense(x, b, out)`, with the panel kernel (AVX2 where the CPU
/// has it) on all of B as one panel, read in place from a row-major B (the
/// randomized SVD's power iterations). B is not cut into panels: at the
/// density of a TF-IDF matrix (FOLDOC: 28 stored values a row, 1.6 per row
/// and 1 MiB panel of a 60-wide B) the panels' row visits cost more than
/// the cache misses they save (measured: the FOLDOC init 2× slower).
pub(crate) fn csr_dot_dense_whole<F: NmfFloat>(
    x: &CsrView<F>,
    b: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
) {
    let (n, m) = (x.n_rows(), x.n_cols());
    let k = b.ncols();
    debug_assert_eq!(b.nrows(), m);
    debug_assert_eq!(out.dim(), (n, k));
    let b_std = b.as_standard_layout();
    let (Some(bs), true) = (b_std.as_slice(), k > 0) else {
        return csr_dot_dense(x, b, out);
    };
    out.fill(F::zero());
    let mut cursor: Vec<usize> = (0..n).map(|i| x.row_range(i).start).collect();
    let parallel = x.nnz() * k > 1 << 15;
    panel_pass(x, bs, k, (0, m), out.view_mut(), &mut cursor, parallel);
}

/// One panel of X·B on every row of `out`: row i adds its stored values
/// from its cursor on with columns below c1 times the panel's rows (`p`,
/// row-major, k wide, its row 0 the column c0), and moves its cursor past
/// them. Rows in tasks of [`ROWS_PER_TASK`] on the rayon workers when
/// `parallel` (each row's sum is its own: the same bits on any threads).
fn panel_pass<F: NmfFloat>(
    x: &CsrView<F>,
    p: &[F],
    k: usize,
    cols: (usize, usize),
    mut out: ArrayViewMut2<F>,
    cursor: &mut [usize],
    parallel: bool,
) {
    // Gathered rows of a panel larger than a core's cache are prefetched.
    let far = std::mem::size_of_val(p) > PANEL_BYTES;
    let job = |r0: usize, o: ArrayViewMut2<F>, cur: &mut [usize]| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe { panel_rows_avx2(x, p, k, cols, far, r0, o, cur) };
                return;
            }
        }
        panel_rows(x, p, k, cols, far, r0, o, cur);
    };
    if parallel {
        out.axis_chunks_iter_mut(Axis(0), ROWS_PER_TASK)
            .into_par_iter()
            .zip(cursor.par_chunks_mut(ROWS_PER_TASK))
            .enumerate()
            .for_each(|(t, (o, cur))| job(t * ROWS_PER_TASK, o, cur));
    } else {
        job(0, out.view_mut(), cursor);
    }
}

/// [`panel_rows`] compiled for AVX2 (the same IEEE operations, wider:
/// identical results; Rust never fuses the multiply-adds).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn panel_rows_avx2<F: NmfFloat>(
    x: &CsrView<F>,
    p: &[F],
    k: usize,
    cols: (usize, usize),
    far: bool,
    r0: usize,
    o: ArrayViewMut2<F>,
    cur: &mut [usize],
) {
    panel_rows(x, p, k, cols, far, r0, o, cur)
}

/// The rows `r0..r0 + o.nrows()` of [`panel_pass`] (`far`: the gathered
/// rows are prefetched a few stored values ahead).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn panel_rows<F: NmfFloat>(
    x: &CsrView<F>,
    p: &[F],
    k: usize,
    (c0, c1): (usize, usize),
    far: bool,
    r0: usize,
    mut o: ArrayViewMut2<F>,
    cur: &mut [usize],
) {
    for ((ii, mut orow), cu) in o.axis_iter_mut(Axis(0)).enumerate().zip(cur) {
        let i = r0 + ii;
        let (cols, vals) = x.row(i);
        let start = x.row_range(i).start;
        let q = *cu - start;
        let end = cols[q..]
            .iter()
            .position(|&j| j >= c1)
            .map_or(cols.len(), |e| q + e);
        let (cols, vals) = (&cols[q..end], &vals[q..end]);
        if let Some(o) = orow.as_slice_mut() {
            for (t, (&j, &v)) in cols.iter().zip(vals).enumerate() {
                if let (true, Some(&ja)) = (far, cols.get(t + PREFETCH_AHEAD)) {
                    prefetch(&p[(ja - c0) * k..(ja - c0 + 1) * k]);
                }
                let brow = &p[(j - c0) * k..(j - c0 + 1) * k];
                for (oc, &bc) in o.iter_mut().zip(brow) {
                    *oc += v * bc;
                }
            }
        } else {
            for (&j, &v) in cols.iter().zip(vals) {
                let brow = &p[(j - c0) * k..(j - c0 + 1) * k];
                for (oc, &bc) in orow.iter_mut().zip(brow) {
                    *oc += v * bc;
                }
            }
        }
        *cu = start + end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn panels_give_the_gathers_bits_on_any_thread_count() {
        // 700×5000 with ~30 values a row (some rows empty), k = 7 and 50:
        // several panels (and B = Hᵀ as one), the parallel path, a transposed output, and an
        // unsorted row (the fallback).
        let (n, m) = (700usize, 5000usize);
        let (indptr, indices, data) = crate::linalg::pattern_csr(
            n,
            30,
            |i| i % 13 == 5,
            |i, t| Some((i * 131 + t * 977) % m),
            |i, j| ((i * 7 + j * 3) % 17) as f64 / 5.0 + 1e-3 * i as f64,
        );
        for k in [7usize, 50] {
            let h = Array2::from_shape_fn((k, m), |(a, j)| ((a * 31 + j * 7) % 19) as f64 / 3.0);
            let ht = h.t().as_standard_layout().into_owned();
            for unsorted in [false, true] {
                let mut idx = indices.clone();
                if unsorted {
                    idx.swap(indptr[1], indptr[1] + 1);
                }
                let x = CsrView::new(n, m, &indptr, &idx, &data).unwrap();
                let mut want = Array2::zeros((n, k));
                csr_dot_dense(&x, ht.view(), want.view_mut());
                for threads in [1, 2, 3] {
                    let pool = crate::linalg::test_pool(threads);
                    let mut got = Array2::from_elem((n, k), f64::NAN);
                    pool.install(|| csr_dot_ht(&x, h.view(), got.view_mut()));
                    assert_eq!(got, want);
                    let mut got_t = Array2::from_elem((k, n), f64::NAN);
                    pool.install(|| csr_dot_ht(&x, h.view(), got_t.view_mut().reversed_axes()));
                    assert_eq!(got_t.t(), want);
                    // A row-range sub-view (values at an offset).
                    let sub = x.slice_rows(100, 400);
                    let mut got_s = Array2::zeros((300, k));
                    pool.install(|| csr_dot_ht(&sub, h.view(), got_s.view_mut()));
                    assert_eq!(got_s, want.slice(ndarray::s![100..400, ..]));
                    // From a row-major B in place, one panel.
                    let mut got_b = Array2::from_elem((n, k), f64::NAN);
                    pool.install(|| csr_dot_dense_whole(&x, ht.view(), got_b.view_mut()));
                    assert_eq!(got_b, want);
                }
            }
        }
    }
}
