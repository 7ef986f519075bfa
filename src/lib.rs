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
//! # The public API
//!
//! What this page lists is the stable surface; every other module of the
//! crate is private, so the compiler reports what is unused and nothing
//! outside the list can be depended on by accident.
//!
//! - The estimator: [`MiniBatchNmf`] with [`FitArgs`], [`FitSummary`],
//!   [`StopReason`], [`Warning`].
//! - Parameters: [`MiniBatchNmfParams`] (scikit-learn's), checked into
//!   [`ValidParams`]; [`Init`], [`BetaLoss`], [`NComponents`], [`AlphaH`];
//!   random states [`RandomState`], [`MtState`], [`NumpyRandomState`].
//! - Data: [`Input`] (dense views and [`CsrView`]), [`NmfFloat`] (f32, f64).
//! - Errors: [`Error`] (with [`ParamError`], [`CsrError`]) and [`Result`].
//! - The start of a fit on its own: [`initialize`], [`initialize_from`]
//!   (scikit-learn's `_initialize_nmf`).
//! - Missing values: the `missing` parameter ([`Missing`]); choosing k by
//!   cross-validation on held-out entries: [`cross_validate_rank`] with
//!   [`CvOptions`], giving [`RankCv`].
//! - Threads: [`set_num_threads`], [`num_threads`].
//! - Namespaces: [`io`] (row sources: data in memory or in `.npy`, `.npz`,
//!   `.mtx` files read by row blocks), [`persist`] (model files),
//!   [`progress`] (watching and stopping a fit), [`dist`] (the
//!   [`Reducer`](dist::Reducer) trait a data-parallel fit sums its
//!   statistics through, and in-process reducers), [`ffi`] (the C ABI,
//!   declared in `include/minibatchnmf.h`).
//!
//! Inside, in the order data flows: `params` (hyper-parameters, checked
//! once) → `validation` (data checks) → `io` (row sources) → `init` (W, H
//! start; `rng` and `linalg` behind it) → `kernels` (beta-divergence and the
//! multiplicative updates, dense and sparse) → `estimator` (the mini-batch
//! loop, early stopping, fitted state) → `persist` → `ffi`. `dist` is the
//! all-reduce hook; no module below `ffi` imports it.

#![warn(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

// BLAS/LAPACK providers are linked through these crates.
extern crate blas_src;
extern crate openblas_src;

mod error;
mod estimator;
mod float;
mod init;
mod input;
mod kernels;
mod linalg;
mod memory;
mod parallel;
mod params;
mod rank;
mod rng;
mod validation;

pub mod dist;
pub mod ffi;
pub mod io;
pub mod persist;
pub mod progress;

pub use error::{Error, Result};
pub use estimator::{FitArgs, FitCursor, FitSummary, MiniBatchNmf, StopReason, Warning};
pub use float::NmfFloat;
pub use init::{initialize, initialize_from};
pub use input::{CsrError, CsrView, Input};
#[doc(hidden)]
pub use kernels::masked::force_masked_frobenius_path;
pub use linalg::openblas::openblas_core;
pub use memory::{Budget, MappedFile, Matrix, MaxMemory};
pub use parallel::{num_threads, set_num_threads};
pub use params::{
    AlphaH, BetaLoss, CdStats, Init, MiniBatchNmfParams, Missing, NComponents, ParamError, Solver,
    ValidParams,
};
pub use rank::{cross_validate_rank, CvOptions, RankCv};
pub use rng::{MtState, NumpyRandomState, RandomState};
