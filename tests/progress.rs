//! The per-step observer (`minibatchnmf::progress`): what it is told, that
//! watching changes nothing, and that stopping commits a usable model.

use minibatchnmf::progress::{Control, FitObserver, StepReport};
use minibatchnmf::{BetaLoss, Init, MiniBatchNmf, MiniBatchNmfParams, StopReason};
use ndarray::Array2;
use std::sync::{Arc, Mutex};

/// Records every report; asks to stop after `stop_after` steps, if set.
struct Recorder {
    reports: Mutex<Vec<StepReport>>,
    stop_after: Option<usize>,
}

impl Recorder {
    fn new(stop_after: Option<usize>) -> Arc<Self> {
        Arc::new(Recorder {
            reports: Mutex::new(Vec::new()),
            stop_after,
        })
    }
}

impl FitObserver for Recorder {
    fn on_step(&self, r: &StepReport) -> Control {
        self.reports.lock().unwrap().push(r.clone());
        match self.stop_after {
            Some(n) if r.step >= n => Control::Stop,
            _ => Control::Continue,
        }
    }
}

fn data() -> Array2<f64> {
    Array2::from_shape_fn((103, 9), |(i, j)| ((i * 7 + j * 5) % 13) as f64 / 4.0)
}

fn params() -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(3)
        .init(Init::Nndsvda)
        .beta_loss(BetaLoss::KullbackLeibler)
        .batch_size(20)
        .max_iter(7)
        .random_state(Some(3))
}

#[test]
fn observer_sees_every_step_with_consistent_counters() {
    let x = data();
    let mut model = MiniBatchNmf::<f64>::new(params()).unwrap();
    let rec = Recorder::new(None);
    model.set_observer(Some(rec.clone()));
    let s = model.fit(&x).unwrap();
    let reports = rec.reports.lock().unwrap();
    assert_eq!(reports.len(), s.n_steps);
    let steps_per_epoch = 103usize.div_ceil(20);
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r.step, i + 1);
        assert_eq!(r.max_steps, 7 * steps_per_epoch);
        assert_eq!(r.epoch, i / steps_per_epoch + 1);
        assert_eq!(r.max_epochs, 7);
        assert_eq!(r.n_samples, 103);
        let in_epoch = i % steps_per_epoch;
        assert_eq!(r.batch_rows, if in_epoch == 5 { 3 } else { 20 });
        assert_eq!(
            r.rows_done,
            (i / steps_per_epoch) * 103 + (in_epoch * 20 + r.batch_rows)
        );
        assert!(r.batch_cost.is_finite() && r.batch_cost >= 0.0);
        // scikit-learn skips the first step in its smoothed cost.
        assert_eq!(r.ewa_cost.is_some(), i > 0);
    }
    assert_eq!(reports.last().unwrap().epoch, s.n_iter);
}

#[test]
fn watching_a_fit_changes_nothing() {
    let x = data();
    let mut plain = MiniBatchNmf::<f64>::new(params()).unwrap();
    let w_plain = plain.fit_transform(&x).unwrap();
    let mut watched = MiniBatchNmf::<f64>::new(params()).unwrap();
    watched.set_observer(Some(Recorder::new(None)));
    let w_watched = watched.fit_transform(&x).unwrap();
    assert_eq!(w_plain, w_watched);
    assert_eq!(plain.components().unwrap(), watched.components().unwrap());
    assert_eq!(plain.last_fit(), watched.last_fit());
}

#[test]
fn stopping_commits_the_model_of_the_steps_done() {
    let x = data();
    let mut model = MiniBatchNmf::<f64>::new(params()).unwrap();
    model.set_observer(Some(Recorder::new(Some(8))));
    let w = model.fit_transform(&x).unwrap();
    let s = model.last_fit().unwrap().clone();
    assert_eq!(s.stop_reason, StopReason::Interrupted);
    assert_eq!(s.n_steps, 8);
    assert_eq!(s.n_iter, 2); // 6 steps per pass
    assert_eq!(model.n_steps(), Some(8));
    // The committed model is self-consistent: reconstruction_err is the
    // Kullback-Leibler error of the W and H returned.
    let h = model.components().unwrap();
    let wh = w.dot(&h);
    let kl: f64 = x
        .iter()
        .zip(wh.iter())
        .map(|(&a, &b)| if a > 0.0 { a * (a / b).ln() - a + b } else { b })
        .sum();
    let err = (2.0 * kl).sqrt();
    assert!(
        (err - s.reconstruction_err).abs() <= 1e-9 * err,
        "{err} vs {}",
        s.reconstruction_err
    );
    assert!(w.iter().chain(h.iter()).all(|v| v.is_finite() && *v >= 0.0));
    // The observer can be removed: the next fit runs to its end.
    model.set_observer(None);
    let s = model.fit(&x).unwrap();
    assert_ne!(s.stop_reason, StopReason::Interrupted);
}
