//! Choosing the number of components by cross-validation on held-out
//! entries (the approach of RcppML and of Wold's / Bro's element-wise
//! cross-validation for bilinear models).
//!
//! Each repeat holds out a random fraction of X's *observed* entries
//! (picked by a hash of (seed, repeat, row, column), see [`holdout`]: no
//! mask is stored, any row source works, streamed), fits every candidate k
//! on the rest with the model's parameters (the held-out entries are
//! missing values of that fit: `missing = "nan"`, or `"unstored"` for a
//! CSR matrix whose unstored entries are missing), and scores the held-out
//! entries with the model's beta-divergence, as the mean per held-out entry
//! (scikit-learn's `_beta_divergence` per entry, the ½ of Frobenius
//! included).
//!
//! The chosen k is the smallest candidate whose mean score is within one
//! standard error of the best mean (the "one-standard-error rule" of
//! Breiman et al.): with `s` the sample standard deviation (n − 1) of the
//! best candidate's scores over the repeats and `r` the number of repeats,
//! the smallest k with mean ≤ best mean + s/√r (with one repeat: the best
//! mean itself).
//!
//! The candidate fits (every k in every repeat) run several at once when
//! X is in memory and the budget holds them ([`parallel`]), else one after
//! the other; each fit also uses the library's thread pool (the steps
//! split the batch's rows across the cores). Either way the scores are the
//! same to the bit: each fit reads X through its own reader, and the
//! kernels cut a batch by the pool's size (`rayon::current_num_threads` at
//! workspace creation, `plan_parts`) or by fixed blocks, not by how many
//! threads are idle, so a fit nested in a parallel loop on the same pool
//! gives the sequential fit's numbers.

mod holdout;
mod parallel;

use crate::error::{Error, Result};
use crate::estimator::{FitArgs, MiniBatchNmf};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{for_each_block, RowSource};
use crate::kernels::masked::entry_divergence;
use crate::params::{MiniBatchNmfParams, Missing, ParamError};
use holdout::{Holdout, Training};
use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;

/// The options of [`cross_validate_rank`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvOptions {
    /// Fraction of the observed entries held out in each repeat, in (0, 1)
    /// (default 0.1).
    pub test_fraction: f64,
    /// Number of repeats (different held-out sets), >= 1 (default 3).
    pub n_repeats: usize,
    /// Seed of the held-out sets (default 0).
    pub seed: u64,
}

impl Default for CvOptions {
    fn default() -> Self {
        CvOptions {
            test_fraction: 0.1,
            n_repeats: 3,
            seed: 0,
        }
    }
}

/// What [`cross_validate_rank`] measured.
#[derive(Debug, Clone, PartialEq)]
pub struct RankCv {
    /// The candidates, in the order given.
    pub ks: Vec<usize>,
    /// Held-out score (mean beta-divergence per held-out entry) of
    /// candidate i in repeat r at `[i, r]` (n_ks × n_repeats).
    pub scores: Array2<f64>,
    /// Mean score per candidate over the repeats.
    pub mean: Array1<f64>,
    /// Sample standard deviation (n − 1) per candidate (0 with one repeat).
    pub std: Array1<f64>,
    /// The chosen k: the smallest candidate whose mean is within one
    /// standard error of the best mean.
    pub best_k: usize,
}

fn invalid(name: &'static str, reason: String) -> Error {
    Error::Param(ParamError::Invalid { name, reason })
}

/// Check the arguments of a cross-validation on X of shape (n, m).
pub(crate) fn check_args(ks: &[usize], opts: &CvOptions, (n, m): (usize, usize)) -> Result<()> {
    if ks.is_empty() {
        return Err(invalid(
            "ks",
            "no candidate number of components given".into(),
        ));
    }
    for &k in ks {
        if k == 0 || k > n.min(m) {
            return Err(invalid(
                "ks",
                format!(
                    "every candidate must be in [1, min(n_samples, n_features)] = [1, {}], got {k}",
                    n.min(m)
                ),
            ));
        }
    }
    if !(opts.test_fraction > 0.0 && opts.test_fraction < 1.0) {
        return Err(invalid(
            "test_fraction",
            format!("must be in (0, 1), got {}", opts.test_fraction),
        ));
    }
    if opts.n_repeats == 0 {
        return Err(invalid("n_repeats", "must be >= 1, got 0".into()));
    }
    Ok(())
}

/// Cross-validate the number of components on X (any row source: in
/// memory with [`crate::io::InMemory`], or a file): for each repeat, hold
/// out `test_fraction` of the observed entries, fit every k of `ks` on the
/// rest with `params` (its `n_components` replaced by k; `missing` decides
/// which entries are observed: with `"unstored"` a CSR matrix's unstored
/// entries are missing and are never held out), and score the held-out
/// entries. See the module documentation for the rule choosing k.
///
/// ```
/// use minibatchnmf::{cross_validate_rank, CvOptions, Init, MiniBatchNmfParams};
/// use minibatchnmf::io::InMemory;
/// let w = ndarray::Array2::from_shape_fn((60, 2), |(i, j)| ((i * 7 + j * 3) % 5) as f64 + 0.5);
/// let h = ndarray::Array2::from_shape_fn((2, 12), |(i, j)| ((i * 5 + j * 11) % 7) as f64 + 0.2);
/// let x = w.dot(&h);
/// let params = MiniBatchNmfParams::new().init(Init::Nndsvda).max_iter(200).tol(0.0).max_no_improvement(None);
/// let cv = cross_validate_rank(&mut InMemory::new(&x), &params, &[1, 2, 4], &CvOptions::default())?;
/// assert_eq!(cv.scores.dim(), (3, 3));
/// assert!(cv.mean[1] < cv.mean[0]);
/// # Ok::<(), minibatchnmf::Error>(())
/// ```
pub fn cross_validate_rank<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    params: &MiniBatchNmfParams,
    ks: &[usize],
    opts: &CvOptions,
) -> Result<RankCv> {
    let (n, m) = x.shape();
    check_args(ks, opts, (n, m))?;
    let mode = match params.get_missing() {
        Missing::Unstored => Missing::Unstored,
        _ => Missing::Nan,
    };
    crate::validation::check_mode(x, mode)?;
    let beta = params.clone().check()?.beta();
    let mut scores = Array2::zeros((ks.len(), opts.n_repeats));
    // (repeat, candidate) in the order of the sequential run.
    let tasks: Vec<(usize, usize)> = (0..opts.n_repeats)
        .flat_map(|r| (0..ks.len()).map(move |i| (r, i)))
        .collect();
    let fit = |x: &mut dyn RowSource<F>, (r, i): (usize, usize)| {
        let holdout = Holdout::new(opts.seed, r, opts.test_fraction);
        candidate_score(x, params, ks[i], &holdout, mode, beta)
    };
    let width = parallel::width(x, params, ks, tasks.len());
    if width < 2 {
        for &t in &tasks {
            scores[[t.1, t.0]] = fit(x, t)?;
        }
        return Ok(summarize(ks, scores));
    }
    for wave in tasks.chunks(width) {
        // width > 1: X has readers.
        let readers: Vec<_> = wave.iter().filter_map(|_| x.reader()).collect();
        let out: Vec<Result<f64>> = crate::parallel::install(|| {
            readers
                .into_par_iter()
                .zip(wave.par_iter())
                .map(|(mut rd, &t)| fit(rd.as_mut(), t))
                .collect()
        });
        if out.len() < wave.len() {
            return Err(invalid(
                "X",
                "the source gave fewer readers than before".into(),
            ));
        }
        // The first failure in the sequential order.
        for (&(r, i), s) in wave.iter().zip(out) {
            scores[[i, r]] = s?;
        }
    }
    Ok(summarize(ks, scores))
}

/// Fit k on X without the held-out entries, score the held-out entries.
fn candidate_score<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    params: &MiniBatchNmfParams,
    k: usize,
    holdout: &Holdout,
    mode: Missing,
    beta: f64,
) -> Result<f64> {
    let p = params.clone().n_components(k).missing(mode);
    let mut model = MiniBatchNmf::<F>::new(p)?;
    let w = {
        let mut train = Training::new(x, *holdout, mode);
        model.fit_transform_source_with(&mut train, FitArgs::default())?
    };
    let h = model.components()?;
    held_out_score(x, holdout, mode, w.view(), h, beta)
}

/// Mean beta-divergence per held-out (observed) entry of X against W·H.
fn held_out_score<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    holdout: &Holdout,
    mode: Missing,
    w: ArrayView2<F>,
    h: ArrayView2<F>,
    beta: f64,
) -> Result<f64> {
    let ht = h.t().as_standard_layout().into_owned();
    let (mut total, mut count) = (0.0, 0usize);
    let mut row: Vec<Option<F>> = Vec::new();
    for_each_block(x, |s0, xb| {
        let mut score = |g: usize, j: usize, v: F| {
            if v.is_nan() || !holdout.held_out(g, j) {
                return;
            }
            let wh = w.row(g).dot(&ht.row(j));
            total += entry_divergence(v, wh, beta);
            count += 1;
        };
        match xb {
            Input::Dense(d) => {
                for ((i, j), &v) in d.indexed_iter() {
                    score(s0 + i, j, v);
                }
            }
            Input::Csr(c) => {
                for i in 0..c.n_rows() {
                    let (cols, vals) = c.row(i);
                    if mode == Missing::Unstored {
                        for (&j, &v) in cols.iter().zip(vals) {
                            score(s0 + i, j, v);
                        }
                    } else {
                        row.clear();
                        row.resize(c.n_cols(), None);
                        for (&j, &v) in cols.iter().zip(vals) {
                            row[j] = Some(v);
                        }
                        for (j, v) in row.iter().enumerate() {
                            score(s0 + i, j, v.unwrap_or(F::zero()));
                        }
                    }
                }
            }
        }
        Ok(())
    })?;
    if count == 0 {
        return Err(invalid(
            "test_fraction",
            "no observed entry was held out: raise test_fraction".into(),
        ));
    }
    Ok(total / count as f64)
}

/// Means, standard deviations and the one-standard-error choice.
pub(crate) fn summarize(ks: &[usize], scores: Array2<f64>) -> RankCv {
    let reps = scores.ncols();
    let mean: Array1<f64> = scores
        .rows()
        .into_iter()
        .map(|r| r.sum() / reps as f64)
        .collect();
    let std: Array1<f64> = scores
        .rows()
        .into_iter()
        .zip(mean.iter())
        .map(|(r, &mu)| {
            if reps < 2 {
                0.0
            } else {
                (r.iter().map(|v| (v - mu) * (v - mu)).sum::<f64>() / (reps - 1) as f64).sqrt()
            }
        })
        .collect();
    let best = (0..ks.len())
        .min_by(|&a, &b| mean[a].total_cmp(&mean[b]))
        .expect("at least one candidate");
    let bound = mean[best] + std[best] / (reps as f64).sqrt();
    let best_k = (0..ks.len())
        .filter(|&i| mean[i] <= bound)
        .map(|i| ks[i])
        .min()
        .expect("the best candidate qualifies");
    RankCv {
        ks: ks.to_vec(),
        scores,
        mean,
        std,
        best_k,
    }
}
