//! Linear algebra beyond plain GEMM: sparse products and the randomized SVD
//! behind the NNDSVD initialisations.

mod fused_power;
pub(crate) mod openblas;
pub mod randomized_svd;
mod small_lapack;
mod span_basis;
pub mod sparse;
pub mod sparse_panels;
pub mod streamed_svd;
