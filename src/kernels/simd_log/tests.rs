//! The vectorised log against libm: every build, random inputs over the whole
//! positive range and the edge cases, max error in ulp asserted ≤ 2.

use super::*;

/// Distance in ulp between two finite values of one sign (or equal specials).
fn ulp64(a: f64, b: f64) -> u64 {
    if a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    assert!(a.is_finite() && b.is_finite(), "{a} vs {b}");
    let key = |x: f64| {
        let b = x.to_bits() as i64;
        if b < 0 {
            i64::MIN - b
        } else {
            b
        }
    };
    key(a).abs_diff(key(b))
}

fn ulp32(a: f32, b: f32) -> u64 {
    if a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    assert!(a.is_finite() && b.is_finite(), "{a} vs {b}");
    let key = |x: f32| {
        let b = x.to_bits() as i32 as i64;
        if b < 0 {
            i32::MIN as i64 - b
        } else {
            b
        }
    };
    key(a).abs_diff(key(b))
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn levels() -> Vec<Level> {
    let mut l = vec![Level::Scalar];
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            l.push(Level::Avx2);
        }
        if best_level() == Level::Avx512 {
            l.push(Level::Avx512);
        }
    }
    l
}

fn inputs64() -> Vec<f64> {
    let mut r = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut v = vec![
        0.0,
        -0.0,
        1.0,
        2.0,
        0.5,
        f64::MIN_POSITIVE,
        f64::MAX,
        f64::EPSILON,
        5e-324,
        1e-310,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -1.0,
        std::f64::consts::SQRT_2,
        std::f64::consts::FRAC_1_SQRT_2,
        std::f64::consts::E,
        1.0 + f64::EPSILON,
        1.0 - f64::EPSILON / 2.0,
    ];
    // Every power of two, and its neighbours.
    for e in -1074..1024 {
        let p = 2f64.powi(e);
        v.extend([
            p,
            f64::from_bits(p.to_bits() + 1),
            f64::from_bits(p.to_bits() - 1),
        ]);
    }
    for _ in 0..400_000 {
        // Uniform bits over the whole positive range (subnormals included).
        v.push(f64::from_bits(r.next() % INF_BITS));
        // Uniform in [0.5, 2) and close to 1, where the log is near 0.
        let u = (r.next() >> 11) as f64 / (1u64 << 53) as f64;
        v.push(0.5 + 1.5 * u);
        v.push(1.0 + (u - 0.5) * 1e-6);
    }
    v
}

#[test]
fn f64_within_2_ulp_of_libm_for_every_build() {
    let xs = inputs64();
    for level in levels() {
        // Odd offsets and lengths: groups straddle specials, tails go scalar.
        for off in [0, 3] {
            let mut v = xs[off..].to_vec();
            ln_f64_with(&mut v, level);
            let mut worst = (0, 0.0);
            for (&x, &got) in xs[off..].iter().zip(&v) {
                let d = ulp64(got, x.ln());
                if d > worst.0 {
                    worst = (d, x);
                }
            }
            eprintln!("f64 {level:?}: max {} ulp (at {:e})", worst.0, worst.1);
            assert!(worst.0 <= 2, "{level:?}: {} ulp at {:e}", worst.0, worst.1);
        }
    }
}

#[test]
fn f64_builds_agree_bit_for_bit_and_keep_exact_points() {
    let xs = inputs64();
    let mut base = xs.clone();
    ln_f64_with(&mut base, Level::Scalar);
    for level in levels() {
        let mut v = xs.clone();
        ln_f64_with(&mut v, level);
        assert!(v.iter().zip(&base).all(|(a, b)| a.to_bits() == b.to_bits()));
    }
    // ln 1 = 0 exactly, specials as libm, inside a full vector group.
    let mut v = vec![1.0, 0.0, f64::INFINITY, -2.0, f64::NAN, 1.0, 1.0, 1.0, 1.0];
    ln_in_place(&mut v);
    assert_eq!(v[0], 0.0);
    assert_eq!(v[1], f64::NEG_INFINITY);
    assert_eq!(v[2], f64::INFINITY);
    assert!(v[3].is_nan() && v[4].is_nan());
    assert!(v[5..].iter().all(|&x| x == 0.0));
}

#[test]
fn f32_within_2_ulp_of_libm_for_every_build() {
    let mut r = XorShift(0x2545_f491_4f6c_dd1d);
    let mut xs: Vec<f32> = vec![
        0.0,
        -0.0,
        1.0,
        f32::MIN_POSITIVE,
        f32::MAX,
        1e-45,
        f32::INFINITY,
        f32::NAN,
        -3.0,
        f32::EPSILON,
    ];
    for e in -149..128 {
        xs.push(2f32.powi(e));
    }
    for _ in 0..1_000_000 {
        xs.push(f32::from_bits((r.next() % 0x7f80_0000) as u32));
        let u = (r.next() >> 40) as f32 / (1u32 << 24) as f32;
        xs.push(0.5 + 1.5 * u);
    }
    for level in levels() {
        let mut v = xs.clone();
        ln_f32_with(&mut v, level);
        let worst = xs
            .iter()
            .zip(&v)
            .map(|(&x, &got)| (ulp32(got, x.ln()), x))
            .max_by_key(|p| p.0)
            .unwrap();
        eprintln!("f32 {level:?}: max {} ulp (at {:e})", worst.0, worst.1);
        assert!(worst.0 <= 2, "{level:?}: {} ulp at {:e}", worst.0, worst.1);
    }
}
