//! The masked Frobenius step on dense batches with few missing entries
//! ("all but a sparse set"): the unmasked update minus a correction over
//! the missing entries, so a masked step costs the unmasked step's two
//! b×m×k products plus O(missing × k).
//!
//! With Xz = X with its missing entries set to 0 and M the mask:
//! - W: num = Xz·Hᵀ, den = W·HHᵀ − Σ_{j missing in row i} (w_i·h_j) h_j;
//! - H: num = Wᵀ·Xz, den = WᵀW·H − Σ_{i missing in column j} (w_i·h_j) w_i;
//! - cost: ½(Σ_obs x² − 2 Σ (Xz·Hᵀ)∘W + Σ (W·HHᵀ)∘W − Σ_missing (w_i·h_j)²).
//!
//! A row (column) with more missing than observed entries has its
//! denominator summed over the observed entries directly instead, so the
//! subtraction never cancels more than half of the sum (and a row or column
//! with no observed entry gets exactly 0).

use crate::float::NmfFloat;
use crate::kernels::update_w::finish_w;
use crate::kernels::workspace::Buf;
use crate::kernels::Penalty;
use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, Zip};

/// The buffers of the masked Frobenius step (grown on first use).
pub(crate) struct FroBufs<F> {
    /// X with its missing entries set to 0 (b×m).
    xz: Buf<F>,
    /// Xz·Hᵀ (b×k).
    xht: Buf<F>,
    /// W·HHᵀ (b×k), then W's denominator.
    whh: Buf<F>,
    /// Row-major flat positions i·m + j of the missing entries.
    miss: Vec<usize>,
    /// Offsets of each row's missing entries in `miss` (b + 1).
    row_ptr: Vec<usize>,
    /// Missing entries per column (m).
    col_miss: Vec<usize>,
    /// Σ of the observed entries' squares.
    norm_obs: f64,
}

impl<F: NmfFloat> Default for FroBufs<F> {
    fn default() -> Self {
        FroBufs {
            xz: Buf::default(),
            xht: Buf::default(),
            whh: Buf::default(),
            miss: Vec::new(),
            row_ptr: Vec::new(),
            col_miss: Vec::new(),
            norm_obs: 0.0,
        }
    }
}

/// Zero-filled copy of the batch, its missing positions and Xz·Hᵀ.
pub(crate) fn prepare<F: NmfFloat>(x: ArrayView2<F>, ht: ArrayView2<F>, fb: &mut FroBufs<F>) {
    let (b, m) = x.dim();
    let k = ht.ncols();
    fb.miss.clear();
    fb.row_ptr.clear();
    fb.row_ptr.push(0);
    fb.col_miss.clear();
    fb.col_miss.resize(m, 0);
    let mut norm = 0.0;
    let mut xz = fb.xz.mat(b, m);
    for (i, (xr, mut zr)) in x.rows().into_iter().zip(xz.rows_mut()).enumerate() {
        for (j, (&v, z)) in xr.iter().zip(zr.iter_mut()).enumerate() {
            if v.is_nan() {
                *z = F::zero();
                fb.miss.push(i * m + j);
                fb.col_miss[j] += 1;
            } else {
                *z = v;
                norm += v.to_f64_() * v.to_f64_();
            }
        }
        fb.row_ptr.push(fb.miss.len());
    }
    fb.norm_obs = norm;
    let mut xht = fb.xht.mat(b, k);
    general_mat_mul(F::one(), &xz, &ht, F::zero(), &mut xht);
}

/// One masked update of W (b×k) from the prepared batch. Returns
/// (Σ(W_new − W_old)², Σ W_new²).
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_w<F: NmfFloat>(
    x: ArrayView2<F>,
    mut w: ArrayViewMut2<F>,
    ht: ArrayView2<F>,
    hht: ArrayView2<F>,
    pen: &Penalty,
    fb: &mut FroBufs<F>,
) -> (f64, f64) {
    let (b, m) = x.dim();
    let k = ht.ncols();
    let mut den = fb.whh.mat(b, k);
    general_mat_mul(F::one(), &w, &hht, F::zero(), &mut den);
    for i in 0..b {
        let (lo, hi) = (fb.row_ptr[i], fb.row_ptr[i + 1]);
        let wi = w.row(i);
        let mut di = den.row_mut(i);
        if 2 * (hi - lo) > m {
            di.fill(F::zero());
            for (j, &v) in x.row(i).iter().enumerate() {
                if !v.is_nan() {
                    let hj = ht.row(j);
                    let wh = wi.dot(&hj);
                    di.scaled_add(wh, &hj);
                }
            }
        } else {
            for &p in &fb.miss[lo..hi] {
                let hj = ht.row(p % m);
                let wh = wi.dot(&hj);
                di.scaled_add(-wh, &hj);
            }
        }
    }
    let num = fb.xht.mat(b, k);
    finish_w(w.view_mut(), num.view(), den.view(), pen, 1.0)
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
    let xz = fb.xz.mat(b, m);
    general_mat_mul(F::one(), &w.t(), &xz, F::zero(), &mut num);
    general_mat_mul(F::one(), &w.t(), &w, F::zero(), wtw);
    general_mat_mul(F::one(), &*wtw, &h, F::zero(), &mut den);
    let mut miss2 = 0.0;
    for &p in &fb.miss {
        let (i, j) = (p / m, p % m);
        let wi = w.row(i);
        let wh = wi.dot(&ht.row(j));
        miss2 += wh.to_f64_() * wh.to_f64_();
        if 2 * fb.col_miss[j] <= b {
            let mut dj = den.column_mut(j);
            dj.scaled_add(-wh, &wi);
        }
    }
    for j in 0..m {
        if 2 * fb.col_miss[j] > b {
            let mut dj = den.column_mut(j);
            dj.fill(F::zero());
            let hj = ht.row(j);
            for (i, &v) in x.column(j).iter().enumerate() {
                if !v.is_nan() {
                    let wi = w.row(i);
                    dj.scaled_add(wi.dot(&hj), &wi);
                }
            }
        }
    }
    let mut whh = fb.whh.mat(b, k);
    general_mat_mul(F::one(), &w, &hht, F::zero(), &mut whh);
    let xht = fb.xht.mat(b, k);
    let cross: f64 = Zip::from(&xht)
        .and(&w)
        .fold(0.0, |s, &a, &c| s + (a * c).to_f64_());
    let wwh: f64 = Zip::from(&whh)
        .and(&w)
        .fold(0.0, |s, &a, &c| s + (a * c).to_f64_());
    (fb.norm_obs - 2.0 * cross + wwh - miss2) / 2.0
}
