//! Parameters by name: `nmf_set_param` / `nmf_get_param` /
//! `nmf_get_param_len`.
//!
//! `NmfParams` is scikit-learn's parameter set and part of the ABI, so its
//! layout never changes. Parameters beyond scikit-learn's (the solver, its
//! sweep counts, the memory budget, …) are reached by name instead, with the
//! names, value spellings and error messages of the Rust
//! [`MiniBatchNmfParams::set_param`](crate::MiniBatchNmfParams::set_param)
//! — the same list Python, R and the command-line tool use. scikit-learn's
//! own parameters are reachable this way too (`"batch_size"`, `"init"`, …).

#![allow(clippy::missing_safety_doc)] // one contract for all, stated in the header (see cbindgen.toml)

use super::handle::{check_ptr, model_ref, NmfModel};
use super::status::{guard, Failure, FfiResult, NmfStatus};
use std::ffi::{c_char, CStr};

/// A NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string.
unsafe fn c_str<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    check_ptr(p, what)?;
    // SAFETY: `p` is non-NULL and, by the caller's contract, NUL-terminated.
    let s = unsafe { CStr::from_ptr(p) };
    s.to_str().map_err(|_| {
        Failure::new(
            NmfStatus::NMF_ERR_INVALID_ARGUMENT,
            format!("{what} is not valid UTF-8"),
        )
    })
}

/// The value of parameter `name` of `model`, as `nmf_set_param` accepts it.
///
/// # Safety
/// `model` must be NULL or a live handle; `name` NULL or NUL-terminated.
unsafe fn value_of(model: *const NmfModel, name: *const c_char) -> FfiResult<String> {
    // SAFETY: forwarded from the caller's contract.
    let model = unsafe { model_ref(model)? };
    // SAFETY: forwarded from the caller's contract.
    let name = unsafe { c_str(name, "name")? };
    Ok(model.read().params.get_param(name)?)
}

/// Set one parameter by name, with the spelling Python uses for both the
/// name and the value: scikit-learn's parameters (`"batch_size"` → `"256"`,
/// `"init"` → `"nndsvda"`, `"max_no_improvement"` → `"None"`, …) and the
/// parameters beyond scikit-learn's signature that `NmfParams` does not
/// hold (listed in the README). `name` and `value` are NUL-terminated UTF-8
/// strings.
///
/// The new value is checked together with the other parameters before it
/// takes effect: an unknown name or a bad value returns
/// `NMF_ERR_INVALID_PARAM` (the message names the parameter and says what
/// is allowed) and changes nothing. As with `nmf_set_params`, a fitted
/// model stays fitted and values fixed at the first fit stay as they were
/// until the next fit. `nmf_set_params` replaces scikit-learn's parameters
/// only: parameters set by name keep their values.
///
/// Returns `NMF_ERR_NULL_POINTER` when `model`, `name` or `value` is NULL.
#[no_mangle]
pub unsafe extern "C" fn nmf_set_param(
    model: *mut NmfModel,
    name: *const c_char,
    value: *const c_char,
) -> NmfStatus {
    guard(|| {
        // SAFETY: the caller passes NULL or a live handle from nmf_create/nmf_load.
        let model = unsafe { model_ref(model)? };
        // SAFETY: the caller passes NULL or NUL-terminated strings.
        let (name, value) = unsafe { (c_str(name, "name")?, c_str(value, "value")?) };
        let mut state = model.write();
        let mut p = state.params.clone();
        p.set_param(name, value)?;
        p.check()?;
        state.apply_params(p)
    })
}

/// Read one parameter by name (any name `nmf_set_param` accepts), as a
/// NUL-terminated string in the spelling `nmf_set_param` accepts, into
/// `buf` of `len` bytes. `nmf_get_param_len` tells the size needed
/// (terminating NUL included); 64 bytes hold every value but a
/// `random_state` given as a generator state. With `buf` NULL and `len` 0
/// only the name is checked (`NMF_OK` when it is a parameter).
///
/// Returns `NMF_ERR_INVALID_PARAM` for an unknown name,
/// `NMF_ERR_BUFFER_LENGTH` when `len` is too small (nothing is written),
/// `NMF_ERR_NULL_POINTER` when `model` or `name` is NULL, or `buf` is NULL
/// with `len` > 0.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_param(
    model: *const NmfModel,
    name: *const c_char,
    buf: *mut c_char,
    len: usize,
) -> NmfStatus {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let value = unsafe { value_of(model, name)? };
        if buf.is_null() && len == 0 {
            return Ok(());
        }
        check_ptr(buf as *const c_char, "buf")?;
        let need = value.len() + 1;
        if len < need {
            return Err(Failure::new(
                NmfStatus::NMF_ERR_BUFFER_LENGTH,
                format!(
                    "buf has {len} bytes but the value {value:?} needs {need} (nmf_get_param_len tells)"
                ),
            ));
        }
        // SAFETY: `buf` is non-NULL and holds `len >= need` bytes by the
        // caller's contract; the value is a Rust string, which cannot overlap it.
        unsafe {
            std::ptr::copy_nonoverlapping(value.as_ptr().cast::<c_char>(), buf, value.len());
            buf.add(value.len()).write(0);
        }
        Ok(())
    })
}

/// The size in bytes, terminating NUL included, of the buffer
/// `nmf_get_param` needs for parameter `name`, in `*len_out`.
///
/// Returns `NMF_ERR_INVALID_PARAM` for an unknown name,
/// `NMF_ERR_NULL_POINTER` when `model`, `name` or `len_out` is NULL.
#[no_mangle]
pub unsafe extern "C" fn nmf_get_param_len(
    model: *const NmfModel,
    name: *const c_char,
    len_out: *mut usize,
) -> NmfStatus {
    guard(|| {
        // SAFETY: forwarded from the caller's contract.
        let value = unsafe { value_of(model, name)? };
        check_ptr(len_out as *const usize, "len_out")?;
        // SAFETY: `len_out` is non-NULL and aligned (checked), writable by contract.
        unsafe { len_out.write(value.len() + 1) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::params::{NmfParams, DEFAULT_PARAMS};
    use crate::ffi::{nmf_create, nmf_free, nmf_get_params, nmf_last_error, nmf_set_params};
    use std::ffi::CString;
    use std::ptr::{null, null_mut};
    use NmfStatus::*;

    fn last_error() -> String {
        // SAFETY: nmf_last_error returns a valid NUL-terminated string.
        unsafe { CStr::from_ptr(nmf_last_error()) }
            .to_string_lossy()
            .into_owned()
    }

    fn cs(s: &str) -> CString {
        CString::new(s).unwrap()
    }

    fn model() -> *mut NmfModel {
        let mut m = null_mut();
        // SAFETY: valid pointers.
        assert_eq!(unsafe { nmf_create(&DEFAULT_PARAMS, &mut m) }, NMF_OK);
        m
    }

    fn get(m: *const NmfModel, name: &str) -> Result<String, NmfStatus> {
        let name = cs(name);
        let mut len = 0usize;
        // SAFETY: valid pointers.
        let st = unsafe { nmf_get_param_len(m, name.as_ptr(), &mut len) };
        if st != NMF_OK {
            return Err(st);
        }
        let mut buf = vec![1 as c_char; len];
        // SAFETY: buf holds len bytes.
        let st = unsafe { nmf_get_param(m, name.as_ptr(), buf.as_mut_ptr(), len) };
        if st != NMF_OK {
            return Err(st);
        }
        assert_eq!(buf[len - 1], 0, "NUL-terminated");
        // SAFETY: NUL-terminated (checked).
        Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_str()
            .unwrap()
            .to_string())
    }

    fn set(m: *mut NmfModel, name: &str, value: &str) -> NmfStatus {
        let (name, value) = (cs(name), cs(value));
        // SAFETY: valid pointers.
        unsafe { nmf_set_param(m, name.as_ptr(), value.as_ptr()) }
    }

    #[test]
    fn parameters_by_name_use_the_python_spelling() {
        let m = model();
        assert_eq!(get(m, "batch_size").unwrap(), "1024");
        assert_eq!(set(m, "batch_size", "256"), NMF_OK);
        assert_eq!(get(m, "batch_size").unwrap(), "256");
        assert_eq!(set(m, "max_no_improvement", "None"), NMF_OK);
        assert_eq!(get(m, "max_no_improvement").unwrap(), "None");
        assert_eq!(set(m, "beta_loss", "kullback-leibler"), NMF_OK);
        let mut p = DEFAULT_PARAMS;
        // SAFETY: valid pointers.
        assert_eq!(unsafe { nmf_get_params(m, &mut p) }, NMF_OK);
        assert_eq!((p.batch_size, p.beta_loss), (256, 1.0));
        // SAFETY: a live handle.
        unsafe { nmf_free(m) };
    }

    #[test]
    fn unknown_names_and_bad_values_are_refused_and_change_nothing() {
        let m = model();
        assert_eq!(set(m, "batch_sise", "3"), NMF_ERR_INVALID_PARAM);
        assert!(last_error().contains("batch_sise"), "{}", last_error());
        assert_eq!(set(m, "batch_size", "zero"), NMF_ERR_INVALID_PARAM);
        assert!(last_error().contains("batch_size"), "{}", last_error());
        // Parsed but invalid with the others: refused by the check.
        assert_eq!(set(m, "batch_size", "0"), NMF_ERR_INVALID_PARAM);
        assert_eq!(get(m, "batch_size").unwrap(), "1024");
        assert_eq!(get(m, "no_such_param"), Err(NMF_ERR_INVALID_PARAM));
        assert!(last_error().contains("no_such_param"));
        // SAFETY: a live handle.
        unsafe { nmf_free(m) };
    }

    #[test]
    fn null_pointers_and_short_buffers_are_reported() {
        let m = model();
        let name = cs("tol");
        let mut len = 0usize;
        // SAFETY: NULL pointers are the point of the test; others valid.
        unsafe {
            assert_eq!(
                nmf_set_param(null_mut(), name.as_ptr(), name.as_ptr()),
                NMF_ERR_NULL_POINTER
            );
            assert_eq!(
                nmf_set_param(m, null(), name.as_ptr()),
                NMF_ERR_NULL_POINTER
            );
            assert_eq!(
                nmf_set_param(m, name.as_ptr(), null()),
                NMF_ERR_NULL_POINTER
            );
            assert_eq!(nmf_get_param(m, name.as_ptr(), null_mut(), 0), NMF_OK);
            assert_eq!(
                nmf_get_param(m, name.as_ptr(), null_mut(), 8),
                NMF_ERR_NULL_POINTER
            );
            let unknown = cs("tolerance");
            assert_eq!(
                nmf_get_param(m, unknown.as_ptr(), null_mut(), 0),
                NMF_ERR_INVALID_PARAM
            );
            assert_eq!(
                nmf_get_param_len(m, name.as_ptr(), null_mut()),
                NMF_ERR_NULL_POINTER
            );
            assert_eq!(
                nmf_get_param_len(null(), name.as_ptr(), &mut len),
                NMF_ERR_NULL_POINTER
            );
            assert_eq!(nmf_get_param_len(m, name.as_ptr(), &mut len), NMF_OK);
            assert_eq!(len, "0.0001".len() + 1);
            let mut buf = [7 as c_char; 4];
            assert_eq!(
                nmf_get_param(m, name.as_ptr(), buf.as_mut_ptr(), 4),
                NMF_ERR_BUFFER_LENGTH
            );
            assert_eq!(buf, [7; 4], "nothing written");
            let bad = [0xffu8, 0];
            assert_eq!(
                nmf_set_param(m, bad.as_ptr().cast(), name.as_ptr()),
                NMF_ERR_INVALID_ARGUMENT
            );
            nmf_free(m);
        }
    }

    #[test]
    fn set_params_keeps_parameters_set_by_name() {
        let m = model();
        assert_eq!(set(m, "solver", "cd"), NMF_OK);
        assert_eq!(set(m, "cd_w_sweeps", "3"), NMF_OK);
        assert_eq!(set(m, "max_memory", "4G"), NMF_OK);
        let mut p: NmfParams = DEFAULT_PARAMS;
        p.batch_size = 64;
        // SAFETY: valid pointers.
        assert_eq!(unsafe { nmf_set_params(m, &p) }, NMF_OK);
        assert_eq!(get(m, "batch_size").unwrap(), "64");
        assert_eq!(get(m, "solver").unwrap(), "cd");
        assert_eq!(get(m, "cd_w_sweeps").unwrap(), "3");
        assert_eq!(get(m, "max_memory").unwrap(), get_after_parse("4G"));
        // scikit-learn's parameters that cd refuses are refused through
        // either setter, and change nothing.
        p.beta_loss = 1.0;
        // SAFETY: valid pointers.
        assert_eq!(unsafe { nmf_set_params(m, &p) }, NMF_ERR_INVALID_PARAM);
        assert_eq!(
            set(m, "beta_loss", "kullback-leibler"),
            NMF_ERR_INVALID_PARAM
        );
        assert_eq!(get(m, "beta_loss").unwrap(), "frobenius");
        assert_eq!(get(m, "batch_size").unwrap(), "64");
        // SAFETY: a live handle.
        unsafe { nmf_free(m) };
    }

    /// `max_memory` as `get_param` spells a value `set_param` was given.
    fn get_after_parse(v: &str) -> String {
        let mut p = crate::params::MiniBatchNmfParams::new();
        p.set_param("max_memory", v).unwrap();
        p.get_param("max_memory").unwrap()
    }
}
