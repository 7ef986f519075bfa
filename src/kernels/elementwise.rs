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

/// (W·H)^(β−1) in place over a dense block of W·H (β ∉ {1, 2}: the
/// denominator factor of the sparse paths; W·H floored at eps for β < 1,
/// as scikit-learn does), returning Σ(W·H)^β over the block when
/// `with_sum` (β ≠ 0), in eight interleaved partial sums. The power is
/// taken directly, as numpy's `WH ** (β − 1)` (for β = 1.5 a `sqrt`, numpy's
/// own fast path), and (W·H)^β as (W·H)^(β−1)·W·H (exactly numpy's x·sqrt(x)
/// for β = 1.5) except below eps. β values the solver meets most (0.5, 1.5,
/// 3) are compiled with β constant, so the powers fold to `sqrt`/products
/// and the loop vectorises; on x86-64 CPUs with AVX2 the loop runs in that
/// instruction set (the same IEEE operations: identical results).
pub(crate) fn den_powers_block<F: NmfFloat>(v: &mut [F], beta: f64, with_sum: bool) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { den_powers_avx2(v, beta, with_sum) };
        }
    }
    den_powers_dispatch(v, beta, with_sum)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn den_powers_avx2<F: NmfFloat>(v: &mut [F], beta: f64, with_sum: bool) -> f64 {
    den_powers_dispatch(v, beta, with_sum)
}

#[inline(always)]
fn den_powers_dispatch<F: NmfFloat>(v: &mut [F], beta: f64, with_sum: bool) -> f64 {
    // Literal β and flag in each call: inlined, every branch on them folds.
    if beta == 1.5 {
        if with_sum {
            den_powers_const(v, 1.5, true)
        } else {
            den_powers_const(v, 1.5, false)
        }
    } else if beta == 0.5 {
        if with_sum {
            den_powers_const(v, 0.5, true)
        } else {
            den_powers_const(v, 0.5, false)
        }
    } else if beta == 3.0 {
        if with_sum {
            den_powers_const(v, 3.0, true)
        } else {
            den_powers_const(v, 3.0, false)
        }
    } else {
        den_powers_const(v, beta, with_sum)
    }
}

#[inline(always)]
fn den_powers_const<F: NmfFloat>(v: &mut [F], beta: f64, with_sum: bool) -> f64 {
    const LANES: usize = 8;
    let eps = F::from_f64_(EPS);
    let term = |wh: F, d: F| -> f64 {
        if wh >= eps {
            (d * wh).to_f64_()
        } else {
            npow(wh, beta).to_f64_()
        }
    };
    let dpow = |wh: F| -> F {
        if beta < 1.0 {
            npow(clip_eps(wh), beta - 1.0)
        } else {
            npow(wh, beta - 1.0)
        }
    };
    let mut acc = [0.0f64; LANES];
    let mut chunks = v.chunks_exact_mut(LANES);
    for ch in &mut chunks {
        for (x, a) in ch.iter_mut().zip(acc.iter_mut()) {
            let wh = *x;
            let d = dpow(wh);
            *x = d;
            if with_sum {
                *a += term(wh, d);
            }
        }
    }
    let mut tail = 0.0;
    for x in chunks.into_remainder() {
        let wh = *x;
        let d = dpow(wh);
        *x = d;
        if with_sum {
            tail += term(wh, d);
        }
    }
    acc.iter().sum::<f64>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn den_powers_block_is_the_direct_power_and_its_sum() {
        // Values around eps and far from it, odd lengths (the tail).
        let vals: Vec<f64> = (0..37)
            .map(|i| match i % 4 {
                0 => 1e-9 * (i + 1) as f64,
                1 => EPS,
                _ => 0.37 * i as f64,
            })
            .collect();
        for beta in [0.5, 1.5, 3.0, 1.25, 0.0, -0.5] {
            let mut v = vals.clone();
            let sum = den_powers_block(&mut v, beta, beta != 0.0);
            let mut expect_sum = 0.0;
            for (&wh, &d) in vals.iter().zip(&v) {
                let base = if beta < 1.0 { clip_eps(wh) } else { wh };
                assert_eq!(d, npow(base, beta - 1.0), "beta {beta} wh {wh}");
                if beta != 0.0 {
                    expect_sum += if wh >= EPS { d * wh } else { npow(wh, beta) };
                }
            }
            assert!(
                (sum - expect_sum).abs() <= 1e-12 * expect_sum.abs(),
                "beta {beta}"
            );
            if beta == 1.5 {
                // numpy's fast paths: sqrt for the power, x·sqrt(x) for β.
                assert!(v.iter().zip(&vals).all(|(&d, &wh)| d == wh.sqrt()));
            }
        }
    }
}
