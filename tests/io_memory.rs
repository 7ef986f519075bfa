//! A fit from a file ten times bigger than the memory it may use: peak RSS
//! stays under the limit, and the model equals, bit for bit, the fit of the
//! same matrix held in memory as the small block it repeats.
//!
//! The file (3.2 GB of float32 in the system's temporary directory, removed
//! at the end; set TMPDIR to put it elsewhere) is X = B stacked 400 times,
//! B a 1000×2000 block. A child process (this test binary, re-run on the
//! ignored test `child_fits_the_file`) fits it with NNDSVDa (whose
//! randomized SVD makes 16 passes over the file) for one epoch without
//! keeping W, writes H and reports its peak RSS (VmHWM). The parent fits a
//! source that serves B's rows from memory, tile after tile, and compares.

use minibatchnmf::io::{NpyRows, NpyWriter, RowSource};
use minibatchnmf::{Init, Input, MiniBatchNmf, MiniBatchNmfParams, Result};
use ndarray::{Array2, ArrayView2};
use ndarray_npy::{read_npy, write_npy};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const CHILD_ENV: &str = "MINIBATCHNMF_TEST_BIG_NPY";
const BLOCK_ROWS: usize = 1000;
const COLS: usize = 2000;
const TILES: usize = 400;
const RSS_LIMIT_MB: f64 = 300.0;

/// The repeated block: non-negative, with structure for the SVD to find.
fn block() -> Array2<f32> {
    Array2::from_shape_fn((BLOCK_ROWS, COLS), |(i, j)| {
        let a = ((i * 31 + j * 17) % 97) as f32 / 97.0;
        let b = if (i / 50 + j / 100) % 3 == 0 {
            2.0
        } else {
            0.0
        };
        a + b
    })
}

fn params() -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(4)
        .init(Init::Nndsvda)
        .batch_size(4096)
        .max_iter(1)
        .random_state(Some(0))
}

/// X = B repeated, served from memory.
struct Tiled {
    b: Array2<f32>,
    n: usize,
    buf: Vec<f32>,
}

impl RowSource<f32> for Tiled {
    fn shape(&self) -> (usize, usize) {
        (self.n, self.b.ncols())
    }
    fn nnz(&self) -> usize {
        self.n * self.b.ncols()
    }
    fn is_sparse(&self) -> bool {
        false
    }
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, f32>> {
        let m = self.b.ncols();
        self.buf.clear();
        for i in start..end {
            self.buf
                .extend_from_slice(self.b.row(i % self.b.nrows()).as_slice().unwrap());
        }
        Ok(Input::Dense(
            ArrayView2::from_shape((end - start, m), &self.buf[..]).unwrap(),
        ))
    }
    fn describe(&self) -> String {
        "tiled block in memory".into()
    }
}

fn vm_hwm_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Run by the parent only (ignored otherwise): fits the file named by
/// `CHILD_ENV` and prints what the parent checks.
#[test]
#[ignore = "run as a child process by peak_memory_of_a_file_fit_is_bounded"]
fn child_fits_the_file() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let t = Instant::now();
    let mut src = NpyRows::<f32>::open(&path).unwrap();
    let mut model = MiniBatchNmf::<f32>::new(params()).unwrap();
    let s = model.fit_source(&mut src).unwrap();
    let secs = t.elapsed().as_secs_f64();
    let h_path = Path::new(&path).with_extension("h.npy");
    write_npy(&h_path, &model.components().unwrap().to_owned()).unwrap();
    println!(
        "CHILD n_iter={} n_steps={} err_bits={} seconds={secs} vmhwm_kb={}",
        s.n_iter,
        s.n_steps,
        s.reconstruction_err.to_bits(),
        vm_hwm_kb()
    );
}

#[test]
fn peak_memory_of_a_file_fit_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let b = block();
    let n = BLOCK_ROWS * TILES;
    let t = Instant::now();
    let mut out = NpyWriter::<f32>::create(&path, (n, COLS)).unwrap();
    for _ in 0..TILES {
        out.write_rows(b.view()).unwrap();
    }
    out.finish().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let size_mb = size as f64 / 1e6;
    eprintln!(
        "wrote {size_mb:.0} MB in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    assert!(size_mb >= 10.0 * RSS_LIMIT_MB);

    let child = Command::new(std::env::current_exe().unwrap())
        .args(["child_fits_the_file", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    // The harness prints "test child_fits_the_file ... " before the line.
    let line = stdout
        .lines()
        .find_map(|l| l.find("CHILD ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no child report in: {stdout}"));
    let field = |k: &str| -> String {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
            .unwrap()
            .to_string()
    };
    let peak_mb = field("vmhwm_kb").parse::<f64>().unwrap() / 1024.0;
    let file_secs: f64 = field("seconds").parse().unwrap();
    let h_file: Array2<f32> = read_npy(path.with_extension("h.npy")).unwrap();

    let t = Instant::now();
    let mut tiled = Tiled {
        b,
        n,
        buf: Vec::new(),
    };
    let mut model = MiniBatchNmf::<f32>::new(params()).unwrap();
    let s = model.fit_source(&mut tiled).unwrap();
    let mem_secs = t.elapsed().as_secs_f64();
    eprintln!(
        "file {size_mb:.0} MB: fit {file_secs:.1} s ({:.0} rows/s over {} passes), peak RSS {peak_mb:.0} MB; \
         same fit from memory {mem_secs:.1} s ({:.0} rows/s)",
        // passes: the checks, 16 for the SVD, 1 epoch, the reconstruction error
        19.0 * n as f64 / file_secs,
        19,
        19.0 * n as f64 / mem_secs,
    );
    assert!(
        peak_mb < RSS_LIMIT_MB,
        "peak RSS {peak_mb:.0} MB over the {RSS_LIMIT_MB} MB limit"
    );
    assert_eq!(field("n_iter"), s.n_iter.to_string());
    assert_eq!(field("n_steps"), s.n_steps.to_string());
    assert_eq!(
        field("err_bits"),
        s.reconstruction_err.to_bits().to_string(),
        "reconstruction_err: file vs memory"
    );
    assert!(h_file == model.components().unwrap(), "H: file vs memory");
    assert_eq!(s.n_steps, n.div_ceil(4096));
}
