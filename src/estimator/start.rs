//! How a fit starts: X checked in one pass (which also sums it), k
//! resolved, the values derived from the parameters and n_samples, the
//! preflight exchange of a distributed fit, and the initial W and H
//! (custom, or computed by `init`).

use super::{Derived, FitArgs, Warning};
use crate::dist::{self, Comm, Shard, ShardSums};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::init;
use crate::io::RowSource;
use crate::kernels::Loss;
use crate::memory::{Matrix, Placement};
use crate::params::{Init, Missing, NComponents, ValidParams};
use crate::rng::RandomState;
use crate::validation;
use ndarray::{Array2, ArrayView2};
use std::path::Path;

/// Shape, finiteness, sign and the beta <= 0 zero rule on X, in one pass
/// over the source that also sums X: returns Σ X and the number of entries
/// summed (the observed ones with missing values; for mean(X), see
/// [`dist::preflight`]). A worker of a distributed fit may hold no rows
/// (the global emptiness is checked by the preflight exchange).
pub(super) fn check_source<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    n_features: Option<usize>,
    beta: f64,
    missing: Missing,
    comm: Comm,
) -> Result<ShardSums> {
    check_source_sq(x, n_features, beta, missing, comm).map(|(sums, _)| sums)
}

/// [`check_source`], and ||X||² of this worker's rows from the same pass
/// when X has no missing entry (None otherwise).
pub(super) fn check_source_sq<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    n_features: Option<usize>,
    beta: f64,
    missing: Missing,
    comm: Comm,
) -> Result<(ShardSums, Option<f64>)> {
    let (n, m) = x.shape();
    if (n == 0 && comm.is_single()) || m == 0 {
        return Err(Error::Empty {
            whom: "MiniBatchNMF (input X)".into(),
            n_samples: n,
            n_features: m,
        });
    }
    if let Some(expected) = n_features {
        if m != expected {
            return Err(Error::FeatureMismatch { expected, got: m });
        }
    }
    if missing == Missing::Nan {
        // X without NaN is checked and summed by the unmasked pass alone
        // (the same numbers, to the bit, and the same cost); a NaN (or any
        // other bad entry) stops it, and the masked pass below decides.
        if let Ok(scan) = validation::scan(x, "MiniBatchNMF (input X)") {
            if beta <= 0.0 && scan.has_zero {
                return Err(Error::ZerosWithNonPositiveBeta);
            }
            return Ok((ShardSums::all((n, m), scan.sum), Some(scan.sum_sq)));
        }
    }
    if missing.is_masked() {
        // NaN (and, for "unstored", unstored entries) are missing: the
        // sum and count of the observed entries (summed over the workers,
        // they give the global mean of the observed entries).
        let scan = validation::scan_masked(x, "MiniBatchNMF (input X)", missing)?;
        if beta <= 0.0 && scan.has_zero {
            return Err(Error::ZerosWithNonPositiveBeta);
        }
        if scan.observed < n * m {
            return Ok((
                ShardSums {
                    sum: scan.sum,
                    observed: scan.observed as f64,
                },
                None,
            ));
        }
        // Nothing missing: the unmasked pass's sum, to the bit.
    }
    let scan = validation::scan(x, "MiniBatchNMF (input X)")?;
    // scikit-learn rejects zeros with beta <= 0 at fit; we also do so for
    // partial_fit and transform, where they would make the updates divide
    // by zero all the same.
    if beta <= 0.0 && scan.has_zero {
        return Err(Error::ZerosWithNonPositiveBeta);
    }
    Ok((ShardSums::all((n, m), scan.sum), Some(scan.sum_sq)))
}

/// k from the parameters and, for `Auto` with custom init, from H.
fn resolve_n_components<F: NmfFloat>(
    params: &ValidParams,
    n_features: usize,
    h: Option<ArrayView2<F>>,
) -> usize {
    match params.get_n_components() {
        NComponents::Fixed(k) => k,
        NComponents::All => n_features,
        NComponents::Auto => match (params.get_init(), h) {
            (Init::Custom, Some(h)) => h.nrows(),
            _ => n_features,
        },
    }
}

/// `n` is the number of rows of X (of all workers together).
fn derive(params: &ValidParams, n: usize) -> Derived {
    let batch_size = params.get_batch_size().min(n);
    Derived {
        batch_size,
        rho: params
            .get_forget_factor()
            .powf(batch_size as f64 / n as f64),
        loss: Loss::new(params.beta()),
        transform_max_iter: params.transform_iters(),
        solver: params.get_solver(),
        cd_stats: params.get_cd_stats(),
    }
}

/// The custom W (this worker's rows) and H, checked before the preflight
/// exchange. An empty shard's W (no rows) is not "all zeros".
fn check_custom<F: NmfFloat>(
    params: &ValidParams,
    (n, m): (usize, usize),
    k: usize,
    args: &FitArgs<F>,
) -> Result<()> {
    if params.get_init() != Init::Custom {
        return Ok(());
    }
    let h = args
        .h
        .ok_or_else(|| Error::Init("init='custom' requires an initial H".into()))?;
    let w = args
        .w
        .ok_or_else(|| Error::Init("init='custom' requires an initial W".into()))?;
    validation::check_init_matrix(h, (k, m), "NMF (input H)")?;
    if n == 0 && w.nrows() == 0 && w.ncols() == k {
        return Ok(());
    }
    validation::check_init_matrix(w, (n, k), "NMF (input W)")
}

/// W (this worker's rows) and H to start from: custom (checked by
/// [`check_custom`], copied) or computed by `init` (which moves a
/// generator-state `random_state` on).
#[allow(clippy::too_many_arguments)]
fn initial_w_h<F: NmfFloat>(
    params: &ValidParams,
    x: &mut dyn RowSource<F>,
    shard: &Shard,
    k: usize,
    args: &FitArgs<F>,
    warnings: &mut Vec<Warning>,
    random_state: &mut RandomState,
    comm: Comm,
    place_w: &Placement,
    streamed: bool,
) -> Result<(Matrix<F>, Array2<F>)> {
    let (n, m) = (shard.n_total, shard.n_features);
    if params.get_init() == Init::Custom {
        let (w, h) = (args.w.expect("checked"), args.h.expect("checked"));
        return Ok((Matrix::from_view(w, place_w, "W")?, h.to_owned()));
    }
    if args.w.is_some() || args.h.is_some() {
        warnings.push(Warning::IgnoredInitialGuess);
    }
    if params.get_init() != Init::Random && params.get_init() != Init::Auto && k > n.min(m) {
        return Err(Error::Init(format!(
            "init = '{}' can only be used when n_components <= min(n_samples, n_features) (got {k} > min({n}, {m}))",
            params.get_init().as_str()
        )));
    }
    if shard.n_ranks > 1 && matches!(params.get_random_state(), RandomState::Entropy) {
        return Err(Error::Init(
            "a distributed fit needs random_state set (the same seed or generator state \
             on every rank): each rank draws the global W and H from it"
                .into(),
        ));
    }
    if params.get_missing().is_masked() {
        // The initialisation sees NaN entries as the mean of the observed
        // entries (and, with "unstored", unstored entries as zeros).
        let mut filled = crate::io::ZeroFilled::new(x, F::from_f64_(shard.mean()));
        return init::initialize_source(
            &mut filled,
            k,
            params.get_init(),
            random_state,
            comm,
            shard,
            place_w,
            streamed,
        );
    }
    init::initialize_source(
        x,
        k,
        params.get_init(),
        random_state,
        comm,
        shard,
        place_w,
        streamed,
    )
}

/// A new model's starting point: checked data, where this worker's rows
/// sit, k, the derived values and the initial W (in RAM, or in a mapped
/// file when the preflight says it does not fit) and H.
pub(super) struct Start<F> {
    pub(super) w: Matrix<F>,
    pub(super) h: Array2<F>,
    pub(super) derived: Derived,
    pub(super) warnings: Vec<Warning>,
    pub(super) shard: Shard,
    /// `random_state` after the draws (a generator state moves on).
    pub(super) random_state: RandomState,
    /// ||X||² of this worker's rows (None when X has missing entries).
    pub(super) sq_x: Option<f64>,
}

/// `w_file`: where W goes if it has to leave RAM (a `.npy` file the caller
/// keeps with [`Matrix::keep_file`]; None: a scratch file).
pub(super) fn start<F: NmfFloat>(
    params: &ValidParams,
    x: &mut dyn RowSource<F>,
    args: &FitArgs<F>,
    comm: Comm,
    w_file: Option<&Path>,
) -> Result<Start<F>> {
    let m = x.shape().1;
    let k = resolve_n_components(params, m, args.h);
    // Memory first: nothing sized by X's shape is allocated before it.
    let size = std::mem::size_of::<F>();
    let mut place_w = Placement::Ram;
    let mut streamed = false;
    let mut sq_x = None;
    let local = crate::memory::preflight(
        params,
        crate::memory::Call::Fit,
        x.shape(),
        x.is_sparse().then(|| x.nnz()),
        k,
        size,
        !comm.is_single(),
    )
    .map(|plan| {
        streamed = plan.stream_init && comm.is_single();
        if plan.spill_w {
            place_w = w_file.map_or(Placement::Scratch, |p| Placement::Npy(p.to_path_buf()));
        }
    })
    .and_then(|()| check_source_sq(x, None, params.beta(), params.get_missing(), comm))
    .map(|(sum, sq)| {
        sq_x = sq;
        sum
    })
    .and_then(|sum| match args.feature_names {
        Some(names) if names.len() != m => Err(Error::FeatureNames(format!(
            "{} names given for {m} features",
            names.len()
        ))),
        _ => Ok(sum),
    })
    .and_then(|sum| check_custom(params, x.shape(), k, args).map(|()| sum));
    let shard = dist::preflight(comm, x.shape(), local, fingerprint(params, k, args))?;
    // Distributed, the nndsvd initialisation's blocks are sized by the rows
    // of all ranks: checked now that they are known, on every rank.
    crate::memory::dist_init_check(params, &shard, k, size, comm)?;
    let derived = derive(params, shard.n_total);
    let mut warnings = Vec::new();
    let mut random_state = params.get_random_state().clone();
    let (w, h) = initial_w_h(
        params,
        x,
        &shard,
        k,
        args,
        &mut warnings,
        &mut random_state,
        comm,
        &place_w,
        streamed,
    )?;
    Ok(Start {
        w,
        h,
        derived,
        warnings,
        shard,
        random_state,
        sq_x,
    })
}

/// What every worker of a distributed fit must agree on: the parameters
/// (but `verbose`), k and a custom H, hashed (checked by the preflight).
fn fingerprint<F: NmfFloat>(params: &ValidParams, k: usize, args: &FitArgs<F>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut p = (**params).clone();
    p.verbose = false;
    p.max_memory = Default::default(); // a property of each machine
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{p:?}").hash(&mut hasher);
    k.hash(&mut hasher);
    if params.get_init() == Init::Custom {
        if let Some(h) = args.h {
            for v in h.iter() {
                v.to_f64_().to_bits().hash(&mut hasher);
            }
        }
    }
    hasher.finish()
}
