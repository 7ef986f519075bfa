//! Criterion benchmarks of whole fits on the real data vendored in
//! `tests/data/` (scikit-learn's digits; a 1000-definition FOLDOC TF-IDF
//! slice — see `tests/data/README.md`).
//!
//! Each group pits variants against each other in the same run, so the
//! figures to read are the ratios within a group:
//! - `fit_dense_digits`, `fit_csr_foldoc`: one fit per beta (the per-beta cost);
//! - `threads`: the same fit on 1 worker and on all cores (parallel speed-up);
//! - `csr_vs_dense`: one matrix given as CSR and densified (the sparse kernels'
//!   gain on TF-IDF-like data).
//!
//! Run: `cargo bench --bench solver` (add `-- threads` to run one group).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use minibatchnmf::{CsrView, Init, Input, MiniBatchNmf, MiniBatchNmfParams};
use ndarray::{Array1, Array2};
use ndarray_npy::read_npy;
use std::path::PathBuf;
use std::time::Duration;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// digits.npy: 1797×64 pixel counts (uint8), as f64.
fn digits() -> Array2<f64> {
    let x: Array2<u8> = read_npy(data_dir().join("digits.npy")).expect("tests/data/digits.npy");
    x.mapv(f64::from)
}

/// The FOLDOC TF-IDF slice (scipy's CSR arrays).
struct Csr {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
}

fn foldoc() -> Csr {
    let part = |name: &str| data_dir().join(format!("foldoc1000_{name}.npy"));
    let indptr: Array1<i32> = read_npy(part("indptr")).expect("foldoc1000_indptr.npy");
    let indices: Array1<i32> = read_npy(part("indices")).expect("foldoc1000_indices.npy");
    let data: Array1<f64> = read_npy(part("data")).expect("foldoc1000_data.npy");
    let vocab = std::fs::read_to_string(data_dir().join("foldoc1000_vocab.txt"))
        .expect("foldoc1000_vocab.txt");
    Csr {
        n_rows: indptr.len() - 1,
        n_cols: vocab.lines().count(),
        indptr: indptr.iter().map(|&v| v as usize).collect(),
        indices: indices.iter().map(|&v| v as usize).collect(),
        data: data.to_vec(),
    }
}

impl Csr {
    fn view(&self) -> CsrView<'_, f64> {
        CsrView::new(
            self.n_rows,
            self.n_cols,
            &self.indptr,
            &self.indices,
            &self.data,
        )
        .expect("valid CSR")
    }
}

/// A fixed amount of work: `epochs` full passes, no early stopping.
fn params(k: usize, beta: f64, batch: usize, epochs: usize) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(k)
        .init(Init::Nndsvda)
        .beta(beta)
        .batch_size(batch)
        .max_iter(epochs)
        .tol(0.0)
        .max_no_improvement(None)
        .random_state(Some(0))
}

fn fit<'a>(p: &MiniBatchNmfParams, x: impl Into<Input<'a, f64>>) -> f64 {
    let mut model = MiniBatchNmf::<f64>::new(p.clone()).expect("valid params");
    model.fit(x).expect("fit").reconstruction_err
}

fn configure<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    g
}

fn bench_dense(c: &mut Criterion) {
    let x = digits();
    let mut g = configure(c, "fit_dense_digits");
    for beta in [2.0, 1.0, 0.5, 0.0] {
        // Itakura-Saito needs strictly positive data.
        let xb = if beta <= 0.0 {
            x.mapv(|v| v + 1.0)
        } else {
            x.clone()
        };
        let p = params(10, beta, 256, 5);
        g.bench_with_input(BenchmarkId::from_parameter(beta), &xb, |b, xb| {
            b.iter(|| fit(&p, xb))
        });
    }
    g.finish();
}

fn bench_sparse(c: &mut Criterion) {
    let x = foldoc();
    let mut g = configure(c, "fit_csr_foldoc");
    for beta in [2.0, 1.0, 1.5] {
        let p = params(10, beta, 256, 5);
        g.bench_with_input(BenchmarkId::from_parameter(beta), &x, |b, x| {
            b.iter(|| fit(&p, x.view()))
        });
    }
    g.finish();
}

fn bench_threads(c: &mut Criterion) {
    let x = digits();
    let all = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut g = configure(c, "threads");
    let p = params(16, 1.0, 1024, 5);
    for threads in [1, all] {
        minibatchnmf::set_num_threads(threads).expect("thread pool");
        g.bench_with_input(BenchmarkId::from_parameter(threads), &x, |b, x| {
            b.iter(|| fit(&p, x))
        });
    }
    minibatchnmf::set_num_threads(0).expect("thread pool");
    g.finish();
}

fn bench_csr_vs_dense(c: &mut Criterion) {
    // The 1000 documents restricted to the first 3000 terms: small enough to
    // densify (24 MB), sparse enough (<1% non-zeros) for CSR to pay.
    let full = foldoc();
    let cols = 3000;
    let mut dense = Array2::<f64>::zeros((full.n_rows, cols));
    let (mut indptr, mut indices, mut data) = (vec![0], Vec::new(), Vec::new());
    for i in 0..full.n_rows {
        for p in full.indptr[i]..full.indptr[i + 1] {
            if full.indices[p] < cols {
                dense[[i, full.indices[p]]] = full.data[p];
                indices.push(full.indices[p]);
                data.push(full.data[p]);
            }
        }
        indptr.push(indices.len());
    }
    let csr = Csr {
        n_rows: full.n_rows,
        n_cols: cols,
        indptr,
        indices,
        data,
    };
    let mut g = configure(c, "csr_vs_dense");
    for beta in [2.0, 1.0] {
        let p = params(10, beta, 500, 3);
        g.bench_with_input(BenchmarkId::new("csr", beta), &csr, |b, x| {
            b.iter(|| fit(&p, x.view()))
        });
        g.bench_with_input(BenchmarkId::new("dense", beta), &dense, |b, x| {
            b.iter(|| fit(&p, x))
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_dense,
    bench_sparse,
    bench_threads,
    bench_csr_vs_dense
);
criterion_main!(benches);
