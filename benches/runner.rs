//! One benchmark case per process, for `benches/suite.py` (`make bench`).
//!
//! ```text
//! cargo run --release --example bench_runner -- --mode fit --x X.npy --k 10 --beta 2 --epochs 2
//! cargo run --release --example bench_runner -- --mode machine
//! ```
//!
//! Prints one JSON line: `seconds` (one per repeat), `result` (the figure
//! compared with scikit-learn's: `reconstruction_err` for a fit, ‖W‖_F for
//! `transform`, ‖H‖_F after a `partial_fit` stream, sqrt(‖W‖²+‖H‖²) for the
//! initialisation alone), `n_steps`, and the memory figures:
//!
//! * `peak_rss_bytes`: the highest resident set reached while the timed
//!   calls ran, above the resident set they started from. The data (and,
//!   for `transform`, the model) are loaded first, `malloc_trim` returns
//!   freed heap to the system, then the kernel's high-water mark is reset
//!   (`5` written to `/proc/self/clear_refs`), so the figure is what the
//!   algorithm itself needs on top of its input;
//! * `vmhwm_bytes`: the process's high-water mark at the end (data included).
//!
//! `--mode curve` (the time-to-error benchmark, benches/time_to_error.py)
//! prints the error ‖X − W·H‖_F reached after i passes over the data, and
//! the time the fit took to get there, for a set of pass counts (see
//! [`curve`]); `--set name=value` passes parameters beyond scikit-learn's
//! (`--set solver=cd`).
//!
//! `--mode machine` measures the machine instead: GEMM rates (f64 and f32,
//! square products through ndarray and single-threaded OpenBLAS, on one
//! thread and on two threads each running its own product) and memory
//! bandwidth (a STREAM-like read and triad over arrays far larger than the
//! caches, on one and two threads), the rate of random row gathers (the
//! access pattern of a CSR × dense product: for each stored value, one
//! multiply-add of a random row of an m×w array into an accumulator) for
//! arrays that fit L2, that fit L3 and that fit neither, at several row
//! widths, on one and two threads, and the core type OpenBLAS picked.

use clap::{Parser, ValueEnum};
use minibatchnmf::io;
use minibatchnmf::progress::{Control, FitObserver, StepReport};
use minibatchnmf::{initialize, CsrView, Init, Input, MiniBatchNmf, MiniBatchNmfParams};
use minibatchnmf::{NmfFloat, Result};
use ndarray::{linalg::general_mat_mul, Array2};
use serde_json::{json, Value};
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
enum Mode {
    Fit,
    FitTransform,
    Transform,
    PartialFit,
    Init,
    Curve,
    Machine,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Dtype {
    F64,
    F32,
}

/// One case of the benchmark suite.
#[derive(Parser, Debug)]
#[command(about = "One minibatchnmf benchmark case; prints one JSON line")]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    /// Data: dense `.npy` or scipy CSR `.npz`.
    #[arg(long)]
    x: Option<String>,
    #[arg(long, value_enum, default_value = "f64")]
    dtype: Dtype,
    #[arg(long, default_value_t = 10)]
    k: usize,
    #[arg(long, default_value_t = 2.0)]
    beta: f64,
    /// max_iter (passes over the data).
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, default_value_t = 1024)]
    batch: usize,
    /// Timed calls in this process.
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// partial_fit: rows per chunk.
    #[arg(long, default_value_t = 2000)]
    chunk: usize,
    /// partial_fit: passes over the data (the stream repeats it).
    #[arg(long, default_value_t = 1)]
    passes: usize,
    /// Worker threads (0: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// curve: initialisation (the other modes use nndsvda).
    #[arg(long, default_value = "random")]
    init: String,
    /// curve: a parameter by its name (`MiniBatchNmfParams::set_param`),
    /// e.g. `--set solver=cd`; repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// curve: passes are added until a fit of that many passes takes longer
    /// than this (seconds) ...
    #[arg(long, default_value_t = 2.0)]
    max_seconds: f64,
    /// curve: ... or this many passes are reached.
    #[arg(long, default_value_t = 1000)]
    max_epochs: usize,
    /// curve: errors whose first pass reaching them is searched for
    /// (comma-separated).
    #[arg(long, value_delimiter = ',')]
    targets: Vec<f64>,
    /// curve: time budgets (s) whose last pass within them is searched for
    /// (comma-separated).
    #[arg(long, value_delimiter = ',')]
    budgets: Vec<f64>,
    /// machine: order of the square GEMMs.
    #[arg(long, default_value_t = 1536)]
    gemm_n: usize,
    /// machine: f64 values per array of the bandwidth test (3 arrays);
    /// the default, 16 Mi (128 MiB each), is far beyond any cache.
    #[arg(long, default_value_t = 1 << 24)]
    stream_len: usize,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = minibatchnmf::set_num_threads(args.threads) {
        fail(&e);
    }
    // `initialize` runs on rayon's global pool: the same size.
    if args.threads > 0 {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(args.threads)
            .build_global()
        {
            fail(&e.to_string());
        }
    }
    let out = match (args.mode, args.dtype) {
        (Mode::Machine, _) => Ok(machine(args.gemm_n, args.stream_len)),
        (Mode::Curve, Dtype::F64) => curve::<f64>(&args),
        (Mode::Curve, Dtype::F32) => curve::<f32>(&args),
        (_, Dtype::F64) => run::<f64>(&args),
        (_, Dtype::F32) => run::<f32>(&args),
    };
    match out {
        Ok(v) => println!("{v}"),
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("bench_runner: {msg}");
    std::process::exit(1)
}

/// X held in memory, dense or CSR.
enum Data<F> {
    Dense(Array2<F>),
    Csr {
        shape: (usize, usize),
        indptr: Vec<usize>,
        indices: Vec<usize>,
        data: Vec<F>,
    },
}

/// Reads the whole file through the crate's row sources (values converted
/// to `F` as numpy's `astype` would) and keeps an owned copy.
fn load<F: NmfFloat>(path: &str) -> Result<Data<F>> {
    let mut src = io::open::<F>(path)?;
    let (n, m) = src.shape();
    let block = src.rows(0, n)?;
    Ok(match block {
        Input::Dense(v) => Data::Dense(v.to_owned()),
        Input::Csr(c) => {
            let mut indptr = Vec::with_capacity(n + 1);
            let mut indices = Vec::with_capacity(c.nnz());
            let mut data = Vec::with_capacity(c.nnz());
            indptr.push(0);
            for i in 0..n {
                let (idx, val) = c.row(i);
                indices.extend_from_slice(idx);
                data.extend_from_slice(val);
                indptr.push(indices.len());
            }
            Data::Csr {
                shape: (n, m),
                indptr,
                indices,
                data,
            }
        }
    })
}

impl<F: NmfFloat> Data<F> {
    fn input(&self) -> Input<'_, F> {
        match self {
            Data::Dense(a) => Input::Dense(a.view()),
            Data::Csr {
                shape,
                indptr,
                indices,
                data,
            } => Input::Csr(
                CsrView::new(shape.0, shape.1, indptr, indices, data)
                    .expect("a CSR matrix read by the crate's reader is valid"),
            ),
        }
    }
}

fn fro<F: NmfFloat>(a: &Array2<F>) -> f64 {
    a.iter().map(|v| v.to_f64_() * v.to_f64_()).sum::<f64>()
}

fn run<F: NmfFloat>(args: &Args) -> Result<Value> {
    let path = args.x.as_deref().unwrap_or_else(|| fail("--x is required"));
    let data = load::<F>(path)?;
    let x = data.input();
    let (n, m) = x.shape();
    let params = MiniBatchNmfParams::new()
        .n_components(args.k)
        .init(Init::Nndsvda)
        .beta(args.beta)
        .batch_size(args.batch)
        .max_iter(args.epochs)
        .tol(0.0)
        .max_no_improvement(None)
        .random_state(Some(0));

    // transform: the model is fitted before the timer (and before the
    // memory mark is reset).
    let fitted = if args.mode == Mode::Transform {
        let mut model = MiniBatchNmf::<F>::new(params.clone())?;
        model.fit(x)?;
        Some(model)
    } else {
        None
    };

    let base = reset_peak_rss();
    let mut seconds = Vec::with_capacity(args.repeats);
    let mut result = 0.0;
    let mut n_steps = None;
    for _ in 0..args.repeats.max(1) {
        let t = Instant::now();
        match args.mode {
            Mode::Fit => {
                let mut model = MiniBatchNmf::<F>::new(params.clone())?;
                let s = model.fit(x)?;
                seconds.push(t.elapsed().as_secs_f64());
                result = s.reconstruction_err;
                n_steps = Some(s.n_steps);
            }
            Mode::FitTransform => {
                let mut model = MiniBatchNmf::<F>::new(params.clone())?;
                let w = model.fit_transform(x)?;
                seconds.push(t.elapsed().as_secs_f64());
                drop(w);
                result = model.reconstruction_err().unwrap_or(f64::NAN);
                n_steps = model.n_steps();
            }
            Mode::Transform => {
                let model = fitted.as_ref().expect("fitted above");
                let w = model.transform(x)?;
                seconds.push(t.elapsed().as_secs_f64());
                result = fro(&w).sqrt();
            }
            Mode::PartialFit => {
                // A stream of chunks of `chunk` rows, `passes` times over X
                // (the data are repeated, not copied).
                let mut model = MiniBatchNmf::<F>::new(params.clone())?;
                for _ in 0..args.passes {
                    let mut a = 0;
                    while a < n {
                        let b = (a + args.chunk).min(n);
                        model.partial_fit(x.slice_rows(a, b))?;
                        a = b;
                    }
                }
                seconds.push(t.elapsed().as_secs_f64());
                result = fro(&model.components()?.to_owned()).sqrt();
                n_steps = model.n_steps();
            }
            Mode::Init => {
                let (w, h) = initialize(&x, args.k, Init::Nndsvda, Some(0))?;
                seconds.push(t.elapsed().as_secs_f64());
                result = (fro(&w) + fro(&h)).sqrt();
            }
            Mode::Machine | Mode::Curve => unreachable!("handled in main"),
        }
    }
    let status = proc_status();
    let nnz = match &data {
        Data::Dense(_) => n * m,
        Data::Csr { data, .. } => data.len(),
    };
    Ok(json!({
        "impl": "minibatchnmf",
        "seconds": seconds,
        "result": result,
        "n_steps": n_steps,
        "shape": [n, m],
        "nnz": nnz,
        "threads": minibatchnmf::num_threads(),
        "peak_rss_bytes": status.hwm.saturating_sub(base),
        "vmhwm_bytes": status.hwm,
        "rss_base_bytes": base,
    }))
}

// --- time to error --------------------------------------------------------------

/// Stops a fit at the end of pass `epochs` and records when that pass ended
/// (before the fit computes its final error, which is not part of the time).
struct EpochStop {
    epochs: usize,
    t0: Instant,
    at: std::sync::Mutex<Option<f64>>,
}

impl FitObserver for EpochStop {
    fn on_step(&self, r: &StepReport) -> Control {
        if r.epoch == self.epochs && r.rows_done == self.epochs * r.n_samples {
            *self.at.lock().unwrap() = Some(self.t0.elapsed().as_secs_f64());
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

/// Time-to-error points of our estimator: for a pass count i, a fresh fit
/// (same parameters, same seed, `max_iter` = `--max-epochs`) stopped by the
/// observer at the end of pass i. It is the first i passes of the one fit
/// (tol=0 and max_no_improvement=None: nothing else ends it), so W, H and
/// the statistics are those of the real fit after i passes; its error is
/// the fit's `reconstruction_err` (‖X − W·H‖_F, W the fit's own W of every
/// row), its time runs from the call to `fit` to the end of pass i (start,
/// checks and init included; the final error computation excluded).
///
/// The pass counts (each point costs a fit; the same search as
/// benches/rcppml_runner.R):
/// 1. i = 1, 2, 3, 4, 5, 6, 8, 10, … (×1.25) until a fit takes longer than
///    `--max-seconds` or i reaches `--max-epochs`;
/// 2. each target error: bisection between the last i above it and the
///    first i at or below it (the error falls pass by pass), so the first
///    pass that reaches it is a point;
/// 3. each time budget: bisection between the last i within it and the
///    first i beyond it, so the last pass that ends within it is a point.
fn curve<F: NmfFloat>(args: &Args) -> Result<Value> {
    let path = args.x.as_deref().unwrap_or_else(|| fail("--x is required"));
    let data = load::<F>(path)?;
    let x = data.input();
    let (n, m) = x.shape();
    let mut params = MiniBatchNmfParams::new()
        .n_components(args.k)
        .beta(args.beta)
        .batch_size(args.batch)
        .max_iter(args.max_epochs)
        .tol(0.0)
        .max_no_improvement(None)
        .random_state(Some(0));
    params.set_param("init", &args.init)?;
    for kv in &args.set {
        let (name, value) = kv
            .split_once('=')
            .unwrap_or_else(|| fail(&format!("--set {kv}: expected NAME=VALUE")));
        params.set_param(name, value)?;
    }
    // Refused parameters (e.g. solver=cd before it exists) fail here.
    MiniBatchNmf::<F>::new(params.clone())?;

    type Points = std::collections::BTreeMap<usize, (f64, f64)>;
    let mut points = Points::new();
    let eval = |points: &mut Points, i: usize| -> Result<(f64, f64)> {
        if let Some(p) = points.get(&i) {
            return Ok(*p);
        }
        let mut model = MiniBatchNmf::<F>::new(params.clone())?;
        let stop = std::sync::Arc::new(EpochStop {
            epochs: i,
            t0: Instant::now(),
            at: Default::default(),
        });
        model.set_observer(Some(stop.clone()));
        let s = model.fit(x)?;
        let secs = stop.at.lock().unwrap().unwrap_or_else(|| {
            fail(&format!(
                "the fit ended before pass {i} ({:?})",
                s.stop_reason
            ))
        });
        if s.n_iter != i {
            fail(&format!("stopped after pass {i} but n_iter = {}", s.n_iter));
        }
        points.insert(i, (secs, s.reconstruction_err));
        Ok((secs, s.reconstruction_err))
    };
    // Warm-up (not recorded): the thread pool, first-touch pages.
    {
        let mut model = MiniBatchNmf::<F>::new(params.clone().max_iter(1))?;
        model.fit(x)?;
    }
    let mut i = 1;
    loop {
        let (secs, _) = eval(&mut points, i)?;
        if secs > args.max_seconds || i >= args.max_epochs {
            break;
        }
        i = (i + 1).max((i as f64 * 1.25) as usize).min(args.max_epochs);
    }
    let snapshot = |p: &Points| p.iter().map(|(&i, &(s, e))| (i, s, e)).collect::<Vec<_>>();
    for &t in &args.targets {
        let pts = snapshot(&points);
        let Some(hi) = pts.iter().find(|p| p.2 <= t).map(|p| p.0) else {
            continue;
        };
        let mut lo = pts
            .iter()
            .filter(|p| p.0 < hi)
            .map(|p| p.0)
            .max()
            .unwrap_or(0);
        let mut hi = hi;
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if eval(&mut points, mid)?.1 <= t {
                hi = mid;
            } else {
                lo = mid;
            }
        }
    }
    for &b in &args.budgets {
        let pts = snapshot(&points);
        let Some(lo) = pts.iter().filter(|p| p.1 <= b).map(|p| p.0).max() else {
            continue;
        };
        let Some(hi) = pts.iter().find(|p| p.0 > lo && p.1 > b).map(|p| p.0) else {
            continue;
        };
        let (mut lo, mut hi) = (lo, hi);
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if eval(&mut points, mid)?.0 <= b {
                lo = mid;
            } else {
                hi = mid;
            }
        }
    }
    let nnz = match &data {
        Data::Dense(_) => n * m,
        Data::Csr { data, .. } => data.len(),
    };
    let steps_per_epoch = n.div_ceil(args.batch.min(n));
    // Parameters beyond scikit-learn's, those this build knows.
    let extension: std::collections::BTreeMap<_, _> =
        ["solver", "cd_w_sweeps", "cd_h_sweeps", "cd_stats"]
            .iter()
            .filter_map(|&name| params.get_param(name).ok().map(|v| (name, v)))
            .collect();
    Ok(json!({
        "impl": "minibatchnmf",
        "points": snapshot(&points),
        "steps_per_epoch": steps_per_epoch,
        "shape": [n, m],
        "nnz": nnz,
        "threads": minibatchnmf::num_threads(),
        "params": params.get_params(),
        "extension": extension,
    }))
}

// --- memory ----------------------------------------------------------------

struct Status {
    rss: u64,
    hwm: u64,
}

/// VmRSS and VmHWM of this process, in bytes.
fn proc_status() -> Status {
    let text = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    Status {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
    }
}

/// Returns freed heap to the system, resets the kernel's high-water mark
/// to the current resident set and returns that resident set.
fn reset_peak_rss() -> u64 {
    unsafe {
        libc::malloc_trim(0);
    }
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        fail("cannot reset the peak RSS mark (/proc/self/clear_refs)");
    }
    proc_status().rss
}

// --- machine ----------------------------------------------------------------

extern "C" {
    fn openblas_get_corename() -> *const std::os::raw::c_char;
    fn openblas_get_config() -> *const std::os::raw::c_char;
}

fn c_str(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    unsafe { std::ffi::CStr::from_ptr(p) }
        .to_string_lossy()
        .into_owned()
}

/// Best wall time of `reps` runs of `f` on `threads` OS threads at once,
/// each calling `f(thread)`; the threads start together at a barrier. A run
/// lasts from the first thread's start to the last thread's end, each read
/// by the thread itself (on a loaded machine the spawning thread may be
/// descheduled, so its own clock would not bracket the work).
fn best_parallel(threads: usize, reps: usize, f: &(dyn Fn(usize) + Sync)) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let barrier = std::sync::Barrier::new(threads);
        let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let barrier = &barrier;
                    s.spawn(move || {
                        barrier.wait();
                        let t0 = Instant::now();
                        f(i);
                        (t0, Instant::now())
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("benchmark thread"))
                .collect()
        });
        let start = spans.iter().map(|s| s.0).min().expect("one thread");
        let end = spans.iter().map(|s| s.1).max().expect("one thread");
        best = best.min((end - start).as_secs_f64());
    }
    best
}

/// GFLOP/s of n×n·n×n products (2n³ flops each), `threads` at once.
fn gemm_rate<F: NmfFloat>(n: usize, threads: usize) -> f64 {
    let mats: Vec<_> = (0..threads)
        .map(|t| {
            let a = Array2::from_shape_fn((n, n), |(i, j)| {
                F::from_f64_(((i * 7 + j * 13 + t) % 17) as f64 / 17.0)
            });
            let b = a.t().to_owned();
            std::sync::Mutex::new((a, b, Array2::<F>::zeros((n, n))))
        })
        .collect();
    let run = |t: usize| {
        let mut g = mats[t].lock().unwrap();
        let (a, b, c) = &mut *g;
        general_mat_mul(F::one(), &a.view(), &b.view(), F::zero(), c);
    };
    run(0); // warm up: pages of C, OpenBLAS buffers
    let secs = best_parallel(threads, 5, &run);
    2.0 * (n as f64).powi(3) * threads as f64 / secs / 1e9
}

/// GB/s of a read (sum) and a triad (a = b + s·c, 24 bytes per element as
/// STREAM counts it) over `len` f64 per array, split over `threads`.
fn bandwidth(len: usize, threads: usize) -> (f64, f64) {
    let parts: Vec<_> = (0..threads)
        .map(|t| {
            let l = len / threads;
            std::sync::Mutex::new((vec![0.0f64; l], vec![1.0 + t as f64; l], vec![2.0f64; l]))
        })
        .collect();
    let sink = std::sync::Mutex::new(0.0f64);
    let read = |t: usize| {
        let g = parts[t].lock().unwrap();
        // Eight independent sums, so the loop is bound by memory, not by
        // the latency of one chain of additions.
        let acc = g.1.chunks_exact(8).fold([0.0f64; 8], |mut acc, c| {
            for i in 0..8 {
                acc[i] += c[i];
            }
            acc
        });
        *sink.lock().unwrap() += acc.iter().sum::<f64>();
    };
    let triad = |t: usize| {
        let mut g = parts[t].lock().unwrap();
        let (a, b, c) = &mut *g;
        for ((a, b), c) in a.iter_mut().zip(b.iter()).zip(c.iter()) {
            *a = b + 0.5 * c;
        }
    };
    triad(0);
    let per = (len / threads * threads) as f64 * 8.0;
    let r = per / best_parallel(threads, 5, &read) / 1e9;
    let tr = 3.0 * per / best_parallel(threads, 5, &triad) / 1e9;
    std::hint::black_box(*sink.lock().unwrap());
    (r, tr)
}

/// Size in bytes of the data/unified cache of `level` seen by CPU 0 (sysfs),
/// or `default`.
fn cache_bytes(level: u32, default: usize) -> usize {
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    let read = |p: std::path::PathBuf| std::fs::read_to_string(p).ok();
    for i in 0..8 {
        let d = dir.join(format!("index{i}"));
        let (Some(l), Some(t), Some(sz)) = (
            read(d.join("level")),
            read(d.join("type")),
            read(d.join("size")),
        ) else {
            continue;
        };
        if l.trim() != level.to_string() || t.trim() == "Instruction" {
            continue;
        }
        let sz = sz.trim();
        let (num, mult) = match sz.as_bytes().last() {
            Some(b'K') => (&sz[..sz.len() - 1], 1 << 10),
            Some(b'M') => (&sz[..sz.len() - 1], 1 << 20),
            _ => (sz, 1),
        };
        if let Ok(v) = num.parse::<usize>() {
            return v * mult;
        }
    }
    default
}

/// Row widths (f64 values) of the gather measurement: 64 to 512 bytes.
const GATHER_WIDTHS: [usize; 4] = [8, 16, 32, 64];
/// Stored values per row of the synthetic CSR matrix of the gather test
/// (the accumulator is written out and cleared after each row).
const GATHER_ROW_NNZ: usize = 32;

/// Seconds per gathered row (the best of 5 runs) of `acc += v · A[j]` over
/// `gathers` random j into an `rows`×`w` f64 array, on `threads` threads at
/// once (each its own index stream, the array shared), with the software
/// prefetch of the library's sparse kernels (8 stored values ahead).
fn gather_seconds(a: &[f64], w: usize, gathers: usize, threads: usize) -> f64 {
    let rows = a.len() / w;
    let streams: Vec<(Vec<u32>, Vec<f64>)> = (0..threads)
        .map(|t| {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
            let idx = (0..gathers)
                .map(|_| {
                    // xorshift64*: uniform enough for an access pattern.
                    x ^= x >> 12;
                    x ^= x << 25;
                    x ^= x >> 27;
                    ((x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) % rows as u64) as u32
                })
                .collect();
            let vals = (0..gathers).map(|i| 1.0 + (i % 7) as f64).collect();
            (idx, vals)
        })
        .collect();
    let sink = std::sync::Mutex::new(0.0f64);
    let run = |t: usize| {
        let (idx, vals) = &streams[t];
        let mut acc = vec![0.0f64; w];
        let mut total = 0.0;
        for (c, (ic, vc)) in idx
            .chunks(GATHER_ROW_NNZ)
            .zip(vals.chunks(GATHER_ROW_NNZ))
            .enumerate()
        {
            for (p, (&j, &v)) in ic.iter().zip(vc).enumerate() {
                let ahead = c * GATHER_ROW_NNZ + p + 8;
                if let Some(&ja) = idx.get(ahead) {
                    #[cfg(target_arch = "x86_64")]
                    {
                        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                        let row = &a[ja as usize * w..(ja as usize + 1) * w];
                        let mut o = 0;
                        while o < w {
                            // SAFETY: the address lies inside `a`; a prefetch reads nothing.
                            unsafe {
                                _mm_prefetch::<_MM_HINT_T0>(row.as_ptr().add(o) as *const i8)
                            };
                            o += 8;
                        }
                    }
                    #[cfg(not(target_arch = "x86_64"))]
                    let _ = ja;
                }
                let row = &a[j as usize * w..(j as usize + 1) * w];
                for (o, &r) in acc.iter_mut().zip(row) {
                    *o += v * r;
                }
            }
            total += acc[0] + acc[w - 1];
            acc.iter_mut().for_each(|o| *o = 0.0);
        }
        *sink.lock().unwrap() += total;
    };
    run(0); // warm up: the array's pages, and the caches for the small sets
    let secs = best_parallel(threads, 5, &run);
    std::hint::black_box(*sink.lock().unwrap());
    secs / (gathers * threads) as f64
}

/// The gather rates: for each working set (half of L2, half of L3, and
/// `mem_bytes`, far beyond L3) and row width, nanoseconds per gathered row
/// on 1 and on 2 threads (per row of all threads together: 2 threads that
/// each gather at the 1-thread rate halve it).
fn gathers(mem_bytes: usize) -> Value {
    let l2 = cache_bytes(2, 512 << 10);
    let l3 = cache_bytes(3, 16 << 20).max(2 * l2);
    let sets = [
        ("l2", l2 / 2),
        ("l3", l3 / 2),
        ("mem", mem_bytes.max(4 * l3)),
    ];
    let mut levels = serde_json::Map::new();
    for (name, bytes) in sets {
        // One array per working set, read as rows of each width.
        let a: Vec<f64> = (0..(bytes / 8).max(GATHER_WIDTHS[3]))
            .map(|i| (i % 13) as f64 * 0.125)
            .collect();
        let mut by_width = serde_json::Map::new();
        for w in GATHER_WIDTHS {
            // 32 MiB of gathered rows per run (at least 2¹⁶ rows): long enough to time, short
            // enough for the whole measurement to take a few seconds.
            let g = (((1usize << 25) / (8 * w)).max(1 << 16) / GATHER_ROW_NNZ) * GATHER_ROW_NNZ;
            let ns: Vec<f64> = [1usize, 2]
                .iter()
                .map(|&t| 1e9 * gather_seconds(&a, w, g, t))
                .collect();
            by_width.insert(w.to_string(), json!({"ns_1t": ns[0], "ns_2t": ns[1]}));
        }
        levels.insert(
            name.into(),
            json!({"bytes": bytes, "ns_per_row": Value::Object(by_width)}),
        );
    }
    json!({"l2_bytes": l2, "l3_bytes": l3, "row_nnz": GATHER_ROW_NNZ, "levels": Value::Object(levels)})
}

fn machine(n: usize, stream_len: usize) -> Value {
    // The crate's thread setup (main called set_num_threads) already made
    // OpenBLAS single-threaded: each thread below runs its own product.
    let mut out = serde_json::Map::new();
    for threads in [1usize, 2] {
        out.insert(
            format!("gemm_f64_{threads}t"),
            json!(gemm_rate::<f64>(n, threads)),
        );
        out.insert(
            format!("gemm_f32_{threads}t"),
            json!(gemm_rate::<f32>(n, threads)),
        );
        let (r, t) = bandwidth(stream_len, threads);
        out.insert(format!("bw_read_{threads}t"), json!(r));
        out.insert(format!("bw_triad_{threads}t"), json!(t));
    }
    // The memory working set of the gathers: the bandwidth test's size.
    out.insert("gather".into(), gathers(stream_len * 8));
    out.insert("gemm_n".into(), json!(n));
    out.insert("stream_bytes".into(), json!(stream_len * 8));
    out.insert(
        "openblas_corename".into(),
        json!(unsafe { c_str(openblas_get_corename()) }),
    );
    out.insert(
        "openblas_config".into(),
        json!(unsafe { c_str(openblas_get_config()) }),
    );
    Value::Object(out)
}
