//! A terminal progress bar for a fit, fed by the library's per-step
//! observer ([`minibatchnmf::progress`]). Uses `indicatif` (well kept, draws
//! on stderr at a limited rate and hides itself when stderr is not a
//! terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use minibatchnmf::progress::{Control, FitObserver, StepReport};
use std::sync::Mutex;

/// Draws one bar per fit: steps done of the most the fit can take, pass over
/// the data, rows per second, smoothed cost and an estimate of the time
/// left (until `max_iter`: early stopping usually ends the fit sooner).
pub struct FitBar {
    bar: ProgressBar,
    /// Set up on the first step, when max_steps is known.
    started: Mutex<bool>,
}

impl FitBar {
    /// A bar on stderr; `None` when stderr is not a terminal.
    pub fn on_terminal() -> Option<Self> {
        let target = ProgressDrawTarget::stderr();
        if target.is_hidden() {
            return None;
        }
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] step {pos}/{len} {msg} [{elapsed_precise}, ETA {eta}]",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        Some(FitBar {
            bar,
            started: Mutex::new(false),
        })
    }

    /// Remove the bar (the caller prints its own summary line).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl FitObserver for FitBar {
    fn on_step(&self, r: &StepReport) -> Control {
        let mut started = self.started.lock().unwrap_or_else(|e| e.into_inner());
        if !*started {
            self.bar.set_length(r.max_steps as u64);
            self.bar.reset_elapsed();
            *started = true;
        }
        let secs = self.bar.elapsed().as_secs_f64().max(1e-9);
        self.bar
            .set_prefix(format!("epoch {}/{}", r.epoch, r.max_epochs));
        self.bar.set_message(format!(
            "{:.0} rows/s, cost {}",
            r.rows_done as f64 / secs,
            r.ewa_cost
                .map_or_else(|| format!("{:.6}", r.batch_cost), |c| format!("{c:.6}"))
        ));
        self.bar.set_position(r.step as u64);
        Control::Continue
    }
}
