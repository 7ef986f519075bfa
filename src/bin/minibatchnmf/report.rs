//! What a fit shows while it runs: the demo's progress bar on a terminal
//! (shared code), one plain line per pass over the data otherwise, nothing
//! with --quiet; and the Ctrl-C flag that asks the loop to stop between two
//! steps (through the library's per-step observer).

#[path = "../minibatchnmf-topics/progress_bar.rs"]
mod progress_bar;

use minibatchnmf::progress::{Control, FitObserver, StepReport};
use progress_bar::FitBar;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// How much to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Quiet,
    Normal,
    /// scikit-learn's lines (printed by the library); no bar.
    Verbose,
}

/// Prints a status line unless quiet.
pub fn say(level: Level, msg: impl AsRef<str>) {
    if level != Level::Quiet {
        eprintln!("{}", msg.as_ref());
    }
}

/// The per-step observer of a fit.
pub struct Watcher {
    bar: Option<FitBar>,
    log: bool,
    stop: Arc<AtomicBool>,
    /// Stop after this many steps, as Ctrl-C does (--stop-after-steps).
    stop_after: Option<usize>,
    last_epoch: AtomicUsize,
    /// When the first step ended, and the rows it had done (the rates
    /// leave out the initialisation's passes).
    start: OnceLock<(Instant, usize)>,
}

impl Watcher {
    /// A watcher that stops the fit once `stop` is set.
    pub fn new(level: Level, stop: Arc<AtomicBool>) -> Self {
        let bar = if level == Level::Normal {
            FitBar::on_terminal()
        } else {
            None
        };
        Watcher {
            log: level == Level::Normal && bar.is_none(),
            bar,
            stop,
            stop_after: None,
            last_epoch: AtomicUsize::new(0),
            start: OnceLock::new(),
        }
    }

    /// Also stop (as on Ctrl-C) once `steps` steps are done.
    pub fn stop_after(mut self, steps: Option<usize>) -> Self {
        self.stop_after = steps;
        self
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish();
        }
    }
}

impl FitObserver for Watcher {
    fn on_step(&self, r: &StepReport) -> Control {
        self.start.get_or_init(|| (Instant::now(), r.rows_done));
        if let Some(b) = &self.bar {
            b.on_step(r);
        } else if self.log {
            let last = r.step == r.max_steps;
            let done_epoch = r.rows_done % r.n_samples == 0;
            if (done_epoch || last) && self.last_epoch.swap(r.epoch, Ordering::Relaxed) != r.epoch {
                let (t0, rows0) = *self.start.get_or_init(|| (Instant::now(), r.rows_done));
                let secs = t0.elapsed().as_secs_f64().max(1e-9);
                eprintln!(
                    "epoch {}/{}: step {}/{}, {:.0} rows/s, smoothed cost {}",
                    r.epoch,
                    r.max_epochs,
                    r.step,
                    r.max_steps,
                    (r.rows_done - rows0) as f64 / secs,
                    r.ewa_cost
                        .map_or_else(|| format!("{:.6}", r.batch_cost), |c| format!("{c:.6}"))
                );
            }
        }
        if self.stop.load(Ordering::Relaxed) || self.stop_after.is_some_and(|n| r.step >= n) {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// Sets the returned flag on Ctrl-C (SIGINT); a second Ctrl-C
/// exits at once with status 130.
pub fn ctrl_c_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // Fails only if a handler is already set; the flag then stays false.
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: stopping after this mini-batch (Ctrl-C again to quit now)");
    });
    flag
}
