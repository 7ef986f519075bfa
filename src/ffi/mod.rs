//! The C ABI: an opaque [`NmfModel`] handle, plain `#[repr(C)]` parameters
//! ([`NmfParams`]) and status codes ([`NmfStatus`]), and one exported
//! function per operation, dtype (f64/f32) and layout (dense/CSR).
//!
//! `build.rs` turns this module into `include/minibatchnmf.h` with cbindgen;
//! `c-examples/README.md` documents the C API with a complete example.
//!
//! Rules every export follows:
//! - its body runs inside `catch_unwind`: a panic becomes `NMF_ERR_PANIC`;
//! - pointers are checked for NULL and alignment, sizes for overflow, output
//!   buffers for length, before any work;
//! - the model is changed only when the call succeeds;
//! - models are saved and loaded by [`persist`] (files and buffers);
//! - the message of the last status-returning call is kept per thread
//!   (`nmf_last_error`).

pub mod allreduce;
pub mod api;
pub mod ext_params;
pub mod handle;
pub mod params;
pub mod persist;
pub mod random_state;
pub mod status;

pub use allreduce::NmfAllreduceFn;
pub use api::{NmfFitInfo, NmfStopReason};
pub use handle::{NmfDtype, NmfModel};
pub use params::{NmfInit, NmfNComponentsMode, NmfParams};
pub use status::NmfStatus;

#[cfg(test)]
mod allreduce_tests;
#[cfg(test)]
mod tests;
