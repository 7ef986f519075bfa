//! The first reduce of every collective call: shard sizes, feature counts,
//! the sum of X, and an error flag, exchanged before any work.

use super::Comm;
use crate::error::{Error, Result};

/// Where this worker's rows sit in the global row order, and the global
/// totals (for one process: offset 0, the totals are the local ones).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shard {
    /// This worker's rank.
    pub rank: usize,
    /// Number of workers.
    pub n_ranks: usize,
    /// Global index of this worker's first row (the sum of the lower ranks'
    /// row counts).
    pub offset: usize,
    /// Rows of this worker's shard.
    pub n_local: usize,
    /// Rows of all shards together.
    pub n_total: usize,
    /// Columns (the same on every worker).
    pub n_features: usize,
    /// Σ X over all shards (for one process, the checking pass's sum).
    pub sum_x: f64,
}

impl Shard {
    /// One process holding all of an n×m X whose entries sum to `sum_x`
    /// (as [`crate::validation::scan`] adds them).
    pub fn local((n, m): (usize, usize), sum_x: f64) -> Self {
        Shard {
            rank: 0,
            n_ranks: 1,
            offset: 0,
            n_local: n,
            n_total: n,
            n_features: m,
            sum_x,
        }
    }

    /// mean(X) over all shards (scikit-learn's `X.mean()` of the
    /// concatenated X).
    pub fn mean(&self) -> f64 {
        self.sum_x / (self.n_total as f64 * self.n_features as f64)
    }

    /// Global row range `[start, end)` intersected with this shard, in
    /// local row indices (possibly empty).
    pub fn local_range(&self, start: usize, end: usize) -> (usize, usize) {
        let lo = start.clamp(self.offset, self.offset + self.n_local) - self.offset;
        let hi = end.clamp(self.offset, self.offset + self.n_local) - self.offset;
        (lo, hi.max(lo))
    }
}

/// Exchange the shard sizes, Σ X and an error flag. `shape` is this
/// worker's shard's; `local` its verdict on its own input (checked before
/// calling, by the pass over the shard that also sums it: `Ok(Σ X)`, so no
/// second pass over X is made here). If any worker
/// failed, every worker returns an error: its own, or [`Error::Reduce`]
/// naming how many others failed. One process: no reduce at all.
///
/// `fingerprint` hashes what the workers must agree on (parameters, a
/// custom H); a worker whose fingerprint differs makes every worker fail.
///
/// The buffer has 3·P + 3 values: P slots of row counts, P of presence
/// (each rank writes 1 at its index, so a rank/size misconfiguration is
/// caught), P of feature counts, the error count, Σ X and the fingerprint
/// (40 bits, so that P of them add exactly in f64).
pub fn preflight(
    comm: Comm,
    shape: (usize, usize),
    local: Result<f64>,
    fingerprint: u64,
) -> Result<Shard> {
    let (n, m) = shape;
    let (rank, p) = (comm.rank(), comm.n_ranks());
    if comm.is_single() {
        return Ok(Shard::local(shape, local?));
    }
    let mut buf = vec![0.0f64; 3 * p + 3];
    let fp = (fingerprint & ((1u64 << 40) - 1)) as f64;
    buf[3 * p + 2] = fp;
    let config_ok = p >= 1 && rank < p;
    if config_ok {
        buf[rank] = n as f64;
        buf[p + rank] = 1.0;
        buf[2 * p + rank] = m as f64;
    }
    let failed = local.is_err() || !config_ok;
    buf[3 * p] = if failed { 1.0 } else { 0.0 };
    if let (Ok(sum), true) = (&local, config_ok) {
        buf[3 * p + 1] = *sum;
    }
    comm.sum_f64(&mut buf)?;
    local?;
    if !config_ok {
        return Err(Error::Reduce(format!(
            "rank {rank} is not below the number of ranks {p}"
        )));
    }
    let others = buf[3 * p];
    if others > 0.0 {
        return Err(Error::Reduce(format!(
            "{others} of {p} rank(s) rejected their input or configuration; no work was done"
        )));
    }
    if let Some(r) = (0..p).find(|&r| buf[p + r] != 1.0) {
        return Err(Error::Reduce(format!(
            "rank {r} was claimed by {} workers (each of the {p} ranks must be set exactly once)",
            buf[p + r]
        )));
    }
    if buf[3 * p + 2] != fp * p as f64 {
        return Err(Error::Reduce(
            "the ranks disagree on the parameters (or on the custom H): \
             every rank must use the same ones"
                .into(),
        ));
    }
    if let Some(r) = (0..p).find(|&r| buf[2 * p + r] != m as f64 && buf[r] > 0.0) {
        return Err(Error::Reduce(format!(
            "rank {r} has {} features but rank {rank} has {m}",
            buf[2 * p + r]
        )));
    }
    let offset = buf[..rank].iter().sum::<f64>() as usize;
    let n_total = buf[..p].iter().sum::<f64>() as usize;
    if n_total == 0 || m == 0 {
        return Err(Error::Empty {
            whom: "MiniBatchNMF (input X, all shards)".into(),
            n_samples: n_total,
            n_features: m,
        });
    }
    Ok(Shard {
        rank,
        n_ranks: p,
        offset,
        n_local: n,
        n_total,
        n_features: m,
        sum_x: buf[3 * p + 1],
    })
}

/// Take part in a collective call's [`preflight`] as a worker that has
/// already failed (e.g. its arguments were rejected before the estimator
/// was reached): the others then fail too instead of waiting for it.
pub fn abort(comm: Comm) -> Result<()> {
    if comm.is_single() {
        return Ok(());
    }
    let p = comm.n_ranks();
    let mut buf = vec![0.0f64; 3 * p + 3];
    buf[3 * p] = 1.0;
    comm.sum_f64(&mut buf)
}
