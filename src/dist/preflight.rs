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
    /// Σ X over all shards (for one process, the checking pass's sum);
    /// with missing values, over the observed entries.
    pub sum_x: f64,
    /// Number of entries behind `sum_x` over all shards: n_total·n_features,
    /// or the observed entries with missing values.
    pub observed: f64,
}

/// What the checking pass over a worker's shard found: Σ X over the
/// entries it counts and how many they are (all n·m of them, or the
/// observed ones with missing values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShardSums {
    /// Σ X over the counted entries.
    pub sum: f64,
    /// How many entries were counted.
    pub observed: f64,
}

impl ShardSums {
    /// Every entry of an n×m shard counted, summing to `sum`.
    pub fn all((n, m): (usize, usize), sum: f64) -> Self {
        ShardSums {
            sum,
            observed: n as f64 * m as f64,
        }
    }
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
            observed: n as f64 * m as f64,
        }
    }

    /// One process whose checking pass found `sums`.
    pub fn from_sums((n, m): (usize, usize), sums: ShardSums) -> Self {
        Shard {
            sum_x: sums.sum,
            observed: sums.observed,
            ..Shard::local((n, m), sums.sum)
        }
    }

    /// mean(X) over all shards (scikit-learn's `X.mean()` of the
    /// concatenated X); with missing values, the mean of the observed
    /// entries of all shards.
    pub fn mean(&self) -> f64 {
        if self.observed == 0.0 {
            return 0.0;
        }
        self.sum_x / self.observed
    }

    /// The shard, or an error when no entry of X (over all shards) is
    /// observed: with missing values there is then nothing to fit.
    fn with_observed_entries(self) -> Result<Self> {
        if self.observed == 0.0 && self.n_total > 0 && self.n_features > 0 {
            return Err(Error::Shape {
                whom: "MiniBatchNMF (input X)".into(),
                detail: "every entry is missing (NaN, or unstored with missing='unstored'): \
                         there is nothing to fit"
                    .into(),
            });
        }
        Ok(self)
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
/// The buffer has 3·P + 4 values: P slots of row counts, P of presence
/// (each rank writes 1 at its index, so a rank/size misconfiguration is
/// caught), P of feature counts, the error count, Σ X, the fingerprint
/// (40 bits, so that P of them add exactly in f64) and the number of
/// entries behind Σ X (the observed ones with missing values).
pub fn preflight(
    comm: Comm,
    shape: (usize, usize),
    local: Result<ShardSums>,
    fingerprint: u64,
) -> Result<Shard> {
    let (n, m) = shape;
    let (rank, p) = (comm.rank(), comm.n_ranks());
    if comm.is_single() {
        return Shard::from_sums(shape, local?).with_observed_entries();
    }
    let mut buf = vec![0.0f64; 3 * p + 4];
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
    if let (Ok(sums), true) = (&local, config_ok) {
        buf[3 * p + 1] = sums.sum;
        buf[3 * p + 3] = sums.observed;
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
    Shard {
        rank,
        n_ranks: p,
        offset,
        n_local: n,
        n_total,
        n_features: m,
        sum_x: buf[3 * p + 1],
        observed: buf[3 * p + 3],
    }
    .with_observed_entries()
}

/// Take part in a collective call's [`preflight`] as a worker that has
/// already failed (e.g. its arguments were rejected before the estimator
/// was reached): the others then fail too instead of waiting for it.
pub fn abort(comm: Comm) -> Result<()> {
    if comm.is_single() {
        return Ok(());
    }
    let p = comm.n_ranks();
    let mut buf = vec![0.0f64; 3 * p + 4];
    buf[3 * p] = 1.0;
    comm.sum_f64(&mut buf)
}
