//! Missing values: the masked multiplicative updates (every beta), for the
//! batches the solver receives. The mask is never stored; it is read off
//! each batch ([`rows`]: NaN entries, or a CSR block's unstored entries).
//!
//! A step whose batch has a missing entry takes this path (`step.rs`
//! dispatches here); a batch without one takes the unmasked path, so
//! `missing = "nan"` on data without NaN is the unmasked fit bit for bit.
//! The masked statistics of H are its full numerator and denominator (k×m
//! each, reduced as they are), and the H update (`update_h::apply` with
//! `keep_unobserved`) uses them as they stand.
//!
//! Treatment of rows and columns without an observed entry: such a row's W
//! becomes 0 at its first update (numerator and denominator are both 0:
//! `transform` gives it W = 0) and contributes nothing to H; an entry of H
//! whose column has no observed entry in a batch is not updated by that
//! batch (`update_h::apply`'s `keep_unobserved`), so a column of X that is never observed keeps its
//! initial H (its completed values are not estimated from data).

/// Defines `fn $name<F: NmfFloat>(..)` whose body runs compiled for AVX2 on
/// CPUs that have it, else for the baseline: for the elementwise passes
/// (selects, sums) that LLVM vectorises 2 wide without it. The same IEEE
/// operations in the same order either way (Rust never fuses a multiply
/// and an add): the same results.
macro_rules! avx2_compiled {
    ($(#[$m:meta])* $vis:vis fn $name:ident<F: NmfFloat>($($a:ident: $t:ty),* $(,)?) $(-> $r:ty)? $body:block) => {
        $(#[$m])*
        $vis fn $name<F: NmfFloat>($($a: $t),*) $(-> $r)? {
            #[inline(always)]
            fn body<F: NmfFloat>($($a: $t),*) $(-> $r)? $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            unsafe fn avx2<F: NmfFloat>($($a: $t),*) $(-> $r)? {
                body($($a),*)
            }
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    return unsafe { avx2($($a),*) };
                }
            }
            body($($a),*)
        }
    };
}

mod corrections;
mod entry;
mod fro_corr;
mod fro_fused;
mod fro_gemm;
mod frobenius;
mod rows;
mod stream;
mod zero_fill;

pub(crate) use entry::entry_divergence;
pub use fro_gemm::force_masked_frobenius_path;
pub(crate) use rows::{has_missing, MaskedBufs};
pub use stream::{beta_divergence_source_masked, solve_w_source_masked, source_has_missing};

use super::step::{StepCtx, StepSolver, WRows};
use super::workspace::Workspace;
use super::workspace::{Buf, HStats};
use crate::dist::{Comm, Shard};
use crate::error::Result;
use crate::float::{NmfFloat, EPSILON_F64};
use crate::input::Input;
use crate::params::Missing;
use ndarray::{ArrayView2, ArrayViewMut2};

/// The masked path's state in a fit's workspace.
pub(crate) struct MaskedState<F> {
    pub(crate) bufs: MaskedBufs<F>,
    /// Whether the current step took the masked path (its statistics are
    /// then the full numerator and denominator).
    pub(crate) active: bool,
    /// Whether each of the fit's batches has a missing entry (over all
    /// workers), by their place in the cycle ([`StepCtx::batch`]): looked
    /// for the first time a batch comes, read after.
    batch_masked: Vec<Option<bool>>,
    /// The [missing, all] entry counts (over all workers) of the fit's
    /// dense batches, kept the same way.
    batch_counts: Vec<Option<[f64; 2]>>,
}

/// The most batches a fit keeps what it learnt of (1.6 MB).
const MAX_KEPT_BATCHES: usize = 1 << 16;

impl<F> MaskedState<F> {
    /// Room for what is kept of a cycle of `n` batches (so that no step
    /// allocates): 25 bytes a batch, none beyond [`MAX_KEPT_BATCHES`] (such
    /// batches are small, and looking again costs little).
    pub(crate) fn expect_batches(&mut self, n: usize) {
        let n = if n <= MAX_KEPT_BATCHES { n } else { 0 };
        self.batch_masked = vec![None; n];
        self.batch_counts = vec![None; n];
    }
}

impl<F: NmfFloat> Default for MaskedState<F> {
    fn default() -> Self {
        MaskedState {
            bufs: MaskedBufs::default(),
            active: false,
            batch_masked: Vec::new(),
            batch_counts: Vec::new(),
        }
    }
}

/// The mode the steps of a call use: `mode`, or [`Missing::Error`] when the
/// checking pass of X (over all workers: `shard`) found no missing entry.
/// Every batch then takes the unmasked path without looking for a missing
/// entry (as it would after looking: the unmasked fit, bit for bit), and
/// the whole-X kernels skip their passes asking for one. A cd solver
/// holding masked statistics keeps the mode.
pub(crate) fn effective_mode(mode: Missing, shard: &Shard, solver: &StepSolver) -> Missing {
    let masked_cd = matches!(solver, StepSolver::Cd { cfg, .. } if cfg.masked);
    let all = shard.n_total as f64 * shard.n_features as f64;
    if mode.is_masked() && !masked_cd && shard.observed >= all {
        Missing::Error
    } else {
        mode
    }
}

/// Whether a batch (over all workers) has a missing entry.
pub(crate) fn batch_has_missing<F: NmfFloat>(
    x: &Input<F>,
    mode: Missing,
    comm: Comm,
) -> Result<bool> {
    let local = has_missing(x, mode);
    if comm.is_single() {
        return Ok(local);
    }
    let mut flag = [if local { 1.0 } else { 0.0 }];
    comm.sum_f64(&mut flag)?;
    Ok(flag[0] > 0.0)
}

/// Whether this step's batch (over all workers) has a missing entry: a
/// look through the batch (and a reduce) the first time, the answer kept
/// in `state` when the batch comes back in a fit (a batch without a
/// missing entry would be read through at every step).
pub(crate) fn batch_is_masked<F: NmfFloat>(
    x: &Input<F>,
    ctx: &StepCtx,
    state: &mut MaskedState<F>,
) -> Result<bool> {
    let slot = ctx.batch.and_then(|b| state.batch_masked.get_mut(b));
    if let Some(Some(m)) = slot.as_deref() {
        return Ok(*m);
    }
    let masked = batch_has_missing(x, ctx.missing, ctx.comm)?;
    if let Some(s) = slot {
        *s = Some(masked);
    }
    Ok(masked)
}

/// [Σ, count] of the observed entries of a batch (NaN entries are
/// missing; with "unstored", so are the unstored entries of CSR X).
pub(crate) fn observed_sum_count<F: NmfFloat>(x: &Input<F>, mode: Missing) -> [f64; 2] {
    let mut t = [0.0, 0.0];
    let mut add = |v: F| {
        if !v.is_nan() {
            t[0] += v.to_f64_();
            t[1] += 1.0;
        }
    };
    match x {
        Input::Dense(d) => d.iter().copied().for_each(&mut add),
        Input::Csr(c) => {
            for i in 0..c.n_rows() {
                c.row(i).1.iter().copied().for_each(&mut add);
            }
            if mode != Missing::Unstored {
                let (r, m) = x.shape();
                t[1] += (r * m - c.nnz()) as f64;
            }
        }
    }
    t
}

/// Part 1 of a masked MU step: W's rows of the batch from their observed
/// entries, the masked statistics of H in `ws.stats` (num, den), and the
/// cost sum over the observed entries plus W's penalty terms.
pub(crate) fn local<F: NmfFloat>(
    x: &Input<F>,
    w: WRows<F>,
    h: ArrayView2<F>,
    ctx: &StepCtx,
    ws: &mut Workspace<F>,
) -> Result<f64> {
    let (loss, pen_w, comm, mode) = (&ctx.loss, &ctx.pen_w, ctx.comm, ctx.missing);
    let (rows, k) = (x.n_rows(), h.nrows());
    ws.hc.refresh(h, loss.beta);
    ws.stats.ensure();
    ws.masked.active = true;
    let Workspace {
        hc,
        stats,
        w_fresh,
        masked,
        ..
    } = ws;
    let bufs = &mut masked.bufs;
    let ht = hc.ht.view();
    if let (Input::Dense(xd), true) = (x, loss.beta == 2.0) {
        let hht = hc.hht.view();
        let counts = batch_counts(xd.view(), ctx, &mut masked.batch_counts)?;
        return frobenius_local(
            xd.view(),
            w,
            h,
            ht,
            hht,
            ctx,
            counts,
            stats,
            bufs,
            w_fresh,
            k,
        );
    }
    let mut w = match w {
        WRows::Update(mut w) => {
            rows::update_w(
                x,
                mode,
                w.view_mut(),
                h,
                ht,
                loss.beta,
                loss.gamma,
                pen_w,
                bufs,
            );
            w
        }
        WRows::Fresh {
            mean,
            max_iter,
            tol,
            ..
        } => {
            let mut wf = w_fresh.mat(rows, k);
            wf.fill(F::from_f64_((mean / k as f64).sqrt()));
            for _ in 0..max_iter {
                let (d2, n2) = rows::update_w(
                    x,
                    mode,
                    wf.view_mut(),
                    h,
                    ht,
                    loss.beta,
                    loss.gamma,
                    pen_w,
                    bufs,
                );
                if tol > 0.0 {
                    let mut norms = [d2, n2];
                    comm.sum_f64(&mut norms)?;
                    if norms[0].sqrt() / norms[1].sqrt() <= tol {
                        break;
                    }
                }
            }
            wf
        }
    };
    if loss.beta < 1.0 {
        let tiny = F::from_f64_(EPSILON_F64);
        w.mapv_inplace(|v| if v < tiny { F::zero() } else { v });
    }
    stats.num.fill(F::zero());
    stats.den.fill(F::zero());
    let div = rows::divergence_stats(
        x,
        mode,
        w.view(),
        h,
        ht,
        loss.beta,
        Some((stats.num.view_mut(), stats.den.view_mut())),
        bufs,
    );
    Ok(div + pen_w.terms(w.view()))
}

/// [missing, all] entries of a dense batch over all workers: a pass over
/// the batch and a reduce the first time, the same numbers from `memo` when
/// the batch comes back in a fit (the pass would be the batch's first
/// touch of memory: 10–15 % of a fit at 10 % missing).
fn batch_counts<F: NmfFloat>(
    x: ArrayView2<F>,
    ctx: &StepCtx,
    memo: &mut [Option<[f64; 2]>],
) -> Result<[f64; 2]> {
    let slot = ctx.batch.and_then(|b| memo.get_mut(b));
    if let Some(Some(c)) = slot.as_deref() {
        return Ok(*c);
    }
    let mut counts = [
        fro_fused::count_missing(x) as f64,
        (x.nrows() * x.ncols()) as f64,
    ];
    if !ctx.comm.is_single() {
        ctx.comm.sum_f64(&mut counts)?;
    }
    if let Some(s) = slot {
        *s = Some(counts);
    }
    Ok(counts)
}

/// [`local`] for a dense batch and the Frobenius loss ([`frobenius`]).
#[allow(clippy::too_many_arguments)]
fn frobenius_local<F: NmfFloat>(
    x: ArrayView2<F>,
    w: WRows<F>,
    h: ArrayView2<F>,
    ht: ArrayView2<F>,
    hht: ArrayView2<F>,
    ctx: &StepCtx,
    counts: [f64; 2],
    stats: &mut HStats<F>,
    bufs: &mut MaskedBufs<F>,
    w_fresh: &mut Buf<F>,
    k: usize,
) -> Result<f64> {
    let fb = &mut bufs.fro;
    // The path (corrections or GEMM) by the batch's missing share over all
    // workers, so that P workers choose as one process does.
    let gemm = fro_gemm::use_gemm(counts[0], counts[1]);
    // The GEMM path updating W once: fused per row block, X read once.
    let w = match w {
        WRows::Update(mut w) if gemm => {
            let (cost, _) = fro_fused::step(
                x,
                w.view_mut(),
                h,
                ht,
                &ctx.pen_w,
                stats.num.view_mut(),
                stats.den.view_mut(),
                &mut stats.wtw,
                &mut fb.fused,
            );
            return Ok(cost + ctx.pen_w.terms(w.view()));
        }
        // The corrections path updating W once: fused per row block.
        WRows::Update(mut w) if w.is_standard_layout() => {
            let cost = fro_corr::step(
                x,
                w.view_mut(),
                h,
                ht,
                hht,
                &ctx.pen_w,
                stats.num.view_mut(),
                stats.den.view_mut(),
                &mut stats.wtw,
                &mut fb.corr,
            );
            return Ok(cost + ctx.pen_w.terms(w.view()));
        }
        w => w,
    };
    frobenius::prepare(x, ht, fb);
    if !gemm {
        frobenius::index_missing(x, fb);
    }
    let upd = |w: ArrayViewMut2<F>, fb: &mut frobenius::FroBufs<F>| {
        if gemm {
            fro_gemm::update_w(x, w, h, ht, &ctx.pen_w, fb)
        } else {
            frobenius::update_w(w, ht, hht, &ctx.pen_w, fb)
        }
    };
    let w = match w {
        WRows::Update(mut w) => {
            upd(w.view_mut(), fb);
            w
        }
        WRows::Fresh {
            mean,
            max_iter,
            tol,
            ..
        } => {
            let mut fresh = w_fresh.mat(x.nrows(), k);
            fresh.fill(F::from_f64_((mean / k as f64).sqrt()));
            for _ in 0..max_iter {
                let (d2, n2) = upd(fresh.view_mut(), fb);
                if tol > 0.0 {
                    let mut norms = [d2, n2];
                    ctx.comm.sum_f64(&mut norms)?;
                    if norms[0].sqrt() / norms[1].sqrt() <= tol {
                        break;
                    }
                }
            }
            fresh
        }
    };
    let cost = if gemm {
        fro_gemm::cost_and_stats(
            x,
            w.view(),
            h,
            stats.num.view_mut(),
            stats.den.view_mut(),
            &mut stats.wtw,
            fb,
        )
    } else {
        frobenius::cost_and_stats(
            x,
            w.view(),
            h,
            ht,
            hht,
            stats.num.view_mut(),
            stats.den.view_mut(),
            &mut stats.wtw,
            fb,
        )
    };
    Ok(cost + ctx.pen_w.terms(w.view()))
}
