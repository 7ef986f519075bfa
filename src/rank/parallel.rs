//! How many candidate fits of a cross-validation run at once: each fit is
//! itself parallel (its steps split the batch over the pool), so running
//! several pays where a fit leaves cores idle (its serial parts: the
//! checking pass, the initialisation, the per-step reductions, small
//! batches). Candidates run concurrently only when X can be read by
//! several readers at once ([`RowSource::reader`]: X in memory) and when
//! as many fits fit the memory budget together: the library's preflight
//! of one fit at the largest k must pass, all in RAM, with 1/width of the
//! budget.

use crate::float::NmfFloat;
use crate::io::RowSource;
use crate::memory::{self, Budget, Call, MaxMemory};
use crate::params::MiniBatchNmfParams;

/// The number of candidate fits to run at once (1: one after the other).
pub(super) fn width<F: NmfFloat>(
    x: &dyn RowSource<F>,
    params: &MiniBatchNmfParams,
    ks: &[usize],
    tasks: usize,
) -> usize {
    let most = crate::parallel::num_threads().min(tasks);
    if most < 2 || x.reader().is_none() {
        return 1;
    }
    let Some(limit) = Budget::of(params.get_max_memory()).limit() else {
        return most;
    };
    let k = ks.iter().copied().max().unwrap_or(1);
    let elem = std::mem::size_of::<F>();
    (2..=most)
        .rev()
        .find(|&w| {
            let p = params
                .clone()
                .max_memory(MaxMemory::Bytes(limit / w as u64));
            matches!(
                memory::preflight(
                    &p,
                    Call::Fit,
                    x.shape(),
                    x.is_sparse().then(|| x.nnz()),
                    k,
                    elem,
                    false
                ),
                Ok(plan) if !plan.spill_w && !plan.stream_init
            )
        })
        .unwrap_or(1)
}
