//! The natural logarithm of a whole slice, vectorised.
//!
//! The divergences of β = 1 (KL) and β = 0 (IS) take one log per stored
//! value of X; libm's scalar `log` made that a sixth of a dense KL fit. This
//! is the classic fdlibm method (argument reduction to [√2/2, √2), then
//! log(1+f) = 2·atanh(f/(2+f)) by a degree-14 odd polynomial; error below
//! 1 ulp), written lane-wise without branches so that the compiler
//! vectorises it, and compiled three times: for AVX-512, for AVX2 (chosen at
//! run time) and for the baseline x86-64 / other targets. The operations are
//! IEEE additions, multiplications and one division, never fused, so every
//! build returns the same bits for the same input.
//!
//! Lanes outside the positive normal range (0, subnormals, negatives, inf,
//! NaN) send their group of [`LANES`] to libm, so those inputs get exactly
//! libm's answer. f32 is computed through the f64 kernel and rounded once:
//! within 1 ulp of `logf`.
//!
//! No crate was used: the SIMD math crates on crates.io either need nightly
//! (`sleef`'s `portable_simd`) or pick their instruction set at compile time
//! (`wide`), which for this crate's default target means SSE2 only.

use crate::float::NmfFloat;

/// Values per group (one AVX-512 register of f64).
const LANES: usize = 8;

// The method's published constants, digits as published (each literal is
// the f64 it names; clippy would shorten the digits, not change a value).
#[allow(clippy::excessive_precision)]
const LN2_HI: f64 = 6.931_471_803_691_238_164_90e-01;
#[allow(clippy::excessive_precision)]
const LN2_LO: f64 = 1.908_214_929_270_587_700_02e-10;
#[allow(clippy::excessive_precision)]
const LG1: f64 = 6.666_666_666_666_735_130e-01;
#[allow(clippy::excessive_precision)]
const LG2: f64 = 3.999_999_999_940_941_908e-01;
#[allow(clippy::excessive_precision)]
const LG3: f64 = 2.857_142_874_366_239_149e-01;
#[allow(clippy::excessive_precision)]
const LG4: f64 = 2.222_219_843_214_978_396e-01;
#[allow(clippy::excessive_precision)]
const LG5: f64 = 1.818_357_216_161_805_012e-01;
#[allow(clippy::excessive_precision)]
const LG6: f64 = 1.531_383_769_920_937_332e-01;
#[allow(clippy::excessive_precision)]
const LG7: f64 = 1.479_819_860_511_658_591e-01;

/// Bits of the smallest positive normal f64 and of +inf.
const MIN_NORMAL_BITS: u64 = 0x0010_0000_0000_0000;
const INF_BITS: u64 = 0x7ff0_0000_0000_0000;

/// ln(x) for a positive normal finite `x`, branch-free.
#[inline(always)]
fn ln_normal(x: f64) -> f64 {
    let bits = x.to_bits();
    let hx = (bits >> 32) as u32;
    let mut k = (hx >> 20) as i32 - 1023;
    let mant = hx & 0x000f_ffff;
    // i = 0x100000 when the mantissa is ≥ √2 (then halve it, k + 1).
    let i = (mant.wrapping_add(0x95f64)) & 0x0010_0000;
    k += (i >> 20) as i32;
    let hi = mant | (i ^ 0x3ff0_0000);
    let m = f64::from_bits(((hi as u64) << 32) | (bits & 0xffff_ffff));
    let f = m - 1.0;
    let dk = k as f64;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * (LG4 + w * LG6));
    let t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    // fdlibm's two forms: with hfsq for mantissas away from 1, else direct.
    let far = (mant as i32 - 0x6147a) | (0x6b851 - mant as i32) > 0;
    let a = dk * LN2_HI - ((hfsq - (s * (hfsq + r) + dk * LN2_LO)) - f);
    let b = dk * LN2_HI - ((s * (f - r) - dk * LN2_LO) - f);
    if far {
        a
    } else {
        b
    }
}

#[inline(always)]
fn ln_f64_body(v: &mut [f64]) {
    let mut chunks = v.chunks_exact_mut(LANES);
    for ch in &mut chunks {
        let mut ok = true;
        for x in ch.iter() {
            ok &= x.to_bits().wrapping_sub(MIN_NORMAL_BITS) < INF_BITS - MIN_NORMAL_BITS;
        }
        if ok {
            for x in ch.iter_mut() {
                *x = ln_normal(*x);
            }
        } else {
            for x in ch.iter_mut() {
                *x = x.ln();
            }
        }
    }
    for x in chunks.into_remainder() {
        *x = x.ln();
    }
}

#[inline(always)]
fn ln_f32_body(v: &mut [f32]) {
    let mut chunks = v.chunks_exact_mut(LANES);
    for ch in &mut chunks {
        let mut ok = true;
        for x in ch.iter() {
            // Positive, finite, non-zero (subnormal f32 are normal f64).
            ok &= x.to_bits().wrapping_sub(1) < 0x7f80_0000 - 1;
        }
        if ok {
            for x in ch.iter_mut() {
                *x = ln_normal(*x as f64) as f32;
            }
        } else {
            for x in ch.iter_mut() {
                *x = x.ln();
            }
        }
    }
    for x in chunks.into_remainder() {
        *x = x.ln();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
unsafe fn ln_f64_avx512(v: &mut [f64]) {
    ln_f64_body(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn ln_f64_avx2(v: &mut [f64]) {
    ln_f64_body(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
unsafe fn ln_f32_avx512(v: &mut [f32]) {
    ln_f32_body(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn ln_f32_avx2(v: &mut [f32]) {
    ln_f32_body(v)
}

/// Which build of the kernel runs (tests check each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Scalar,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

/// The best build this CPU runs.
pub(crate) fn best_level() -> Level {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx512vl")
        {
            return Level::Avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return Level::Avx2;
        }
    }
    Level::Scalar
}

/// v ← ln(v), f64, with the given build (falls back to scalar where the CPU
/// lacks it).
pub(crate) fn ln_f64_with(v: &mut [f64], level: Level) {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 if best_level() == Level::Avx512 => {
            // SAFETY: the CPU has AVX-512F/DQ/VL (checked by best_level).
            unsafe { ln_f64_avx512(v) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 | Level::Avx512 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { ln_f64_avx2(v) }
        }
        _ => ln_f64_body(v),
    }
}

/// v ← ln(v), f32 (see [`ln_f64_with`]).
pub(crate) fn ln_f32_with(v: &mut [f32], level: Level) {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 if best_level() == Level::Avx512 => {
            // SAFETY: the CPU has AVX-512F/DQ/VL (checked by best_level).
            unsafe { ln_f32_avx512(v) }
        }
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 | Level::Avx512 if std::arch::is_x86_feature_detected!("avx2") => {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { ln_f32_avx2(v) }
        }
        _ => ln_f32_body(v),
    }
}

/// v ← ln(v) in place, with the best build for this CPU.
pub(crate) fn ln_in_place<F: NmfFloat>(v: &mut [F]) {
    use std::any::TypeId;
    let level = best_level();
    let (ptr, len) = (v.as_mut_ptr(), v.len());
    if TypeId::of::<F>() == TypeId::of::<f64>() {
        // SAFETY: F is f64 (same type id), so the slice is a slice of f64.
        let s = unsafe { std::slice::from_raw_parts_mut(ptr as *mut f64, len) };
        ln_f64_with(s, level);
    } else if TypeId::of::<F>() == TypeId::of::<f32>() {
        // SAFETY: F is f32 (same type id).
        let s = unsafe { std::slice::from_raw_parts_mut(ptr as *mut f32, len) };
        ln_f32_with(s, level);
    } else {
        for x in v.iter_mut() {
            *x = num_traits::Float::ln(*x);
        }
    }
}

#[cfg(test)]
mod tests;
