//! scikit-learn's `partial_fit`: one step over the chunk (distributed: the
//! chunk is the concatenation of the workers' chunks), W solved afresh.

use super::solver::{self, Stats};
use super::start::{check_source, start};
use super::{check_feature_names, check_finite_result, FitArgs, Fitted};
use crate::dist::{self, Comm};
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::InMemory;
use crate::kernels::{self, Penalty, StepCtx, WRows};
use crate::memory::{self, Call};
use crate::params::ValidParams;
use crate::rng::RandomState;

pub(super) fn partial_fit_impl<F: NmfFloat>(
    params: &ValidParams,
    current: Option<&Fitted<F>>,
    x: &Input<F>,
    args: &FitArgs<F>,
    comm: Comm,
) -> Result<(Fitted<F>, RandomState)> {
    let src = &mut InMemory::new(*x);
    let mut random_state = params.get_random_state().clone();
    let (mut next, shard) = match current {
        Some(f) => {
            let k = f.components.nrows();
            let local = memory::preflight(
                params,
                Call::PartialFit,
                x.shape(),
                match x {
                    crate::input::Input::Csr(c) => Some(c.nnz()),
                    _ => None,
                },
                k,
                size_of::<F>(),
                false,
            )
            .and_then(|_| {
                check_source(
                    src,
                    Some(f.n_features_in),
                    f.derived.loss.beta,
                    params.get_missing(),
                    comm,
                )
            })
            .and_then(|sum| {
                check_feature_names(f.feature_names_in.as_deref(), args.feature_names).map(|()| sum)
            });
            let shard = dist::preflight(comm, x.shape(), local, 0)?;
            (f.clone(), shard)
        }
        None => {
            let m = x.n_cols();
            // W is solved afresh by the step; only H of the start is kept.
            let first = start(params, src, args, comm, None)?;
            let (h, derived, shard) = (first.h, first.derived, first.shard);
            random_state = first.random_state;
            let Stats {
                numerator,
                denominator,
                stat_rows,
            } = solver::empty_stats(&derived, &h, params.get_missing());
            let fitted = Fitted {
                numerator,
                denominator,
                stat_rows,
                components: h,
                n_features_in: m,
                n_steps: 0,
                n_iter: None,
                reconstruction_err: None,
                feature_names_in: args.feature_names.map(|s| s.to_vec()),
                derived,
                last_fit: None,
            };
            (fitted, shard)
        }
    };
    let (n, m) = (shard.n_total, x.n_cols());
    let k = next.components.nrows();
    let f = &mut next;
    let mut ctx = StepCtx {
        loss: f.derived.loss,
        pen_w: Penalty::for_w(params, m),
        rho: f.derived.rho,
        solver: solver::partial_fit_solver(params, &f.derived),
        comm,
        missing: params.get_missing(),
        batch: None,
    };
    solver::mark_masked(&mut ctx.solver, &f.denominator, k, m);
    ctx.missing = kernels::masked::effective_mode(ctx.missing, &shard, &ctx.solver);
    let (rows, penalty_h) =
        solver::step_rows_and_penalty(params, &ctx.solver, f.stat_rows, n, true);
    let mut ws = kernels::Workspace::<F>::for_shape(m, k, x.n_rows().max(1));
    let fresh = WRows::Fresh {
        mean: shard.mean(),
        max_iter: params.get_fresh_restarts_max_iter(),
        tol: params.get_tol(),
        keep: None,
    };
    let mut cost = kernels::step_local(x, fresh, f.components.view(), &ctx, &mut ws)?;
    kernels::step_reduce(&ctx, &mut ws, &mut cost)?;
    kernels::step_apply(
        &mut f.components,
        &mut f.numerator,
        &mut f.denominator,
        &penalty_h,
        n,
        cost,
        &ctx,
        &mut ws,
    );
    check_finite_result(f.components.view(), "components")?;
    f.stat_rows = rows;
    f.n_steps += 1;
    Ok((next, random_state))
}
