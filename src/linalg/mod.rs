//! Linear algebra beyond plain GEMM: sparse products and the randomized SVD
//! behind the NNDSVD initialisations.

pub mod randomized_svd;
pub mod sparse;
