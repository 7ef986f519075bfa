//! Linear algebra beyond plain GEMM: sparse products and the randomized SVD
//! behind the NNDSVD initialisations.

mod fused_power;
pub mod randomized_svd;
pub mod sparse;
