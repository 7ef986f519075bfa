//! The masked Frobenius step on a dense batch by corrections, fused per
//! block of rows: the unmasked step's products on Xz (X with its missing
//! entries set to 0) and, per missing entry, the terms the mask removes
//! ([`super::corrections`]):
//! - W: num = Xz·Hᵀ, den = W·HHᵀ − Σ_{j missing in row i} (w_i·h_j) h_j;
//! - H: num = Wᵀ·Xz, den = WᵀW·H − Σ_{i missing in column j} (w_i·h_j) w_i;
//! - cost: ½(Σ_obs x² − 2 Σ (Xz·Hᵀ)∘W + Σ (WᵀW)∘(HHᵀ) − Σ_missing (w_i·h_j)²).
//!
//! For each block of [`ROW_CHUNK`] rows, while it is in cache: Xz and the
//! block's missing positions (bit masks), Xz·Hᵀ, W·HHᵀ and W's corrections,
//! W's update, then the block's share of Wᵀ·Xz and of H's corrections. X
//! is read once; the extra cost over the unmasked step is a copy of the
//! batch and two k-dots and two k-axpys per missing entry.
//!
//! A row with more missing than observed entries has W's denominator summed
//! over its observed entries, a column with more missing than observed
//! entries in the batch H's; so a subtraction never cancels more than half
//! of the sum, and a row or column without an observed entry gets exactly 0.
//!
//! Parallel over the fixed groups of row blocks of `fro_fused.rs` (the cut
//! depends on the batch's rows and k only); each group sums its shares of
//! Wᵀ·Xz and of H's corrections in its own buffers, added in group order,
//! so the results do not depend on the number of threads.

use super::corrections::{self, padded, words, BlockMask};
use super::fro_fused::{add_group_shares, groups, view};
use super::frobenius::{grow, ROW_CHUNK};
use super::zero_fill;
use crate::float::NmfFloat;
use crate::kernels::update_w::finish_w;
use crate::kernels::workspace::Buf;
use crate::kernels::Penalty;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// The step's buffers (grown on first use, reused by every step).
#[derive(Default)]
pub(crate) struct CorrBufs<F> {
    /// Hᵀ with its rows padded to whole lane groups (m×kp).
    htp: Buf<F>,
    /// Per group: Xz of one block (ROW_CHUNK×m), W's numerator and
    /// denominator of one block (ROW_CHUNK×k each), two kp-element rows.
    rows: Buf<F>,
    /// Per group: the block's missing positions (ROW_CHUNK × words(m)).
    bits: Vec<u64>,
    /// Per group: the block's missing entries per row (ROW_CHUNK).
    missing: Vec<usize>,
    /// Per group: missing entries per column over its rows (m).
    col_missing: Vec<u32>,
    /// Per group: its share of Wᵀ·Xz (k×m) and of H's corrections (m×kp).
    part: Buf<F>,
    /// Per group: Σ x² over the observed entries, Σ (Xz·Hᵀ)∘W,
    /// Σ_missing (w_i·h_j)².
    sums: Vec<[f64; 3]>,
}

/// One masked update of the batch's rows of W (b×k) and, with the updated
/// rows, H's masked statistics (`num` = Wᵀ·Xz, `den` = masked WᵀW·H, k×m,
/// overwritten), `wtw` = WᵀW, and the cost Σ over the observed entries of
/// ½(x − wh)². `hht` = H·Hᵀ.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<F: NmfFloat>(
    x: ArrayView2<F>,
    mut w: ArrayViewMut2<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    hht: ArrayView2<F>,
    pen: &Penalty,
    mut num: ArrayViewMut2<F>,
    mut den: ArrayViewMut2<F>,
    wtw: &mut Array2<F>,
    fb: &mut CorrBufs<F>,
) -> f64 {
    let (b, m) = x.dim();
    let k = h.nrows();
    let (kp, nw) = (padded(k), words(m));
    let (ng, per) = groups(b, k);
    let rs = ROW_CHUNK * (m + 2 * k) + 2 * kp;
    let ps = k * m + m * kp;
    grow(&mut fb.sums, ng);
    grow(&mut fb.bits, ng * ROW_CHUNK * nw);
    grow(&mut fb.missing, ng * ROW_CHUNK);
    grow(&mut fb.col_missing, ng * m);
    let CorrBufs {
        htp,
        rows,
        bits,
        missing,
        col_missing,
        part,
        sums,
    } = fb;
    let htp = htp.slice(m * kp);
    for (hp, hr) in htp.chunks_exact_mut(kp).zip(ht.rows()) {
        corrections::pad_into(hr.iter().copied(), hp);
    }
    let htp = &*htp;
    let rows = rows.slice(ng * rs);
    let part = part.slice(ng * ps);
    w.axis_chunks_iter_mut(Axis(0), per)
        .into_par_iter()
        .zip(rows.par_chunks_mut(rs))
        .zip(part.par_chunks_mut(ps))
        .zip(bits.par_chunks_mut(ROW_CHUNK * nw))
        .zip(missing.par_chunks_mut(ROW_CHUNK))
        .zip(col_missing.par_chunks_mut(m.max(1)))
        .zip(sums[..ng].par_iter_mut())
        .enumerate()
        .for_each(|(g, ((((((mut wg, rbuf), pbuf), bits), miss), cm), sum))| {
            let (zb, rest) = rbuf.split_at_mut(ROW_CHUNK * m);
            let (nb, rest) = rest.split_at_mut(ROW_CHUNK * k);
            let (db, rest) = rest.split_at_mut(ROW_CHUNK * k);
            let (wpad, acc) = rest.split_at_mut(kp);
            let (pn, corr) = pbuf.split_at_mut(k * m);
            let mut pn = view(pn, k, m);
            corr.fill(F::zero());
            cm.fill(0);
            *sum = [0.0; 3];
            for (c, mut wc) in wg.axis_chunks_iter_mut(Axis(0), ROW_CHUNK).enumerate() {
                let r = wc.nrows();
                let a = g * per + c * ROW_CHUNK;
                let xc = x.slice(s![a..a + r, ..]);
                let mut z = view(zb, r, m);
                for (i, (xr, mut zr)) in xc.rows().into_iter().zip(z.rows_mut()).enumerate() {
                    let zs = zr.as_slice_mut().expect("scratch rows are contiguous");
                    let bi = &mut bits[i * nw..(i + 1) * nw];
                    let xs = xr.as_slice();
                    if xs.is_none() {
                        zs.iter_mut().zip(xr).for_each(|(z, &v)| *z = v);
                    }
                    miss[i] = zero_fill::zero_fill_row(xs, zs, bi, cm);
                    sum[0] += super::frobenius::sum_squares(zs);
                }
                let (mut nwv, mut dw) = (view(nb, r, k), view(db, r, k));
                general_mat_mul(F::one(), &z, &ht, F::zero(), &mut nwv);
                general_mat_mul(F::one(), &wc, &hht, F::zero(), &mut dw);
                let mask = BlockMask {
                    bits: &bits[..r * nw],
                    missing: &miss[..r],
                    m,
                };
                {
                    let wv = wc.view();
                    let ws = wv.as_slice().expect("W's rows are contiguous");
                    let ds = dw.as_slice_mut().expect("scratch is contiguous");
                    corrections::correct_w_den(ws, k, htp, &mask, ds, wpad, acc);
                }
                finish_w(wc.view_mut(), nwv.view(), dw.view(), pen, 1.0);
                sum[1] += nwv
                    .iter()
                    .zip(wc.iter())
                    .fold(0.0, |s, (&p, &q)| s + (p * q).to_f64_());
                let beta = if c == 0 { F::zero() } else { F::one() };
                general_mat_mul(F::one(), &wc.t(), &z, beta, &mut pn);
                let wv = wc.view();
                let ws = wv.as_slice().expect("W's rows are contiguous");
                sum[2] += corrections::add_h_terms(ws, k, htp, &mask, corr, wpad);
            }
        });
    let part = &part[..];
    // Wᵀ·Xz: the groups' shares added in group order.
    add_group_shares(part, ps, 0, ng, num.view_mut());
    general_mat_mul(F::one(), &w.t(), &w, F::zero(), wtw);
    general_mat_mul(F::one(), &*wtw, &h, F::zero(), &mut den);
    // H's corrections (the groups' sums in group order) and the columns
    // summed directly.
    let col_missing = &col_missing[..];
    let w = w.view();
    den.axis_iter_mut(Axis(1))
        .into_par_iter()
        .enumerate()
        .for_each(|(j, mut dj)| {
            let cnt: usize = (0..ng).map(|g| col_missing[g * m + j] as usize).sum();
            if cnt == 0 {
                return;
            }
            if 2 * cnt > b {
                let hj = ht.row(j);
                dj.fill(F::zero());
                for (i, &v) in x.column(j).iter().enumerate() {
                    if !v.is_nan() {
                        let wi = w.row(i);
                        let d = wi.dot(&hj);
                        dj.zip_mut_with(&wi, |o, &q| *o += d * q);
                    }
                }
                return;
            }
            for (l, o) in dj.iter_mut().enumerate() {
                let mut t = F::zero();
                for g in 0..ng {
                    t += part[g * ps + k * m + j * kp + l];
                }
                *o -= t;
            }
        });
    let t = sums[..ng]
        .iter()
        .fold([0.0; 3], |t, s| [t[0] + s[0], t[1] + s[1], t[2] + s[2]]);
    let wwh: f64 = wtw
        .iter()
        .zip(hht.iter())
        .fold(0.0, |s, (&a, &c)| s + (a * c).to_f64_());
    (t[0] - 2.0 * t[1] + wwh - t[2]) / 2.0
}
