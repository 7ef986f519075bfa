//! Linear algebra beyond plain GEMM: sparse products and the randomized SVD
//! behind the NNDSVD initialisations.

mod csr_transpose;
mod fused_power;
pub(crate) mod openblas;
pub mod randomized_svd;
mod row_chunks;
mod small_lapack;
mod span_basis;
pub mod sparse;
pub mod sparse_panels;
pub mod streamed_svd;
mod svd_flip;

/// A deterministic test matrix of the linear algebra's unit tests: values
/// in [-0.25, 0.75) from a 64-bit LCG seeded with `seed`, row-major.
#[cfg(test)]
pub(crate) fn lcg_matrix(r: usize, c: usize, seed: u64) -> ndarray::Array2<f64> {
    let mut state = seed;
    ndarray::Array2::from_shape_fn((r, c), |_| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64) - 0.25
    })
}

/// A deterministic sparse test matrix of the linear algebra's unit tests, as
/// CSR parts (indptr, indices, data): row i is empty where `empty(i)`, else
/// holds columns `col(i, t)` for t in 0..per_row (sorted, duplicates and
/// `None` dropped) with values `val(i, j)`.
#[cfg(test)]
pub(crate) fn pattern_csr(
    n: usize,
    per_row: usize,
    empty: impl Fn(usize) -> bool,
    col: impl Fn(usize, usize) -> Option<usize>,
    val: impl Fn(usize, usize) -> f64,
) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let mut indptr = vec![0usize];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for i in 0..n {
        if !empty(i) {
            let mut cols: Vec<usize> = (0..per_row).filter_map(|t| col(i, t)).collect();
            cols.sort_unstable();
            cols.dedup();
            for j in cols {
                indices.push(j);
                data.push(val(i, j));
            }
        }
        indptr.push(indices.len());
    }
    (indptr, indices, data)
}

/// A rayon pool of `threads` workers for the unit tests that compare
/// results across thread counts, after the library's one-time OpenBLAS
/// set-up (`parallel::init_blas`: a single-threaded OpenBLAS), as every
/// library entry point does: a test that called BLAS before it runs its
/// GEMMs on OpenBLAS's threads and kernels, and its bits then depend on
/// whether another test set it up first.
#[cfg(test)]
pub(crate) fn test_pool(threads: usize) -> rayon::ThreadPool {
    crate::parallel::init_blas();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a test pool")
}
