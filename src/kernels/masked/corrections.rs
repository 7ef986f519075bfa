//! The per-entry kernels of the masked Frobenius corrections.
//!
//! An entry (i, j) of a dense batch enters W's denominator row i as
//! (w_i·h_j)·h_j and H's denominator column j as (w_i·h_j)·w_i. The
//! corrections path (`fro_corr.rs`, `frobenius.rs`) takes the unmasked
//! products and subtracts these terms over the missing entries, so its
//! cost beyond the unmasked step is two k-dots and two k-axpys per missing
//! entry. These kernels make that per-entry work cheap:
//! - the positions come as bit masks (bit t of word q is column 64q + t),
//!   read with a trailing-zero count: no index list to build or store;
//! - Hᵀ's rows and the w_i are padded with zeros to whole groups of
//!   [`LANES`], so a dot and an axpy are a few full-width vector operations
//!   (the padded lanes stay 0) and, for k ≤ 16, w_i and the row's
//!   accumulator stay in registers;
//! - the loops are compiled for AVX2 on CPUs that have it: the same IEEE
//!   operations in the same order, so the same bits as the plain build
//!   (Rust never fuses a multiply and an add).

use crate::float::NmfFloat;

/// Lanes of one group (a 256-bit vector of f64).
pub(super) const LANES: usize = 4;

/// `k` rounded up to whole groups of [`LANES`].
pub(super) fn padded(k: usize) -> usize {
    k.div_ceil(LANES) * LANES
}

/// Bit-mask words of a row of `m` columns.
pub(super) fn words(m: usize) -> usize {
    m.div_ceil(64)
}

/// `out` = `src` padded with zeros to `out.len()` elements.
#[inline(always)]
pub(super) fn pad_into<F: NmfFloat>(src: impl IntoIterator<Item = F>, out: &mut [F]) {
    out.fill(F::zero());
    for (o, v) in out.iter_mut().zip(src) {
        *o = v;
    }
}

/// The columns j set in a row's `bits` (a row of `m` columns), ascending,
/// or with `flip` the columns not set. An iterator rather than a callback,
/// so that the loop body is compiled inside the caller (and its target
/// features).
struct Positions<'a> {
    words: &'a [u64],
    /// Index of the word after `cur`.
    q: usize,
    /// The bits of word q − 1 still to visit.
    cur: u64,
    flip: bool,
    m: usize,
}

impl<'a> Positions<'a> {
    #[inline(always)]
    fn new(words: &'a [u64], flip: bool, m: usize) -> Self {
        Positions {
            words,
            q: 0,
            cur: 0,
            flip,
            m,
        }
    }
}

impl Iterator for Positions<'_> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.cur == 0 {
            let &w = self.words.get(self.q)?;
            self.q += 1;
            let mut b = if self.flip { !w } else { w };
            if self.q == self.words.len() && self.m % 64 != 0 {
                b &= (1u64 << (self.m % 64)) - 1;
            }
            self.cur = b;
        }
        let t = self.cur.trailing_zeros() as usize;
        self.cur &= self.cur - 1;
        Some((self.q - 1) * 64 + t)
    }
}

/// Σ over the lanes in a fixed order.
#[inline(always)]
fn lane_sum<F: NmfFloat>(s: [F; LANES]) -> F {
    let t = [s[0] + s[2], s[1] + s[3]];
    t[0] + t[1]
}

/// w·h for a padded row in `C` lane groups: the lane products summed
/// over the groups in order, then across the lanes ([`lane_sum`]).
#[inline(always)]
fn dot_fixed<F: NmfFloat, const C: usize>(wv: &[[F; LANES]; C], h: &[F]) -> F {
    let mut s = [F::zero(); LANES];
    for l in 0..LANES {
        s[l] = wv[0][l] * h[l];
    }
    for c in 1..C {
        let mut p = [F::zero(); LANES];
        for l in 0..LANES {
            p[l] = wv[c][l] * h[c * LANES + l];
        }
        for l in 0..LANES {
            s[l] += p[l];
        }
    }
    lane_sum(s)
}

/// One row's W term: `out` (kp) = Σ over the columns j of `bits` (not in
/// `bits` with `flip`) of (w·h_j)·h_j, with `w` the padded row of W and
/// `htp` the padded Hᵀ (m×kp). `C` lane groups per row (kp = C·LANES);
/// w and the sum stay in registers.
#[inline(always)]
fn w_term_fixed<F: NmfFloat, const C: usize>(
    w: &[F],
    htp: &[F],
    bits: &[u64],
    flip: bool,
    m: usize,
    out: &mut [F],
) {
    let kp = C * LANES;
    let mut wv = [[F::zero(); LANES]; C];
    for (c, g) in wv.iter_mut().enumerate() {
        g.copy_from_slice(&w[c * LANES..(c + 1) * LANES]);
    }
    let mut acc = [[F::zero(); LANES]; C];
    for j in Positions::new(bits, flip, m) {
        let h = &htp[j * kp..(j + 1) * kp];
        let d = dot_fixed::<F, C>(&wv, h);
        for c in 0..C {
            for l in 0..LANES {
                acc[c][l] += d * h[c * LANES + l];
            }
        }
    }
    for (c, g) in acc.iter().enumerate() {
        out[c * LANES..(c + 1) * LANES].copy_from_slice(g);
    }
}

/// w·h over whole lane groups of any number: lane products summed over the
/// groups in order, then [`lane_sum`].
#[inline(always)]
fn dot_any<F: NmfFloat>(w: &[F], h: &[F]) -> F {
    let mut s = [F::zero(); LANES];
    for (wc, hc) in w.chunks_exact(LANES).zip(h.chunks_exact(LANES)) {
        for l in 0..LANES {
            s[l] += wc[l] * hc[l];
        }
    }
    lane_sum(s)
}

/// out += d·v over whole lane groups.
#[inline(always)]
fn axpy_any<F: NmfFloat>(out: &mut [F], d: F, v: &[F]) {
    for (oc, vc) in out.chunks_exact_mut(LANES).zip(v.chunks_exact(LANES)) {
        for l in 0..LANES {
            oc[l] += d * vc[l];
        }
    }
}

/// [`w_term_fixed`] for any number of lane groups (`out` accumulates in
/// memory).
#[inline(always)]
fn w_term_any<F: NmfFloat>(w: &[F], htp: &[F], bits: &[u64], flip: bool, m: usize, out: &mut [F]) {
    let kp = w.len();
    out.fill(F::zero());
    for j in Positions::new(bits, flip, m) {
        let h = &htp[j * kp..(j + 1) * kp];
        axpy_any(out, dot_any(w, h), h);
    }
}

/// One row's H terms: for each column j set in `bits`, `s[j]` (kp, the
/// padded row j of an m×kp sum) += (w·h_j)·w. Returns Σ (w·h_j)² in f64.
#[inline(always)]
fn h_terms_fixed<F: NmfFloat, const C: usize>(
    w: &[F],
    htp: &[F],
    bits: &[u64],
    m: usize,
    s: &mut [F],
) -> f64 {
    let kp = C * LANES;
    let mut wv = [[F::zero(); LANES]; C];
    for (c, g) in wv.iter_mut().enumerate() {
        g.copy_from_slice(&w[c * LANES..(c + 1) * LANES]);
    }
    let mut sq = 0.0f64;
    for j in Positions::new(bits, false, m) {
        let h = &htp[j * kp..(j + 1) * kp];
        let d = dot_fixed::<F, C>(&wv, h);
        sq += d.to_f64_() * d.to_f64_();
        let sj = &mut s[j * kp..(j + 1) * kp];
        for c in 0..C {
            for l in 0..LANES {
                sj[c * LANES + l] += d * wv[c][l];
            }
        }
    }
    sq
}

/// [`h_terms_fixed`] for any number of lane groups.
#[inline(always)]
fn h_terms_any<F: NmfFloat>(w: &[F], htp: &[F], bits: &[u64], m: usize, s: &mut [F]) -> f64 {
    let kp = w.len();
    let mut sq = 0.0f64;
    for j in Positions::new(bits, false, m) {
        let d = dot_any(w, &htp[j * kp..(j + 1) * kp]);
        sq += d.to_f64_() * d.to_f64_();
        axpy_any(&mut s[j * kp..(j + 1) * kp], d, w);
    }
    sq
}

/// The two per-row kernels, in one instruction set.
trait RowKernels<F> {
    /// [`w_term_fixed`]: `out` (kp) = Σ over the positions of (w·h_j)·h_j.
    fn w_term(w: &[F], htp: &[F], bits: &[u64], flip: bool, m: usize, out: &mut [F]);
    /// [`h_terms_fixed`]: row j of `s` += (w·h_j)·w; returns Σ (w·h_j)².
    fn h_terms(w: &[F], htp: &[F], bits: &[u64], m: usize, s: &mut [F]) -> f64;
}

/// The kernels in plain Rust (any CPU, any k).
struct Plain;

impl<F: NmfFloat> RowKernels<F> for Plain {
    #[inline(always)]
    fn w_term(w: &[F], htp: &[F], bits: &[u64], flip: bool, m: usize, out: &mut [F]) {
        match w.len() / LANES {
            1 => w_term_fixed::<F, 1>(w, htp, bits, flip, m, out),
            2 => w_term_fixed::<F, 2>(w, htp, bits, flip, m, out),
            3 => w_term_fixed::<F, 3>(w, htp, bits, flip, m, out),
            4 => w_term_fixed::<F, 4>(w, htp, bits, flip, m, out),
            _ => w_term_any(w, htp, bits, flip, m, out),
        }
    }

    #[inline(always)]
    fn h_terms(w: &[F], htp: &[F], bits: &[u64], m: usize, s: &mut [F]) -> f64 {
        match w.len() / LANES {
            1 => h_terms_fixed::<F, 1>(w, htp, bits, m, s),
            2 => h_terms_fixed::<F, 2>(w, htp, bits, m, s),
            3 => h_terms_fixed::<F, 3>(w, htp, bits, m, s),
            4 => h_terms_fixed::<F, 4>(w, htp, bits, m, s),
            _ => h_terms_any(w, htp, bits, m, s),
        }
    }
}

/// The kernels with AVX2 vectors (f64: 256-bit, f32: 128-bit) for k ≤ 16:
/// the plain kernels' operations in the same order (products, then sums
/// over the lane groups in order, then (s0 + s2) + (s1 + s3)), so the same
/// bits. LLVM keeps the plain dot product scalar; these spell it out.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Positions, LANES};
    use std::arch::x86_64::*;

    /// (s0 + s2) + (s1 + s3) of a vector of 4 f64.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum_pd(s: __m256d) -> f64 {
        let t = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
        _mm_cvtsd_f64(_mm_add_sd(t, _mm_unpackhi_pd(t, t)))
    }

    /// (s0 + s2) + (s1 + s3) of a vector of 4 f32.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum_ps(s: __m128) -> f32 {
        let t = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(t, _mm_shuffle_ps(t, t, 1)))
    }

    macro_rules! row_kernels {
        ($t:ty, $v:ty, $load:ident, $store:ident, $mul:ident, $add:ident, $set1:ident, $zero:ident, $hsum:ident, $w:ident, $h:ident) => {
            /// [`super::w_term_fixed`] in vectors.
            #[target_feature(enable = "avx2")]
            pub(super) unsafe fn $w<const C: usize>(
                w: &[$t],
                htp: &[$t],
                bits: &[u64],
                flip: bool,
                m: usize,
                out: &mut [$t],
            ) {
                let kp = C * LANES;
                assert!(w.len() >= kp && out.len() >= kp && htp.len() >= m * kp);
                let mut wv = [$zero(); C];
                for (c, v) in wv.iter_mut().enumerate() {
                    // SAFETY: c·LANES + LANES ≤ kp ≤ w.len().
                    *v = unsafe { $load(w.as_ptr().add(c * LANES)) };
                }
                let mut acc = [$zero(); C];
                for j in Positions::new(bits, flip, m) {
                    let h = &htp[j * kp..(j + 1) * kp];
                    let mut hv = [$zero(); C];
                    for (c, v) in hv.iter_mut().enumerate() {
                        // SAFETY: c·LANES + LANES ≤ kp = h.len().
                        *v = unsafe { $load(h.as_ptr().add(c * LANES)) };
                    }
                    let mut s = $mul(wv[0], hv[0]);
                    for c in 1..C {
                        s = $add(s, $mul(wv[c], hv[c]));
                    }
                    let d = $set1($hsum(s));
                    for c in 0..C {
                        acc[c] = $add(acc[c], $mul(d, hv[c]));
                    }
                }
                for (c, v) in acc.iter().enumerate() {
                    // SAFETY: c·LANES + LANES ≤ kp ≤ out.len().
                    unsafe { $store(out.as_mut_ptr().add(c * LANES), *v) };
                }
            }

            /// [`super::h_terms_fixed`] in vectors.
            #[target_feature(enable = "avx2")]
            pub(super) unsafe fn $h<const C: usize>(
                w: &[$t],
                htp: &[$t],
                bits: &[u64],
                m: usize,
                s: &mut [$t],
            ) -> f64 {
                let kp = C * LANES;
                assert!(w.len() >= kp && htp.len() >= m * kp && s.len() >= m * kp);
                let mut wv = [$zero(); C];
                for (c, v) in wv.iter_mut().enumerate() {
                    // SAFETY: c·LANES + LANES ≤ kp ≤ w.len().
                    *v = unsafe { $load(w.as_ptr().add(c * LANES)) };
                }
                let mut sq = 0.0f64;
                for j in Positions::new(bits, false, m) {
                    let h = &htp[j * kp..(j + 1) * kp];
                    let sj = &mut s[j * kp..(j + 1) * kp];
                    let mut hv = [$zero(); C];
                    for (c, v) in hv.iter_mut().enumerate() {
                        // SAFETY: c·LANES + LANES ≤ kp = h.len().
                        *v = unsafe { $load(h.as_ptr().add(c * LANES)) };
                    }
                    let mut p = $mul(wv[0], hv[0]);
                    for c in 1..C {
                        p = $add(p, $mul(wv[c], hv[c]));
                    }
                    let d = $hsum(p);
                    sq += (d as f64) * (d as f64);
                    let dv = $set1(d);
                    for (c, wc) in wv.iter().enumerate() {
                        // SAFETY: c·LANES + LANES ≤ kp = sj.len().
                        unsafe {
                            let q = sj.as_mut_ptr().add(c * LANES);
                            $store(q, $add($load(q), $mul(dv, *wc)));
                        }
                    }
                }
                sq
            }
        };
    }

    row_kernels!(
        f64,
        __m256d,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_mul_pd,
        _mm256_add_pd,
        _mm256_set1_pd,
        _mm256_setzero_pd,
        hsum_pd,
        w_term_f64,
        h_terms_f64
    );
    row_kernels!(
        f32,
        __m128,
        _mm_loadu_ps,
        _mm_storeu_ps,
        _mm_mul_ps,
        _mm_add_ps,
        _mm_set1_ps,
        _mm_setzero_ps,
        hsum_ps,
        w_term_f32,
        h_terms_f32
    );

    /// The AVX2 kernels (for k ≤ 16; the plain ones beyond), f64 or f32.
    pub(super) struct Avx2;

    macro_rules! impl_avx2 {
        ($t:ty, $w:ident, $h:ident) => {
            impl super::RowKernels<$t> for Avx2 {
                #[inline(always)]
                fn w_term(
                    w: &[$t],
                    htp: &[$t],
                    bits: &[u64],
                    flip: bool,
                    m: usize,
                    out: &mut [$t],
                ) {
                    // SAFETY: `Avx2` is only used after the CPU was found to
                    // support AVX2 (`with_kernels!`, the tests).
                    unsafe {
                        match w.len() / LANES {
                            1 => $w::<1>(w, htp, bits, flip, m, out),
                            2 => $w::<2>(w, htp, bits, flip, m, out),
                            3 => $w::<3>(w, htp, bits, flip, m, out),
                            4 => $w::<4>(w, htp, bits, flip, m, out),
                            _ => <super::Plain as super::RowKernels<$t>>::w_term(
                                w, htp, bits, flip, m, out,
                            ),
                        }
                    }
                }

                #[inline(always)]
                fn h_terms(w: &[$t], htp: &[$t], bits: &[u64], m: usize, s: &mut [$t]) -> f64 {
                    // SAFETY: `Avx2` is only used after the CPU was found to
                    // support AVX2 (`with_kernels!`, the tests).
                    unsafe {
                        match w.len() / LANES {
                            1 => $h::<1>(w, htp, bits, m, s),
                            2 => $h::<2>(w, htp, bits, m, s),
                            3 => $h::<3>(w, htp, bits, m, s),
                            4 => $h::<4>(w, htp, bits, m, s),
                            _ => {
                                <super::Plain as super::RowKernels<$t>>::h_terms(w, htp, bits, m, s)
                            }
                        }
                    }
                }
            }
        };
    }
    impl_avx2!(f64, w_term_f64, h_terms_f64);
    impl_avx2!(f32, w_term_f32, h_terms_f32);
}

/// The rows of one block of a batch, for the W and H terms: row i's mask is
/// `bits[i·words(m)..]`, its missing count `missing[i]`.
pub(super) struct BlockMask<'a> {
    pub(super) bits: &'a [u64],
    pub(super) missing: &'a [usize],
    pub(super) m: usize,
}

/// `s` as a slice of `T` when `F` is `T`.
pub(super) fn same<F: 'static, T: 'static>(s: &[F]) -> Option<&[T]> {
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>())
        // SAFETY: F and T are the same type.
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len()) })
}

/// [`same`] for a mutable slice.
pub(super) fn same_mut<F: 'static, T: 'static>(s: &mut [F]) -> Option<&mut [T]> {
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>())
        // SAFETY: F and T are the same type.
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<T>(), s.len()) })
}

/// Whether the AVX2 kernels can run here.
pub(super) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Runs `$body` with `K` the best kernel set for `F` on this CPU and the
/// listed slices re-typed to it.
macro_rules! with_kernels {
    ($f:ty; [$($r:ident),*]; [$($mu:ident),*]; $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx2() {
                if let ($(Some($r),)* $(Some($mu),)*) = ($(same::<$f, f64>($r),)* $(same_mut::<$f, f64>($mu),)*) {
                    type K = avx2::Avx2;
                    return $body;
                }
                if let ($(Some($r),)* $(Some($mu),)*) = ($(same::<$f, f32>($r),)* $(same_mut::<$f, f32>($mu),)*) {
                    type K = avx2::Avx2;
                    return $body;
                }
            }
        }
        type K = Plain;
        $body
    }};
}

/// W's denominators of a block's rows (`den`: r rows of `k`, holding
/// W·HHᵀ) corrected for the missing entries: a row with at most half of
/// its entries missing subtracts their terms, a row with more is summed
/// over its observed entries instead (never cancels more than half; a row
/// with no observed entry gets exactly 0). `w` holds the block's rows (r
/// rows of k), `wpad` and `acc` are kp-element scratch.
pub(super) fn correct_w_den<F: NmfFloat>(
    w: &[F],
    k: usize,
    htp: &[F],
    mask: &BlockMask,
    den: &mut [F],
    wpad: &mut [F],
    acc: &mut [F],
) {
    with_kernels!(F; [w, htp]; [den, wpad, acc];
        correct_w_den_rows::<_, K>(w, k, htp, mask, den, wpad, acc))
}

#[inline(always)]
fn correct_w_den_rows<F: NmfFloat, K: RowKernels<F>>(
    w: &[F],
    k: usize,
    htp: &[F],
    mask: &BlockMask,
    den: &mut [F],
    wpad: &mut [F],
    acc: &mut [F],
) {
    let (m, nw) = (mask.m, words(mask.m));
    for (i, &cnt) in mask.missing.iter().enumerate() {
        if cnt == 0 {
            continue;
        }
        pad_into(w[i * k..(i + 1) * k].iter().copied(), wpad);
        let flip = 2 * cnt > m;
        K::w_term(wpad, htp, &mask.bits[i * nw..(i + 1) * nw], flip, m, acc);
        let d = &mut den[i * k..(i + 1) * k];
        if flip {
            d.copy_from_slice(&acc[..k]);
        } else {
            for (d, &a) in d.iter_mut().zip(acc.iter()) {
                *d -= a;
            }
        }
    }
}

/// H's terms of a block's missing entries, W's rows updated (`w`: r rows
/// of k): row j of `s` (m×kp) += (w_i·h_j)·w_i over the block's rows in
/// order. Returns Σ (w_i·h_j)² over them in f64. `wpad`: kp-element scratch.
pub(super) fn add_h_terms<F: NmfFloat>(
    w: &[F],
    k: usize,
    htp: &[F],
    mask: &BlockMask,
    s: &mut [F],
    wpad: &mut [F],
) -> f64 {
    with_kernels!(F; [w, htp]; [s, wpad];
        add_h_terms_rows::<_, K>(w, k, htp, mask, s, wpad))
}

#[inline(always)]
fn add_h_terms_rows<F: NmfFloat, K: RowKernels<F>>(
    w: &[F],
    k: usize,
    htp: &[F],
    mask: &BlockMask,
    s: &mut [F],
    wpad: &mut [F],
) -> f64 {
    let (m, nw) = (mask.m, words(mask.m));
    let mut sq = 0.0;
    for (i, &cnt) in mask.missing.iter().enumerate() {
        if cnt == 0 {
            continue;
        }
        pad_into(w[i * k..(i + 1) * k].iter().copied(), wpad);
        sq += K::h_terms(wpad, htp, &mask.bits[i * nw..(i + 1) * nw], m, s);
    }
    sq
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::masked::zero_fill::zero_fill_row;

    /// The kernels against the plain formulas, for k across the fixed and
    /// the general lane-group counts, rows with few and with most entries
    /// missing, m not a multiple of 64.
    #[test]
    fn kernels_match_the_formulas() {
        let m = 150;
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64) / ((1u64 << 53) as f64)
        };
        for k in [1, 3, 4, 5, 10, 16, 17, 23] {
            let kp = padded(k);
            let r = 3;
            let nw = words(m);
            let w: Vec<f64> = (0..r * k).map(|_| next()).collect();
            let ht: Vec<f64> = (0..m * k).map(|_| next()).collect();
            let mut htp = vec![0.0; m * kp];
            for j in 0..m {
                pad_into(
                    ht[j * k..(j + 1) * k].iter().copied(),
                    &mut htp[j * kp..(j + 1) * kp],
                );
            }
            // Row 0: 10 % missing, row 1: 80 %, row 2: none.
            let share = [0.1, 0.8, 0.0];
            let mut x = vec![1.0; r * m];
            for i in 0..r {
                for j in 0..m {
                    if next() < share[i] {
                        x[i * m + j] = f64::NAN;
                    }
                }
            }
            let mut z = x.clone();
            let mut bits = vec![0u64; r * nw];
            let mut cols = vec![0u32; m];
            let missing: Vec<usize> = (0..r)
                .map(|i| {
                    zero_fill_row(
                        None,
                        &mut z[i * m..(i + 1) * m],
                        &mut bits[i * nw..(i + 1) * nw],
                        &mut cols,
                    )
                })
                .collect();
            for j in 0..m {
                let c = (0..r).filter(|&i| x[i * m + j].is_nan()).count();
                assert_eq!(cols[j] as usize, c);
            }
            let dot =
                |i: usize, j: usize| (0..k).map(|l| w[i * k + l] * ht[j * k + l]).sum::<f64>();
            // W·HHᵀ, then the corrected denominators.
            let mut den = vec![0.0; r * k];
            for i in 0..r {
                for j in 0..m {
                    let d = dot(i, j);
                    for l in 0..k {
                        den[i * k + l] += d * ht[j * k + l];
                    }
                }
            }
            let mask = BlockMask {
                bits: &bits,
                missing: &missing,
                m,
            };
            let (mut wpad, mut acc) = (vec![0.0; kp], vec![0.0; kp]);
            correct_w_den(&w, k, &htp, &mask, &mut den, &mut wpad, &mut acc);
            for i in 0..r {
                for l in 0..k {
                    let want: f64 = (0..m)
                        .filter(|&j| !x[i * m + j].is_nan())
                        .map(|j| dot(i, j) * ht[j * k + l])
                        .sum();
                    let got = den[i * k + l];
                    assert!(
                        (got - want).abs() <= 1e-12 * want.abs(),
                        "k={k} row {i}: {got} vs {want}"
                    );
                }
            }
            let mut s = vec![0.0; m * kp];
            let sq = add_h_terms(&w, k, &htp, &mask, &mut s, &mut wpad);
            let mut sq_want = 0.0;
            for j in 0..m {
                for l in 0..kp {
                    let want: f64 = if l < k {
                        (0..r)
                            .filter(|&i| x[i * m + j].is_nan())
                            .map(|i| dot(i, j) * w[i * k + l])
                            .sum()
                    } else {
                        0.0
                    };
                    let got = s[j * kp + l];
                    assert!(
                        (got - want).abs() <= 1e-13 * (1.0 + want.abs()),
                        "k={k} col {j}"
                    );
                }
                for i in 0..r {
                    if x[i * m + j].is_nan() {
                        sq_want += dot(i, j) * dot(i, j);
                    }
                }
            }
            assert!((sq - sq_want).abs() <= 1e-12 * sq_want);
        }
    }

    /// The AVX2 kernels give the plain kernels' bits (f64 and f32, every
    /// fixed lane-group count), on CPUs that have AVX2.
    #[test]
    fn avx2_kernels_have_the_plain_bits() {
        if !has_avx2() {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            fn check<F: NmfFloat>()
            where
                avx2::Avx2: RowKernels<F>,
            {
                let m = 133;
                let mut seed = 3u64;
                let mut next = || {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    F::from_f64_(((seed >> 11) as f64) / ((1u64 << 53) as f64))
                };
                for kp in [4, 8, 12, 16] {
                    let w: Vec<F> = (0..kp).map(|_| next()).collect();
                    let htp: Vec<F> = (0..m * kp).map(|_| next()).collect();
                    let bits: Vec<u64> = (0..words(m))
                        .map(|q| 0x9e37_79b9_7f4a_7c15u64.rotate_left(q as u32))
                        .collect();
                    for flip in [false, true] {
                        let (mut a, mut b) = (vec![F::zero(); kp], vec![F::zero(); kp]);
                        <Plain as RowKernels<F>>::w_term(&w, &htp, &bits, flip, m, &mut a);
                        <avx2::Avx2 as RowKernels<F>>::w_term(&w, &htp, &bits, flip, m, &mut b);
                        assert!(
                            a.iter()
                                .zip(&b)
                                .all(|(x, y)| x.to_f64_().to_bits() == y.to_f64_().to_bits()),
                            "w_term kp={kp}"
                        );
                    }
                    let (mut a, mut b) = (vec![F::zero(); m * kp], vec![F::zero(); m * kp]);
                    let sa = <Plain as RowKernels<F>>::h_terms(&w, &htp, &bits, m, &mut a);
                    let sb = <avx2::Avx2 as RowKernels<F>>::h_terms(&w, &htp, &bits, m, &mut b);
                    assert_eq!(sa.to_bits(), sb.to_bits(), "h_terms sum kp={kp}");
                    assert!(
                        a.iter()
                            .zip(&b)
                            .all(|(x, y)| x.to_f64_().to_bits() == y.to_f64_().to_bits()),
                        "h_terms kp={kp}"
                    );
                }
            }
            check::<f64>();
            check::<f32>();
        }
    }
}
