//! The distributed hook of the C ABI: a sum-all-reduce function supplied by
//! the caller (e.g. around `MPI_Allreduce`), see [`crate::dist`].

use super::callback_reducer::CallbackReducer;
use super::handle::{model_ref, NmfDtype, NmfModel};
use super::status::{guard, Failure, NmfStatus};
use crate::dist::Reducer;
use std::ffi::{c_int, c_void};
use std::sync::Arc;

/// A sum-all-reduce over the ranks of a distributed fit: on return, `buf`
/// (`count` elements of `dtype`, NMF_DTYPE_F64 = double or NMF_DTYPE_F32 =
/// float) must hold the element-wise sum of every rank's `buf`, the same
/// on every rank. Return 0 on success, anything else on failure (the call
/// that reduced then fails with NMF_ERR_REDUCE). With MPI:
/// `MPI_Allreduce(MPI_IN_PLACE, buf, count, dtype == NMF_DTYPE_F64 ?
/// MPI_DOUBLE : MPI_FLOAT, MPI_SUM, comm)`.
pub type NmfAllreduceFn = Option<
    unsafe extern "C" fn(
        buf: *mut c_void,
        count: usize,
        dtype: NmfDtype,
        ctx: *mut c_void,
    ) -> c_int,
>;

/// Make the model one rank of a data-parallel fit, or (allreduce = NULL)
/// a single process again (the default).
///
/// The ranks' shards, concatenated in rank order, are the X of the
/// equivalent single-process fit: every rank calls fit, fit_transform,
/// partial_fit and transform (they are collective) with its own rows, the
/// same parameters and the same random_state, and all ranks end with the
/// same components; fit_transform and transform write W for the rank's own
/// rows. Every init works (custom: W of the rank's rows, the same H
/// everywhere; nndsvd*: a distributed randomized SVD); a random_state must
/// be set unless init is custom. If any rank's input is rejected, every rank fails before any work
/// (that rank with its own status, the others with NMF_ERR_REDUCE).
///
/// `allreduce` is called with `ctx` from one library thread at a time, not
/// necessarily the calling thread (initialise MPI with at least
/// MPI_THREAD_SERIALIZED). `ctx` must stay valid while the model uses it.
/// `rank` < `n_ranks` is this rank's place in the row order. Errors:
/// NMF_ERR_INVALID_ARGUMENT for rank >= n_ranks or n_ranks == 0 (with a
/// non-NULL allreduce).
///
/// # Safety
/// `model` is NULL or a live handle; `allreduce`, when not NULL, must be
/// safe to call with `ctx` as described above for as long as the model
/// keeps it (until the next nmf_set_allreduce or nmf_free).
#[no_mangle]
pub unsafe extern "C" fn nmf_set_allreduce(
    model: *mut NmfModel,
    allreduce: NmfAllreduceFn,
    ctx: *mut c_void,
    rank: usize,
    n_ranks: usize,
) -> NmfStatus {
    guard(|| {
        // SAFETY: `model` is NULL or a live handle (contract).
        let model = unsafe { model_ref(model) }?;
        if allreduce.is_some() && (n_ranks == 0 || rank >= n_ranks) {
            return Err(Failure::arg(format!(
                "rank {rank} must be below n_ranks {n_ranks} (and n_ranks >= 1)"
            )));
        }
        // SAFETY: `allreduce` may be called with `ctx` while the model keeps
        // it (this function's contract).
        let reducer = unsafe { CallbackReducer::new(allreduce, ctx, rank, n_ranks) }
            .map(|r| Arc::new(r) as Arc<dyn Reducer>);
        model.write().set_reducer(reducer);
        Ok(())
    })
}
