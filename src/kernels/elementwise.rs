//! Scalar helpers shared by the kernels: numpy-compatible powers, the eps
//! floor, and a parallel row-wise fold.

use crate::float::{NmfFloat, EPSILON_F32};

/// scikit-learn's `EPSILON` (float32 eps), as f64.
pub(crate) const EPS: f64 = EPSILON_F32;

/// max(v, float32 eps).
#[inline(always)]
pub(crate) fn clip_eps<F: NmfFloat>(v: F) -> F {
    let e = F::from_f64_(EPS);
    if v < e {
        e
    } else {
        v
    }
}

/// x^e. The exponents numpy special-cases (1, 2, −1, 0.5, 0) give numpy's
/// bits; half-integer exponents, which β = 0.5, 1.5, 2.5 produce, go through
/// `sqrt` (within 2 ulp of `pow`, several times cheaper); the rest call
/// `pow`.
#[inline(always)]
pub(crate) fn npow<F: NmfFloat>(x: F, e: f64) -> F {
    use num_traits::Float;
    if e == 1.0 {
        x
    } else if e == 2.0 {
        x * x
    } else if e == -1.0 {
        F::one() / x
    } else if e == 0.5 {
        Float::sqrt(x)
    } else if e == 0.0 {
        F::one()
    } else if e == -0.5 {
        F::one() / Float::sqrt(x)
    } else if e == 1.5 {
        x * Float::sqrt(x)
    } else if e == -1.5 {
        F::one() / (x * Float::sqrt(x))
    } else {
        Float::powf(x, F::from_f64_(e))
    }
}

/// The two powers of W·H the multiplicative updates need, from a single
/// `pow` call: `ratio` = (WH)^(β−2) (WH floored at eps for β < 2), which
/// multiplies X in the numerators, and `den` = (WH)^(β−1) (floored for
/// β < 1), the denominator factor. numpy computes them with separate
/// powers; the results agree to the last bit or two.
#[inline(always)]
pub(crate) fn beta_powers<F: NmfFloat>(wh: F, beta: f64) -> (F, F) {
    let whc = clip_eps(wh);
    if beta == 1.0 {
        (F::one() / whc, F::one())
    } else if beta == 0.0 {
        let inv = F::one() / whc;
        (inv * inv, inv)
    } else if beta < 1.0 {
        let r = npow(whc, beta - 2.0);
        (r, r * whc)
    } else if beta < 2.0 {
        let r = npow(whc, beta - 2.0);
        let d = if wh >= clip_eps(F::zero()) {
            r * wh
        } else {
            npow(wh, beta - 1.0)
        };
        (r, d)
    } else {
        let r = npow(wh, beta - 2.0);
        (r, r * wh)
    }
}

/// Σ v² in f64, over eight interleaved partial sums (the add latency, not
/// the loads, bounds a single running sum; eight let the adds overlap and
/// vectorise). The order depends only on the slice.
pub(crate) fn sum_squares<F: NmfFloat>(v: &[F]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            let x = x.to_f64_();
            *a += x * x;
        }
    }
    let mut tail = 0.0;
    for &x in chunks.remainder() {
        tail += x.to_f64_() * x.to_f64_();
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}
