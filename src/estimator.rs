//! The estimator: scikit-learn's `MiniBatchNMF` loop, early stopping and
//! fitted state.
//!
//! Every method computes into fresh buffers and commits to `self` only when it
//! has succeeded, so a failed call leaves the model exactly as it was.

use crate::dist::{self, Comm, Reducer, Shard};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::init;
use crate::input::Input;
use crate::io::{InMemory, RowSource};
use crate::kernels::{self, Loss, Penalty, WRows};
use crate::parallel;
use crate::params::{Init, MiniBatchNmfParams, NComponents, ValidParams};
use crate::progress::{Control, FitObserver, ObserverSlot, StepReport};
use crate::rng::RandomState;
use crate::validation;
use ndarray::{s, Array2, ArrayView2};
use std::fmt;
use std::sync::Arc;

/// Why the fitting loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// The fitted state (scikit-learn's trailing-underscore attributes): plain
/// data, everything an exact resume needs. `persist` serialises it.
#[derive(Debug, Clone)]
pub(crate) struct Fitted<F> {
    pub(crate) components: Array2<F>,
    /// Online numerator (A) and denominator (B) of H.
    pub(crate) numerator: Array2<F>,
    pub(crate) denominator: Array2<F>,
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
    pub fn fit_source(&mut self, x: &mut dyn RowSource<F>) -> Result<FitSummary> {
        self.fit_transform_source_with(x, FitArgs::default())?;
        Ok(self.last_fit().cloned().expect("fit sets last_fit"))
    }

    /// [`MiniBatchNmf::fit_transform_with`] over a row source; returns W
    /// (this worker's rows of it, when distributed).
    pub fn fit_transform_source_with(
        &mut self,
        x: &mut dyn RowSource<F>,
        args: FitArgs<'_, F>,
    ) -> Result<Array2<F>> {
        let params = self.params.clone();
        let comm = self.comm();
        let observer = &self.observer;
        let (w, fitted, rng) =
            parallel::install(|| fit_transform_impl(&params, x, &args, observer, comm))?;
        self.fitted = Some(fitted);
        self.params = params.with_random_state(rng);
        Ok(w)
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
        let f = self.fitted.as_ref().ok_or(Error::NotFitted);
        parallel::install(|| {
            let local = f
                .clone()
                .and_then(|f| check_source(x, Some(f.n_features_in), f.derived.loss.beta, comm));
            let shard = dist::preflight(comm, x.shape(), local, 0)?;
            let f = f?;
            let penalty_w = Penalty::for_w(params, x.shape().1);
            let out = kernels::solve_w_source(
                x,
                f.components.view(),
                &f.derived.loss,
                &penalty_w,
                f.derived.transform_max_iter,
                params.tol,
                shard.mean(),
                comm,
            )?;
            Ok(out.w)
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

/// Shape, finiteness, sign and the beta <= 0 zero rule on X, in one pass
/// over the source that also sums X: returns Σ X (for mean(X), see
/// [`dist::preflight`]). A worker of a distributed fit may hold no rows
/// (the global emptiness is checked by the preflight exchange).
fn check_source<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    n_features: Option<usize>,
    beta: f64,
    comm: Comm,
) -> Result<f64> {
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
    let scan = validation::scan(x, "MiniBatchNMF (input X)")?;
    // scikit-learn rejects zeros with beta <= 0 at fit; we also do so for
    // partial_fit and transform, where they would make the updates divide
    // by zero all the same.
    if beta <= 0.0 && scan.has_zero {
        return Err(Error::ZerosWithNonPositiveBeta);
    }
    Ok(scan.sum)
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
) -> Result<(Array2<F>, Array2<F>)> {
    let (n, m) = (shard.n_total, shard.n_features);
    if params.get_init() == Init::Custom {
        let (w, h) = (args.w.expect("checked"), args.h.expect("checked"));
        return Ok((w.to_owned(), h.to_owned()));
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
    init::initialize_source(x, k, params.get_init(), random_state, comm, shard)
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

/// Smoothed-cost early stopping (scikit-learn's `_minibatch_convergence`).
struct Convergence {
    ewa_cost: Option<f64>,
    ewa_cost_min: Option<f64>,
    no_improvement: usize,
}

impl Convergence {
    fn new() -> Self {
        Convergence {
            ewa_cost: None,
            ewa_cost_min: None,
            no_improvement: 0,
        }
    }

    /// `step` counts from 1. Returns the reason to stop, if any.
    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        params: &ValidParams,
        batch_rows: usize,
        n_samples: usize,
        batch_cost: f64,
        h_diff: f64,
        step: usize,
        n_steps: usize,
    ) -> Option<StopReason> {
        let verbose = params.get_verbose();
        if step == 1 {
            if verbose {
                eprintln!(
                    "Minibatch step {step}/{n_steps}: mean batch cost: {}",
                    py_float(batch_cost)
                );
            }
            return None;
        }
        let ewa = match self.ewa_cost {
            None => batch_cost,
            Some(prev) => {
                let alpha = (batch_rows as f64 / (n_samples as f64 + 1.0)).min(1.0);
                prev * (1.0 - alpha) + batch_cost * alpha
            }
        };
        self.ewa_cost = Some(ewa);
        if verbose {
            eprintln!(
                "Minibatch step {step}/{n_steps}: mean batch cost: {}, ewa cost: {}",
                py_float(batch_cost),
                py_float(ewa)
            );
        }
        let tol = params.get_tol();
        if tol > 0.0 && h_diff <= tol {
            if verbose {
                eprintln!("Converged (small H change) at step {step}/{n_steps}");
            }
            return Some(StopReason::SmallHChange);
        }
        match self.ewa_cost_min {
            Some(min) if ewa >= min => self.no_improvement += 1,
            _ => {
                self.no_improvement = 0;
                self.ewa_cost_min = Some(ewa);
            }
        }
        if let Some(max) = params.get_max_no_improvement() {
            if self.no_improvement >= max {
                if verbose {
                    eprintln!("Converged (lack of improvement in objective function) at step {step}/{n_steps}");
                }
                return Some(StopReason::NoImprovement);
            }
        }
        None
    }
}

/// Python's `repr` of a float (shortest round-trip digits, positional for
/// exponents in [-4, 16), else `d.ddde±XX`), so verbose lines read exactly
/// as scikit-learn's.
fn py_float(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0.0".into()
        } else {
            "0.0".into()
        };
    }
    // Shortest round-trip digits and decimal exponent, e.g. "1.2345e-5".
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci
        .split_once('e')
        .expect("LowerExp always has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    let sign = if negative { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let point = exp + 1; // digits before the decimal point
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{body}")
    } else {
        let frac = if digits.len() > 1 {
            format!(".{}", &digits[1..])
        } else {
            String::new()
        };
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{}{frac}e{esign}{:02}", &digits[..1], exp.abs())
    }
}

/// A new model's starting point: checked data, where this worker's rows
/// sit, k, the derived values and the initial W and H.
struct Start<F> {
    w: Array2<F>,
    h: Array2<F>,
    derived: Derived,
    warnings: Vec<Warning>,
    shard: Shard,
    /// `random_state` after the draws (a generator state moves on).
    random_state: RandomState,
}

fn start<F: NmfFloat>(
    params: &ValidParams,
    x: &mut dyn RowSource<F>,
    args: &FitArgs<F>,
    comm: Comm,
) -> Result<Start<F>> {
    let m = x.shape().1;
    let k = resolve_n_components(params, m, args.h);
    let local = check_source(x, None, params.beta(), comm)
        .and_then(|sum| match args.feature_names {
            Some(names) if names.len() != m => Err(Error::FeatureNames(format!(
                "{} names given for {m} features",
                names.len()
            ))),
            _ => Ok(sum),
        })
        .and_then(|sum| check_custom(params, x.shape(), k, args).map(|()| sum));
    let shard = dist::preflight(comm, x.shape(), local, fingerprint(params, k, args))?;
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
    )?;
    Ok(Start {
        w,
        h,
        derived,
        warnings,
        shard,
        random_state,
    })
}

/// What every worker of a distributed fit must agree on: the parameters
/// (but `verbose`), k and a custom H, hashed (checked by the preflight).
fn fingerprint<F: NmfFloat>(params: &ValidParams, k: usize, args: &FitArgs<F>) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut p = (**params).clone();
    p.verbose = false;
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

/// scikit-learn's `fit_transform` loop over X read by row blocks from a
/// source (in memory or a file). Distributed, `x` is this worker's shard;
/// every step is local (this worker's rows of the global batch) → reduce
/// (sums over the workers) → apply (the same H update everywhere).
fn fit_transform_impl<F: NmfFloat>(
    params: &ValidParams,
    x: &mut dyn RowSource<F>,
    args: &FitArgs<F>,
    observer: &ObserverSlot,
    comm: Comm,
) -> Result<(Array2<F>, Fitted<F>, RandomState)> {
    let m = x.shape().1;
    let Start {
        mut w,
        mut h,
        derived,
        mut warnings,
        shard,
        random_state,
    } = start(params, x, args, comm)?;
    let k = h.nrows();
    let n = shard.n_total;

    let mut numerator = h.clone();
    let mut denominator = Array2::from_elem(h.raw_dim(), F::one());

    let bs = derived.batch_size;
    let steps_per_iter = n.div_ceil(bs);
    let max_steps = params.get_max_iter() * steps_per_iter;
    let penalty_w = Penalty::for_w(params, m);
    let mut ws = kernels::Workspace::<F>::for_shape(m, k, bs);
    let mut conv = Convergence::new();
    let mut stop_reason = StopReason::MaxIter;
    let mut n_steps = 0;
    for step in 0..max_steps {
        // Global batch [start, end); this worker's rows of it [lo, hi).
        let start = (step % steps_per_iter) * bs;
        let end = (start + bs).min(n);
        let (lo, hi) = shard.local_range(start, end);
        let xb = x.rows(lo, hi)?;
        let w_rows = if params.get_fresh_restarts() {
            WRows::Fresh {
                mean: batch_mean(&xb, comm)?,
                max_iter: params.get_fresh_restarts_max_iter(),
                tol: params.get_tol(),
            }
        } else {
            WRows::Update(w.slice_mut(s![lo..hi, ..]))
        };
        let mut cost = kernels::step_local(
            &xb,
            w_rows,
            h.view(),
            &derived.loss,
            &penalty_w,
            comm,
            &mut ws,
        )?;
        kernels::step_reduce(comm, &mut ws, &derived.loss, &mut cost)?;
        let penalty_h = Penalty::for_h(params, end - start);
        let step_out = kernels::step_apply(
            &mut h,
            &mut numerator,
            &mut denominator,
            &derived.loss,
            &penalty_h,
            derived.rho,
            end - start,
            cost,
            &mut ws,
        );
        n_steps = step + 1;
        let converged = conv.check(
            params,
            end - start,
            n,
            step_out.batch_cost,
            step_out.h_diff,
            n_steps,
            max_steps,
        );
        let mut control = observer.step(|| StepReport {
            step: n_steps,
            max_steps,
            epoch: step / steps_per_iter + 1,
            max_epochs: params.get_max_iter(),
            batch_rows: end - start,
            rows_done: (step / steps_per_iter) * n + end,
            n_samples: n,
            batch_cost: step_out.batch_cost,
            ewa_cost: conv.ewa_cost,
        });
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
    if params.get_fresh_restarts() {
        w = kernels::solve_w_source(
            x,
            h.view(),
            &derived.loss,
            &penalty_w,
            derived.transform_max_iter,
            params.get_tol(),
            shard.mean(),
            comm,
        )?
        .w;
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
    // all of them fail or succeed together.
    let mut totals = [
        kernels::beta_divergence_source(x, w.view(), h.view(), &derived.loss)?,
        if w.iter().all(|v| v.is_finite()) {
            0.0
        } else {
            1.0
        },
    ];
    comm.sum_f64(&mut totals)?;
    if totals[1] > 0.0 {
        return Err(Error::Diverged(
            "W contain NaN or infinity (is X all zeros, or too large for the dtype?)".into(),
        ));
    }
    let reconstruction_err = (2.0 * totals[0].max(0.0)).sqrt();
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
        n_features_in: m,
        n_steps,
        n_iter: Some(n_iter),
        reconstruction_err: Some(reconstruction_err),
        feature_names_in: args.feature_names.map(|s| s.to_vec()),
        derived,
        last_fit: Some(summary),
    };
    Ok((w, fitted, random_state))
}

/// mean(X) of a global batch from this worker's rows of it (the start of a
/// fresh W solve).
fn batch_mean<F: NmfFloat>(xb: &Input<F>, comm: Comm) -> Result<f64> {
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

/// scikit-learn's `partial_fit`: one step over the chunk (distributed: the
/// chunk is the concatenation of the workers' chunks), W solved afresh.
fn partial_fit_impl<F: NmfFloat>(
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
            let local = check_source(src, Some(f.n_features_in), f.derived.loss.beta, comm)
                .and_then(|sum| {
                    check_feature_names(f.feature_names_in.as_deref(), args.feature_names)
                        .map(|()| sum)
                });
            let shard = dist::preflight(comm, x.shape(), local, 0)?;
            (f.clone(), shard)
        }
        None => {
            let m = x.n_cols();
            // W is solved afresh by the step; only H of the start is kept.
            let first = start(params, src, args, comm)?;
            let (h, derived, shard) = (first.h, first.derived, first.shard);
            random_state = first.random_state;
            let fitted = Fitted {
                numerator: h.clone(),
                denominator: Array2::from_elem(h.raw_dim(), F::one()),
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
    let penalty_w = Penalty::for_w(params, m);
    let penalty_h = Penalty::for_h(params, n);
    let mut ws = kernels::Workspace::<F>::for_shape(m, k, x.n_rows().max(1));
    let f = &mut next;
    let fresh = WRows::Fresh {
        mean: shard.mean(),
        max_iter: params.get_fresh_restarts_max_iter(),
        tol: params.get_tol(),
    };
    let loss = f.derived.loss;
    let mut cost = kernels::step_local(
        x,
        fresh,
        f.components.view(),
        &loss,
        &penalty_w,
        comm,
        &mut ws,
    )?;
    kernels::step_reduce(comm, &mut ws, &loss, &mut cost)?;
    kernels::step_apply(
        &mut f.components,
        &mut f.numerator,
        &mut f.denominator,
        &loss,
        &penalty_h,
        f.derived.rho,
        n,
        cost,
        &mut ws,
    );
    check_finite_result(f.components.view(), "components")?;
    f.n_steps += 1;
    Ok((next, random_state))
}

#[cfg(test)]
mod tests {
    use super::py_float;

    #[test]
    fn floats_print_like_python_repr() {
        for (v, py) in [
            (0.1, "0.1"),
            (1e-5, "1e-05"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456.789, "123456.789"),
            (1e16, "1e+16"),
            (1.2345e16, "1.2345e+16"),
            (1e15, "1000000000000000.0"),
            (2.0, "2.0"),
            (-0.25, "-0.25"),
            (612.920343622713, "612.920343622713"),
        ] {
            assert_eq!(py_float(v), py, "{v}");
        }
    }
}

// The estimator is plain data: it can move to and be shared across threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MiniBatchNmf<f64>>();
    assert_send_sync::<MiniBatchNmf<f32>>();
};
