//! Exact continuation of an interrupted fit.
//!
//! Between two steps the fitting loop carries H and its statistics (MU's
//! numerator and denominator, cd's A, B and the rows they stand for: the
//! fitted model), W, the number of steps done (which gives the position in
//! the epoch) and the early-stopping state (the smoothed cost, its minimum
//! and the count of steps without improvement): [`Progress`] besides H and
//! W. A fit
//! stopped by its [`FitObserver`](crate::progress::FitObserver) commits the
//! model; [`MiniBatchNmf::fit_transform_source_resumable`] also returns W
//! and a [`FitCursor`] with the rest, and
//! [`MiniBatchNmf::resume_fit_transform_source`] on that model (or a copy
//! loaded from its file), with that W and cursor and the same data,
//! finishes the fit exactly as the uninterrupted one: the same H,
//! statistics, W, counters, error and warnings, bit for bit.
//!
//! ```
//! use minibatchnmf::io::InMemory;
//! use minibatchnmf::progress::{Control, FitObserver, StepReport};
//! use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams, StopReason};
//! use ndarray::Array2;
//! use std::sync::Arc;
//!
//! struct StopAt(usize);
//! impl FitObserver for StopAt {
//!     fn on_step(&self, r: &StepReport) -> Control {
//!         if r.step == self.0 { Control::Stop } else { Control::Continue }
//!     }
//! }
//! let x = Array2::from_shape_fn((40, 6), |(i, j)| ((i * 3 + j) % 7) as f64);
//! let params = MiniBatchNmfParams::new().n_components(2).batch_size(8).random_state(Some(0));
//! let mut whole = MiniBatchNmf::<f64>::new(params.clone())?;
//! let w_whole = whole.fit_transform(&x)?;
//!
//! let mut model = MiniBatchNmf::<f64>::new(params)?;
//! model.set_observer(Some(Arc::new(StopAt(7))));
//! let (w, cursor) = model.fit_transform_source_resumable(&mut InMemory::new(&x), Default::default())?;
//! assert_eq!(model.last_fit().unwrap().stop_reason, StopReason::Interrupted);
//! model.set_observer(None);
//! let (w, cursor) = model.resume_fit_transform_source(&mut InMemory::new(&x), w, &cursor.unwrap())?;
//! assert!(cursor.is_none());
//! assert_eq!(w, w_whole);
//! assert_eq!(model.components()?, whole.components()?);
//! assert_eq!(model.last_fit(), whole.last_fit());
//! # Ok::<(), minibatchnmf::Error>(())
//! ```

use super::convergence::Convergence;
use super::solver::Stats;
use super::start::{check_source_sq, Start};
use super::{fit_transform_impl, FitArgs, Fitted, MiniBatchNmf, Warning};
use crate::dist::{self, Comm};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::io::RowSource;
use crate::memory::Matrix;
use crate::parallel;
use crate::params::ValidParams;
use ndarray::Array2;

/// Where an interrupted fit stopped, besides its model and W: the steps
/// done and the early-stopping state. Plain numbers, exact (a program
/// saving it must keep the floats' bits, e.g. with Rust's `{:?}`).
#[derive(Debug, Clone, PartialEq)]
pub struct FitCursor {
    /// Mini-batch steps done (the model's `n_steps`); the next step is
    /// `n_steps % steps_per_epoch` of epoch `n_steps / steps_per_epoch`.
    pub n_steps: usize,
    /// The smoothed cost (None before the second step).
    pub ewa_cost: Option<f64>,
    /// The lowest smoothed cost so far.
    pub ewa_cost_min: Option<f64>,
    /// Steps since the smoothed cost last improved.
    pub no_improvement: usize,
}

/// What the loop of `fit_transform_impl` starts from when it continues.
pub(super) struct Resumed<F> {
    pub(super) fitted: Fitted<F>,
    pub(super) w: Array2<F>,
    pub(super) cursor: FitCursor,
}

/// The loop's state besides H and W: H's statistics, the steps done and
/// the early-stopping state.
pub(super) struct Progress<F> {
    pub(super) stats: Stats<F>,
    pub(super) n_steps: usize,
    pub(super) conv: Convergence,
}

impl<F> Progress<F> {
    /// A new fit's: its starting statistics, no step done.
    pub(super) fn new(stats: Stats<F>) -> Self {
        Progress {
            stats,
            n_steps: 0,
            conv: Convergence::new(),
        }
    }
}

impl Convergence {
    pub(super) fn cursor(&self, n_steps: usize) -> FitCursor {
        FitCursor {
            n_steps,
            ewa_cost: self.ewa_cost,
            ewa_cost_min: self.ewa_cost_min,
            no_improvement: self.no_improvement,
        }
    }
}

impl<F: NmfFloat> Resumed<F> {
    /// X checked against the model (one pass, as a fit's start), W's shape
    /// against X and the model; the loop state back.
    pub(super) fn begin(
        self,
        params: &ValidParams,
        x: &mut dyn RowSource<F>,
        comm: Comm,
    ) -> Result<(Start<F>, Progress<F>)> {
        let Resumed { fitted, w, cursor } = self;
        let mut sq_x = None;
        let local = check_source_sq(
            x,
            Some(fitted.n_features_in),
            fitted.derived.loss.beta,
            params.get_missing(),
            comm,
        )
        .map(|(sums, sq)| {
            sq_x = sq;
            sums
        });
        let shard = dist::preflight(comm, x.shape(), local, 0)?;
        let k = fitted.components.nrows();
        if w.dim() != (shard.n_local, k) {
            return Err(Error::Shape {
                whom: "resumed fit (W of the interrupted fit)".into(),
                detail: format!(
                    "expected {} × {k} (the data's rows × n_components), got {} × {}",
                    shard.n_local,
                    w.nrows(),
                    w.ncols()
                ),
            });
        }
        let bs = fitted.derived.batch_size;
        if bs != params.get_batch_size().min(shard.n_total) || cursor.n_steps != fitted.n_steps {
            return Err(Error::Shape {
                whom: "resumed fit".into(),
                detail: format!(
                    "not the interrupted fit of this data: batch size {bs} and {} steps in the model, \
                     {} rows in X and {} steps in the cursor",
                    fitted.n_steps, shard.n_total, cursor.n_steps
                ),
            });
        }
        let steps_per_iter = shard.n_total.div_ceil(bs);
        if cursor.n_steps > params.get_max_iter() * steps_per_iter {
            return Err(Error::Shape {
                whom: "resumed fit".into(),
                detail: format!(
                    "the cursor's {} steps exceed max_iter × steps per pass = {}",
                    cursor.n_steps,
                    params.get_max_iter() * steps_per_iter
                ),
            });
        }
        // The convergence warning is decided when the loop ends.
        let warnings = fitted
            .last_fit
            .as_ref()
            .map(|s| {
                s.warnings
                    .iter()
                    .filter(|w| !matches!(w, Warning::Convergence { .. }))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let conv = Convergence {
            ewa_cost: cursor.ewa_cost,
            ewa_cost_min: cursor.ewa_cost_min,
            no_improvement: cursor.no_improvement,
        };
        let start = Start {
            w: crate::memory::Matrix::Ram(w),
            h: fitted.components,
            derived: fitted.derived,
            warnings,
            shard,
            random_state: params.get_random_state().clone(),
            sq_x,
        };
        let stats = Stats {
            numerator: fitted.numerator,
            denominator: fitted.denominator,
            stat_rows: fitted.stat_rows,
        };
        Ok((
            start,
            Progress {
                stats,
                n_steps: cursor.n_steps,
                conv,
            },
        ))
    }
}

impl<F: NmfFloat> MiniBatchNmf<F> {
    /// [`MiniBatchNmf::fit_transform_source_with`], also returning the
    /// [`FitCursor`] when the fit was interrupted (stopped by the observer;
    /// None otherwise). The model, the returned W and the cursor are what
    /// [`resume_fit_transform_source`](Self::resume_fit_transform_source)
    /// needs to finish the fit exactly. (An interrupted cd fit with fresh
    /// restarts returns the loop's W, each row's last solve, rather than a
    /// final solve: its rows' share of A and B is part of the state.)
    pub fn fit_transform_source_resumable(
        &mut self,
        x: &mut dyn RowSource<F>,
        args: FitArgs<'_, F>,
    ) -> Result<(Array2<F>, Option<FitCursor>)> {
        self.run_fit(x, &args, None, None, Matrix::into_array)
    }

    /// [`fit_transform_source_resumable`](Self::fit_transform_source_resumable)
    /// with W where the memory budget put it: in RAM, or — when W
    /// (n_samples × n_components) does not fit the budget (`max_memory`)
    /// while the rest of the fit does — in a memory-mapped file, so the
    /// fit's resident memory stays within the budget whatever the number of
    /// rows. That file is `w_npy` when given (a `.npy` file of W: call
    /// [`Matrix::keep_file`] to keep it, it is removed otherwise), else a
    /// scratch file of the temporary folder (removed when W is dropped).
    /// The values are the same bits either way.
    ///
    /// ```
    /// use minibatchnmf::io::InMemory;
    /// use minibatchnmf::{Init, MiniBatchNmf, MiniBatchNmfParams};
    /// let x = ndarray::Array2::from_shape_fn((30_000, 4), |(i, j)| ((i + j) % 5) as f64);
    /// let params = MiniBatchNmfParams::new()
    ///     .n_components(4)
    ///     .init(Init::Random)
    ///     .random_state(Some(0))
    ///     .max_iter(2);
    /// let mut ram = MiniBatchNmf::<f64>::new(params.clone())?;
    /// let w_ram = ram.fit_transform(&x)?;
    /// // The rest of the fit (mostly row blocks of whole passes, 7.6 MiB)
    /// // fits 8 MiB, not with W (30 000 × 4 × 8 bytes = 0.9 MiB) too.
    /// let mut small = params.clone();
    /// small.set_param("max_memory", "8M")?;
    /// let mut spilled = MiniBatchNmf::<f64>::new(small)?;
    /// let (w, _) = spilled.fit_transform_source_to(&mut InMemory::new(&x), None)?;
    /// assert!(w.is_spilled());
    /// assert_eq!(w.view(), w_ram.view());
    /// assert_eq!(spilled.components()?, ram.components()?);
    /// # Ok::<(), minibatchnmf::Error>(())
    /// ```
    pub fn fit_transform_source_to(
        &mut self,
        x: &mut dyn RowSource<F>,
        w_npy: Option<&std::path::Path>,
    ) -> Result<(Matrix<F>, Option<FitCursor>)> {
        self.run_fit(x, &FitArgs::default(), None, w_npy, Ok)
    }

    /// Continue an interrupted fit: `self` is the model it left (or that
    /// model saved and loaded), `w` and `cursor` what
    /// [`fit_transform_source_resumable`](Self::fit_transform_source_resumable)
    /// returned, `x` the same data. The result equals the uninterrupted
    /// fit's bit for bit; it may be interrupted again (a new cursor).
    /// Errors leave the model unchanged: [`Error::NotFitted`], W of the
    /// wrong shape, or a model or cursor that is not of a fit of this data.
    pub fn resume_fit_transform_source(
        &mut self,
        x: &mut dyn RowSource<F>,
        w: Array2<F>,
        cursor: &FitCursor,
    ) -> Result<(Array2<F>, Option<FitCursor>)> {
        let fitted = self.fitted.clone().ok_or(Error::NotFitted)?;
        let names = fitted.feature_names_in.clone();
        let args = FitArgs {
            feature_names: names.as_deref(),
            ..Default::default()
        };
        let resumed = Resumed {
            fitted,
            w,
            cursor: cursor.clone(),
        };
        self.run_fit(x, &args, Some(resumed), None, Matrix::into_array)
    }

    /// The fit; `w_out` turns W into what the caller returns, before the
    /// model is committed (so its failure leaves the model unchanged).
    pub(super) fn run_fit<T>(
        &mut self,
        x: &mut dyn RowSource<F>,
        args: &FitArgs<'_, F>,
        resumed: Option<Resumed<F>>,
        w_file: Option<&std::path::Path>,
        w_out: impl FnOnce(Matrix<F>) -> Result<T> + Send,
    ) -> Result<(T, Option<FitCursor>)>
    where
        T: Send,
    {
        let params = self.params.clone();
        let comm = self.comm();
        let observer = &self.observer;
        let (w, fitted, rng, cursor) = parallel::install(|| {
            let (w, fitted, rng, cursor) =
                fit_transform_impl(&params, x, args, observer, comm, resumed, w_file)?;
            Ok::<_, Error>((w_out(w)?, fitted, rng, cursor))
        })?;
        self.fitted = Some(fitted);
        self.params = params.with_random_state(rng);
        Ok((w, cursor))
    }
}
