//! scikit-learn's `fit_transform` loop over X read by row blocks from a
//! source (in memory or a file). Distributed, `x` is this worker's shard;
//! every step is local (this worker's rows of the global batch) → reduce
//! (sums over the workers) → apply (the same H update everywhere), for
//! whichever solver.

use super::resume::{FitCursor, Progress, Resumed};
use super::solver::{self, Stats};
use super::start::{start, Start};
use super::{check_finite_result, final_err, FitArgs, FitSummary, Fitted, StopReason, Warning};
use crate::dist::{Comm, Shard};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::init;
use crate::input::Input;
use crate::io::RowSource;
use crate::kernels::cd::StatUpdate;
use crate::kernels::{self, Penalty, StepCtx, StepOutcome, StepSolver, WRows};
use crate::memory::{Matrix, Paged};
use crate::params::{Missing, ValidParams};
use crate::progress::{Control, ObserverSlot, StepReport};
use crate::rng::RandomState;
use ndarray::{s, Array2, ArrayView2};
use std::path::Path;

/// Where a step's batch sits: the global rows [start, end) and this
/// worker's rows of them [lo, hi).
struct Batch {
    step: usize,
    start: usize,
    end: usize,
    lo: usize,
    hi: usize,
}

/// The fixed frame of one fit's steps.
struct Schedule {
    n: usize,
    batch_size: usize,
    steps_per_iter: usize,
    max_steps: usize,
    max_iter: usize,
}

impl Schedule {
    fn batch(&self, step: usize, shard: &Shard) -> Batch {
        let start = (step % self.steps_per_iter) * self.batch_size;
        let end = (start + self.batch_size).min(self.n);
        let (lo, hi) = shard.local_range(start, end);
        Batch {
            step,
            start,
            end,
            lo,
            hi,
        }
    }

    fn report(&self, b: &Batch, out: &StepOutcome, ewa_cost: Option<f64>) -> StepReport {
        StepReport {
            step: b.step + 1,
            max_steps: self.max_steps,
            epoch: b.step / self.steps_per_iter + 1,
            max_epochs: self.max_iter,
            batch_rows: b.end - b.start,
            rows_done: (b.step / self.steps_per_iter) * self.n + b.end,
            n_samples: self.n,
            batch_cost: out.batch_cost,
            ewa_cost,
        }
    }
}

/// What a fit returns: W (in RAM or in a mapped file), the fitted state,
/// the generator moved on, and where an interrupted fit stopped.
pub(super) type FitOutcome<F> = (Matrix<F>, Fitted<F>, RandomState, Option<FitCursor>);

/// The fit: returns W (this worker's rows), the fitted state, the
/// random state after the initialisation's draws and, when interrupted,
/// where it stopped. `resumed`: continue an interrupted fit (resume.rs)
/// instead of starting one. `w_file`: where W goes if the preflight finds
/// it cannot stay in RAM (None: a scratch file).
pub(super) fn fit_transform_impl<F: NmfFloat>(
    params: &ValidParams,
    x: &mut dyn RowSource<F>,
    args: &FitArgs<F>,
    observer: &ObserverSlot,
    comm: Comm,
    resumed: Option<Resumed<F>>,
    w_file: Option<&Path>,
) -> Result<FitOutcome<F>> {
    let m = x.shape().1;
    let (begin, progress) = match resumed {
        None => (start(params, x, args, comm, w_file)?, None),
        Some(r) => r.begin(params, x, comm).map(|(b, p)| (b, Some(p)))?,
    };
    let Start {
        mut w,
        mut h,
        derived,
        mut warnings,
        shard,
        random_state,
        sq_x,
    } = begin;
    let k = h.nrows();
    let n = shard.n_total;
    let bs = derived.batch_size;
    let steps_per_iter = n.div_ceil(bs);
    let sched = Schedule {
        n,
        batch_size: bs,
        steps_per_iter,
        max_steps: params.get_max_iter() * steps_per_iter,
        max_iter: params.get_max_iter(),
    };
    let mut ctx = StepCtx {
        loss: derived.loss,
        pen_w: Penalty::for_w(params, m),
        rho: derived.rho,
        solver: solver::fit_solver(params, &derived, steps_per_iter == 1),
        comm,
        missing: params.get_missing(),
        batch: None,
    };
    // cd with missing values: the masked statistics for the whole fit
    // when X has a missing entry (a resumed fit keeps its statistics' form).
    if let StepSolver::Cd { cfg, .. } = &mut ctx.solver {
        cfg.masked = match &progress {
            Some(p) => kernels::cd::is_per_column(&p.stats.denominator, k, m),
            // The checking pass counted the observed entries of all workers.
            None => {
                ctx.missing.is_masked()
                    && shard.observed < shard.n_total as f64 * shard.n_features as f64
            }
        };
        if cfg.masked {
            kernels::cd::masked_step::check_memory(params.get_max_memory(), m, k, size_of::<F>())?;
        }
    }
    ctx.missing = kernels::masked::effective_mode(ctx.missing, &shard, &ctx.solver);
    // W's rows are used block by block with X's: the blocks of a spilled
    // W are given back to the system behind each block of X.
    let mut xp = Paged::new(x, &w);
    let Progress {
        stats:
            Stats {
                mut numerator,
                mut denominator,
                mut stat_rows,
            },
        n_steps: first_step,
        mut conv,
    } = match progress {
        Some(p) => p,
        None => Progress::new(solver::initial_stats(
            &derived,
            &h,
            w.view(),
            &mut xp,
            n,
            &ctx.solver,
            ctx.missing,
            comm,
        )?),
    };
    let is_cd = matches!(ctx.solver, StepSolver::Cd { .. });

    let mut ws = kernels::Workspace::<F>::for_shape(m, k, bs);
    if ctx.missing.is_masked() {
        ws.masked.expect_batches(steps_per_iter);
    }
    let mut stop_reason = StopReason::MaxIter;
    let mut n_steps = first_step;
    for step in first_step..sched.max_steps {
        let b = sched.batch(step, &shard);
        let xb = xp.rows(b.lo, b.hi)?;
        let w_rows = if params.get_fresh_restarts() {
            WRows::Fresh {
                mean: batch_mean(&xb, ctx.missing, comm)?,
                max_iter: params.get_fresh_restarts_max_iter(),
                tol: params.get_tol(),
                // cd keeps the rows' W: their contribution to A and B.
                keep: is_cd.then(|| w.view_mut().slice_move(s![b.lo..b.hi, ..])),
            }
        } else {
            WRows::Update(w.view_mut().slice_move(s![b.lo..b.hi, ..]))
        };
        ctx.batch = Some(step % steps_per_iter);
        let mut cost = kernels::step_local(&xb, w_rows, h.view(), &ctx, &mut ws)?;
        kernels::step_reduce(&ctx, &mut ws, &mut cost)?;
        let (rows, penalty_h) =
            solver::step_rows_and_penalty(params, &ctx.solver, stat_rows, b.end - b.start, false);
        stat_rows = rows;
        let out = kernels::step_apply(
            &mut h,
            &mut numerator,
            &mut denominator,
            &penalty_h,
            b.end - b.start,
            cost,
            &ctx,
            &mut ws,
        );
        n_steps = step + 1;
        let converged = conv.check(
            params,
            b.end - b.start,
            n,
            out.batch_cost,
            out.h_diff,
            n_steps,
            sched.max_steps,
        );
        let mut control = observer.step(|| sched.report(&b, &out, conv.ewa_cost));
        if observer.0.is_some() && !comm.is_single() {
            // A stop on any worker stops them all after this step.
            let mut stop = [f64::from(u8::from(control == Control::Stop))];
            comm.sum_f64(&mut stop)?;
            if stop[0] > 0.0 {
                control = Control::Stop;
            }
        }
        if let Some(reason) = converged {
            stop_reason = reason;
            break;
        }
        if control == Control::Stop {
            stop_reason = StopReason::Interrupted;
            break;
        }
    }
    // An interrupted cd fit keeps the loop's W (each row's last solve,
    // its share of A and B): a resumed fit continues from it.
    let keep_w = is_cd && stop_reason == StopReason::Interrupted;
    // The steps' buffers (Hᵀ, the batch statistics: several k×m) are freed
    // before the final W and error allocate their own.
    drop(ws);
    drop(xp);
    if params.get_fresh_restarts() && !keep_w {
        w.replace(final_w(
            params,
            x,
            h.view(),
            &ctx,
            derived.transform_max_iter,
            &shard,
        )?);
    }
    let n_iter = n_steps.div_ceil(steps_per_iter);
    if n_iter == params.get_max_iter() && params.get_tol() > 0.0 {
        warnings.push(Warning::Convergence {
            max_iter: params.get_max_iter(),
        });
        if params.get_verbose() {
            eprintln!("{}", warnings.last().expect("just pushed"));
        }
    }
    check_finite_result(h.view(), "components")?;
    // The divergence and W's finiteness are summed over the workers, so
    // all of them fail or succeed together. cd's exact statistics of the
    // final W may give the divergence without a pass over X (final_err.rs):
    // then ||X||² is summed instead, and every worker decides alike.
    let replaced = params.get_fresh_restarts() && !keep_w;
    let history = match &ctx.solver {
        StepSolver::Cd { cfg, update } if !cfg.masked && sq_x.is_some() && !replaced => {
            stats_history(*update, stat_rows, n_steps, bs, n)
        }
        _ => None,
    };
    let local = match (history, sq_x) {
        (Some(_), Some(sq)) => sq,
        _ => divergence(&mut Paged::new(x, &w), w.view(), h.view(), &ctx)?,
    };
    let mut totals = [local, if w.all_finite() { 0.0 } else { 1.0 }];
    comm.sum_f64(&mut totals)?;
    if totals[1] > 0.0 {
        return Err(Error::Diverged(
            "W contain NaN or infinity (is X all zeros, or too large for the dtype?)".into(),
        ));
    }
    let divergence = match history {
        None => totals[0],
        Some(hist) => match final_err::divergence_from_stats(
            totals[0],
            denominator.view(),
            numerator.view(),
            h.view(),
            hist,
        ) {
            Some(d) => d,
            None => {
                let mut d = [divergence(
                    &mut Paged::new(x, &w),
                    w.view(),
                    h.view(),
                    &ctx,
                )?];
                comm.sum_f64(&mut d)?;
                d[0]
            }
        },
    };
    let reconstruction_err = (2.0 * divergence.max(0.0)).sqrt();
    let summary = FitSummary {
        n_iter,
        n_steps,
        reconstruction_err,
        stop_reason,
        warnings,
    };
    let fitted = Fitted {
        components: h,
        numerator,
        denominator,
        stat_rows,
        n_features_in: m,
        n_steps,
        n_iter: Some(n_iter),
        reconstruction_err: Some(reconstruction_err),
        feature_names_in: args.feature_names.map(|s| s.to_vec()),
        derived,
        last_fit: Some(summary),
    };
    let cursor = (stop_reason == StopReason::Interrupted).then(|| conv.cursor(n_steps));
    Ok((w, fitted, random_state, cursor))
}

/// How cd's A and B of the final W were built, when they are exactly
/// WᵀW and WᵀX (the exact form once every row is in them, `stat_rows` =
/// `n`; the decayed form has no such statistics): `n_steps` steps of
/// batches of `bs` of the `n` rows, after the initial W's statistics (at
/// most a pass over X) unless one batch covers every row.
fn stats_history(
    update: StatUpdate,
    stat_rows: f64,
    n_steps: usize,
    bs: usize,
    n: usize,
) -> Option<final_err::History> {
    match update {
        StatUpdate::Add if stat_rows < n as f64 => None,
        // One batch covers every row: the last step's own statistics.
        StatUpdate::Decay(rho) if rho == 0.0 && bs >= n => Some(final_err::History {
            passes: 1.0,
            inner: n as f64,
            updates: 1.0,
        }),
        StatUpdate::Decay(_) => None,
        // The initial W's statistics (one pass, a sum over all rows at
        // most), then each step's change of its batch.
        StatUpdate::Add => Some(final_err::History {
            passes: 1.0 + (n_steps as f64 * bs as f64 / n as f64).ceil(),
            inner: n as f64,
            updates: n_steps as f64 + 1.0,
        }),
    }
}

/// W of the whole of X with H fixed (fresh restarts' final W; transform):
/// MU from sqrt(mean/k), cd from zeros.
pub(super) fn final_w<F: NmfFloat>(
    params: &ValidParams,
    x: &mut dyn RowSource<F>,
    h: ArrayView2<F>,
    ctx: &StepCtx,
    max_iter: usize,
    shard: &Shard,
) -> Result<Array2<F>> {
    solve_w(params, x, h, ctx, max_iter, shard.mean())
}

/// The beta-divergence of X and W·H: over the observed entries when X has
/// missing ones (`missing`), else the unmasked kernel.
pub(super) fn divergence<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    ctx: &StepCtx,
) -> Result<f64> {
    if kernels::masked::source_has_missing(x, ctx.missing, ctx.comm)? {
        return kernels::masked::beta_divergence_source_masked(x, ctx.missing, w, h, &ctx.loss);
    }
    kernels::beta_divergence_source(x, w, h, &ctx.loss)
}

/// W solve by the frozen solver (from each row's observed entries when X
/// has missing ones).
pub(super) fn solve_w<F: NmfFloat>(
    params: &ValidParams,
    x: &mut dyn RowSource<F>,
    h: ArrayView2<F>,
    ctx: &StepCtx,
    max_iter: usize,
    mean: f64,
) -> Result<Array2<F>> {
    if matches!(ctx.solver, StepSolver::Cd { .. })
        && kernels::masked::source_has_missing(x, ctx.missing, ctx.comm)?
    {
        return kernels::cd::solve_w_source_cd_masked(
            x,
            ctx.missing,
            h,
            &ctx.pen_w,
            max_iter,
            params.get_tol(),
        );
    }
    if ctx.solver == StepSolver::Mu
        && kernels::masked::source_has_missing(x, ctx.missing, ctx.comm)?
    {
        return Ok(kernels::masked::solve_w_source_masked(
            x,
            ctx.missing,
            h,
            &ctx.loss,
            &ctx.pen_w,
            max_iter,
            params.get_tol(),
            mean,
            ctx.comm,
        )?
        .w);
    }
    Ok(match ctx.solver {
        StepSolver::Mu => {
            kernels::solve_w_source(
                x,
                h,
                &ctx.loss,
                &ctx.pen_w,
                max_iter,
                params.get_tol(),
                mean,
                ctx.comm,
            )?
            .w
        }
        StepSolver::Cd { .. } => {
            kernels::cd::solve_w_source_cd(x, h, &ctx.pen_w, max_iter, params.get_tol(), ctx.comm)?
                .w
        }
    })
}

/// mean(X) of a global batch from this worker's rows of it (the start of a
/// fresh W solve); with missing values, the mean of its observed entries.
pub(super) fn batch_mean<F: NmfFloat>(xb: &Input<F>, mode: Missing, comm: Comm) -> Result<f64> {
    if mode.is_masked() && kernels::masked::batch_has_missing(xb, mode, comm)? {
        let mut t = kernels::masked::observed_sum_count(xb, mode);
        comm.sum_f64(&mut t)?;
        return Ok(if t[1] > 0.0 { t[0] / t[1] } else { 0.0 });
    }
    if comm.is_single() {
        return Ok(init::mean(xb));
    }
    let (n, m) = xb.shape();
    let mut t = [init::mean(xb) * (n * m) as f64, n as f64];
    if n == 0 {
        t[0] = 0.0;
    }
    comm.sum_f64(&mut t)?;
    Ok(t[0] / (t[1] * m as f64))
}
