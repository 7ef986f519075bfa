//! The beta-divergence of X and W·H, optionally accumulating in the same pass
//! the statistics of the H update (they need the same W·H values).
//!
//! Sparse X never materialises a dense n×m product: KL and IS only need W·H
//! at the non-zeros; other betas and the H denominators go through W·H in
//! row blocks. For beta = 2 with X·Hᵀ at hand the divergence comes from
//! k-sized products: ||X||² + Σ(W·HHᵀ)∘W − 2Σ(X·Hᵀ)∘W.

use super::elementwise::{beta_powers, clip_eps, den_powers_block, npow, EPS};
use super::log_terms::{kl_row_terms, sparse_nz_terms_log};
use super::skinny;
use super::workspace::{plan_parts, rows_per_block, HCache, HStats, RowBufs, ThreadBufs};
use super::Loss;
use crate::float::NmfFloat;
use crate::input::{CsrView, Input};
use crate::linalg::sparse::{csc_t_dot_dense_with, csr_dot_dense, prefetch, PREFETCH_AHEAD};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, ArrayView2, Zip};
use rayon::prelude::*;

/// Partial sums of the divergence over blocks of rows.
#[derive(Default, Clone, Copy)]
pub(super) struct Terms {
    /// β=2: 2·divergence. β=1: Σ X·ln(X/WH). β=0: Σ X/WH − ln(X/WH).
    /// Else Σ X^β. (X > eps entries only, except for β=2.)
    pub(super) a: f64,
    /// β=1: Σ X. Else Σ X·WH^(β−1). (X > eps entries.)
    pub(super) b: f64,
    /// β=1: Σ WH. Else Σ (WH)^β over all entries.
    pub(super) c: f64,
}

impl std::ops::Add for Terms {
    type Output = Terms;
    fn add(self, o: Terms) -> Terms {
        Terms {
            a: self.a + o.a,
            b: self.b + o.b,
            c: self.c + o.c,
        }
    }
}

/// Terms of one entry X = `x` with W·H = `wh` and its powers (β ∉ {2}).
/// `all_entries` adds Σ(WH)^β (dense X, where every entry is visited here).
#[inline(always)]
fn entry_terms<F: NmfFloat>(x: F, wh: F, pw: (F, F), beta: f64, all_entries: bool) -> Terms {
    let mut t = Terms::default();
    let generic = beta != 1.0 && beta != 0.0;
    let eps = F::from_f64_(EPS);
    if generic && all_entries {
        t.c = whpow_beta(wh, pw, beta);
    }
    // Entries of X at or below float32 eps do not contribute (0·log 0 = 0).
    let xv = x.to_f64_();
    if xv > EPS {
        let whc = clip_eps(wh);
        if beta == 1.0 {
            t.a = xv * num_traits::Float::ln(x / whc).to_f64_();
            t.b = xv;
        } else if beta == 0.0 {
            let div = x / whc;
            t.a = div.to_f64_() - num_traits::Float::ln(div).to_f64_();
        } else {
            t.a = npow(x, beta).to_f64_();
            // whc^(β−1): `den` unless it was computed from an unfloored WH.
            let p = if beta < 1.0 || wh >= eps {
                pw.1
            } else {
                npow(whc, beta - 1.0)
            };
            t.b = xv * p.to_f64_();
        }
    }
    t
}

/// (WH)^β (unfloored) from the powers already computed.
#[inline(always)]
fn whpow_beta<F: NmfFloat>(wh: F, pw: (F, F), beta: f64) -> f64 {
    if wh >= F::from_f64_(EPS) {
        (pw.1 * wh).to_f64_()
    } else {
        npow(wh, beta).to_f64_()
    }
}

/// β-divergence of X and W·H (rows of X and W aligned), split across the
/// workers. With `want_stats`, each worker also accumulates its rows' H
/// statistics into its buffers, and they are reduced into `stats`.
/// `xht` (β = 2 only) is X·Hᵀ for these rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn divergence<F: NmfFloat>(
    x: &Input<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    xht: Option<ArrayView2<F>>,
    stats: Option<&mut HStats<F>>,
    threads: &mut [ThreadBufs<F>],
) -> f64 {
    let beta = loss.beta;
    let (n, m) = x.shape();
    let want_stats = stats.is_some();
    // CSR X: the numerator is gathered over the whole batch below, not
    // accumulated per thread.
    let gather_num = want_stats && x.is_sparse();
    let parts = plan_parts(n, m, threads.len());
    let chunk = n.div_ceil(parts).max(1);
    let used = n.div_ceil(chunk);
    let terms = threads[..used]
        .par_iter_mut()
        .enumerate()
        .map(|(i, tb)| {
            let start = i * chunk;
            let end = (start + chunk).min(n);
            if want_stats {
                tb.stats.clear_with(beta, !gather_num);
            }
            let st = if want_stats {
                Some(&mut tb.stats)
            } else {
                None
            };
            divergence_rows(
                &x.slice_rows(start, end),
                w.slice(s![start..end, ..]),
                h,
                hc,
                loss,
                xht.map(|c| c.slice_move(s![start..end, ..])),
                st,
                &mut tb.rows,
            )
        })
        .reduce(Terms::default, |p, q| p + q);
    if let Some(stats) = stats {
        stats.sum_of(&threads[..used], beta, !gather_num);
        if let (Input::Csr(xc), true) = (x, gather_num) {
            gather_numerator(xc, w, beta, stats, &mut threads[..used], chunk);
        }
    }
    if beta == 2.0 {
        terms.a / 2.0
    } else if beta == 1.0 {
        terms.a + terms.c - terms.b
    } else if beta == 0.0 {
        terms.a - (n as f64) * (m as f64)
    } else {
        (terms.a - beta * terms.b + (beta - 1.0) * terms.c) / (beta * (beta - 1.0))
    }
}

/// The H numerator Wᵀ·S of a CSR batch (S: X's pattern with X's values
/// for β = 2, else the threads' X∘(WH)^(β−2) values, collected in row
/// order), through the batch's column index: each of X's columns summed in
/// row order, whatever the number of threads.
fn gather_numerator<F: NmfFloat>(
    xc: &CsrView<F>,
    w: ArrayView2<F>,
    beta: f64,
    stats: &mut HStats<F>,
    threads: &mut [ThreadBufs<F>],
    chunk: usize,
) {
    let HStats { num, csc, nz, .. } = stats;
    csc.build(xc);
    let vals: &[F] = if beta == 2.0 {
        xc.values()
    } else {
        let all = nz.slice(xc.nnz());
        let mut at = 0;
        for (i, tb) in threads.iter_mut().enumerate() {
            let start = i * chunk;
            let end = (start + chunk).min(xc.n_rows());
            let len = xc.slice_rows(start, end).nnz();
            all[at..at + len].copy_from_slice(tb.rows.nz.slice(len));
            at += len;
        }
        all
    };
    csc_t_dot_dense_with(csc, vals, w, num.view_mut().reversed_axes(), false);
}

/// [`divergence`] on one thread's rows.
#[allow(clippy::too_many_arguments)]
fn divergence_rows<F: NmfFloat>(
    x: &Input<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    hc: &HCache<F>,
    loss: &Loss,
    xht: Option<ArrayView2<F>>,
    mut stats: Option<&mut HStats<F>>,
    bufs: &mut RowBufs<F>,
) -> Terms {
    let beta = loss.beta;
    let (n, m) = x.shape();
    let k = h.nrows();
    let mut terms = Terms::default();
    if beta == 1.0 {
        // Σ WH = Σ_i W_i·(row sums of H); no n×m product, no allocation.
        terms.c = w
            .rows()
            .into_iter()
            .map(|row| row.dot(&hc.hsum).to_f64_())
            .sum();
        if let Some(st) = stats.as_deref_mut() {
            for row in w.rows() {
                st.wsum += &row;
            }
        }
    }
    if beta == 2.0 {
        if let Some(st) = stats.as_deref_mut() {
            general_mat_mul(F::one(), &w.t(), &w, F::one(), &mut st.wtw);
            match x {
                Input::Dense(xd) => skinny::acc_wt_a(w, xd.view(), st.num.view_mut()),
                // Gathered over the batch by `divergence`.
                Input::Csr(_) => {}
            }
        }
        let dense_direct = matches!(x, Input::Dense(_)) && xht.is_none();
        if !dense_direct {
            terms.a = frobenius_trace(x, w, hc, xht, bufs, k);
            return terms;
        }
    }
    let needs_wh =
        matches!(x, Input::Dense(_)) || (beta != 1.0 && (beta != 0.0 || stats.is_some()));
    if let Input::Csr(xc) = x {
        if beta != 2.0 {
            let vals = bufs.nz.slice(xc.nnz());
            // `vals` are gathered into the numerator by `divergence`.
            terms = terms + sparse_nz_terms(xc, w, hc.ht.view(), beta, vals);
        }
    }
    if !needs_wh {
        return terms;
    }
    let block = rows_per_block(m);
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        let r = end - start;
        let wb = w.slice(s![start..end, ..]);
        let mut wh = bufs.wh.mat(r, m);
        if matches!(x, Input::Dense(_)) {
            skinny::w_h(wb, h, wh.view_mut());
        } else {
            general_mat_mul(F::one(), &wb, &h, F::zero(), &mut wh);
        }
        match x.slice_rows(start, end) {
            Input::Dense(xd) if beta == 2.0 => {
                terms.a += Zip::from(&xd).and(&wh).fold(0.0, |acc, &xv, &v| {
                    let d = (xv - v).to_f64_();
                    acc + d * d
                });
            }
            Input::Dense(xd) => {
                let want = stats.is_some();
                // KL needs no (WH)^0 buffer: its H denominator is W's column sums.
                let mut d = if beta == 1.0 {
                    None
                } else {
                    Some(bufs.wh2.mat(r, m))
                };
                for (i, (mut vrow, xrow)) in wh.rows_mut().into_iter().zip(xd.rows()).enumerate() {
                    let drow = d.as_mut().map(|d| d.row_mut(i));
                    // Constant β for the common losses, so the branches fold.
                    terms = terms
                        + if beta == 1.0 {
                            match (xrow.as_slice(), vrow.as_slice_mut()) {
                                (Some(xs), Some(vs)) => kl_row_terms(xs, vs, want),
                                _ => row_terms(xrow, vrow.view_mut(), drow, 1.0, want),
                            }
                        } else if beta == 0.0 {
                            row_terms(xrow, vrow.view_mut(), drow, 0.0, want)
                        } else {
                            row_terms(xrow, vrow.view_mut(), drow, beta, want)
                        };
                }
                if let Some(st) = stats.as_deref_mut() {
                    skinny::acc_wt_a(wb, wh.view(), st.num.view_mut());
                    if let Some(d) = d {
                        skinny::acc_wt_a(wb, d.view(), st.den.view_mut());
                    }
                }
            }
            Input::Csr(_) => {
                // Σ(WH)^β over every entry, and the β ≠ 1 denominator.
                let generic = beta != 0.0;
                terms.c += den_powers_block(wh.as_slice_mut().expect("contiguous"), beta, generic);
                if let Some(st) = stats.as_deref_mut() {
                    general_mat_mul(F::one(), &wb.t(), &wh, F::one(), &mut st.den);
                }
            }
        }
        start = end;
    }
    terms
}

/// Divergence terms of one dense row (every entry visited) and, with
/// `want`, the H statistics' factors in place: `v` ← X∘(WH)^(β−2), `d` ←
/// (WH)^(β−1). The sums run over four interleaved partial sums, so that
/// consecutive entries do not wait on each other's adds.
#[inline(always)]
fn row_terms<F: NmfFloat>(
    x: ndarray::ArrayView1<F>,
    mut v: ndarray::ArrayViewMut1<F>,
    mut d: Option<ndarray::ArrayViewMut1<F>>,
    beta: f64,
    want: bool,
) -> Terms {
    #[inline(always)]
    fn one<F: NmfFloat>(xv: F, v: &mut F, d: Option<&mut F>, beta: f64, want: bool) -> Terms {
        let raw = *v;
        let pw = beta_powers(raw, beta);
        if want {
            *v = xv * pw.0;
            if let Some(d) = d {
                *d = pw.1;
            }
        }
        entry_terms(xv, raw, pw, beta, true)
    }
    let slices = (
        x.as_slice(),
        v.as_slice_mut(),
        d.as_mut().map(|d| d.as_slice_mut()),
    );
    let (Some(xs), Some(vs), Some(ds)) = slices else {
        // Strided rows: entry by entry.
        let mut t = Terms::default();
        for j in 0..x.len() {
            let dj = d.as_mut().map(|d| &mut d[j]);
            t = t + one(x[j], &mut v[j], dj, beta, want);
        }
        return t;
    };
    let mut l = [Terms::default(); 4];
    let n4 = xs.len() / 4 * 4;
    match ds {
        Some(ds) => {
            for ((xc, vc), dc) in xs[..n4]
                .chunks_exact(4)
                .zip(vs[..n4].chunks_exact_mut(4))
                .zip(ds[..n4].chunks_exact_mut(4))
            {
                for q in 0..4 {
                    l[q] = l[q] + one(xc[q], &mut vc[q], Some(&mut dc[q]), beta, want);
                }
            }
            for j in n4..xs.len() {
                l[0] = l[0] + one(xs[j], &mut vs[j], Some(&mut ds[j]), beta, want);
            }
        }
        None => {
            for (xc, vc) in xs[..n4].chunks_exact(4).zip(vs[..n4].chunks_exact_mut(4)) {
                for q in 0..4 {
                    l[q] = l[q] + one(xc[q], &mut vc[q], None, beta, want);
                }
            }
            for j in n4..xs.len() {
                l[0] = l[0] + one(xs[j], &mut vs[j], None, beta, want);
            }
        }
    }
    (l[0] + l[1]) + (l[2] + l[3])
}

/// 2·(β=2 divergence) from k-sized products: ||X||² + Σ(W·HHᵀ)∘W − 2Σ(X·Hᵀ)∘W.
fn frobenius_trace<F: NmfFloat>(
    x: &Input<F>,
    w: ArrayView2<F>,
    hc: &HCache<F>,
    xht: Option<ArrayView2<F>>,
    bufs: &mut RowBufs<F>,
    k: usize,
) -> f64 {
    let n = x.n_rows();
    let norm_x: f64 = match x {
        Input::Dense(xd) => match xd.as_slice() {
            Some(xs) => super::elementwise::sum_squares(xs),
            None => xd.iter().map(|v| v.to_f64_() * v.to_f64_()).sum(),
        },
        Input::Csr(xc) => xc.values().iter().map(|v| v.to_f64_() * v.to_f64_()).sum(),
    };
    let mut tmp = bufs.den.mat(n, k);
    general_mat_mul(F::one(), &w, &hc.hht, F::zero(), &mut tmp);
    let wwh: f64 = Zip::from(&tmp)
        .and(&w)
        .fold(0.0, |s, &a, &b| s + (a * b).to_f64_());
    let cross: f64 = match xht {
        Some(c) => Zip::from(&c)
            .and(&w)
            .fold(0.0, |s, &a, &b| s + (a * b).to_f64_()),
        None => {
            let Input::Csr(xc) = x else {
                unreachable!("dense X without X·Hᵀ takes the direct path")
            };
            let mut c = bufs.num.mat(n, k);
            csr_dot_dense(xc, hc.ht.view(), c.view_mut());
            Zip::from(&c)
                .and(&w)
                .fold(0.0, |s, &a, &b| s + (a * b).to_f64_())
        }
    };
    norm_x + wwh - 2.0 * cross
}

/// Divergence terms at the non-zeros of a CSR block (Σ(WH)^β excluded);
/// writes X·(WH)^(β−2) into `vals` for the H numerator.
fn sparse_nz_terms<F: NmfFloat>(
    xc: &CsrView<F>,
    w: ArrayView2<F>,
    ht: ArrayView2<F>,
    beta: f64,
    vals: &mut [F],
) -> Terms {
    if beta == 1.0 || beta == 0.0 {
        return sparse_nz_terms_log(xc, w, ht, beta, vals);
    }
    let mut t = Terms::default();
    let mut p = 0;
    // Rows of Hᵀ are gathered at random: prefetch a few stored values ahead.
    let (hts, k) = (ht.as_slice(), ht.ncols());
    for i in 0..xc.n_rows() {
        let (cols, xv) = xc.row(i);
        let wi = w.row(i);
        for (q, (&j, &x)) in cols.iter().zip(xv).enumerate() {
            if let (Some(hs), Some(&ja)) = (hts, cols.get(q + PREFETCH_AHEAD)) {
                prefetch(&hs[ja * k..(ja + 1) * k]);
            }
            let wh = wi.dot(&ht.row(j));
            let pw = beta_powers(wh, beta);
            t = t + entry_terms(x, wh, pw, beta, false);
            vals[p] = x * pw.0;
            p += 1;
        }
    }
    t
}
