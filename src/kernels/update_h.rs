//! The online multiplicative update of H from the mini-batch statistics:
//! A ← ρA + H^(1/γ)∘num, B ← ρB + den, H ← (A/B)^γ.
//!
//! For β = 2 the denominator WᵀW·H and for β = 1 W's column sums are
//! never stored as a k×m matrix: WᵀW·H is computed a block of columns at a
//! time, just before the block of H it reads is updated, and W's column
//! sums are one value per row of H.

use super::elementwise::{npow, EPS};
use super::workspace::{Buf, HStats};
use super::{Loss, Penalty};
use crate::float::{NmfFloat, EPSILON_F64};
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis, Zip};
use rayon::prelude::*;

/// Elements of H per parallel chunk of the update.
pub(crate) const CHUNK: usize = 1 << 13;

/// Elements per step of the update's vectorised loop ([`gram_blocks`]).
const LANES: usize = 8;

/// Columns of H per block of WᵀW·H for wide H (each element is the same
/// k-term product whatever the cut).
const COLS: usize = 4096;

/// Apply the update in place. Returns ||H_new − H_old|| / ||H_new||, its
/// sums taken in a fixed order (per-chunk partials in `parts`, added in
/// sequence) so that every worker computes the same bits. The denominator
/// is `stats.den` as the step left it, except for β = 2 (WᵀW·H from
/// `stats.wtw`, through `scratch`) and β = 1 (W's column sums
/// `stats.wsum`, a zero sum replaced by 1).
///
/// `keep_unobserved` (a masked step, `masked/`): the statistics are
/// complete in `stats.den` for every β; an entry whose denominator
/// statistic is 0 — its column has no observed entry in the batch, or the
/// observed rows' W is 0 there — is left as it is, with its A and B (a
/// column of X never observed keeps its initial H).
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    stats: &HStats<F>,
    loss: &Loss,
    pen: &Penalty,
    rho: f64,
    keep_unobserved: bool,
    parts: &mut Vec<(f64, f64)>,
    scratch: &mut Buf<F>,
) -> f64 {
    let l1 = F::from_f64_(pen.l1);
    let l2 = F::from_f64_(pen.l2);
    let eps = F::from_f64_(EPS);
    let rho = F::from_f64_(rho);
    let gamma = loss.gamma;
    let zero_small = loss.beta <= 1.0;
    let tiny = F::from_f64_(EPSILON_F64);
    let kernel = |(d2, n2): (f64, f64), hv: &mut F, av: &mut F, bv: &mut F, nv: F, dv: F| {
        let old = *hv;
        if keep_unobserved && dv == F::zero() {
            let o = old.to_f64_();
            return (d2, n2 + o * o);
        }
        let mut den = dv;
        if pen.l1 > 0.0 {
            den += l1;
        }
        if pen.l2 > 0.0 {
            den += l2 * old;
        }
        if den == F::zero() {
            den = eps;
        }
        let hg = if gamma != 1.0 {
            npow(old, 1.0 / gamma)
        } else {
            old
        };
        *av = *av * rho + nv * hg;
        *bv = *bv * rho + den;
        let mut new = *av / *bv;
        if gamma != 1.0 {
            new = npow(new, gamma);
        }
        if zero_small && new < tiny {
            new = F::zero();
        }
        *hv = new;
        let d = (new - old).to_f64_();
        (d2 + d * d, n2 + new.to_f64_() * new.to_f64_())
    };
    let (k, m) = h.dim();
    let contiguous = h.is_standard_layout()
        && a.is_standard_layout()
        && b.is_standard_layout()
        && stats.num.is_standard_layout();
    let own_den = !keep_unobserved && (loss.beta == 2.0 || loss.beta == 1.0);
    let (d2, n2) = if !contiguous {
        // Not met by the estimator's owned matrices: the denominator in
        // full, element by element.
        let den = if own_den {
            full_den(stats, h.view(), loss.beta)
        } else {
            stats.den.clone()
        };
        Zip::from(h)
            .and(a)
            .and(b)
            .and(&stats.num)
            .and(&den)
            .fold((0.0, 0.0), |acc, hv, av, bv, &nv, &dv| {
                kernel(acc, hv, av, bv, nv, dv)
            })
    } else if own_den && loss.beta == 2.0 && m >= 2 * COLS {
        // Without penalties: the kernel's arithmetic written branch-free
        // over LANES elements at a time (`gram_blocks`), so it vectorises.
        let plain =
            (!no_plain() && pen.l1 == 0.0 && pen.l2 == 0.0 && gamma == 1.0).then_some((rho, eps));
        gram_blocks(h, a, b, stats, parts, scratch, &kernel, plain)
    } else {
        let den = if !own_den {
            Den::Full(stats.den.as_slice().expect("owned"))
        } else if loss.beta == 1.0 {
            Den::PerRow(stats.wsum.as_slice().expect("owned"), m)
        } else {
            let mut d = scratch.mat(k, m);
            general_mat_mul(F::one(), &stats.wtw, &h.view(), F::zero(), &mut d);
            Den::Full(&scratch.slice(k * m)[..])
        };
        // β = 1 without penalties: branch-free over LANES elements of a
        // row at a time, as for β = 2 above.
        let plain = (!no_plain()
            && own_den
            && loss.beta == 1.0
            && pen.l1 == 0.0
            && pen.l2 == 0.0
            && gamma == 1.0)
            .then_some((rho, eps, zero_small.then_some(tiny)));
        flat_chunks(h, a, b, stats.num.view(), den, parts, &kernel, plain)
    };
    d2.sqrt() / n2.sqrt()
}

/// The denominator of a β = 2 or β = 1 update as it would be stored.
fn full_den<F: NmfFloat>(stats: &HStats<F>, h: ArrayView2<F>, beta: f64) -> Array2<F> {
    if beta == 2.0 {
        stats.wtw.dot(&h)
    } else {
        let (k, m) = h.dim();
        Array2::from_shape_fn((k, m), |(t, _)| one_if_zero(stats.wsum[t]))
    }
}

/// W's column sum `s` as the β = 1 denominator (a zero sum, a component
/// no row uses, gives 1).
fn one_if_zero<F: NmfFloat>(s: F) -> F {
    if s == F::zero() {
        F::one()
    } else {
        s
    }
}

/// Where the update reads its denominator.
enum Den<'a, F> {
    /// A k×m matrix (flat, row-major).
    Full(&'a [F]),
    /// One value per row of H (β = 1: W's column sums), rows of `m`.
    PerRow(&'a [F], usize),
}

/// The update over the flat k×m matrices in parallel chunks of [`CHUNK`]
/// elements; the chunks' sums are added in order. `plain` (β = 1: one
/// denominator per row, no penalty): each chunk's runs within a row go
/// through [`plain_lanes`] (the chunk's norm sums: its kernel tails, then
/// its lanes in lane order).
#[allow(clippy::too_many_arguments)]
fn flat_chunks<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    num: ArrayView2<F>,
    den: Den<'_, F>,
    parts: &mut Vec<(f64, f64)>,
    kernel: &(impl Fn((f64, f64), &mut F, &mut F, &mut F, F, F) -> (f64, f64) + Sync),
    plain: Option<(F, F, Option<F>)>,
) -> (f64, f64) {
    let hs = h.as_slice_mut().expect("standard layout");
    let as_ = a.as_slice_mut().expect("standard layout");
    let bs = b.as_slice_mut().expect("standard layout");
    let ns = num.to_slice().expect("standard layout");
    hs.par_chunks_mut(CHUNK)
        .zip(as_.par_chunks_mut(CHUNK))
        .zip(bs.par_chunks_mut(CHUNK))
        .zip(ns.par_chunks(CHUNK))
        .enumerate()
        .map(|(c, (((hc, ac), bc), nc))| {
            let mut acc = (0.0, 0.0);
            match &den {
                Den::Full(d) => {
                    let dc = &d[c * CHUNK..c * CHUNK + hc.len()];
                    for i in 0..hc.len() {
                        acc = kernel(acc, &mut hc[i], &mut ac[i], &mut bc[i], nc[i], dc[i]);
                    }
                }
                Den::PerRow(sums, m) if plain.is_some() => {
                    let consts = plain.expect("checked");
                    let mut lanes = ([0.0f64; LANES], [0.0f64; LANES]);
                    // The row and column of the chunk's first element.
                    let (mut t, j0) = ((c * CHUNK) / m, (c * CHUNK) % m);
                    let mut i0 = 0;
                    let mut run = (*m - j0).min(hc.len());
                    while i0 < hc.len() {
                        let i1 = i0 + run;
                        let dv = one_if_zero(sums[t]);
                        let done = plain_lanes(
                            (
                                &mut hc[i0..i1],
                                &mut ac[i0..i1],
                                &mut bc[i0..i1],
                                &nc[i0..i1],
                            ),
                            |_| dv,
                            consts,
                            &mut lanes,
                        );
                        for i in i0 + done..i1 {
                            acc = kernel(acc, &mut hc[i], &mut ac[i], &mut bc[i], nc[i], dv);
                        }
                        i0 = i1;
                        t += 1;
                        run = (*m).min(hc.len() - i0);
                    }
                    for l in 0..LANES {
                        acc.0 += lanes.0[l];
                        acc.1 += lanes.1[l];
                    }
                }
                Den::PerRow(sums, m) => {
                    // The row and column of the chunk's first element.
                    let (mut t, mut j) = ((c * CHUNK) / m, (c * CHUNK) % m);
                    for i in 0..hc.len() {
                        let dv = one_if_zero(sums[t]);
                        acc = kernel(acc, &mut hc[i], &mut ac[i], &mut bc[i], nc[i], dv);
                        j += 1;
                        if j == *m {
                            j = 0;
                            t += 1;
                        }
                    }
                }
            }
            acc
        })
        .collect_into_vec(parts);
    parts.iter().fold((0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1))
}

#[cfg(test)]
thread_local! {
    /// Tests: send the update through the kernel's own loop.
    static NO_PLAIN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a test turned the vectorised loop off on this thread.
fn no_plain() -> bool {
    #[cfg(test)]
    return NO_PLAIN.with(|c| c.get());
    #[cfg(not(test))]
    false
}

/// The kernel's arithmetic for γ = 1 without penalties on whole groups of
/// LANES elements of one row (`den(i)`: element i's denominator statistic,
/// 0 replaced by `eps`; `tiny`: β ≤ 1's zeroing of values below it), branch
/// free so that it vectorises: the same operations in the same order on
/// every element as the kernel's, so H, A and B get its bits. The norms'
/// sums go into `lanes` (element i in lane i mod LANES). Returns how many
/// elements it did (the rest of the row is the caller's).
#[inline(always)]
fn plain_lanes<F: NmfFloat>(
    (hr, ar, br, nr): (&mut [F], &mut [F], &mut [F], &[F]),
    den: impl Fn(usize) -> F,
    (rho, eps, tiny): (F, F, Option<F>),
    lanes: &mut ([f64; LANES], [f64; LANES]),
) -> usize {
    let w = hr.len();
    let mut i = 0;
    while i + LANES <= w {
        let r = i..i + LANES;
        let h8: &mut [F; LANES] = (&mut hr[r.clone()]).try_into().expect("LANES");
        let a8: &mut [F; LANES] = (&mut ar[r.clone()]).try_into().expect("LANES");
        let b8: &mut [F; LANES] = (&mut br[r.clone()]).try_into().expect("LANES");
        let n8: &[F; LANES] = nr[r].try_into().expect("LANES");
        for l in 0..LANES {
            let old = h8[l];
            let dv = den(i + l);
            let dv = if dv == F::zero() { eps } else { dv };
            a8[l] = a8[l] * rho + n8[l] * old;
            b8[l] = b8[l] * rho + dv;
            let mut new = a8[l] / b8[l];
            if let Some(tiny) = tiny {
                new = if new < tiny { F::zero() } else { new };
            }
            h8[l] = new;
            let d = (new - old).to_f64_();
            lanes.0[l] += d * d;
            lanes.1[l] += new.to_f64_() * new.to_f64_();
        }
        i += LANES;
    }
    i
}

/// The β = 2 update of wide H in blocks of [`COLS`] columns: each block's
/// WᵀW·H (k×COLS, in the group's scratch) just before the block is
/// updated. Consecutive blocks form one group per thread; each block's
/// sums land in `parts` at the block's place and are added in block
/// order, so the result does not depend on the number of threads.
///
/// `plain` = Some((rho, eps)) (no penalty, γ = 1, every entry
/// updated): the kernel's arithmetic on LANES elements at a time, without
/// its branches — the same operations in the same order on every element,
/// so H, A and B get the kernel's bits — with the two norms' sums in LANES
/// interleaved partial sums (element i of a row in lane i mod LANES), added
/// in lane order at the block's end (so they differ from one sequential sum
/// by the rounding of the f64 additions only, ~1e-16 relative); the rest
/// of each row through `kernel`.
#[allow(clippy::too_many_arguments)]
fn gram_blocks<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    stats: &HStats<F>,
    parts: &mut Vec<(f64, f64)>,
    scratch: &mut Buf<F>,
    kernel: &(impl Fn((f64, f64), &mut F, &mut F, &mut F, F, F) -> (f64, f64) + Sync),
    plain: Option<(F, F)>,
) -> (f64, f64) {
    let (k, m) = h.dim();
    let blocks = m.div_ceil(COLS);
    let per = blocks.div_ceil(rayon::current_num_threads().clamp(1, blocks));
    let gcols = per * COLS;
    let groups = m.div_ceil(gcols);
    parts.clear();
    parts.resize(blocks, (0.0, 0.0));
    let scratch = scratch.slice(groups * k * COLS);
    let wtw = stats.wtw.view();
    h.axis_chunks_iter_mut(Axis(1), gcols)
        .into_par_iter()
        .zip(a.axis_chunks_iter_mut(Axis(1), gcols).into_par_iter())
        .zip(b.axis_chunks_iter_mut(Axis(1), gcols).into_par_iter())
        .zip(stats.num.axis_chunks_iter(Axis(1), gcols).into_par_iter())
        .zip(scratch.par_chunks_mut(k * COLS))
        .zip(parts.par_chunks_mut(per))
        .for_each(|(((((mut hg, mut ag), mut bg), ng), sc), pg)| {
            for (bi, p) in pg.iter_mut().enumerate() {
                let (c0, c1) = (bi * COLS, ((bi + 1) * COLS).min(hg.ncols()));
                let w = c1 - c0;
                let mut den = ArrayViewMut2::from_shape((k, w), &mut sc[..k * w]).expect("k×w");
                general_mat_mul(
                    F::one(),
                    &wtw,
                    &hg.slice(s![.., c0..c1]),
                    F::zero(),
                    &mut den,
                );
                let mut acc = (0.0, 0.0);
                let mut lanes = ([0.0f64; LANES], [0.0f64; LANES]);
                for t in 0..k {
                    let mut hr = hg.slice_mut(s![t, c0..c1]);
                    let mut ar = ag.slice_mut(s![t, c0..c1]);
                    let mut br = bg.slice_mut(s![t, c0..c1]);
                    let nr = ng.slice(s![t, c0..c1]);
                    let hr = hr.as_slice_mut().expect("row of a column block");
                    let ar = ar.as_slice_mut().expect("row of a column block");
                    let br = br.as_slice_mut().expect("row of a column block");
                    let nr = nr.to_slice().expect("row of a column block");
                    let dr = &sc[t * w..(t + 1) * w];
                    let i = match plain {
                        Some((rho, eps)) => {
                            plain_lanes((hr, ar, br, nr), |i| dr[i], (rho, eps, None), &mut lanes)
                        }
                        None => 0,
                    };
                    for i in i..w {
                        acc = kernel(acc, &mut hr[i], &mut ar[i], &mut br[i], nr[i], dr[i]);
                    }
                }
                if plain.is_some() {
                    for l in 0..LANES {
                        acc.0 += lanes.0[l];
                        acc.1 += lanes.1[l];
                    }
                }
                *p = acc;
            }
        });
    parts.iter().fold((0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorised loop gives H, A and B the kernel's bits in f32 and
    /// f64 (zero denominators included, rows not a multiple of LANES), and
    /// the norm ratio up to the order of its f64 sums.
    #[test]
    fn plain_loop_has_the_kernels_bits() {
        // β = 2 over column blocks; β = 1 over flat chunks whose rows cross
        // the chunks' borders (one row with a zero column sum of W).
        for (beta, k, m) in [
            (2.0, 5, 2 * COLS + 37),
            (1.0, 7, 3001),
            (1.0, 3, 2 * CHUNK + 5),
        ] {
            plain_loop_case::<f32>(beta, k, m);
            plain_loop_case::<f64>(beta, k, m);
        }
    }

    fn plain_loop_case<F: NmfFloat>(beta: f64, k: usize, m: usize) {
        let val = |i: usize, j: usize, s: usize| {
            F::from_f64_((((i * 7919 + j * 104729 + s * 1299709) % 1000) as f64 + 1.0) / 1000.0)
        };
        let mut h = Array2::from_shape_fn((k, m), |(i, j)| val(i, j, 1));
        // Columns of H at zero: WᵀW·H is 0 there, the kernel's eps.
        for j in (0..m).step_by(97) {
            h.column_mut(j).fill(F::zero());
        }
        let mut a0 = Array2::from_shape_fn((k, m), |(i, j)| val(i, j, 2));
        let b0 = Array2::from_shape_fn((k, m), |(i, j)| val(i, j, 3) + F::from_f64_(0.5));
        let mut stats = HStats::<F>::new(k, m);
        stats.num = Array2::from_shape_fn((k, m), |(i, j)| val(i, j, 4));
        stats.wtw = Array2::from_shape_fn((k, k), |(i, j)| val(i.min(j), i.max(j), 5));
        stats.wsum =
            ndarray::Array1::from_shape_fn(k, |t| if t == 1 { F::zero() } else { val(t, 0, 6) });
        // A few entries that end below EPSILON_F64, which β = 1 zeroes.
        for j in (0..m).step_by(89) {
            stats.num[[0, j]] = F::zero();
            a0[[0, j]] = F::from_f64_(EPSILON_F64 / 4.0);
        }
        let pen = Penalty { l1: 0.0, l2: 0.0 };
        let run = |off: bool| {
            NO_PLAIN.with(|c| c.set(off));
            let (mut h, mut a, mut b) = (h.clone(), a0.clone(), b0.clone());
            let r = apply(
                &mut h,
                &mut a,
                &mut b,
                &stats,
                &Loss::new(beta),
                &pen,
                0.7,
                false,
                &mut Vec::new(),
                &mut Buf::default(),
            );
            NO_PLAIN.with(|c| c.set(false));
            (h, a, b, r)
        };
        let (h1, a1, b1, r1) = run(true);
        let (h2, a2, b2, r2) = run(false);
        if beta == 1.0 {
            assert_eq!(h2[[0, 0]], F::zero(), "the zeroing is exercised");
        }
        assert_eq!(h1, h2);
        assert_eq!(a1, a2);
        assert_eq!(b1, b2);
        // Sums of k·m non-negative f64 terms in two orders.
        let bound = 2.0 * (k * m) as f64 * f64::EPSILON;
        assert!((r1 - r2).abs() <= bound * r1, "{r1} vs {r2}");
    }
}
