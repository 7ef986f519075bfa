//! A dense row's missing entries, read once: the row with NaN set to 0 (the
//! zero-filled Xz the products take), the positions as bit masks (bit t of
//! word q is column 64q + t, what the corrections' kernels walk) and the
//! per-column counts (which columns are mostly missing).
//!
//! This is the first touch of the batch in the fused corrections step, so
//! it runs once per entry of X per pass: on CPUs with AVX2 it compares a
//! vector of entries at a time and takes the positions from the compare's
//! sign bits (`movemask`); elsewhere a branch-free loop over lanes of
//! eight. Both give the same `z`, bits and counts (a select and integer
//! adds: no rounding).

use super::corrections::{has_avx2, same, same_mut};
use crate::float::NmfFloat;

/// `z` = the row `x` with its NaN entries set to 0 (`x` = None: `z` holds
/// the row already and is zero-filled in place), `bits` = their positions
/// (⌈m/64⌉ words), `col_missing[j]` += 1 for each; returns the row's count.
pub(super) fn zero_fill_row<F: NmfFloat>(
    x: Option<&[F]>,
    z: &mut [F],
    bits: &mut [u64],
    col_missing: &mut [u32],
) -> usize {
    let m = z.len();
    assert!(
        col_missing.len() == m && bits.len() >= m.div_ceil(64),
        "a row of m values, m counts and ⌈m/64⌉ words"
    );
    if let Some(x) = x {
        assert_eq!(x.len(), m, "a row of m values");
    }
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx2() {
            if let Some(z) = same_mut::<F, f64>(z) {
                let x = x.map(|x| same::<F, f64>(x).expect("x and z have one type"));
                // SAFETY: the CPU supports AVX2 (checked just above); the
                // lengths were checked at the top.
                return unsafe { avx2::row_f64(x, z, bits, col_missing) };
            }
            if let Some(z) = same_mut::<F, f32>(z) {
                let x = x.map(|x| same::<F, f32>(x).expect("x and z have one type"));
                // SAFETY: as for f64.
                return unsafe { avx2::row_f32(x, z, bits, col_missing) };
            }
        }
    }
    zero_fill_row_lanes(x, z, bits, col_missing)
}

/// [`zero_fill_row`] without vector intrinsics: branch-free over lanes of
/// eight (the missing entries fall anywhere).
fn zero_fill_row_lanes<F: NmfFloat>(
    x: Option<&[F]>,
    z: &mut [F],
    bits: &mut [u64],
    col_missing: &mut [u32],
) -> usize {
    let mut n = 0usize;
    for (q, (word, cc)) in bits.iter_mut().zip(col_missing.chunks_mut(64)).enumerate() {
        let j0 = q * 64;
        let zc = &mut z[j0..j0 + cc.len()];
        let xc = x.map(|x| &x[j0..j0 + cc.len()]);
        let mut w = 0u64;
        let full = cc.len() / 8 * 8;
        for e in (0..full).step_by(8) {
            let mut v = [F::zero(); 8];
            match xc {
                Some(xc) => v.copy_from_slice(&xc[e..e + 8]),
                None => v.copy_from_slice(&zc[e..e + 8]),
            }
            let (c8, z8) = (&mut cc[e..e + 8], &mut zc[e..e + 8]);
            let mut b = 0u8;
            for l in 0..8 {
                let nan = v[l].is_nan();
                b |= (nan as u8) << l;
                c8[l] += nan as u32;
                z8[l] = if nan { F::zero() } else { v[l] };
            }
            w |= (b as u64) << e;
        }
        for e in full..cc.len() {
            let v = match xc {
                Some(xc) => xc[e],
                None => zc[e],
            };
            let nan = v.is_nan();
            w |= (nan as u64) << e;
            cc[e] += nan as u32;
            zc[e] = if nan { F::zero() } else { v };
        }
        *word = w;
        n += w.count_ones() as usize;
    }
    n
}

/// [`zero_fill_row`] in AVX2 vectors: per 8 entries a compare (NaN ≠ NaN),
/// its sign bits as the positions, an and-not as the zero fill and the
/// compare's all-ones lanes (−1 as integers) subtracted from the counts.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// The scalar tail of a word: entries `e..end` (fewer than 8).
    ///
    /// # Safety
    /// `src`, `z` and `cm` are valid for `end` elements.
    #[inline(always)]
    unsafe fn tail<T: Copy + PartialEq + Default>(
        src: *const T,
        z: *mut T,
        cm: *mut u32,
        e: usize,
        end: usize,
        j0: usize,
    ) -> u64 {
        let mut w = 0u64;
        for e in e..end {
            // SAFETY: e < end (the caller's bound).
            unsafe {
                let v = *src.add(e);
                #[allow(clippy::eq_op)]
                let nan = v != v;
                w |= (nan as u64) << (e - j0);
                *cm.add(e) += nan as u32;
                *z.add(e) = if nan { T::default() } else { v };
            }
        }
        w
    }

    /// f64: two 4-lane vectors per 8 entries.
    ///
    /// # Safety
    /// AVX2; `z` and `cm` hold m = `z.len()` elements, `x` (if any) too,
    /// `bits` at least ⌈m/64⌉ words.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_f64(
        x: Option<&[f64]>,
        z: &mut [f64],
        bits: &mut [u64],
        cm: &mut [u32],
    ) -> usize {
        let m = z.len();
        let zp = z.as_mut_ptr();
        let src = x.map_or(zp as *const f64, |x| x.as_ptr());
        let cp = cm.as_mut_ptr();
        let mut n = 0usize;
        for (q, word) in bits[..m.div_ceil(64)].iter_mut().enumerate() {
            let j0 = q * 64;
            let end = (j0 + 64).min(m);
            let mut w = 0u64;
            let mut e = j0;
            while e + 8 <= end {
                // SAFETY: e + 8 ≤ m for every pointer (the caller's bounds).
                unsafe {
                    let v0 = _mm256_loadu_pd(src.add(e));
                    let v1 = _mm256_loadu_pd(src.add(e + 4));
                    let m0 = _mm256_cmp_pd::<_CMP_UNORD_Q>(v0, v0);
                    let m1 = _mm256_cmp_pd::<_CMP_UNORD_Q>(v1, v1);
                    let b = _mm256_movemask_pd(m0) as u64 | (_mm256_movemask_pd(m1) as u64) << 4;
                    w |= b << (e - j0);
                    _mm256_storeu_pd(zp.add(e), _mm256_andnot_pd(m0, v0));
                    _mm256_storeu_pd(zp.add(e + 4), _mm256_andnot_pd(m1, v1));
                    // The low halves of the 8 lanes of the two masks, in
                    // order: per 128-bit half [m0 a, m0 b, m1 a, m1 b], then
                    // the 64-bit pairs reordered to m0's four, m1's four.
                    let lo = _mm256_shuffle_ps::<0b10_00_10_00>(
                        _mm256_castpd_ps(m0),
                        _mm256_castpd_ps(m1),
                    );
                    let mm = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_castps_si256(lo));
                    let c = cp.add(e) as *mut __m256i;
                    _mm256_storeu_si256(c, _mm256_sub_epi32(_mm256_loadu_si256(c), mm));
                }
                e += 8;
            }
            // SAFETY: end ≤ m.
            w |= unsafe { tail(src, zp, cp, e, end, j0) };
            *word = w;
            n += w.count_ones() as usize;
        }
        n
    }

    /// f32: one 8-lane vector per 8 entries.
    ///
    /// # Safety
    /// As [`row_f64`].
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn row_f32(
        x: Option<&[f32]>,
        z: &mut [f32],
        bits: &mut [u64],
        cm: &mut [u32],
    ) -> usize {
        let m = z.len();
        let zp = z.as_mut_ptr();
        let src = x.map_or(zp as *const f32, |x| x.as_ptr());
        let cp = cm.as_mut_ptr();
        let mut n = 0usize;
        for (q, word) in bits[..m.div_ceil(64)].iter_mut().enumerate() {
            let j0 = q * 64;
            let end = (j0 + 64).min(m);
            let mut w = 0u64;
            let mut e = j0;
            while e + 8 <= end {
                // SAFETY: e + 8 ≤ m for every pointer (the caller's bounds).
                unsafe {
                    let v = _mm256_loadu_ps(src.add(e));
                    let mk = _mm256_cmp_ps::<_CMP_UNORD_Q>(v, v);
                    w |= (_mm256_movemask_ps(mk) as u64) << (e - j0);
                    _mm256_storeu_ps(zp.add(e), _mm256_andnot_ps(mk, v));
                    let c = cp.add(e) as *mut __m256i;
                    _mm256_storeu_si256(
                        c,
                        _mm256_sub_epi32(_mm256_loadu_si256(c), _mm256_castps_si256(mk)),
                    );
                }
                e += 8;
            }
            // SAFETY: end ≤ m.
            w |= unsafe { tail(src, zp, cp, e, end, j0) };
            *word = w;
            n += w.count_ones() as usize;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The AVX2 fill gives the lane loop's z (bit for bit), bits, counts
    /// and total, f64 and f32, from x and in place, for rows whose length
    /// is not a multiple of 8 or 64.
    #[test]
    fn avx2_fill_is_the_lane_loop() {
        fn check<F: NmfFloat>() {
            let mut seed = 11u64;
            let mut next = || {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((seed >> 11) as f64) / ((1u64 << 53) as f64)
            };
            for m in [1, 7, 8, 63, 64, 65, 133, 200] {
                for share in [0.0, 0.1, 0.5, 1.0] {
                    let x: Vec<F> = (0..m)
                        .map(|_| {
                            let u = next();
                            F::from_f64_(if next() < share { f64::NAN } else { u })
                        })
                        .collect();
                    for in_place in [false, true] {
                        let run = |lanes: bool| {
                            let mut z = if in_place {
                                x.clone()
                            } else {
                                vec![F::one(); m]
                            };
                            let mut bits = vec![0u64; m.div_ceil(64)];
                            let mut cm = vec![1u32; m];
                            let xs = (!in_place).then_some(&x[..]);
                            let n = if lanes {
                                zero_fill_row_lanes(xs, &mut z, &mut bits, &mut cm)
                            } else {
                                zero_fill_row(xs, &mut z, &mut bits, &mut cm)
                            };
                            (n, z, bits, cm)
                        };
                        let (n, z, bits, cm) = run(true);
                        let want = x.iter().filter(|v| v.is_nan()).count();
                        assert_eq!(n, want);
                        for j in 0..m {
                            let nan = x[j].is_nan();
                            assert_eq!((bits[j / 64] >> (j % 64)) & 1 == 1, nan);
                            assert_eq!(cm[j], 1 + nan as u32);
                            let v = if nan { F::zero() } else { x[j] };
                            assert_eq!(z[j].to_f64_().to_bits(), v.to_f64_().to_bits());
                        }
                        let (n2, z2, bits2, cm2) = run(false);
                        assert_eq!((n, &bits, &cm), (n2, &bits2, &cm2), "m={m} share={share}");
                        assert!(z
                            .iter()
                            .zip(&z2)
                            .all(|(a, b)| a.to_f64_().to_bits() == b.to_f64_().to_bits()));
                    }
                }
            }
        }
        check::<f64>();
        check::<f32>();
    }
}
