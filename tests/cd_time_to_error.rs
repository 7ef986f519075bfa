//! Time-to-error measurements behind the cd solver's defaults (not a
//! test of correctness; ignored by default, and nothing here asserts a
//! time). Run with a dense f64 `.npy` (e.g. the first 20000 Fashion-MNIST
//! images / 255):
//!
//! ```text
//! MBNMF_TTE_NPY=path.npy OPENBLAS_NUM_THREADS=1 \
//!   cargo test --release --test cd_time_to_error -- --ignored --nocapture
//! ```
//!
//! Prints, per configuration and number of epochs, the fit's wall time,
//! its CPU time (all threads)
//! and ‖X − W·H‖_F with W from fit_transform (k = 10, random init,
//! random_state = 0, tol = 0, no early stopping).

mod common;

use minibatchnmf::{CdStats, Init, MiniBatchNmf, MiniBatchNmfParams, Solver};
use ndarray::Array2;
use std::time::Instant;

fn error(x: &Array2<f64>, w: &Array2<f64>, h: ndarray::ArrayView2<f64>) -> f64 {
    let r = x - &w.dot(&h);
    r.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// CPU seconds of this process so far (user + system, all threads), from
/// /proc/self/stat: on a loaded machine it measures the work, where the
/// wall time measures the neighbours too.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn run(x: &Array2<f64>, p: MiniBatchNmfParams, epochs: usize) -> (f64, f64, f64) {
    let p = p
        .n_components(10)
        .init(Init::Random)
        .random_state(Some(0))
        .tol(0.0)
        .max_no_improvement(None)
        .max_iter(epochs);
    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
    let (t, c) = (Instant::now(), cpu_seconds());
    let w = m.fit_transform(x).unwrap();
    let (secs, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c);
    (secs, cpu, error(x, &w, m.components().unwrap()))
}

#[test]
#[ignore]
fn cd_time_to_error_table() {
    let Ok(path) = std::env::var("MBNMF_TTE_NPY") else {
        eprintln!("MBNMF_TTE_NPY not set: nothing to measure");
        return;
    };
    let x: Array2<f64> = common::read_npy(std::path::Path::new(&path))
        .unwrap()
        .to_array2();
    let only = std::env::var("MBNMF_TTE_ONLY").unwrap_or_default();
    let mut configs: Vec<(String, MiniBatchNmfParams, Vec<usize>)> = Vec::new();
    for bs in [1024, 2048, 4096] {
        for stats in [CdStats::Exact, CdStats::Decayed] {
            for (ws, hs) in [
                (1, 1),
                (3, 1),
                (3, 3),
                (5, 3),
                (5, 5),
                (10, 5),
                (20, 5),
                (10, 10),
            ] {
                let name = format!("cd bs={bs} {} w={ws} h={hs}", stats.as_str());
                let p = MiniBatchNmfParams::new()
                    .solver(Solver::Cd)
                    .batch_size(bs)
                    .cd_stats(stats)
                    .cd_w_sweeps(ws)
                    .cd_h_sweeps(hs);
                configs.push((name, p, vec![1, 2, 3, 5, 8, 12]));
            }
        }
    }
    configs.push((
        "mu bs=1024".into(),
        MiniBatchNmfParams::new(),
        vec![5, 20, 50],
    ));
    for (name, p, epochs) in configs {
        if !only.is_empty() && !name.contains(&only) {
            continue;
        }
        let row: Vec<String> = epochs
            .iter()
            .map(|&e| {
                let (t, cpu, err) = run(&x, p.clone(), e);
                format!("{e}:{t:.2}s/{cpu:.2}cpu/{err:.1}")
            })
            .collect();
        println!("{name:32} {}", row.join("  "));
    }
}
