//! The masked Frobenius step on dense batches with few missing entries
//! ("all but a sparse set"): the unmasked update minus a correction over
//! the missing entries, so a masked step costs the unmasked step's two
//! b×m×k products plus O(missing × k). These are the separate passes a
//! fresh W's inner iterations need (a reduction between them); a step
//! updating W once takes the fused, vectorised `fro_corr.rs`.
//!
//! With Xz = X with its missing entries set to 0 and M the mask:
//! - W: num = Xz·Hᵀ, den = W·HHᵀ − Σ_{j missing in row i} (w_i·h_j) h_j;
//! - H: num = Wᵀ·Xz, den = WᵀW·H − Σ_{i missing in column j} (w_i·h_j) w_i;
//! - cost: ½(Σ_obs x² − 2 Σ (Xz·Hᵀ)∘W + Σ (WᵀW)∘(HHᵀ) − Σ_missing (w_i·h_j)²).
//!
//! A row (column) with more missing than observed entries has its
//! denominator summed over the observed entries directly instead, so the
//! subtraction never cancels more than half of the sum (and a row or column
//! with no observed entry gets exactly 0).
//!
//! Parallel: the row passes (zero-fill, Xz·Hᵀ, W's update) run over blocks
//! of [`ROW_CHUNK`] rows, H's statistics over blocks of [`COL_BLOCK`]
//! columns (each column's corrections subtracted in row order), on the
//! library's pool. The cuts depend on the shapes only and the per-block
//! partial sums are added in block order, so the results do not depend on
//! the number of threads.

use crate::float::NmfFloat;
use crate::kernels::update_w::finish_w;
use crate::kernels::workspace::Buf;
use crate::kernels::Penalty;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView1, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Rows per task of the row passes.
pub(super) const ROW_CHUNK: usize = 64;
/// Columns per task of H's statistics.
pub(super) const COL_BLOCK: usize = 64;

/// The buffers of the masked Frobenius step (grown on first use).
pub(crate) struct FroBufs<F> {
    /// X with its missing entries set to 0 (b×m).
    pub(super) xz: Buf<F>,
    /// Xz·Hᵀ (b×k).
    pub(super) xht: Buf<F>,
    /// W's denominator (b×k).
    pub(super) whh: Buf<F>,
    /// M∘(W·H) of the GEMM path (`fro_gemm.rs`, b×m).
    pub(super) wh: Buf<F>,
    /// Row i's missing columns, ascending, at `miss[i·m .. i·m + row_miss[i]]`.
    pub(super) miss: Vec<u32>,
    /// Missing entries per row (b).
    pub(super) row_miss: Vec<usize>,
    /// Row i's missing entries before column c·COL_BLOCK, at
    /// `block_ptr[i·(blocks + 1) + c]` (c = 0..=blocks).
    block_ptr: Vec<u32>,
    /// Per-block partial sums, added in block order.
    pub(super) parts: Vec<(f64, f64)>,
    /// Σ of the observed entries' squares.
    norm_obs: f64,
    /// The fused GEMM step (`fro_fused.rs`).
    pub(super) fused: super::fro_fused::FusedBufs<F>,
    /// The fused corrections step (`fro_corr.rs`).
    pub(super) corr: super::fro_corr::CorrBufs<F>,
}

impl<F: NmfFloat> Default for FroBufs<F> {
    fn default() -> Self {
        FroBufs {
            xz: Buf::default(),
            xht: Buf::default(),
            whh: Buf::default(),
            wh: Buf::default(),
            miss: Vec::new(),
            row_miss: Vec::new(),
            block_ptr: Vec::new(),
            parts: Vec::new(),
            norm_obs: 0.0,
            fused: Default::default(),
            corr: Default::default(),
        }
    }
}

/// `v` holds at least `len` elements (allocates only when growing).
pub(super) fn grow<T: Clone + Default>(v: &mut Vec<T>, len: usize) {
    if v.len() < len {
        v.resize(len, T::default());
    }
}

/// Σ a_i·b_i in index order.
#[inline(always)]
fn dot<F: NmfFloat>(a: ArrayView1<F>, b: &[F]) -> F {
    let mut s = F::zero();
    match a.as_slice() {
        Some(a) => {
            for (&x, &y) in a.iter().zip(b) {
                s += x * y;
            }
        }
        None => {
            for (&x, &y) in a.iter().zip(b) {
                s += x * y;
            }
        }
    }
    s
}

/// Σ v² in f64, eight running sums (the additions would otherwise wait on
/// each other) added in a fixed order.
pub(super) fn sum_squares<F: NmfFloat>(v: &[F]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut it = v.chunks_exact(8);
    for c in &mut it {
        for (a, &x) in acc.iter_mut().zip(c) {
            let x = x.to_f64_();
            *a += x * x;
        }
    }
    let mut s = 0.0;
    for &x in it.remainder() {
        let x = x.to_f64_();
        s += x * x;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + s
}

/// Row j of Hᵀ (m×k, contiguous).
#[inline(always)]
fn ht_row<F>(ht: &[F], j: usize, k: usize) -> &[F] {
    &ht[j * k..(j + 1) * k]
}

/// Zero-filled copy of the batch, its missing entries per row and Xz·Hᵀ
/// (vectorisable: no positions; [`index_missing`] lists them for the
/// corrections).
pub(crate) fn prepare<F: NmfFloat>(x: ArrayView2<F>, ht: ArrayView2<F>, fb: &mut FroBufs<F>) {
    let (b, m) = x.dim();
    let k = ht.ncols();
    assert!(m <= u32::MAX as usize, "a dense batch row of 2^32 columns");
    let chunks = b.div_ceil(ROW_CHUNK);
    grow(&mut fb.row_miss, b);
    grow(&mut fb.parts, chunks);
    let FroBufs {
        xz,
        xht,
        row_miss,
        parts,
        ..
    } = fb;
    let mut xz = xz.mat(b, m);
    let mut xht = xht.mat(b, k);
    xz.axis_chunks_iter_mut(Axis(0), ROW_CHUNK)
        .into_par_iter()
        .zip(xht.axis_chunks_iter_mut(Axis(0), ROW_CHUNK))
        .zip(row_miss[..b].par_chunks_mut(ROW_CHUNK))
        .zip(parts[..chunks].par_iter_mut())
        .enumerate()
        .for_each(|(c, (((mut zc, mut hc), rc), part))| {
            let a = c * ROW_CHUNK;
            let xc = x.slice(s![a..a + zc.nrows(), ..]);
            let mut norm = 0.0;
            for ((xr, mut zr), cnt) in xc.rows().into_iter().zip(zc.rows_mut()).zip(rc) {
                let zs = zr.as_slice_mut().expect("buffer rows are contiguous");
                match xr.as_slice() {
                    Some(xs) => zs.copy_from_slice(xs),
                    None => zs.iter_mut().zip(xr).for_each(|(z, &v)| *z = v),
                }
                // Branch-free select and count (vectorised).
                let mut n = 0usize;
                for z in zs.iter_mut() {
                    let nan = z.is_nan();
                    n += nan as usize;
                    *z = if nan { F::zero() } else { *z };
                }
                *cnt = n;
                norm += sum_squares(zs);
            }
            general_mat_mul(F::one(), &zc, &ht, F::zero(), &mut hc);
            *part = (norm, 0.0);
        });
    fb.norm_obs = fb.parts[..chunks].iter().map(|p| p.0).sum();
}

/// The prepared batch's missing positions (`miss`, `block_ptr`), for the
/// corrections path.
pub(crate) fn index_missing<F: NmfFloat>(x: ArrayView2<F>, fb: &mut FroBufs<F>) {
    let (b, m) = x.dim();
    let nb = m.div_ceil(COL_BLOCK);
    grow(&mut fb.miss, b * m);
    grow(&mut fb.block_ptr, b * (nb + 1));
    let FroBufs {
        miss,
        row_miss,
        block_ptr,
        ..
    } = fb;
    let row_miss = &row_miss[..];
    miss[..b * m]
        .par_chunks_mut((ROW_CHUNK * m).max(1))
        .zip(block_ptr[..b * (nb + 1)].par_chunks_mut(ROW_CHUNK * (nb + 1)))
        .enumerate()
        .for_each(|(c, (mc, bc))| {
            let a = c * ROW_CHUNK;
            for (r, bp) in bc.chunks_mut(nb + 1).enumerate() {
                let cols = &mut mc[r * m..(r + 1) * m];
                let mut cnt = 0;
                if row_miss[a + r] > 0 {
                    let xr = x.row(a + r);
                    for (blk, bpv) in bp[..nb].iter_mut().enumerate() {
                        *bpv = cnt as u32;
                        let j0 = blk * COL_BLOCK;
                        let j1 = (j0 + COL_BLOCK).min(m);
                        // Branch-free: the missing entries fall at random.
                        for j in j0..j1 {
                            cols[cnt] = j as u32;
                            cnt += xr[j].is_nan() as usize;
                        }
                    }
                } else {
                    bp[..nb].fill(0);
                }
                bp[nb] = cnt as u32;
            }
        });
}

/// One masked update of W (b×k, the batch's rows) from the prepared
/// batch. Returns (Σ(W_new − W_old)², Σ W_new²).
pub(crate) fn update_w<F: NmfFloat>(
    mut w: ArrayViewMut2<F>,
    ht: ArrayView2<F>,
    hht: ArrayView2<F>,
    pen: &Penalty,
    fb: &mut FroBufs<F>,
) -> (f64, f64) {
    let (b, k) = w.dim();
    let m = ht.nrows();
    let hts = ht.as_slice().expect("Hᵀ is contiguous");
    let chunks = b.div_ceil(ROW_CHUNK);
    grow(&mut fb.parts, chunks);
    let FroBufs {
        xht,
        whh,
        miss,
        row_miss,
        parts,
        ..
    } = fb;
    let num = xht.mat(b, k);
    let num = num.view();
    let mut den = whh.mat(b, k);
    let (miss, row_miss) = (&miss[..], &row_miss[..]);
    w.axis_chunks_iter_mut(Axis(0), ROW_CHUNK)
        .into_par_iter()
        .zip(den.axis_chunks_iter_mut(Axis(0), ROW_CHUNK))
        .zip(parts[..chunks].par_iter_mut())
        .enumerate()
        .for_each(|(c, ((mut wc, mut dc), part))| {
            let a = c * ROW_CHUNK;
            let r = wc.nrows();
            general_mat_mul(F::one(), &wc, &hht, F::zero(), &mut dc);
            for i in 0..r {
                let cnt = row_miss[a + i];
                let cols = &miss[(a + i) * m..(a + i) * m + cnt];
                let wi = wc.row(i);
                let mut drow = dc.row_mut(i);
                let di = drow.as_slice_mut().expect("buffer rows are contiguous");
                if 2 * cnt > m {
                    di.fill(F::zero());
                    let mut p = 0;
                    for j in 0..m {
                        if p < cnt && cols[p] as usize == j {
                            p += 1;
                            continue;
                        }
                        let hj = ht_row(hts, j, k);
                        let wh = dot(wi, hj);
                        for (d, &hv) in di.iter_mut().zip(hj) {
                            *d += wh * hv;
                        }
                    }
                } else {
                    for &j in cols {
                        let hj = ht_row(hts, j as usize, k);
                        let wh = dot(wi, hj);
                        for (d, &hv) in di.iter_mut().zip(hj) {
                            *d -= wh * hv;
                        }
                    }
                }
            }
            *part = finish_w(
                wc.view_mut(),
                num.slice(s![a..a + r, ..]),
                dc.view(),
                pen,
                1.0,
            );
        });
    parts[..chunks]
        .iter()
        .fold((0.0, 0.0), |s, p| (s.0 + p.0, s.1 + p.1))
}

/// Σ over the observed entries of ½(x − wh)² and H's masked statistics
/// (`num` = Wᵀ·Xz, `den` = masked WᵀW·H; k×m, overwritten), W the
/// updated rows of the batch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cost_and_stats<F: NmfFloat>(
    x: ArrayView2<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    hht: ArrayView2<F>,
    mut num: ArrayViewMut2<F>,
    mut den: ArrayViewMut2<F>,
    wtw: &mut ndarray::Array2<F>,
    fb: &mut FroBufs<F>,
) -> f64 {
    let (b, m) = x.dim();
    let k = ht.ncols();
    let hts = ht.as_slice().expect("Hᵀ is contiguous");
    general_mat_mul(F::one(), &w.t(), &w, F::zero(), wtw);
    let wtw = wtw.view();
    let blocks = m.div_ceil(COL_BLOCK);
    grow(&mut fb.parts, blocks);
    let FroBufs {
        xz,
        xht,
        miss,
        block_ptr,
        parts,
        norm_obs,
        ..
    } = fb;
    let xz = xz.mat(b, m);
    let xz = xz.view();
    let (miss, block_ptr) = (&miss[..], &block_ptr[..]);
    num.axis_chunks_iter_mut(Axis(1), COL_BLOCK)
        .into_par_iter()
        .zip(den.axis_chunks_iter_mut(Axis(1), COL_BLOCK))
        .zip(parts[..blocks].par_iter_mut())
        .enumerate()
        .for_each(|(c, ((mut nc, mut dc), part))| {
            let c0 = c * COL_BLOCK;
            let c1 = c0 + nc.ncols();
            general_mat_mul(
                F::one(),
                &w.t(),
                &xz.slice(s![.., c0..c1]),
                F::zero(),
                &mut nc,
            );
            general_mat_mul(F::one(), &wtw, &h.slice(s![.., c0..c1]), F::zero(), &mut dc);
            // Row i's missing columns in [c0, c1).
            let block_cols = |i: usize| {
                let bp = &block_ptr[i * (blocks + 1) + c..];
                &miss[i * m + bp[0] as usize..i * m + bp[1] as usize]
            };
            // Every missing entry's correction, in row order; a column with
            // more missing than observed entries is then summed directly.
            let mut col_miss = [0usize; COL_BLOCK];
            let mut miss2 = 0.0;
            for i in 0..b {
                let wi = w.row(i);
                for &j in block_cols(i) {
                    let j = j as usize;
                    col_miss[j - c0] += 1;
                    let wh = dot(wi, ht_row(hts, j, k));
                    miss2 += wh.to_f64_() * wh.to_f64_();
                    for (d, &wv) in dc.column_mut(j - c0).iter_mut().zip(wi.iter()) {
                        *d -= wh * wv;
                    }
                }
            }
            for (jj, &cnt) in col_miss[..c1 - c0].iter().enumerate() {
                if 2 * cnt > b {
                    let j = c0 + jj;
                    let hj = ht_row(hts, j, k);
                    let mut dj = dc.column_mut(jj);
                    dj.fill(F::zero());
                    for (i, &v) in x.column(j).iter().enumerate() {
                        if !v.is_nan() {
                            let wi = w.row(i);
                            let wh = dot(wi, hj);
                            for (d, &wv) in dj.iter_mut().zip(wi.iter()) {
                                *d += wh * wv;
                            }
                        }
                    }
                }
            }
            *part = (miss2, 0.0);
        });
    let miss2: f64 = parts[..blocks].iter().map(|p| p.0).sum();
    let xht = xht.mat(b, k);
    let cross: f64 = xht
        .iter()
        .zip(w.iter())
        .fold(0.0, |s, (&a, &c)| s + (a * c).to_f64_());
    let wwh: f64 = wtw
        .iter()
        .zip(hht.iter())
        .fold(0.0, |s, (&a, &c)| s + (a * c).to_f64_());
    (*norm_obs - 2.0 * cross + wwh - miss2) / 2.0
}
