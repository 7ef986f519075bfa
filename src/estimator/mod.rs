//! The estimator: scikit-learn's `MiniBatchNMF` loop, early stopping and
//! fitted state.
//!
//! Every method computes into fresh buffers and commits to `self` only when it
//! has succeeded, so a failed call leaves the model exactly as it was.

use crate::dist::{self, Comm, Reducer};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{InMemory, RowSource};
use crate::kernels::{Loss, Penalty, StepCtx};
use crate::memory::{self, Call};
use crate::parallel;
use crate::params::{CdStats, MiniBatchNmfParams, Solver, ValidParams};
use crate::progress::{FitObserver, ObserverSlot};
use crate::validation;
use ndarray::{Array2, ArrayView2};
mod convergence;
mod final_err;
mod fit;
mod partial_fit;
mod resume;
mod solver;
mod start;

use fit::fit_transform_impl;
use partial_fit::partial_fit_impl;
pub use resume::FitCursor;
use start::check_source;
use std::fmt;
use std::sync::Arc;

/// Why the fitting loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// `max_iter` passes over the data were done.
    MaxIter,
    /// The relative change of H fell to `tol` or below.
    SmallHChange,
    /// `max_no_improvement` batches did not lower the smoothed cost.
    NoImprovement,
    /// The [`FitObserver`] asked to stop (e.g. on Ctrl-C).
    Interrupted,
}

/// Non-fatal conditions scikit-learn reports as warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// scikit-learn's ConvergenceWarning: `n_iter == max_iter` with `tol > 0`.
    Convergence {
        /// The `max_iter` reached.
        max_iter: usize,
    },
    /// W or H were given while `init` is not `Custom`; they were ignored.
    IgnoredInitialGuess,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Convergence { max_iter } => write!(
                f,
                "ConvergenceWarning: Maximum number of iterations {max_iter} reached. Increase it to improve convergence."
            ),
            Warning::IgnoredInitialGuess => write!(
                f,
                "RuntimeWarning: When init!='custom', provided W or H are ignored. Set init='custom' to use them as initialization."
            ),
        }
    }
}

/// What a call to `fit`/`fit_transform` did.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    /// Passes over the data started (scikit-learn's `n_iter_`).
    pub n_iter: usize,
    /// Mini-batches processed (scikit-learn's `n_steps_`).
    pub n_steps: usize,
    /// sqrt(2 · beta-divergence) of X and W·H.
    pub reconstruction_err: f64,
    /// Why the loop ended.
    pub stop_reason: StopReason,
    /// Warnings scikit-learn would have issued.
    pub warnings: Vec<Warning>,
}

/// Values derived from the parameters and the first data seen, frozen for the
/// life of the fitted model (scikit-learn sets them in `_check_params` at fit
/// or at the first `partial_fit`).
#[derive(Debug, Clone)]
pub(crate) struct Derived {
    pub(crate) batch_size: usize,
    pub(crate) rho: f64,
    pub(crate) loss: Loss,
    pub(crate) transform_max_iter: usize,
    /// The solver and (cd) the statistics' form: they decide what the
    /// statistics below are, so they stay with the model.
    pub(crate) solver: Solver,
    pub(crate) cd_stats: CdStats,
}

/// The fitted state (scikit-learn's trailing-underscore attributes): plain
/// data, everything an exact resume needs. `persist` serialises it.
#[derive(Debug, Clone)]
pub(crate) struct Fitted<F> {
    pub(crate) components: Array2<F>,
    /// The statistics of H. MU: the online numerator (A) and denominator
    /// (B), k×m each. cd: B = WᵀX (k×m) in `numerator`, A = WᵀW (k×k) in
    /// `denominator`.
    pub(crate) numerator: Array2<F>,
    pub(crate) denominator: Array2<F>,
    /// cd: the rows A and B stand for (H's penalty is scaled by them); MU: 0.
    pub(crate) stat_rows: f64,
    pub(crate) n_features_in: usize,
    pub(crate) n_steps: usize,
    pub(crate) n_iter: Option<usize>,
    pub(crate) reconstruction_err: Option<f64>,
    pub(crate) feature_names_in: Option<Vec<String>>,
    pub(crate) derived: Derived,
    pub(crate) last_fit: Option<FitSummary>,
}

/// The name `persist` knows the fitted state by.
pub(crate) type ModelState<F> = Fitted<F>;

/// Mini-Batch NMF estimator (scikit-learn's `MiniBatchNMF`).
///
/// `F` is the dtype of the data it is fitted on (f32 or f64); f32 data is
/// factorized in f32.
///
/// ```
/// use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams, Input, CsrView};
/// use ndarray::array;
///
/// // Streamed fitting: one partial_fit per chunk, then transform.
/// let x = array![[1.0, 0.0, 2.0], [0.5, 1.0, 0.0], [2.0, 0.1, 4.0], [0.0, 3.0, 0.2]];
/// let mut model = MiniBatchNmf::<f64>::new(
///     MiniBatchNmfParams::new().n_components(2).init(minibatchnmf::Init::Random).random_state(Some(1)),
/// )?;
/// model.partial_fit(x.slice(ndarray::s![0..2, ..]))?;
/// model.partial_fit(x.slice(ndarray::s![2..4, ..]))?;
/// assert_eq!(model.n_steps(), Some(2));
///
/// // CSR input works everywhere dense input does.
/// let (indptr, indices, data) = ([0usize, 2, 3], [0usize, 2, 1], [1.0, 2.0, 3.0]);
/// let csr = CsrView::new(2, 3, &indptr, &indices, &data)?;
/// let w = model.transform(csr)?;
/// assert_eq!(w.dim(), (2, 2));
/// assert!(w.iter().all(|&v| v >= 0.0));
/// # Ok::<(), minibatchnmf::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MiniBatchNmf<F> {
    params: ValidParams,
    fitted: Option<Fitted<F>>,
    observer: ObserverSlot,
    /// The all-reduce of a distributed fit (None: one process).
    reducer: Option<Arc<dyn Reducer>>,
}

/// Optional arguments of [`MiniBatchNmf::fit_transform_with`] and
/// [`MiniBatchNmf::partial_fit_with`].
#[derive(Debug, Clone, Default)]
pub struct FitArgs<'a, F> {
    /// Initial W (n_samples × k), used when `init = Custom`.
    pub w: Option<ArrayView2<'a, F>>,
    /// Initial H (k × n_features), used when `init = Custom`.
    pub h: Option<ArrayView2<'a, F>>,
    /// Names of X's columns (scikit-learn's `feature_names_in_`).
    pub feature_names: Option<&'a [String]>,
}

impl<F: NmfFloat> MiniBatchNmf<F> {
    /// A new, unfitted estimator; the parameters are validated here.
    pub fn new(params: MiniBatchNmfParams) -> Result<Self> {
        Ok(MiniBatchNmf {
            params: params.check()?,
            fitted: None,
            observer: ObserverSlot::default(),
            reducer: None,
        })
    }

    /// The fitted state, if any (for `persist`).
    pub(crate) fn state(&self) -> Option<&ModelState<F>> {
        self.fitted.as_ref()
    }

    /// A fitted model from checked parameters and a checked state (for
    /// `persist`); it has no observer and is a single process (no reducer).
    pub(crate) fn from_state(params: ValidParams, state: ModelState<F>) -> Self {
        MiniBatchNmf {
            params,
            fitted: Some(state),
            observer: ObserverSlot(None),
            reducer: None,
        }
    }

    /// Watch the steps of later fits (see [`crate::progress`]); `None`
    /// removes the observer. Not a parameter: it is not part of
    /// `params()` and does not change results unless it stops a fit.
    /// Distributed, a stop asked for on any worker stops every worker
    /// after the same step (an extra reduce per step while an observer is
    /// set).
    pub fn set_observer(&mut self, observer: Option<Arc<dyn FitObserver>>) {
        self.observer = ObserverSlot(observer);
    }

    /// Make this estimator one worker of a data-parallel fit (None: one
    /// process, the default). Each worker then passes its own shard of
    /// rows to `fit`, `fit_transform`, `partial_fit` and `transform`, which
    /// become collective calls (every worker makes them, in the same
    /// order); see [`crate::dist`] for the row order they reproduce.
    ///
    /// ```
    /// use minibatchnmf::{dist::SingleProcess, Init, MiniBatchNmf, MiniBatchNmfParams};
    /// use std::sync::Arc;
    /// let x = ndarray::array![[1.0, 0.5], [0.2, 2.0], [1.5, 1.0]];
    /// let params = MiniBatchNmfParams::new().n_components(1).init(Init::Random).random_state(Some(0));
    /// let mut a = MiniBatchNmf::<f64>::new(params.clone())?;
    /// let mut b = MiniBatchNmf::<f64>::new(params)?;
    /// b.set_reducer(Some(Arc::new(SingleProcess)));
    /// a.fit(&x)?;
    /// b.fit(&x)?;
    /// assert_eq!(a.components()?, b.components()?);
    /// # Ok::<(), minibatchnmf::Error>(())
    /// ```
    pub fn set_reducer(&mut self, reducer: Option<Arc<dyn Reducer>>) {
        self.reducer = reducer;
    }

    /// The all-reduce set with [`set_reducer`](Self::set_reducer).
    pub fn reducer(&self) -> Option<&Arc<dyn Reducer>> {
        self.reducer.as_ref()
    }

    fn comm(&self) -> Comm<'_> {
        Comm::new(self.reducer.as_deref())
    }

    /// The parameters (scikit-learn's `get_params`).
    pub fn params(&self) -> &MiniBatchNmfParams {
        &self.params
    }

    /// Replace the parameters (scikit-learn's `set_params`). They are
    /// validated first; an invalid set leaves the estimator unchanged. As in
    /// scikit-learn, a fitted model keeps its fitted state, and values
    /// derived at fit time (k, batch size, rho, beta) stay frozen until the
    /// next `fit`.
    pub fn set_params(&mut self, params: MiniBatchNmfParams) -> Result<()> {
        self.params = params.check()?;
        Ok(())
    }

    /// Set one parameter by its scikit-learn name (see
    /// [`MiniBatchNmfParams::set_param`]); validated before it takes effect.
    pub fn set_param(&mut self, name: &str, value: &str) -> Result<()> {
        let mut p = (*self.params).clone();
        p.set_param(name, value)?;
        self.set_params(p)
    }

    /// Learn the model from X.
    pub fn fit<'a>(&mut self, x: impl Into<Input<'a, F>>) -> Result<FitSummary> {
        self.fit_transform_with(x, FitArgs::default())?;
        Ok(self.last_fit().cloned().expect("fit sets last_fit"))
    }

    /// Learn the model from X and return W (n_samples × k).
    pub fn fit_transform<'a>(&mut self, x: impl Into<Input<'a, F>>) -> Result<Array2<F>> {
        self.fit_transform_with(x, FitArgs::default())
    }

    /// `fit_transform` with custom W/H (for `init = Custom`) and feature names.
    pub fn fit_transform_with<'a>(
        &mut self,
        x: impl Into<Input<'a, F>>,
        args: FitArgs<'a, F>,
    ) -> Result<Array2<F>> {
        self.fit_transform_source_with(&mut InMemory::new(x), args)
    }

    /// Learn the model from X read by row blocks from a source (e.g. a file
    /// bigger than memory, see [`crate::io`]); W is not kept. Gives the same
    /// model as [`MiniBatchNmf::fit`] over the same matrix in memory.
    /// Distributed, the source holds this worker's shard of rows.
    /// W lives in a scratch file when it does not fit the memory budget
    /// (see [`MiniBatchNmf::fit_transform_source_to`]).
    pub fn fit_source(&mut self, x: &mut dyn RowSource<F>) -> Result<FitSummary> {
        self.run_fit(x, &FitArgs::default(), None, None, |_| Ok(()))?;
        Ok(self.last_fit().cloned().expect("fit sets last_fit"))
    }

    /// [`MiniBatchNmf::fit_transform_with`] over a row source; returns W
    /// (this worker's rows of it, when distributed).
    pub fn fit_transform_source_with(
        &mut self,
        x: &mut dyn RowSource<F>,
        args: FitArgs<'_, F>,
    ) -> Result<Array2<F>> {
        Ok(self
            .run_fit(x, &args, None, None, crate::memory::Matrix::into_array)?
            .0)
    }

    /// One online step on a chunk of rows (scikit-learn's `partial_fit`).
    pub fn partial_fit<'a>(&mut self, x: impl Into<Input<'a, F>>) -> Result<()> {
        self.partial_fit_with(x, FitArgs::default())
    }

    /// `partial_fit` with custom W/H (first call only) and feature names.
    pub fn partial_fit_with<'a>(
        &mut self,
        x: impl Into<Input<'a, F>>,
        args: FitArgs<'a, F>,
    ) -> Result<()> {
        let x = x.into();
        let params = self.params.clone();
        let current = self.fitted.as_ref();
        let comm = self.comm();
        let (next, rng) =
            parallel::install(|| partial_fit_impl(&params, current, &x, &args, comm))?;
        self.fitted = Some(next);
        self.params = params.with_random_state(rng);
        Ok(())
    }

    /// W for new data with H fixed (n_samples × k). Distributed: collective,
    /// each worker passes its rows; W starts from the global mean(X) and
    /// stops on the global ||ΔW||/||W||.
    pub fn transform<'a>(&self, x: impl Into<Input<'a, F>>) -> Result<Array2<F>> {
        self.transform_source(&mut InMemory::new(x))
    }

    /// [`MiniBatchNmf::transform`] of X read from a row source (distributed:
    /// this worker's shard).
    pub fn transform_source(&self, x: &mut dyn RowSource<F>) -> Result<Array2<F>> {
        let comm = self.comm();
        let params = &self.params;
        let f = self.fitted.as_ref();
        parallel::install(|| {
            let local = f.ok_or(Error::NotFitted).and_then(|f| {
                let k = f.components.nrows();
                memory::preflight(
                    params,
                    Call::Transform,
                    x.shape(),
                    x.is_sparse().then(|| x.nnz()),
                    k,
                    size_of::<F>(),
                    false,
                )?;
                check_source(
                    x,
                    Some(f.n_features_in),
                    f.derived.loss.beta,
                    params.get_missing(),
                    comm,
                )
            });
            let shard = dist::preflight(comm, x.shape(), local, 0)?;
            let f = f.ok_or(Error::NotFitted)?;
            let ctx = StepCtx {
                loss: f.derived.loss,
                pen_w: Penalty::for_w(params, x.shape().1),
                rho: f.derived.rho,
                solver: solver::partial_fit_solver(params, &f.derived),
                comm,
                missing: params.get_missing(),
                batch: None,
            };
            let ctx = StepCtx {
                missing: crate::kernels::masked::effective_mode(ctx.missing, &shard, &ctx.solver),
                ..ctx
            };
            fit::solve_w(
                params,
                x,
                f.components.view(),
                &ctx,
                f.derived.transform_max_iter,
                shard.mean(),
            )
        })
    }

    /// `transform` checking X's column names against those seen at fit.
    pub fn transform_named<'a>(
        &self,
        x: impl Into<Input<'a, F>>,
        feature_names: &[String],
    ) -> Result<Array2<F>> {
        let f = self.fitted.as_ref().ok_or(Error::NotFitted)?;
        check_feature_names(f.feature_names_in.as_deref(), Some(feature_names))?;
        self.transform(x)
    }

    /// X ≈ W · H back from W (n_samples × k).
    pub fn inverse_transform(&self, w: ArrayView2<F>) -> Result<Array2<F>> {
        let f = self.fitted.as_ref().ok_or(Error::NotFitted)?;
        let k = f.components.nrows();
        if w.ncols() != k {
            return Err(Error::Shape {
                whom: "inverse_transform (input W)".into(),
                detail: format!("expected {k} columns (n_components), got {}", w.ncols()),
            });
        }
        validation::check_non_negative_finite(&Input::Dense(w), "inverse_transform (input W)")
            .or_else(|e| {
                // Negative W is unusual but scikit-learn computes W @ H regardless;
                // only non-finite values are rejected.
                if matches!(e, Error::Negative { .. }) {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        Ok(parallel::install(|| w.dot(&f.components)))
    }

    /// Whether the model is fitted (by fit, fit_transform or partial_fit).
    pub fn is_fitted(&self) -> bool {
        self.fitted.is_some()
    }

    /// H (k × n_features), scikit-learn's `components_`.
    pub fn components(&self) -> Result<ArrayView2<'_, F>> {
        Ok(self
            .fitted
            .as_ref()
            .ok_or(Error::NotFitted)?
            .components
            .view())
    }

    /// The online numerator of H (scikit-learn's `_components_numerator`).
    pub fn components_numerator(&self) -> Result<ArrayView2<'_, F>> {
        Ok(self
            .fitted
            .as_ref()
            .ok_or(Error::NotFitted)?
            .numerator
            .view())
    }

    /// The online denominator of H (scikit-learn's `_components_denominator`).
    pub fn components_denominator(&self) -> Result<ArrayView2<'_, F>> {
        Ok(self
            .fitted
            .as_ref()
            .ok_or(Error::NotFitted)?
            .denominator
            .view())
    }

    /// k, scikit-learn's `n_components_`.
    pub fn n_components(&self) -> Option<usize> {
        self.fitted.as_ref().map(|f| f.components.nrows())
    }

    /// scikit-learn's `n_features_in_`.
    pub fn n_features_in(&self) -> Option<usize> {
        self.fitted.as_ref().map(|f| f.n_features_in)
    }

    /// scikit-learn's `feature_names_in_` (if names were given at fit).
    pub fn feature_names_in(&self) -> Option<&[String]> {
        self.fitted
            .as_ref()
            .and_then(|f| f.feature_names_in.as_deref())
    }

    /// scikit-learn's `reconstruction_err_` (set by fit, not by partial_fit).
    pub fn reconstruction_err(&self) -> Option<f64> {
        self.fitted.as_ref().and_then(|f| f.reconstruction_err)
    }

    /// scikit-learn's `n_iter_` (set by fit, not by partial_fit).
    pub fn n_iter(&self) -> Option<usize> {
        self.fitted.as_ref().and_then(|f| f.n_iter)
    }

    /// scikit-learn's `n_steps_`.
    pub fn n_steps(&self) -> Option<usize> {
        self.fitted.as_ref().map(|f| f.n_steps)
    }

    /// Summary of the last fit/fit_transform (None after partial_fit only).
    pub fn last_fit(&self) -> Option<&FitSummary> {
        self.fitted.as_ref().and_then(|f| f.last_fit.as_ref())
    }

    /// Output feature names `minibatchnmf0`, `minibatchnmf1`, …
    /// (scikit-learn's `get_feature_names_out`). `input_features`, when
    /// given, is checked against the names (or count) seen at fit.
    pub fn feature_names_out(&self, input_features: Option<&[String]>) -> Result<Vec<String>> {
        let f = self.fitted.as_ref().ok_or(Error::NotFitted)?;
        if let Some(names) = input_features {
            match &f.feature_names_in {
                Some(_) => check_feature_names(f.feature_names_in.as_deref(), Some(names))?,
                None if names.len() != f.n_features_in => {
                    return Err(Error::FeatureNames(format!(
                        "input_features should have length equal to number of features ({}), got {}",
                        f.n_features_in,
                        names.len()
                    )))
                }
                None => {}
            }
        }
        Ok((0..f.components.nrows())
            .map(|i| format!("minibatchnmf{i}"))
            .collect())
    }
}

fn check_feature_names(seen: Option<&[String]>, given: Option<&[String]>) -> Result<()> {
    match (seen, given) {
        (Some(a), Some(b)) if a != b => Err(Error::FeatureNames(format!(
            "expected {:?}, got {:?}",
            a, b
        ))),
        _ => Ok(()),
    }
}

/// Refuse to commit a model holding NaN or infinity.
fn check_finite_result<F: NmfFloat>(a: ArrayView2<F>, what: &str) -> Result<()> {
    if a.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::Diverged(format!(
            "{what} contain NaN or infinity (is X all zeros, or too large for the dtype?)"
        )))
    }
}

// The estimator is plain data: it can move to and be shared across threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MiniBatchNmf<f64>>();
    assert_send_sync::<MiniBatchNmf<f32>>();
};
