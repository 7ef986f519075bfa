//! Sparse (CSR) times dense products that touch only the non-zeros.
//!
//! `values` overrides let the solver multiply by a matrix with X's sparsity
//! pattern but other values (e.g. X / WH at the non-zeros) without building
//! a second CSR matrix.

use crate::float::NmfFloat;
use crate::input::CsrView;
use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Non-zeros ahead whose row of B is prefetched by the gathers: a row of B
/// is a random access per non-zero, and the loads of a few rows must be in
/// flight at once to hide memory latency.
pub(crate) const PREFETCH_AHEAD: usize = 8;

/// Ask the CPU to bring `row` into cache (a hint: no effect on results).
#[inline(always)]
pub(crate) fn prefetch<F>(row: &[F]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(row);
        let p = row.as_ptr() as *const i8;
        let mut o = 0;
        while o < bytes {
            // SAFETY: `p + o` lies inside `row`; a prefetch reads nothing.
            #[allow(unused_unsafe)]
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.add(o))
            };
            o += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// `out = S @ B` where S has X's pattern and the given values (aligned with
/// `x.values()`); B is m×r, out n×r.
pub fn csr_dot_dense_with<F: NmfFloat>(
    x: &CsrView<F>,
    values: &[F],
    b: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
) {
    debug_assert_eq!(values.len(), x.nnz());
    debug_assert_eq!(b.nrows(), x.n_cols());
    debug_assert_eq!(out.dim(), (x.n_rows(), b.ncols()));
    let base = x.offset();
    let r = b.ncols();
    // Row j of B as a slice: the solver passes row-major Hᵀ; other layouts
    // (LAPACK's column-major Q in the randomized SVD) are copied once.
    let b_std = b.as_standard_layout();
    let b_slice = b_std.as_slice();
    let row_job = |i: usize, mut orow: ndarray::ArrayViewMut1<F>| {
        orow.fill(F::zero());
        let range = x.row_range(i);
        let (cols, _) = x.row(i);
        let vals = &values[range.start - base..range.end - base];
        match (b_slice, orow.as_slice_mut()) {
            (Some(bs), Some(o)) => {
                for (t, (&j, &v)) in cols.iter().zip(vals).enumerate() {
                    if let Some(&ja) = cols.get(t + PREFETCH_AHEAD) {
                        prefetch(&bs[ja * r..(ja + 1) * r]);
                    }
                    let brow = &bs[j * r..(j + 1) * r];
                    for (oc, &bc) in o.iter_mut().zip(brow) {
                        *oc += v * bc;
                    }
                }
            }
            _ => {
                for (&j, &v) in cols.iter().zip(vals) {
                    orow.scaled_add(v, &b_std.row(j));
                }
            }
        }
    };
    if x.nnz() * r > 1 << 15 {
        out.axis_iter_mut(Axis(0))
            .into_par_iter()
            .enumerate()
            .for_each(|(i, orow)| row_job(i, orow));
    } else {
        for (i, orow) in out.axis_iter_mut(Axis(0)).enumerate() {
            row_job(i, orow);
        }
    }
}

/// W·H at the non-zeros fused with the product that consumes it: for each
/// stored value p at (i, j), `wh = W[i]·B[j]` (B = Hᵀ, m×k), `v = f(x_p, wh)`,
/// `vals[p] = v` and `out[i] += v·B[j]`, so each gathered row of B serves
/// both products while it is in cache (and is prefetched a few stored values
/// ahead). `out` is n×k. The same operations in the same order as
/// computing all of `vals` first (`wh` by ndarray's `dot`) and then
/// [`csr_dot_dense_with`]: identical results. Runs on the calling thread.
pub fn csr_nz_fused<F: NmfFloat>(
    x: &CsrView<F>,
    w: ArrayView2<F>,
    b: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
    vals: &mut [F],
    f: impl Fn(F, F) -> F,
) {
    let k = b.ncols();
    debug_assert_eq!(b.nrows(), x.n_cols());
    debug_assert_eq!(out.dim(), (x.n_rows(), k));
    debug_assert_eq!(w.dim(), (x.n_rows(), k));
    debug_assert!(vals.len() >= x.nnz());
    let b_std = b.as_standard_layout();
    let bs = b_std.as_slice().expect("standard layout");
    let mut p = 0;
    let mut tmp = [F::zero(); 64];
    for (i, mut orow) in out.axis_iter_mut(Axis(0)).enumerate() {
        let (cols, xv) = x.row(i);
        let wi = w.row(i);
        let row_vals = &mut vals[p..p + cols.len()];
        p += cols.len();
        match orow.as_slice_mut() {
            Some(o) => fused_row(cols, xv, wi, bs, k, o, row_vals, &f),
            None if k <= tmp.len() => {
                fused_row(cols, xv, wi, bs, k, &mut tmp[..k], row_vals, &f);
                orow.iter_mut().zip(&tmp[..k]).for_each(|(o, &t)| *o = t);
            }
            None => {
                let mut o = orow.to_vec();
                fused_row(cols, xv, wi, bs, k, &mut o, row_vals, &f);
                orow.iter_mut().zip(&o).for_each(|(d, &t)| *d = t);
            }
        }
    }
}

/// One row of [`csr_nz_fused`] into the contiguous `o` (k values).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fused_row<F: NmfFloat>(
    cols: &[usize],
    xv: &[F],
    wi: ndarray::ArrayView1<F>,
    bs: &[F],
    k: usize,
    o: &mut [F],
    vals: &mut [F],
    f: &impl Fn(F, F) -> F,
) {
    o.fill(F::zero());
    for (t, ((&j, &xval), v_out)) in cols.iter().zip(xv).zip(vals.iter_mut()).enumerate() {
        if let Some(&ja) = cols.get(t + PREFETCH_AHEAD) {
            prefetch(&bs[ja * k..(ja + 1) * k]);
        }
        let brow = &bs[j * k..(j + 1) * k];
        let wh = wi.dot(&ndarray::ArrayView1::from(brow));
        let v = f(xval, wh);
        *v_out = v;
        for (oc, &bc) in o.iter_mut().zip(brow) {
            *oc += v * bc;
        }
    }
}

/// `out = X @ B` for CSR X (n×m) and dense B (m×r); out is n×r.
pub fn csr_dot_dense<F: NmfFloat>(x: &CsrView<F>, b: ArrayView2<F>, out: ArrayViewMut2<F>) {
    csr_dot_dense_with(x, x.values(), b, out)
}

/// `out = S^T @ B` (+= when `accumulate`), S with X's pattern and the given
/// values; B is n×r, out m×r. The sequential reference of
/// [`csc_t_dot_dense_with`], for the tests.
#[cfg(test)]
pub fn csr_t_dot_dense_with<F: NmfFloat>(
    x: &CsrView<F>,
    values: &[F],
    b: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
    accumulate: bool,
) {
    debug_assert_eq!(values.len(), x.nnz());
    debug_assert_eq!(b.nrows(), x.n_rows());
    debug_assert_eq!(out.dim(), (x.n_cols(), b.ncols()));
    if !accumulate {
        out.fill(F::zero());
    }
    let base = x.offset();
    let b = b.as_standard_layout();
    let (s0, s1) = (out.strides()[0], out.strides()[1]);
    // Scatter: rows of X are read in order, rows of `out` written at random.
    // With non-negative strides (any owned or transposed matrix) index the
    // memory directly: ndarray's per-row view machinery costs more than the
    // k multiply-adds it would wrap.
    if let (true, Some(mem)) = (s0 >= 0 && s1 >= 0, out.as_slice_memory_order_mut()) {
        let (s0, s1) = (s0 as usize, s1 as usize);
        for i in 0..x.n_rows() {
            let range = x.row_range(i);
            let (cols, _) = x.row(i);
            let brow = b.row(i);
            for (&j, &v) in cols
                .iter()
                .zip(&values[range.start - base..range.end - base])
            {
                let row0 = j * s0;
                for (c, &bc) in brow.iter().enumerate() {
                    mem[row0 + c * s1] += v * bc;
                }
            }
        }
        return;
    }
    for i in 0..x.n_rows() {
        let range = x.row_range(i);
        let (cols, _) = x.row(i);
        let brow = b.row(i);
        for (&j, &v) in cols
            .iter()
            .zip(&values[range.start - base..range.end - base])
        {
            out.row_mut(j).scaled_add(v, &brow);
        }
    }
}

/// `out = X^T @ B` for CSR X (n×m) and dense B (n×r); out is m×r.
#[cfg(test)]
pub fn csr_t_dot_dense<F: NmfFloat>(x: &CsrView<F>, b: ArrayView2<F>, out: ArrayViewMut2<F>) {
    csr_t_dot_dense_with(x, x.values(), b, out, false)
}

/// The column pointers of `x` (`out[j]..out[j + 1]` are column j's entries
/// in a column-ordered copy): a count of each column's entries and their
/// prefix sums, written into `out` (resized to `n_cols + 1`).
pub(crate) fn column_pointers<F: NmfFloat>(x: &CsrView<F>, out: &mut Vec<usize>) {
    let m = x.n_cols();
    out.clear();
    out.resize(m + 1, 0);
    for i in 0..x.n_rows() {
        for &j in x.row(i).0 {
            out[j + 1] += 1;
        }
    }
    for j in 0..m {
        out[j + 1] += out[j];
    }
}

/// The column (transposed) index of a CSR matrix: for each column, its
/// non-zeros' rows in increasing order and their positions in the values,
/// so that products with Xᵀ gather each output row from one column instead
/// of scattering every non-zero. Built in O(nnz + n_cols); the buffers are
/// kept and reused (no allocation once they are large enough).
#[derive(Default, Debug)]
pub struct CscIndex {
    colptr: Vec<usize>,
    rows: Vec<usize>,
    pos: Vec<usize>,
    next: Vec<usize>,
}

impl CscIndex {
    /// The index of `x` (a counting sort of its entries by column; within a
    /// column, entries keep X's row order).
    pub fn build<F: NmfFloat>(&mut self, x: &CsrView<F>) {
        let (n, m, nnz) = (x.n_rows(), x.n_cols(), x.nnz());
        column_pointers(x, &mut self.colptr);
        self.rows.resize(nnz, 0);
        self.pos.resize(nnz, 0);
        self.next.clear();
        self.next.extend_from_slice(&self.colptr[..m]);
        let base = x.offset();
        for i in 0..n {
            let range = x.row_range(i);
            let (cols, _) = x.row(i);
            for (p, &j) in range.zip(cols) {
                let q = self.next[j];
                self.rows[q] = i;
                self.pos[q] = p - base;
                self.next[j] = q + 1;
            }
        }
    }

    /// Number of columns indexed.
    fn n_cols(&self) -> usize {
        self.colptr.len().saturating_sub(1)
    }

    /// The columns holding at least one entry, in increasing order, into
    /// `out` (cleared first; it does not reallocate once its capacity
    /// reaches the number of columns).
    pub fn touched(&self, out: &mut Vec<usize>) {
        out.clear();
        out.extend(
            self.colptr
                .windows(2)
                .enumerate()
                .filter(|(_, w)| w[1] > w[0])
                .map(|(j, _)| j),
        );
    }
}

/// Columns of the compact output per parallel task of
/// [`csc_t_dot_dense_cols`].
const COMPACT_COLS: usize = 512;

/// `out` = the rows `cols` of S^T @ B, compactly: `out[c·r..(c+1)·r]` is
/// output row `cols[c]` (S has X's pattern and the given values, B is n×r,
/// any strides). Each row is its column's non-zeros times B's rows summed
/// in row order from zero, as [`csc_t_dot_dense_with`] sums it; rows not
/// in `cols` are not computed (the empty columns' rows are zero). In
/// parallel over blocks of `cols`.
pub fn csc_t_dot_dense_cols<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    b: ArrayView2<F>,
    cols: &[usize],
    out: &mut [F],
) {
    let r = b.ncols();
    debug_assert_eq!(out.len(), cols.len() * r);
    if r == 0 || cols.is_empty() {
        return;
    }
    let b = b.as_standard_layout();
    let bs = b.as_slice().expect("standard layout");
    let job = |cs: &[usize], o: &mut [F]| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe { gather_list_avx2(idx, values, bs, r, cs, o) };
                return;
            }
        }
        gather_list(idx, values, bs, r, cs, o);
    };
    if values.len() * r > 1 << 15 {
        cols.par_chunks(COMPACT_COLS)
            .zip(out.par_chunks_mut(COMPACT_COLS * r))
            .for_each(|(cs, o)| job(cs, o));
    } else {
        job(cols, out);
    }
}

/// [`gather_list`] compiled for AVX2 (the same IEEE operations).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gather_list_avx2<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    bs: &[F],
    r: usize,
    cols: &[usize],
    out: &mut [F],
) {
    gather_list(idx, values, bs, r, cols, out)
}

/// Output rows `cols` of [`csc_t_dot_dense_cols`], each into its `r`
/// values of `out`, with [`gather_cols`]' sums ([`gather_col`]).
#[inline(always)]
fn gather_list<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    bs: &[F],
    r: usize,
    cols: &[usize],
    out: &mut [F],
) {
    for (&j, orow) in cols.iter().zip(out.chunks_exact_mut(r)) {
        orow.fill(F::zero());
        gather_row_in_place(idx, values, bs, r, j, orow);
    }
}

/// Output row j (column j's non-zeros times B's rows, in row order) added
/// into the contiguous `o` (r values) in place, `GATHER_ACC` columns at a
/// time: the same sums as through a stack accumulator, without a copy
/// per output row.
#[inline(always)]
fn gather_row_in_place<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    bs: &[F],
    r: usize,
    j: usize,
    o: &mut [F],
) {
    let mut c0 = 0;
    while c0 < r {
        let w = GATHER_ACC.min(r - c0);
        gather_col(idx, values, bs, r, j, c0, &mut o[c0..c0 + w]);
        c0 += w;
    }
}

/// Accumulators of one output row of the column gathers, in blocks of
/// this many columns of B (on the stack).
const GATHER_ACC: usize = 64;

/// The column gather both products share: `acc` (B's columns
/// `c0..c0 + acc.len()`) += column j's non-zeros times B's rows (`bs`,
/// row-major with `r` columns), in row order.
#[inline(always)]
fn gather_col<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    bs: &[F],
    r: usize,
    j: usize,
    c0: usize,
    acc: &mut [F],
) {
    let w = acc.len();
    let (a, e) = (idx.colptr[j], idx.colptr[j + 1]);
    let (rows, pos) = (&idx.rows[a..e], &idx.pos[a..e]);
    for (t, (&i, &p)) in rows.iter().zip(pos).enumerate() {
        if let Some(&ia) = rows.get(t + PREFETCH_AHEAD) {
            prefetch(&bs[ia * r + c0..ia * r + c0 + w]);
        }
        let v = values[p];
        let brow = &bs[i * r + c0..i * r + c0 + w];
        for (s, &bc) in acc.iter_mut().zip(brow) {
            *s += v * bc;
        }
    }
}

/// Columns of `out` per parallel task of [`csc_t_dot_dense_with`].
const GATHER_COLS: usize = 256;
/// Widest B whose transposed output goes through a stack tile
/// (GATHER_COLS × TILE_K values: 128 KiB in f64).
const TILE_K: usize = 64;

/// `out = S^T @ B` (+= when `accumulate`) through the column index `idx` of
/// X (S has X's pattern and the given values, aligned with `x.values()`);
/// B is n×r, out m×r, any strides. Each output row j is the sum over
/// column j's non-zeros in row order, started from `out[j]` (accumulate)
/// or zero: exactly the sums and rounding of the sequential scatter of
/// `csr_t_dot_dense_with` (the tests' reference), whatever the number of threads, but computed
/// in parallel over columns without per-thread copies of `out`.
pub fn csc_t_dot_dense_with<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    b: ArrayView2<F>,
    mut out: ArrayViewMut2<F>,
    accumulate: bool,
) {
    let r = b.ncols();
    debug_assert_eq!(out.dim(), (idx.n_cols(), r));
    let b = b.as_standard_layout();
    let bs = b.as_slice().expect("standard layout");
    let direct = |j0: usize, chunk: ArrayViewMut2<F>| {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2 (checked just above).
                unsafe { gather_cols_avx2(idx, values, bs, r, j0, chunk, accumulate) };
                return;
            }
        }
        gather_cols(idx, values, bs, r, j0, chunk, accumulate);
    };
    let chunk_job = |j0: usize, mut chunk: ArrayViewMut2<F>| {
        // A transposed output (the k×m H statistics seen as m×k): each
        // output row is a column of the k×m array, k writes m apart. Sum
        // into a row-major tile on the stack instead and copy it out one
        // row of the k×m array at a time (contiguous runs of the chunk's
        // columns). The same sums: identical results.
        let rows = chunk.nrows();
        if chunk.strides()[1] == 1 || r > TILE_K || rows > GATHER_COLS {
            return direct(j0, chunk);
        }
        let mut tile = [F::zero(); GATHER_COLS * TILE_K];
        let tile = &mut tile[..rows * r];
        if accumulate {
            for (jj, orow) in chunk.outer_iter().enumerate() {
                for (t, &o) in tile[jj * r..(jj + 1) * r].iter_mut().zip(orow) {
                    *t = o;
                }
            }
        }
        let tv = ArrayViewMut2::from_shape((rows, r), &mut *tile).expect("tile shape");
        direct(j0, tv);
        for (c, mut ocol) in chunk.axis_iter_mut(Axis(1)).enumerate() {
            for (jj, o) in ocol.iter_mut().enumerate() {
                *o = tile[jj * r + c];
            }
        }
    };
    // The tile lives on the stack of rayon's workers (their 2 MiB stacks);
    // the small sequential case, on the caller's thread, writes directly.
    if values.len() * r > 1 << 15 {
        out.axis_chunks_iter_mut(Axis(0), GATHER_COLS)
            .into_par_iter()
            .enumerate()
            .for_each(|(t, chunk)| chunk_job(t * GATHER_COLS, chunk));
    } else {
        direct(0, out);
    }
}

/// [`gather_cols`] compiled for AVX2 (the same IEEE operations, wider:
/// identical results; Rust never fuses the multiply-adds).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gather_cols_avx2<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    bs: &[F],
    r: usize,
    j0: usize,
    out: ArrayViewMut2<F>,
    accumulate: bool,
) {
    gather_cols(idx, values, bs, r, j0, out, accumulate)
}

/// Rows j0.. of `out` (a chunk of [`csc_t_dot_dense_with`]'s output), each
/// the sum of its column's non-zeros times B's rows (`bs`, row-major with
/// `r` columns) in row order.
#[inline(always)]
fn gather_cols<F: NmfFloat>(
    idx: &CscIndex,
    values: &[F],
    bs: &[F],
    r: usize,
    j0: usize,
    mut out: ArrayViewMut2<F>,
    accumulate: bool,
) {
    for (jj, mut orow) in out.axis_iter_mut(Axis(0)).enumerate() {
        let j = j0 + jj;
        // A contiguous row (the stack tile, a row-major output) is summed
        // in place, without two ndarray slices and copies per output row.
        if let Some(o) = orow.as_slice_mut() {
            if !accumulate {
                o.fill(F::zero());
            }
            gather_row_in_place(idx, values, bs, r, j, o);
            continue;
        }
        let mut c0 = 0;
        while c0 < r {
            let w = GATHER_ACC.min(r - c0);
            let mut acc = [F::zero(); GATHER_ACC];
            let acc = &mut acc[..w];
            if accumulate {
                for (s, &o) in acc.iter_mut().zip(orow.slice(ndarray::s![c0..c0 + w])) {
                    *s = o;
                }
            }
            gather_col(idx, values, bs, r, j, c0, acc);
            for (o, &s) in orow
                .slice_mut(ndarray::s![c0..c0 + w])
                .iter_mut()
                .zip(acc.iter())
            {
                *o = s;
            }
            c0 += w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn sparse_products_match_dense() {
        // [[1, 0, 2], [0, 0, 0], [0, 3, 4]]
        let indptr = [0usize, 2, 2, 4];
        let indices = [2usize, 0, 1, 2];
        let data = [2.0f64, 1.0, 3.0, 4.0];
        let x = CsrView::new(3, 3, &indptr, &indices, &data).unwrap();
        let dense = array![[1.0, 0.0, 2.0], [0.0, 0.0, 0.0], [0.0, 3.0, 4.0]];
        let b = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let mut out = Array2::zeros((3, 2));
        csr_dot_dense(&x, b.view(), out.view_mut());
        assert_eq!(out, dense.dot(&b));
        let mut out_t = Array2::zeros((3, 2));
        csr_t_dot_dense(&x, b.view(), out_t.view_mut());
        assert_eq!(out_t, dense.t().dot(&b));
        // The column-index gather gives the scatter's bits, also when
        // accumulating and into a transposed view.
        let mut idx = CscIndex::default();
        idx.build(&x);
        let mut out_g = Array2::zeros((3, 2));
        csc_t_dot_dense_with(&idx, x.values(), b.view(), out_g.view_mut(), false);
        assert_eq!(out_g, out_t);
        let mut acc_t = Array2::from_elem((2, 3), 0.5);
        csc_t_dot_dense_with(
            &idx,
            x.values(),
            b.view(),
            acc_t.view_mut().reversed_axes(),
            true,
        );
        assert_eq!(acc_t.t(), &(&out_t + 0.5));
        // The compact gather of the non-empty columns gives the same rows.
        let mut cols = Vec::new();
        idx.touched(&mut cols);
        assert_eq!(cols, vec![0, 1, 2]);
        let mut compact = vec![0.0; cols.len() * 2];
        csc_t_dot_dense_cols(&idx, x.values(), b.view(), &cols, &mut compact);
        for (c, &j) in cols.iter().enumerate() {
            assert_eq!(&compact[c * 2..c * 2 + 2], out_t.row(j).as_slice().unwrap());
        }
        let sub = x.slice_rows(2, 3);
        let mut sidx = CscIndex::default();
        sidx.build(&sub);
        sidx.touched(&mut cols);
        assert_eq!(cols, vec![1, 2]);
        // A row-range sub-view reads the right rows.
        let sub = x.slice_rows(1, 3);
        let mut out_s = Array2::zeros((2, 2));
        csr_dot_dense(&sub, b.view(), out_s.view_mut());
        assert_eq!(out_s, dense.slice(ndarray::s![1..3, ..]).dot(&b));
    }

    #[test]
    fn fused_nonzero_product_has_the_two_pass_bits() {
        // 40×70, ~9 values a row (some rows empty), k = 13 and a transposed
        // (non-contiguous) output.
        let (n, m, k) = (40usize, 70usize, 13usize);
        let (indptr, indices, data) = crate::linalg::pattern_csr(
            n,
            9,
            |i| i % 7 == 3,
            |i, t| Some((i * 17 + t * 29) % m),
            |i, j| ((i * 5 + j * 3) % 11) as f64 / 3.0 + 0.1,
        );
        let x = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
        let w = Array2::from_shape_fn((n, k), |(i, j)| ((i * 3 + j * 7) % 5) as f64 / 4.0 + 0.01);
        let ht = Array2::from_shape_fn((m, k), |(i, j)| ((i * 11 + j) % 9) as f64 / 7.0 + 0.02);
        let f = |x: f64, wh: f64| x / wh.max(1e-7);
        // Two passes: the values, then the product.
        let mut vals_ref = vec![0.0; x.nnz()];
        let mut p = 0;
        for i in 0..n {
            for &j in x.row(i).0 {
                vals_ref[p] = f(x.values()[p], w.row(i).dot(&ht.row(j)));
                p += 1;
            }
        }
        let mut out_ref = Array2::zeros((n, k));
        csr_dot_dense_with(&x, &vals_ref, ht.view(), out_ref.view_mut());
        let mut vals = vec![0.0; x.nnz()];
        let mut out = Array2::from_elem((n, k), f64::NAN);
        csr_nz_fused(&x, w.view(), ht.view(), out.view_mut(), &mut vals, f);
        assert_eq!(vals, vals_ref);
        assert_eq!(out, out_ref);
        let mut out_t = Array2::from_elem((k, n), f64::NAN);
        csr_nz_fused(
            &x,
            w.view(),
            ht.view(),
            out_t.view_mut().reversed_axes(),
            &mut vals,
            f,
        );
        assert_eq!(out_t.t(), out_ref);
    }

    #[test]
    fn column_gather_has_the_scatters_bits_on_any_thread_count() {
        // 300×500 with ~10 non-zeros a row, empty rows and columns, values
        // of mixed magnitude: large enough for the parallel path.
        let (n, m, r) = (300usize, 500usize, 37usize);
        let (indptr, indices, data) = crate::linalg::pattern_csr(
            n,
            10,
            |i| i % 17 == 0,
            |i, t| Some((i * 31 + t * 47) % (m - 20)),
            |i, j| ((i * 13 + j * 7) % 101) as f64 / 7.0 + 1e-3 * i as f64,
        );
        let x = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
        let b = Array2::from_shape_fn((n, r), |(i, j)| ((i * 3 + j * 11) % 23) as f64 / 3.0 - 2.5);
        let mut scatter = Array2::zeros((m, r));
        csr_t_dot_dense(&x, b.view(), scatter.view_mut());
        let mut idx = CscIndex::default();
        for threads in [1, 2, 3] {
            let pool = crate::linalg::test_pool(threads);
            // Rows 100.. as a sub-view (offset values), then all rows.
            let sub = x.slice_rows(100, n);
            idx.build(&sub);
            let mut part = Array2::zeros((m, r));
            pool.install(|| {
                csc_t_dot_dense_with(
                    &idx,
                    sub.values(),
                    b.slice(ndarray::s![100.., ..]),
                    part.view_mut(),
                    false,
                )
            });
            let mut sub_scatter = Array2::zeros((m, r));
            csr_t_dot_dense(
                &sub,
                b.slice(ndarray::s![100.., ..]),
                sub_scatter.view_mut(),
            );
            assert_eq!(part, sub_scatter);
            idx.build(&x);
            let mut gather_t = Array2::zeros((r, m));
            pool.install(|| {
                csc_t_dot_dense_with(
                    &idx,
                    x.values(),
                    b.view(),
                    gather_t.view_mut().reversed_axes(),
                    false,
                )
            });
            assert_eq!(gather_t.t(), scatter);
            // Accumulating into the transposed view (the stack tile starts
            // from the output's values): the scatter's bits from the same start.
            pool.install(|| {
                csc_t_dot_dense_with(
                    &idx,
                    x.values(),
                    b.view(),
                    gather_t.view_mut().reversed_axes(),
                    true,
                )
            });
            let mut twice = scatter.clone();
            csr_t_dot_dense_with(&x, x.values(), b.view(), twice.view_mut(), true);
            assert_eq!(gather_t.t(), twice);
        }
    }
}
