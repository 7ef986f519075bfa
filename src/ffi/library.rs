//! The library as a whole: its version, status names, the last error
//! message, and the size of its thread pool.

use super::status::{guard, guard_value, last_error_ptr, status_name, Failure, NmfStatus};
use std::ffi::{c_char, c_int};

/// The library's version, e.g. "0.1.0" (compare with `MINIBATCHNMF_VERSION`
/// to detect a header/library mismatch). Static storage; never NULL.
#[no_mangle]
pub extern "C" fn nmf_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    guard_value(VERSION.as_ptr().cast(), || VERSION.as_ptr().cast())
}

/// The name of a status code, e.g. "NMF_ERR_NOT_FITTED", or
/// "NMF_UNKNOWN_STATUS" for a number that is not one. Static storage; never NULL.
#[no_mangle]
pub extern "C" fn nmf_status_str(code: c_int) -> *const c_char {
    guard_value(c"NMF_UNKNOWN_STATUS".as_ptr(), || status_name(code))
}

/// The message of the last call that returned an `NmfStatus` on the calling
/// thread: what went wrong, or "" if that call succeeded. The message is
/// thread-local (calls on other threads do not change it). The pointer is
/// valid until the next call into the library on this thread; copy the text
/// to keep it. Never NULL.
#[no_mangle]
pub extern "C" fn nmf_last_error() -> *const c_char {
    guard_value(c"".as_ptr(), last_error_ptr)
}

/// Use `n_threads` threads for the library's parallel work (0 = one per
/// core). Applies to every handle, for calls that start afterwards; BLAS
/// stays single-threaded so the two never oversubscribe the cores.
/// `NMF_ERR_THREADS` if the pool cannot be built.
#[no_mangle]
pub extern "C" fn nmf_set_num_threads(n_threads: usize) -> NmfStatus {
    guard(|| {
        crate::parallel::set_num_threads(n_threads).map_err(|e| {
            Failure::new(
                NmfStatus::NMF_ERR_THREADS,
                format!("cannot build the thread pool: {e}"),
            )
        })
    })
}

/// The number of threads the library's parallel work uses.
#[no_mangle]
pub extern "C" fn nmf_get_num_threads() -> usize {
    guard_value(1, crate::parallel::num_threads)
}
