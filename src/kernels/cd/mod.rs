//! The online coordinate-descent (HALS) solver for the Frobenius loss:
//! Mairal et al.'s online dictionary learning (2010) with the coordinate
//! updates of scikit-learn's `NMF(solver="cd")`.
//!
//! Per mini-batch X_b: W's rows of the batch by coordinate sweeps against
//! H·Hᵀ and X_b·Hᵀ ([`local`]); the statistics A (k×k) and B (k×m) of H
//! from the batch's A_b = W_bᵀW_b, B_b = W_bᵀX_b (summed over workers like
//! the MU statistics); H by coordinate sweeps on (A, B) ([`apply`]).

mod apply;
mod dense;
mod hsweep;
mod local;
mod masked;
pub(crate) mod masked_step;
mod solve;
mod start;
mod sweep;

pub(crate) use apply::apply;
pub(crate) use hsweep::sweep_cols;
pub(crate) use local::{local, BatchStats};
pub use masked_step::{exact_stats_source_masked, is_per_column, solve_w_source_cd_masked};
pub(crate) use solve::solve_rows;
pub use solve::solve_w_source_cd;
pub use start::exact_stats_source;
pub(crate) use sweep::{gram_with_l2, sweep_rows, SweepBufs};

use super::workspace::Buf;
pub use crate::params::CdStats;

/// The cd solver's settings for a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CdConfig {
    /// Sweeps over W's rows of a batch.
    pub w_sweeps: usize,
    /// Sweeps over H per batch.
    pub h_sweeps: usize,
    /// How A and B are kept.
    pub stats: CdStats,
    /// X has missing values: the masked steps with per-column statistics
    /// (decided once per fit, [`masked`]).
    pub masked: bool,
}

/// How a step folds the batch's statistics into A and B.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatUpdate {
    /// A ← ρA + A_b, B ← ρB + B_b (ρ = 0: the batch's statistics alone).
    Decay(f64),
    /// A ← A + ΔA, B ← B + ΔB: the batch's statistics are the change of
    /// its rows' contribution.
    Add,
}

/// The cd solver's buffers in the workspace (grown on first use).
#[derive(Default)]
pub(crate) struct CdBufs<F> {
    /// The Hessian of a sweep, k×k (Gram matrix plus l2).
    pub(crate) hess: Buf<F>,
    /// W's rows before the step (exact statistics), then W_new − W_old.
    pub(crate) w_old: Buf<F>,
    /// The sweeps' scratch.
    pub(crate) sweep: SweepBufs<F>,
    /// The masked steps' buffers.
    pub(crate) masked: masked::MaskedCdBufs<F>,
    /// The fused dense step's buffers.
    pub(crate) dense: dense::DenseBufs<F>,
    /// The last local step left B's change compactly (a CSR batch of one
    /// process with exact statistics): only the columns `cols` the batch
    /// touches, in `bcols` (column c's k values at `c·k..`); `stats.num`
    /// is then not written.
    pub(crate) compact: bool,
    /// The batch's non-empty columns (capacity m once grown).
    pub(crate) cols: Vec<usize>,
    /// B's change in those columns (capacity k·m once grown).
    pub(crate) bcols: Buf<F>,
}
