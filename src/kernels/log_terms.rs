//! The divergence terms of β = 1 (KL) and β = 0 (IS) that need ln(X/WH),
//! with the logs of a group of entries taken at once by the vectorised
//! [`ln_in_place`]: dense rows (each row of W·H while it is in cache) and the
//! non-zeros of CSR rows.

use super::divergence::Terms;
use super::elementwise::{beta_powers, clip_eps, EPS};
use super::simd_log::{best_level, ln_in_place, Level};
use crate::float::NmfFloat;
use crate::input::CsrView;
use crate::linalg::sparse::{prefetch, PREFETCH_AHEAD};
use ndarray::ArrayView2;

/// Entries per group whose logs are taken together (on the stack).
const LOG_GROUP: usize = 64;

/// [`row_terms`] for β = 1 on contiguous rows, with the logs of a group of
/// entries taken at once by the vectorised [`ln_in_place`]: Σ X·ln(X/WH)
/// and Σ X over X > eps, and with `want`, `v` ← X/WH (X·(1/WH), as the
/// per-entry path).
pub(super) fn kl_row_terms<F: NmfFloat>(xs: &[F], vs: &mut [F], want: bool) -> Terms {
    #[cfg(target_arch = "x86_64")]
    match best_level() {
        // SAFETY: the CPU has these features (best_level checked them).
        Level::Avx512 => return unsafe { kl_row_avx512(xs, vs, want) },
        // SAFETY: as above.
        Level::Avx2 => return unsafe { kl_row_avx2(xs, vs, want) },
        Level::Scalar => {}
    }
    kl_row_body(xs, vs, want)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
unsafe fn kl_row_avx512<F: NmfFloat>(xs: &[F], vs: &mut [F], want: bool) -> Terms {
    kl_row_body(xs, vs, want)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn kl_row_avx2<F: NmfFloat>(xs: &[F], vs: &mut [F], want: bool) -> Terms {
    kl_row_body(xs, vs, want)
}

#[inline(always)]
fn kl_row_body<F: NmfFloat>(xs: &[F], vs: &mut [F], want: bool) -> Terms {
    let mut ratio = [F::one(); LOG_GROUP];
    let (mut sa, mut sb, mut tail) = ([0.0f64; 8], [0.0f64; 8], Terms::default());
    for (xc, vc) in xs.chunks(LOG_GROUP).zip(vs.chunks_mut(LOG_GROUP)) {
        let r = &mut ratio[..xc.len()];
        for ((&x, v), q) in xc.iter().zip(vc.iter_mut()).zip(r.iter_mut()) {
            let whc = clip_eps(*v);
            if want {
                *v = x * (F::one() / whc);
            }
            // ln 1 = 0: entries at or below eps add nothing to Σ X·ln.
            *q = if x.to_f64_() > EPS { x / whc } else { F::one() };
        }
        ln_in_place(r);
        // Eight interleaved sums, masked rather than branched: vectorises.
        let mut xg = xc.chunks_exact(8);
        let mut rg = r.chunks_exact(8);
        for (x8, r8) in (&mut xg).zip(&mut rg) {
            for q in 0..8 {
                let xv = x8[q].to_f64_();
                let on = xv > EPS;
                sa[q] += if on { xv * r8[q].to_f64_() } else { 0.0 };
                sb[q] += if on { xv } else { 0.0 };
            }
        }
        for (&x, &lg) in xg.remainder().iter().zip(rg.remainder()) {
            let xv = x.to_f64_();
            if xv > EPS {
                tail.a += xv * lg.to_f64_();
                tail.b += xv;
            }
        }
    }
    let sum8 = |s: [f64; 8]| ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
    Terms {
        a: sum8(sa) + tail.a,
        b: sum8(sb) + tail.b,
        c: 0.0,
    }
}

/// [`sparse_nz_terms`] for β = 1 and β = 0, whose terms need ln(X/WH): the
/// W·H values of a group of a row's non-zeros first, then their logs at once
/// ([`ln_in_place`]), then the terms, in the non-zeros' order.
pub(super) fn sparse_nz_terms_log<F: NmfFloat>(
    xc: &CsrView<F>,
    w: ArrayView2<F>,
    ht: ArrayView2<F>,
    beta: f64,
    vals: &mut [F],
) -> Terms {
    let mut t = Terms::default();
    let mut lg = [F::one(); LOG_GROUP];
    let mut div = [F::one(); LOG_GROUP];
    let mut p = 0;
    let (hts, k) = (ht.as_slice(), ht.ncols());
    for i in 0..xc.n_rows() {
        let (cols, xv) = xc.row(i);
        let wi = w.row(i);
        for (g, (cg, xg)) in cols.chunks(LOG_GROUP).zip(xv.chunks(LOG_GROUP)).enumerate() {
            let n = cg.len();
            for (q, (&j, &x)) in cg.iter().zip(xg).enumerate() {
                if let (Some(hs), Some(&ja)) = (hts, cols.get(g * LOG_GROUP + q + PREFETCH_AHEAD)) {
                    prefetch(&hs[ja * k..(ja + 1) * k]);
                }
                let wh = wi.dot(&ht.row(j));
                let pw = beta_powers(wh, beta);
                vals[p + q] = x * pw.0;
                div[q] = if x.to_f64_() > EPS {
                    x / clip_eps(wh)
                } else {
                    F::one()
                };
            }
            lg[..n].copy_from_slice(&div[..n]);
            ln_in_place(&mut lg[..n]);
            for q in 0..n {
                let xv = xg[q].to_f64_();
                if xv > EPS {
                    if beta == 1.0 {
                        t.a += xv * lg[q].to_f64_();
                        t.b += xv;
                    } else {
                        t.a += div[q].to_f64_() - lg[q].to_f64_();
                    }
                }
            }
            p += n;
        }
    }
    t
}
