//! The estimator's side of the solver choice (frozen at the first fit or
//! partial_fit with the other derived values): the starting statistics,
//! how each step folds its batch into them, and the rows H's penalty is
//! scaled by. Everything else (the loop, the row sources, the reduce,
//! the model file) is the same for every solver.

use super::Derived;
use crate::dist::Comm;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::io::RowSource;
use crate::kernels::cd::{self, CdConfig, StatUpdate};
use crate::kernels::{Penalty, StepSolver};
use crate::params::{CdStats, Missing, Solver, ValidParams};
use ndarray::{Array2, ArrayView2};

/// The statistics of H and the rows they stand for: MU's numerator and
/// denominator (k×m each); cd's B (k×m) and A (k×k).
pub(super) struct Stats<F> {
    pub(super) numerator: Array2<F>,
    pub(super) denominator: Array2<F>,
    /// cd: rows behind A and B (H's penalty is scaled by them).
    pub(super) stat_rows: f64,
}

fn cd_config(params: &ValidParams, d: &Derived) -> CdConfig {
    CdConfig {
        w_sweeps: params.get_cd_w_sweeps(),
        h_sweeps: params.get_cd_h_sweeps(),
        stats: d.cd_stats,
        masked: false,
    }
}

/// The solver of a fit's steps; `whole`: one batch covers every row
/// (the exact statistics are then the batch's own).
pub(super) fn fit_solver(params: &ValidParams, d: &Derived, whole: bool) -> StepSolver {
    match d.solver {
        Solver::Mu => StepSolver::Mu,
        Solver::Cd => StepSolver::Cd {
            cfg: cd_config(params, d),
            update: match d.cd_stats {
                CdStats::Exact if whole => StatUpdate::Decay(0.0),
                CdStats::Exact => StatUpdate::Add,
                CdStats::Decayed => StatUpdate::Decay(d.rho),
            },
        },
    }
}

/// The solver of a partial_fit step (its rows are new: exact statistics
/// add them).
pub(super) fn partial_fit_solver(params: &ValidParams, d: &Derived) -> StepSolver {
    match d.solver {
        Solver::Mu => StepSolver::Mu,
        Solver::Cd => StepSolver::Cd {
            cfg: cd_config(params, d),
            update: match d.cd_stats {
                CdStats::Exact => StatUpdate::Add,
                CdStats::Decayed => StatUpdate::Decay(d.rho),
            },
        },
    }
}

/// The statistics a fit starts from: MU's (H, ones); cd's exact form
/// (A, B) of the initial W over every row (summed over the workers),
/// zeros otherwise.
#[allow(clippy::too_many_arguments)]
pub(super) fn initial_stats<F: NmfFloat>(
    d: &Derived,
    h: &Array2<F>,
    w: ArrayView2<F>,
    x: &mut dyn RowSource<F>,
    n_total: usize,
    solver: &StepSolver,
    missing: Missing,
    comm: Comm,
) -> Result<Stats<F>> {
    let (k, m) = h.dim();
    match solver {
        StepSolver::Mu => Ok(Stats {
            numerator: h.clone(),
            denominator: Array2::from_elem(h.raw_dim(), F::one()),
            stat_rows: 0.0,
        }),
        StepSolver::Cd {
            update: StatUpdate::Add,
            cfg,
        } => {
            let (mut a, mut b) = if cfg.masked {
                cd::exact_stats_source_masked(x, missing, w)?
            } else {
                cd::exact_stats_source(x, w)?
            };
            if !comm.is_single() {
                comm.sum(a.as_slice_mut().expect("owned"))?;
                comm.sum(b.as_slice_mut().expect("owned"))?;
            }
            Ok(Stats {
                numerator: b,
                denominator: a,
                stat_rows: n_total as f64,
            })
        }
        StepSolver::Cd { cfg, .. } => Ok(Stats {
            numerator: Array2::zeros((k, m)),
            denominator: if cfg.masked {
                Array2::zeros((m, k * k))
            } else {
                Array2::zeros((k, k))
            },
            stat_rows: if d.cd_stats == CdStats::Exact {
                n_total as f64
            } else {
                0.0
            },
        }),
    }
}

/// Marks the cd solver of a step as masked when its statistics `a` (the
/// model's A) are the per-column form.
pub(super) fn mark_masked<F>(solver: &mut StepSolver, a: &Array2<F>, k: usize, m: usize) {
    if let StepSolver::Cd { cfg, .. } = solver {
        cfg.masked = cd::is_per_column(a, k, m);
    }
}

/// The statistics of a first partial_fit: MU's (H, ones); cd's zeros
/// (per-column A when `missing` may mark entries: a stream of chunks
/// cannot know whether a later one has a missing entry).
pub(super) fn empty_stats<F: NmfFloat>(d: &Derived, h: &Array2<F>, missing: Missing) -> Stats<F> {
    let (k, m) = h.dim();
    match d.solver {
        Solver::Mu => Stats {
            numerator: h.clone(),
            denominator: Array2::from_elem(h.raw_dim(), F::one()),
            stat_rows: 0.0,
        },
        Solver::Cd => Stats {
            numerator: Array2::zeros((k, m)),
            denominator: if missing.is_masked() {
                Array2::zeros((m, k * k))
            } else {
                Array2::zeros((k, k))
            },
            stat_rows: 0.0,
        },
    }
}

/// The rows behind the statistics after a step of `batch_rows` rows, and
/// H's penalty for that step. MU: the batch's rows (scikit-learn's
/// MiniBatchNMF); cd: the rows A and B stand for (all rows for the exact
/// form of a fit, the rows added for partial_fit, ρ·previous + batch rows
/// when decayed).
pub(super) fn step_rows_and_penalty(
    params: &ValidParams,
    solver: &StepSolver,
    stat_rows: f64,
    batch_rows: usize,
    new_rows: bool,
) -> (f64, Penalty) {
    match solver {
        StepSolver::Mu => (stat_rows, Penalty::for_h(params, batch_rows)),
        StepSolver::Cd { update, .. } => {
            let rows = match update {
                StatUpdate::Decay(rho) if *rho == 0.0 => batch_rows as f64,
                StatUpdate::Decay(rho) => rho * stat_rows + batch_rows as f64,
                StatUpdate::Add if new_rows => stat_rows + batch_rows as f64,
                StatUpdate::Add => stat_rows,
            };
            (rows, Penalty::for_h_rows(params, rows))
        }
    }
}
