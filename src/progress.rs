//! Watching a fit as it runs: a per-step report to an observer that may
//! also ask the loop to stop.
//!
//! The fitting loop of [`MiniBatchNmf::fit`](crate::MiniBatchNmf::fit) (and
//! `fit_transform`) calls [`FitObserver::on_step`] after every mini-batch
//! step, with what scikit-learn's verbose lines print and what a progress
//! bar needs. Returning [`Control::Stop`] ends the fit after that step as
//! if it had converged there, with [`StopReason::Interrupted`](crate::StopReason::Interrupted):
//! the model is committed (H, the statistics, W of the rows done) and
//! `reconstruction_err` is computed, so a program can stop on Ctrl-C and
//! still save what it has.
//!
//! The library prints nothing unless `verbose` is set; terminal progress
//! bars belong to programs (the demo's is in `src/bin`).
//!
//! ```
//! use minibatchnmf::progress::{Control, FitObserver, StepReport};
//! use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams, StopReason};
//! use ndarray::Array2;
//! use std::sync::{Arc, Mutex};
//!
//! /// Records the smoothed cost of every step and stops after the fifth.
//! #[derive(Default)]
//! struct Recorder(Mutex<Vec<Option<f64>>>);
//! impl FitObserver for Recorder {
//!     fn on_step(&self, r: &StepReport) -> Control {
//!         self.0.lock().unwrap().push(r.ewa_cost);
//!         if r.step == 5 { Control::Stop } else { Control::Continue }
//!     }
//! }
//!
//! let x = Array2::from_shape_fn((40, 6), |(i, j)| ((i * 3 + j) % 7) as f64);
//! let mut model = MiniBatchNmf::<f64>::new(
//!     MiniBatchNmfParams::new().n_components(2).batch_size(8).random_state(Some(0)),
//! )?;
//! let recorder = Arc::new(Recorder::default());
//! model.set_observer(Some(recorder.clone()));
//! let summary = model.fit(&x)?;
//! assert_eq!(summary.stop_reason, StopReason::Interrupted);
//! assert_eq!(summary.n_steps, 5);
//! let costs = recorder.0.lock().unwrap();
//! assert_eq!(costs.len(), 5);
//! assert!(costs[0].is_none() && costs[1].is_some()); // no EWA at the first step
//! # Ok::<(), minibatchnmf::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

/// What the loop tells an observer after a mini-batch step of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// Steps done so far, counting this one (1-based; scikit-learn's step).
    pub step: usize,
    /// The most steps the fit can take (`max_iter` passes over the data).
    pub max_steps: usize,
    /// The pass over the data this step belongs to (1-based).
    pub epoch: usize,
    /// `max_iter`.
    pub max_epochs: usize,
    /// Rows of this step's mini-batch.
    pub batch_rows: usize,
    /// Rows processed so far, all passes counted.
    pub rows_done: usize,
    /// Rows of X.
    pub n_samples: usize,
    /// The batch's mean cost (scikit-learn's "mean batch cost").
    pub batch_cost: f64,
    /// The smoothed (exponentially weighted) cost that early stopping
    /// watches; None at the first step, which scikit-learn skips.
    pub ewa_cost: Option<f64>,
}

/// An observer's answer: go on, or end the fit after this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on with the next step.
    Continue,
    /// End the fit now; it reports [`StopReason::Interrupted`](crate::StopReason::Interrupted).
    Stop,
}

/// Receives a [`StepReport`] after every step of a fit. Called on the thread
/// that called `fit`; keep it cheap (it runs between steps).
pub trait FitObserver: Send + Sync {
    /// Called after each step; [`Control::Stop`] ends the fit there.
    fn on_step(&self, report: &StepReport) -> Control;
}

/// The observer a model holds (none by default); cloned models share it.
#[derive(Clone, Default)]
pub(crate) struct ObserverSlot(pub(crate) Option<Arc<dyn FitObserver>>);

impl ObserverSlot {
    /// Report a step; `Continue` when there is no observer.
    pub(crate) fn step(&self, report: impl FnOnce() -> StepReport) -> Control {
        match &self.0 {
            Some(o) => o.on_step(&report()),
            None => Control::Continue,
        }
    }
}

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Some(<observer>)"
        } else {
            "None"
        })
    }
}
