//! Saving and loading models through the C ABI: thin shells over
//! [`crate::persist`]. A loaded model has the dtype of the file; its
//! parameters are the saved ones.

use super::handle::{check_ptr, model_ref, slice, Est, NmfModel, State};
use super::status::{guard, Failure, FfiResult, NmfStatus};
use crate::persist::{self, AnyModel};
use std::ffi::{c_char, CStr};
use std::path::PathBuf;

/// A path from a NUL-terminated C string (bytes as the OS gives them).
unsafe fn path_arg(path: *const c_char) -> FfiResult<PathBuf> {
    if path.is_null() {
        return Err(Failure::null("path"));
    }
    // SAFETY: non-NULL (checked), a NUL-terminated string (contract).
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    if bytes.is_empty() {
        return Err(Failure::arg("path is empty"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Ok(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
    }
    #[cfg(not(unix))]
    {
        std::str::from_utf8(bytes)
            .map(PathBuf::from)
            .map_err(|_| Failure::arg("path is not valid UTF-8"))
    }
}

/// The model file bytes of a handle (fitted models only).
fn model_bytes(model: &NmfModel) -> FfiResult<Vec<u8>> {
    let state = model.read();
    let bytes = match &state.est {
        Est::Unfitted => Err(crate::Error::NotFitted),
        Est::F64(e) => e.to_bytes(),
        Est::F32(e) => e.to_bytes(),
    }?;
    Ok(bytes)
}

/// A new handle holding a loaded model; `*out` receives it.
unsafe fn new_handle(loaded: AnyModel, out: *mut *mut NmfModel) -> FfiResult {
    let (params, est) = match loaded {
        AnyModel::F64(e) => (e.params().clone(), Est::F64(e)),
        AnyModel::F32(e) => (e.params().clone(), Est::F32(e)),
    };
    let model = NmfModel::from_state(State {
        params,
        est,
        reducer: None,
    });
    // SAFETY: checked non-NULL and aligned by the callers, writable (contract).
    unsafe { out.write(Box::into_raw(Box::new(model))) };
    Ok(())
}

/// Save a fitted model to the file `path` (NUL-terminated, in the OS's
/// encoding) in the safetensors layout of docs/model-format.md. The write
/// is atomic: a temporary file in the same folder is written, synced and
/// renamed over `path`, so a crash never destroys a previous file.
/// `NMF_ERR_NOT_FITTED` for an unfitted model, `NMF_ERR_IO` if the file
/// cannot be written.
///
/// # Safety
/// `model` is NULL or a live handle; `path` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn nmf_save(model: *const NmfModel, path: *const c_char) -> NmfStatus {
    guard(|| {
        // SAFETY: the pointers are as this function's contract requires.
        let (model, path) = unsafe { (model_ref(model)?, path_arg(path)?) };
        let bytes = model_bytes(model)?;
        persist::write_atomic(&path, &bytes)?;
        Ok(())
    })
}

/// Load a model saved by `nmf_save` (or by the Rust library) from `path`.
/// On success `*out` receives a new handle (release it with `nmf_free`)
/// with the file's dtype (`nmf_get_dtype`) and parameters; on failure `*out`
/// is set to NULL (when `out` is not NULL). `NMF_ERR_IO` if the file cannot
/// be read, `NMF_ERR_CORRUPT_MODEL` if it is truncated or damaged,
/// `NMF_ERR_UNSUPPORTED_FORMAT` for another program's file or a newer format.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or points to
/// writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn nmf_load(path: *const c_char, out: *mut *mut NmfModel) -> NmfStatus {
    guard(|| {
        check_ptr(out as *const *mut NmfModel, "out")?;
        // SAFETY: the pointers are as this function's contract requires
        // (`out` checked non-NULL and aligned).
        unsafe {
            out.write(std::ptr::null_mut());
            let path = path_arg(path)?;
            new_handle(persist::load_any(&path)?, out)
        }
    })
}

/// Write a fitted model's file bytes into `buf` (capacity `cap` bytes) and
/// their number into `*len_out`. Size query: with `buf` NULL and `cap` 0,
/// only `*len_out` is set. If `cap` is too small, `*len_out` still receives
/// the size needed and the call returns `NMF_ERR_BUFFER_LENGTH`.
///
/// # Safety
/// `model` is NULL or a live handle; `buf` is NULL or points to `cap`
/// writable bytes; `len_out` is NULL or points to writable memory for a size_t.
#[no_mangle]
pub unsafe extern "C" fn nmf_save_buffer(
    model: *const NmfModel,
    buf: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> NmfStatus {
    guard(|| {
        // SAFETY: the pointers are as this function's contract requires.
        let model = unsafe { model_ref(model) }?;
        check_ptr(len_out as *const usize, "len_out")?;
        let bytes = model_bytes(model)?;
        // SAFETY: non-NULL and aligned (checked), writable (contract).
        unsafe { len_out.write(bytes.len()) };
        if buf.is_null() && cap == 0 {
            return Ok(());
        }
        check_ptr(buf as *const u8, "buf")?;
        if cap < bytes.len() {
            return Err(Failure::new(
                NmfStatus::NMF_ERR_BUFFER_LENGTH,
                format!(
                    "buf has {cap} bytes but the model needs {} (call with buf = NULL, cap = 0 to ask)",
                    bytes.len()
                ),
            ));
        }
        // SAFETY: buf is non-NULL (checked) and holds cap >= bytes.len()
        // writable bytes (checked and contract); our Vec does not overlap it.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len()) };
        Ok(())
    })
}

/// Load a model from the `len` bytes at `buf` (as written by
/// `nmf_save_buffer` or `nmf_save`). On success `*out` receives a new
/// handle; on failure `*out` is set to NULL (when `out` is not NULL).
/// Errors as `nmf_load`, without `NMF_ERR_IO`.
///
/// # Safety
/// `buf` is NULL or points to `len` readable bytes; `out` is NULL or points
/// to writable memory for a pointer.
#[no_mangle]
pub unsafe extern "C" fn nmf_load_buffer(
    buf: *const u8,
    len: usize,
    out: *mut *mut NmfModel,
) -> NmfStatus {
    guard(|| {
        check_ptr(out as *const *mut NmfModel, "out")?;
        // SAFETY: the pointers are as this function's contract requires
        // (`out` checked non-NULL and aligned, `buf` holds `len` bytes).
        unsafe {
            out.write(std::ptr::null_mut());
            if buf.is_null() {
                return Err(Failure::null("buf"));
            }
            let bytes = slice(buf, len, "buf")?;
            new_handle(persist::from_bytes_any(bytes)?, out)
        }
    })
}
