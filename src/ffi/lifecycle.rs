//! A model's life: default parameters, create, change and read the
//! parameters, free.

use super::handle::{check_ptr, model_ref, read_into, NmfModel};
use super::params::{read_params, to_c, NmfParams, DEFAULT_PARAMS};
use super::status::{guard, guard_value, NmfStatus};

/// scikit-learn's default parameters. Start from these and set only what you change.
#[no_mangle]
pub extern "C" fn nmf_params_default() -> NmfParams {
    guard_value(DEFAULT_PARAMS, || DEFAULT_PARAMS)
}

/// Create an unfitted model with the given parameters (checked here).
/// On success `*out` receives the handle, to be released with `nmf_free`;
/// on failure `*out` is set to NULL (when `out` is not NULL).
///
/// # Safety
/// `params` is NULL or points to an `NmfParams`; `out` is NULL or points to
/// writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn nmf_create(
    params: *const NmfParams,
    out: *mut *mut NmfModel,
) -> NmfStatus {
    guard(|| {
        check_ptr(out as *const *mut NmfModel, "out")?;
        // SAFETY: `out` is non-NULL and aligned (checked) and writable (contract).
        unsafe { out.write(std::ptr::null_mut()) };
        // SAFETY: `params` is NULL or points to an NmfParams (contract).
        let p = unsafe { read_params(params, "params") }?;
        let model = NmfModel::new(p)?;
        // SAFETY: as above.
        unsafe { out.write(Box::into_raw(Box::new(model))) };
        Ok(())
    })
}

/// Release a model. NULL is accepted and ignored. The handle must not be in
/// use by another thread, and must not be used afterwards.
///
/// # Safety
/// `model` is NULL or a live handle that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn nmf_free(model: *mut NmfModel) {
    guard_value((), || {
        if !model.is_null() {
            // SAFETY: a live handle comes from Box::into_raw (nmf_create,
            // nmf_load, nmf_load_buffer) and is freed once (contract).
            drop(unsafe { Box::from_raw(model) });
        }
    })
}

/// Replace the parameters (scikit-learn's `set_params`); they are checked
/// first and an invalid set changes nothing. As in scikit-learn, a fitted
/// model stays fitted; the new parameters apply to later calls (values fixed
/// at the first fit, such as n_components, batch size and beta, stay as they
/// were until the next fit).
///
/// # Safety
/// `model` is NULL or a live handle; `params` is NULL or points to an
/// `NmfParams`.
#[no_mangle]
pub unsafe extern "C" fn nmf_set_params(
    model: *mut NmfModel,
    params: *const NmfParams,
) -> NmfStatus {
    guard(|| {
        // SAFETY: `model` is NULL or a live handle (contract).
        let model = unsafe { model_ref(model) }?;
        // SAFETY: `params` is NULL or points to an NmfParams (contract).
        let p = unsafe { read_params(params, "params") }?;
        let mut state = model.write();
        let p = p.with_extensions_of(&state.params)?;
        p.check()?;
        state.apply_params(p)
    })
}

/// The model's parameters (scikit-learn's `get_params`) into `*out`.
///
/// # Safety
/// `model` is NULL or a live handle; `out` is NULL or points to writable
/// memory for an `NmfParams`.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_params(model: *const NmfModel, out: *mut NmfParams) -> NmfStatus {
    // SAFETY: the pointers are as this function's contract requires.
    guard(|| unsafe { read_into(model, out, |s| Ok(to_c(&s.params))) })
}
