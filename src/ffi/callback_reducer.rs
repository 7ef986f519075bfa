//! The C-callback adapter: a [`Reducer`] that calls a user-supplied
//! `NmfAllreduceFn` (e.g. a wrapper around `MPI_Allreduce`). It lives in the
//! C layer so that [`crate::dist`] knows nothing of the C ABI.

use super::allreduce::NmfAllreduceFn;
use super::handle::NmfDtype;
use crate::dist::Reducer;
use std::ffi::c_void;
use std::fmt;

/// A sum-all-reduce through a C function pointer and its context.
#[derive(Clone, Copy)]
pub struct CallbackReducer {
    f: unsafe extern "C" fn(*mut c_void, usize, NmfDtype, *mut c_void) -> std::ffi::c_int,
    ctx: *mut c_void,
    rank: usize,
    n_ranks: usize,
}

// SAFETY: the C caller promises (nmf_set_allreduce's contract) that the
// function may be called from any thread, one call at a time, with its
// context, for as long as the model uses it.
unsafe impl Send for CallbackReducer {}
// SAFETY: as for Send: the caller's function is called one call at a time.
unsafe impl Sync for CallbackReducer {}

impl CallbackReducer {
    /// An adapter for `f` (None when `f` is NULL).
    ///
    /// # Safety
    /// `f` must be callable with `ctx` from any thread (one call at a time)
    /// while a model holds the adapter, and must read and write exactly
    /// `count` elements of the dtype given.
    pub unsafe fn new(
        f: NmfAllreduceFn,
        ctx: *mut c_void,
        rank: usize,
        n_ranks: usize,
    ) -> Option<Self> {
        f.map(|f| CallbackReducer {
            f,
            ctx,
            rank,
            n_ranks,
        })
    }

    fn call(&self, buf: *mut c_void, count: usize, dtype: NmfDtype) -> Result<(), String> {
        if count == 0 {
            return Ok(());
        }
        // SAFETY: buf points to `count` elements of `dtype` (our own
        // buffer); the function's contract is the caller's promise.
        let rc = unsafe { (self.f)(buf, count, dtype, self.ctx) };
        if rc == 0 {
            Ok(())
        } else {
            Err(format!("NmfAllreduceFn returned {rc}"))
        }
    }
}

impl fmt::Debug for CallbackReducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CallbackReducer {{ rank: {}, n_ranks: {} }}",
            self.rank, self.n_ranks
        )
    }
}

impl Reducer for CallbackReducer {
    fn rank(&self) -> usize {
        self.rank
    }
    fn n_ranks(&self) -> usize {
        self.n_ranks
    }
    fn sum_f64(&self, buf: &mut [f64]) -> Result<(), String> {
        self.call(buf.as_mut_ptr().cast(), buf.len(), NmfDtype::NMF_DTYPE_F64)
    }
    fn sum_f32(&self, buf: &mut [f32]) -> Result<(), String> {
        self.call(buf.as_mut_ptr().cast(), buf.len(), NmfDtype::NMF_DTYPE_F32)
    }
}
