//! # minibatchnmf
//!
//! Mini-Batch Non-negative Matrix Factorization with the semantics (and the
//! numbers) of scikit-learn's `MiniBatchNMF`, for dense and CSR data in f32
//! or f64, from Rust or through a C ABI.
//!
//! X (n_samples × n_features, non-negative) is approximated by W·H with
//! W (n_samples × k) and H (k × n_features) non-negative, minimising a
//! beta-divergence plus optional L1/L2 penalties, one mini-batch of rows at
//! a time.
//!
//! ```
//! use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams, Init};
//! use ndarray::array;
//!
//! let x = array![[1.0, 1.0], [2.0, 1.0], [3.0, 1.2], [4.0, 1.0], [5.0, 0.8], [6.0, 1.0]];
//! let params = MiniBatchNmfParams::new()
//!     .n_components(2)
//!     .init(Init::Random)
//!     .random_state(Some(0));
//! let mut model = MiniBatchNmf::<f64>::new(params)?;
//! let w = model.fit_transform(&x)?;
//! let h = model.components()?;
//! assert_eq!(w.dim(), (6, 2));
//! assert_eq!(h.dim(), (2, 2));
//! // W·H approximates X.
//! let err = (&x - &w.dot(&h)).mapv(|v| v * v).sum().sqrt();
//! assert!((err - model.reconstruction_err().unwrap()).abs() < 1e-9);
//! # Ok::<(), minibatchnmf::Error>(())
//! ```
//!
//! Architecture, in the order data flows: [`params`] (hyper-parameters,
//! checked once) → [`validation`] (data checks) → [`init`] (W, H start;
//! [`rng`] and [`linalg`] behind it) → [`kernels`] (beta-divergence and the
//! multiplicative updates, dense and sparse) → [`estimator`] (the mini-batch
//! loop, early stopping, fitted state; [`progress`] lets a program watch
//! and stop it) → [`persist`] (model files) → [`ffi`] (the C ABI). [`dist`]
//! is the all-reduce hook a data-parallel fit reduces its statistics
//! through.

// BLAS/LAPACK providers are linked through these crates.
extern crate blas_src;
extern crate openblas_src;

pub mod dist;
pub mod error;
pub mod estimator;
pub mod ffi;
pub mod float;
pub mod init;
pub mod input;
pub mod io;
pub mod kernels;
pub mod linalg;
pub mod parallel;
pub mod params;
pub mod persist;
pub mod progress;
pub mod rng;
pub mod validation;

pub use error::{Error, Result};
pub use estimator::{FitArgs, FitSummary, MiniBatchNmf, StopReason, Warning};
pub use float::NmfFloat;
pub use input::{CsrError, CsrView, Input};
pub use parallel::{num_threads, set_num_threads};
pub use params::{
    AlphaH, BetaLoss, CdStats, Init, MiniBatchNmfParams, NComponents, ParamError, Solver,
    ValidParams,
};
pub use rng::{MtState, RandomState};
