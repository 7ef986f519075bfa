//! One observed entry of X: its contribution to the beta-divergence and the
//! factors of the multiplicative updates (the masked kernels and the
//! held-out score of rank selection share them).

use crate::float::NmfFloat;
use crate::kernels::elementwise::{beta_powers, clip_eps, npow, EPS};

/// The beta-divergence of one entry X = `x` against W·H = `wh`, as
/// scikit-learn's `_beta_divergence` sums it (the ½ of Frobenius included;
/// X at or below float32 eps contributes no X terms, 0·log 0 = 0).
#[inline(always)]
pub(crate) fn entry_divergence<F: NmfFloat>(x: F, wh: F, beta: f64) -> f64 {
    let (xv, whv) = (x.to_f64_(), wh.to_f64_());
    if beta == 2.0 {
        let d = xv - whv;
        return d * d / 2.0;
    }
    let whc = clip_eps(wh);
    if beta == 1.0 {
        let t = if xv > EPS {
            xv * num_traits::Float::ln(x / whc).to_f64_() - xv
        } else {
            0.0
        };
        return t + whv;
    }
    if beta == 0.0 {
        if xv > EPS {
            let div = x / whc;
            return div.to_f64_() - num_traits::Float::ln(div).to_f64_() - 1.0;
        }
        return -1.0;
    }
    let c = npow(wh, beta).to_f64_();
    let (a, b) = if xv > EPS {
        let p = if beta < 1.0 || wh >= F::from_f64_(EPS) {
            beta_powers(wh, beta).1
        } else {
            npow(whc, beta - 1.0)
        };
        (npow(x, beta).to_f64_(), xv * p.to_f64_())
    } else {
        (0.0, 0.0)
    };
    (a - beta * b + (beta - 1.0) * c) / (beta * (beta - 1.0))
}

/// The factors of an observed entry in the multiplicative updates:
/// (X·(WH)^(β−2), (WH)^(β−1)) with scikit-learn's floors (β = 2: (X, WH);
/// β = 1: (X/WH, 1)).
#[inline(always)]
pub(crate) fn entry_factors<F: NmfFloat>(x: F, wh: F, beta: f64) -> (F, F) {
    if beta == 2.0 {
        (x, wh)
    } else {
        let (r, d) = beta_powers(wh, beta);
        (x * r, d)
    }
}
