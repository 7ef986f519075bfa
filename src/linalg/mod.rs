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
