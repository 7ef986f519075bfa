//! Criterion benchmarks of whole fits on the real data in `../shared/data`.
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
use ndarray::Array2;
use std::path::PathBuf;
use std::time::Duration;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// digits.npy: 1797×64 float64, C order (header parsed for its length only).
fn digits() -> Array2<f64> {
    let bytes = std::fs::read(data_dir().join("digits.npy")).expect("../shared/data/digits.npy");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let body = &bytes[10 + header_len..];
    let values: Vec<f64> = body
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    Array2::from_shape_vec((1797, 64), values).expect("1797×64")
}

/// The first `rows` rows of foldoc_tfidf.mtx (MatrixMarket, 1-based) as CSR.
struct Csr {
    n_rows: usize,
    n_cols: usize,
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
}

fn foldoc(rows: usize) -> Csr {
    let text =
        std::fs::read_to_string(data_dir().join("foldoc_tfidf.mtx")).expect("foldoc_tfidf.mtx");
    let mut lines = text.lines().filter(|l| !l.starts_with('%'));
    let dims: Vec<usize> = lines
        .next()
        .expect("size line")
        .split_whitespace()
        .map(|t| t.parse().expect("integer"))
        .collect();
    let n_cols = dims[1];
    let mut triplets: Vec<(usize, usize, f64)> = lines
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let i: usize = it.next()?.parse().ok()?;
            let j: usize = it.next()?.parse().ok()?;
            let v: f64 = it.next()?.parse().ok()?;
            (i <= rows).then_some((i - 1, j - 1, v))
        })
        .collect();
    triplets.sort_by_key(|t| (t.0, t.1));
    let mut indptr = vec![0; rows + 1];
    for t in &triplets {
        indptr[t.0 + 1] += 1;
    }
    for i in 0..rows {
        indptr[i + 1] += indptr[i];
    }
    Csr {
        n_rows: rows,
        n_cols,
        indptr,
        indices: triplets.iter().map(|t| t.1).collect(),
        data: triplets.iter().map(|t| t.2).collect(),
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
    let x = foldoc(4000);
    let mut g = configure(c, "fit_csr_foldoc");
    for beta in [2.0, 1.0, 1.5] {
        let p = params(10, beta, 1024, 3);
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
    // 2000 documents restricted to the first 3000 terms: small enough to
    // densify (48 MB), sparse enough (<1% non-zeros) for CSR to pay.
    let full = foldoc(2000);
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
