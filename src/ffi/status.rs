//! Status codes, the thread-local last-error message and the panic guard
//! every export runs its body in.

use crate::error::Error;
use crate::params::ParamError;
use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, c_int, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Result of every fallible call. The numbers are part of the ABI: they are
/// fixed, and a number is never reused for another meaning.
///
/// On anything but `NMF_OK`, `nmf_last_error()` returns a message that says
/// what went wrong, and the model is left exactly as it was before the call.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NmfStatus {
    /// Success.
    NMF_OK = 0,
    /// A required pointer argument (model, data, output buffer, out-parameter) is NULL.
    NMF_ERR_NULL_POINTER = 1,
    /// An output buffer is too short for the result (its length is in elements).
    NMF_ERR_BUFFER_LENGTH = 2,
    /// The model is not fitted yet: call a fit, fit_transform or partial_fit first.
    NMF_ERR_NOT_FITTED = 3,
    /// The data's dtype (f32/f64) differs from the dtype the model was fitted with.
    NMF_ERR_DTYPE_MISMATCH = 4,
    /// A hyper-parameter in `NmfParams` is out of range or not a known enum value.
    NMF_ERR_INVALID_PARAM = 5,
    /// A size argument is inconsistent (row stride < n_features, sizes that
    /// overflow, a misaligned pointer, init arrays without their n_components).
    NMF_ERR_INVALID_ARGUMENT = 6,
    /// X has no rows or no columns.
    NMF_ERR_EMPTY_DATA = 7,
    /// X (or a custom W/H) holds a negative value.
    NMF_ERR_NEGATIVE_DATA = 8,
    /// X (or a custom W/H) holds NaN or infinity.
    NMF_ERR_NON_FINITE_DATA = 9,
    /// beta_loss <= 0 while X contains zeros (the updates would divide by zero).
    NMF_ERR_ZEROS_WITH_NONPOSITIVE_BETA = 10,
    /// The CSR arrays are malformed (indptr, column indices, duplicates).
    NMF_ERR_INVALID_CSR = 11,
    /// An array has the wrong shape (e.g. custom W/H, or W given to inverse_transform).
    NMF_ERR_SHAPE = 12,
    /// X has a different number of features than the fitted model.
    NMF_ERR_FEATURE_MISMATCH = 13,
    /// The initialisation cannot be done (e.g. nndsvd with n_components >
    /// min(n_samples, n_features), init=custom without W and H, W/H all zeros).
    NMF_ERR_INIT = 14,
    /// A LAPACK routine failed.
    NMF_ERR_LINALG = 15,
    /// The value asked for does not exist: n_iter, reconstruction_err and the
    /// last fit's summary are set by fit/fit_transform, not by partial_fit;
    /// a random_state that is a seed or None has no generator state to read.
    NMF_ERR_NOT_AVAILABLE = 16,
    /// The thread pool could not be built.
    NMF_ERR_THREADS = 17,
    /// The factorization produced NaN or infinity (e.g. X all zeros, or
    /// values too large for the dtype); the model is unchanged.
    NMF_ERR_DIVERGED = 18,
    /// Reading or writing a model file failed (missing file, permissions,
    /// disk full, …). A failed save leaves any previous file intact.
    NMF_ERR_IO = 19,
    /// A model file or buffer is truncated, damaged (checksum mismatch) or
    /// inconsistent; nothing was loaded.
    NMF_ERR_CORRUPT_MODEL = 20,
    /// Not a model file this library reads: another program's safetensors
    /// file, or a newer format version (upgrade the library).
    NMF_ERR_UNSUPPORTED_FORMAT = 21,
    /// A distributed call failed on every rank: the all-reduce hook returned
    /// non-zero, another rank rejected its input (that rank returns its own
    /// status), or the ranks' configuration is inconsistent (see
    /// nmf_set_allreduce). The model is unchanged.
    NMF_ERR_REDUCE = 23,
    /// The call needs more memory than its budget (the `max_memory`
    /// parameter, by default the memory the system reports available), or
    /// the system refused an allocation; the message says what needs how
    /// much. Nothing was allocated and the model is unchanged. (24 stays
    /// reserved, as the Python binding's status table notes.)
    NMF_ERR_OUT_OF_MEMORY = 25,
    /// Internal error: a Rust panic was caught at the boundary. The model is
    /// left as it was before the call and stays usable.
    NMF_ERR_PANIC = 99,
}

/// Every status, for the tests and for `nmf_status_str`.
pub(crate) const ALL_STATUSES: [NmfStatus; 25] = [
    NmfStatus::NMF_OK,
    NmfStatus::NMF_ERR_NULL_POINTER,
    NmfStatus::NMF_ERR_BUFFER_LENGTH,
    NmfStatus::NMF_ERR_NOT_FITTED,
    NmfStatus::NMF_ERR_DTYPE_MISMATCH,
    NmfStatus::NMF_ERR_INVALID_PARAM,
    NmfStatus::NMF_ERR_INVALID_ARGUMENT,
    NmfStatus::NMF_ERR_EMPTY_DATA,
    NmfStatus::NMF_ERR_NEGATIVE_DATA,
    NmfStatus::NMF_ERR_NON_FINITE_DATA,
    NmfStatus::NMF_ERR_ZEROS_WITH_NONPOSITIVE_BETA,
    NmfStatus::NMF_ERR_INVALID_CSR,
    NmfStatus::NMF_ERR_SHAPE,
    NmfStatus::NMF_ERR_FEATURE_MISMATCH,
    NmfStatus::NMF_ERR_INIT,
    NmfStatus::NMF_ERR_LINALG,
    NmfStatus::NMF_ERR_NOT_AVAILABLE,
    NmfStatus::NMF_ERR_THREADS,
    NmfStatus::NMF_ERR_DIVERGED,
    NmfStatus::NMF_ERR_IO,
    NmfStatus::NMF_ERR_CORRUPT_MODEL,
    NmfStatus::NMF_ERR_UNSUPPORTED_FORMAT,
    NmfStatus::NMF_ERR_REDUCE,
    NmfStatus::NMF_ERR_OUT_OF_MEMORY,
    NmfStatus::NMF_ERR_PANIC,
];

impl NmfStatus {
    /// The constant's name as a NUL-terminated static string.
    pub(crate) fn name(self) -> &'static std::ffi::CStr {
        use NmfStatus::*;
        match self {
            NMF_OK => c"NMF_OK",
            NMF_ERR_NULL_POINTER => c"NMF_ERR_NULL_POINTER",
            NMF_ERR_BUFFER_LENGTH => c"NMF_ERR_BUFFER_LENGTH",
            NMF_ERR_NOT_FITTED => c"NMF_ERR_NOT_FITTED",
            NMF_ERR_DTYPE_MISMATCH => c"NMF_ERR_DTYPE_MISMATCH",
            NMF_ERR_INVALID_PARAM => c"NMF_ERR_INVALID_PARAM",
            NMF_ERR_INVALID_ARGUMENT => c"NMF_ERR_INVALID_ARGUMENT",
            NMF_ERR_EMPTY_DATA => c"NMF_ERR_EMPTY_DATA",
            NMF_ERR_NEGATIVE_DATA => c"NMF_ERR_NEGATIVE_DATA",
            NMF_ERR_NON_FINITE_DATA => c"NMF_ERR_NON_FINITE_DATA",
            NMF_ERR_ZEROS_WITH_NONPOSITIVE_BETA => c"NMF_ERR_ZEROS_WITH_NONPOSITIVE_BETA",
            NMF_ERR_INVALID_CSR => c"NMF_ERR_INVALID_CSR",
            NMF_ERR_SHAPE => c"NMF_ERR_SHAPE",
            NMF_ERR_FEATURE_MISMATCH => c"NMF_ERR_FEATURE_MISMATCH",
            NMF_ERR_INIT => c"NMF_ERR_INIT",
            NMF_ERR_LINALG => c"NMF_ERR_LINALG",
            NMF_ERR_NOT_AVAILABLE => c"NMF_ERR_NOT_AVAILABLE",
            NMF_ERR_THREADS => c"NMF_ERR_THREADS",
            NMF_ERR_DIVERGED => c"NMF_ERR_DIVERGED",
            NMF_ERR_IO => c"NMF_ERR_IO",
            NMF_ERR_CORRUPT_MODEL => c"NMF_ERR_CORRUPT_MODEL",
            NMF_ERR_UNSUPPORTED_FORMAT => c"NMF_ERR_UNSUPPORTED_FORMAT",
            NMF_ERR_REDUCE => c"NMF_ERR_REDUCE",
            NMF_ERR_OUT_OF_MEMORY => c"NMF_ERR_OUT_OF_MEMORY",
            NMF_ERR_PANIC => c"NMF_ERR_PANIC",
        }
    }
}

/// A failed call: its status and the message for `nmf_last_error`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) status: NmfStatus,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(status: NmfStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn null(what: &str) -> Self {
        Failure::new(NmfStatus::NMF_ERR_NULL_POINTER, format!("{what} is NULL"))
    }

    pub(crate) fn arg(message: impl Into<String>) -> Self {
        Failure::new(NmfStatus::NMF_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        use NmfStatus::*;
        let status = match &e {
            Error::Param(_) => NMF_ERR_INVALID_PARAM,
            Error::Csr(_) => NMF_ERR_INVALID_CSR,
            Error::Negative { .. } => NMF_ERR_NEGATIVE_DATA,
            Error::NotFinite { .. } => NMF_ERR_NON_FINITE_DATA,
            Error::ZerosWithNonPositiveBeta => NMF_ERR_ZEROS_WITH_NONPOSITIVE_BETA,
            Error::Shape { .. } => NMF_ERR_SHAPE,
            Error::AllZeros { .. } => NMF_ERR_INIT,
            Error::Empty { .. } => NMF_ERR_EMPTY_DATA,
            Error::NotFitted => NMF_ERR_NOT_FITTED,
            Error::FeatureMismatch { .. } => NMF_ERR_FEATURE_MISMATCH,
            Error::FeatureNames(_) => NMF_ERR_FEATURE_MISMATCH,
            Error::Init(_) => NMF_ERR_INIT,
            Error::Diverged(_) => NMF_ERR_DIVERGED,
            Error::Linalg(_) => NMF_ERR_LINALG,
            Error::Io { .. } => NMF_ERR_IO,
            Error::CorruptModel { .. } => NMF_ERR_CORRUPT_MODEL,
            Error::UnsupportedFormat { .. } => NMF_ERR_UNSUPPORTED_FORMAT,
            Error::ModelDtype { .. } => NMF_ERR_DTYPE_MISMATCH,
            Error::Reduce(_) => NMF_ERR_REDUCE,
            Error::OutOfMemory { .. } => NMF_ERR_OUT_OF_MEMORY,
            // The C ABI takes arrays, never files: a file source cannot fail
            // behind it, so no status number of its own is spent here.
            Error::Source { .. } => NMF_ERR_INVALID_ARGUMENT,
        };
        Failure::new(status, e.to_string())
    }
}

impl From<ParamError> for Failure {
    fn from(e: ParamError) -> Self {
        Failure::new(NmfStatus::NMF_ERR_INVALID_PARAM, e.to_string())
    }
}

impl From<crate::input::CsrError> for Failure {
    fn from(e: crate::input::CsrError) -> Self {
        Failure::new(NmfStatus::NMF_ERR_INVALID_CSR, e.to_string())
    }
}

/// What the body of an export returns.
pub(crate) type FfiResult<T = ()> = Result<T, Failure>;

thread_local! {
    /// Message of the last status-returning call made on this thread.
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Store `msg` as this thread's last error (never panics).
pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            *slot = c;
        }
    });
}

fn clear_last_error() {
    let _ = LAST_ERROR.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            if !slot.as_bytes().is_empty() {
                *slot = CString::default();
            }
        }
    });
}

/// This thread's last error message ("" if the last call succeeded).
pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR
        .try_with(|cell| {
            cell.try_borrow()
                .map(|s| s.as_ptr())
                .unwrap_or(c"".as_ptr())
        })
        .unwrap_or(c"".as_ptr())
}

/// The text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Run the body of an export: a caught panic becomes `NMF_ERR_PANIC`, a
/// failure its status; the thread's last-error message is set (or cleared on
/// success). Nothing unwinds past this function.
pub(crate) fn guard(body: impl FnOnce() -> FfiResult) -> NmfStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear_last_error();
            NmfStatus::NMF_OK
        }
        Ok(Err(failure)) => {
            set_last_error(&failure.message);
            failure.status
        }
        Err(payload) => {
            set_last_error(&format!(
                "internal error (a Rust panic was caught; the model is unchanged): {}",
                panic_message(&*payload)
            ));
            // Dropping a payload could itself panic; keep that inside too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            NmfStatus::NMF_ERR_PANIC
        }
    }
}

/// Run a body that cannot fail but returns a value; a panic gives `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(payload) => {
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            fallback
        }
    }
}

/// Map a raw status number to its constant name ("NMF_UNKNOWN_STATUS" otherwise).
pub(crate) fn status_name(code: c_int) -> *const c_char {
    ALL_STATUSES
        .iter()
        .find(|s| **s as c_int == code)
        .map_or(c"NMF_UNKNOWN_STATUS".as_ptr(), |s| s.name().as_ptr())
}
