//! The C ABI: an opaque [`NmfModel`] handle, plain `#[repr(C)]` parameters
//! ([`NmfParams`]) and status codes ([`NmfStatus`]), and one exported
//! function per operation, dtype (f64/f32) and layout (dense/CSR).
//!
//! `tests/header.rs` turns this module into `include/minibatchnmf.h` with
//! cbindgen (`make header`); `c-examples/README.md` documents the C API with
//! a complete example. Everything is re-exported here: Rust code (tests,
//! fuzz targets) calls the exports as `minibatchnmf::ffi::nmf_*`.
//!
//! One file per concept; the order of the `mod` lines is the order of the
//! declarations in the header:
//! - `allreduce`: the distributed hook (`nmf_set_allreduce`), and
//!   `callback_reducer`, the [`Reducer`](crate::dist::Reducer) around it;
//! - `library`: version, status names, last error, threads;
//! - `lifecycle`: default parameters, create, set/get parameters, free;
//! - `getters`: what a fitted model knows;
//! - `data_f64`, `data_f32`: fit, fit_transform, partial_fit, transform,
//!   inverse_transform (dense and CSR) and the components, per dtype;
//! - `ext_params`: parameters beyond scikit-learn's, by name
//!   (`nmf_set_param`, `nmf_get_param`);
//! - `persist`: save and load (files and buffers);
//! - `random_state`: numpy's MT19937 state in and out;
//! - `rank`: choosing k by cross-validation on held-out entries;
//! - `handle` (the opaque model, checked views of the caller's arrays, the
//!   generic bodies), `params` (`NmfParams`), `status` (`NmfStatus`, the
//!   panic guard, the last error).
//!
//! Rules every export follows (`tests/header.rs` checks the first and that
//! every `_f64` call has an `_f32` twin):
//! - its body runs inside `catch_unwind` (`guard`/`guard_value`): a panic
//!   becomes `NMF_ERR_PANIC`;
//! - pointers are checked for NULL and alignment, sizes for overflow, output
//!   buffers for length, before any work;
//! - the model is changed only when the call succeeds;
//! - the message of the last status-returning call is kept per thread
//!   (`nmf_last_error`).

// cbindgen emits the functions in the order of these lines (one group each,
// so that rustfmt keeps the order).
mod allreduce;
mod callback_reducer;

mod library;

mod lifecycle;

mod getters;

mod data_f64;

mod data_f32;

mod ext_params;

mod persist;

mod random_state;

mod rank;

mod handle;
mod params;
mod status;

pub use allreduce::*;
pub use data_f32::*;
pub use data_f64::*;
pub use ext_params::*;
pub use getters::*;
pub use handle::{NmfDtype, NmfModel};
pub use library::*;
pub use lifecycle::*;
pub use params::{NmfInit, NmfNComponentsMode, NmfParams};
pub use persist::*;
pub use random_state::*;
pub use rank::*;
pub use status::NmfStatus;

#[cfg(test)]
mod allreduce_tests;
#[cfg(test)]
mod tests;
