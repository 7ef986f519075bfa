//! The opaque handle, the checked views of the caller's arrays, and the
//! dtype-generic bodies of the data calls (each export of `data_f64.rs` and
//! `data_f32.rs` is one call of these).

use super::status::{Failure, FfiResult, NmfStatus};
use crate::dist::{self, Comm, Reducer};
use crate::estimator::{FitArgs, MiniBatchNmf};
use crate::float::NmfFloat;
use crate::input::{CsrView, Input};
use crate::params::{Init, MiniBatchNmfParams, NComponents};
use ndarray::{Array2, ArrayView2, ShapeBuilder};
use std::mem::{align_of, size_of};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The dtype a model was fitted with.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmfDtype {
    /// Not fitted yet: the first fit or partial_fit chooses the dtype.
    NMF_DTYPE_NONE = 0,
    /// Fitted with float (f32) data.
    NMF_DTYPE_F32 = 1,
    /// Fitted with double (f64) data.
    NMF_DTYPE_F64 = 2,
}

/// An opaque MiniBatchNMF model: its parameters and, once fitted, the fitted
/// estimator in the dtype of the data it was fitted with.
///
/// Created by `nmf_create`, released by `nmf_free`. A handle may be used
/// from several threads at once: calls that change it (fit, fit_transform,
/// partial_fit, set_params) take an exclusive lock inside the handle, calls
/// that only read it (transform, inverse_transform, getters) a shared one,
/// so concurrent calls are serialized as needed, never undefined.
pub struct NmfModel {
    state: RwLock<State>,
}

pub(crate) struct State {
    /// The parameters, already validated.
    pub(crate) params: MiniBatchNmfParams,
    pub(crate) est: Est,
    /// The all-reduce of a distributed fit (nmf_set_allreduce).
    pub(crate) reducer: Option<Arc<dyn Reducer>>,
}

impl State {
    /// Use `reducer` from now on (the fitted estimator too).
    pub(crate) fn set_reducer(&mut self, reducer: Option<Arc<dyn Reducer>>) {
        match &mut self.est {
            Est::Unfitted => {}
            Est::F64(e) => e.set_reducer(reducer.clone()),
            Est::F32(e) => e.set_reducer(reducer.clone()),
        }
        self.reducer = reducer;
    }
}

/// The fitted estimator, if any, in its dtype.
pub(crate) enum Est {
    Unfitted,
    F64(MiniBatchNmf<f64>),
    F32(MiniBatchNmf<f32>),
}

impl NmfModel {
    pub(crate) fn new(params: MiniBatchNmfParams) -> FfiResult<Self> {
        params.check()?;
        Ok(NmfModel {
            state: RwLock::new(State {
                params,
                est: Est::Unfitted,
                reducer: None,
            }),
        })
    }

    /// A handle around an existing state (a loaded model).
    pub(crate) fn from_state(state: State) -> Self {
        NmfModel {
            state: RwLock::new(state),
        }
    }

    /// Shared access. A lock poisoned by a caught panic is still sound to use:
    /// the estimator commits its state only when a call succeeds.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Exclusive access (see [`read`](Self::read) about poisoning).
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Replace the parameters (already validated) of the handle and of its
    /// fitted estimator, if any (scikit-learn's `set_params` on a fitted
    /// model); on failure nothing changes.
    pub(crate) fn apply_params(&mut self, p: MiniBatchNmfParams) -> FfiResult {
        match &mut self.est {
            Est::Unfitted => {}
            Est::F64(e) => e.set_params(p.clone())?,
            Est::F32(e) => e.set_params(p.clone())?,
        }
        self.params = p;
        Ok(())
    }
}

impl Est {
    pub(crate) fn dtype(&self) -> NmfDtype {
        match self {
            Est::Unfitted => NmfDtype::NMF_DTYPE_NONE,
            Est::F32(_) => NmfDtype::NMF_DTYPE_F32,
            Est::F64(_) => NmfDtype::NMF_DTYPE_F64,
        }
    }

    /// Run `f` on the fitted estimator whatever its dtype.
    pub(crate) fn with_any<R>(
        &self,
        f64_: impl FnOnce(&MiniBatchNmf<f64>) -> R,
        f32_: impl FnOnce(&MiniBatchNmf<f32>) -> R,
    ) -> FfiResult<R> {
        match self {
            Est::Unfitted => Err(not_fitted()),
            Est::F64(e) => Ok(f64_(e)),
            Est::F32(e) => Ok(f32_(e)),
        }
    }
}

fn not_fitted() -> Failure {
    Failure::new(
        NmfStatus::NMF_ERR_NOT_FITTED,
        "this MiniBatchNMF instance is not fitted yet; call a fit, fit_transform or partial_fit function first",
    )
}

fn dtype_mismatch(model: NmfDtype, data: NmfDtype) -> Failure {
    let name = |d: NmfDtype| match d {
        NmfDtype::NMF_DTYPE_F32 => "f32 (float)",
        NmfDtype::NMF_DTYPE_F64 => "f64 (double)",
        NmfDtype::NMF_DTYPE_NONE => "none",
    };
    Failure::new(
        NmfStatus::NMF_ERR_DTYPE_MISMATCH,
        format!(
            "the model was fitted with {} data but this call uses {}; use the _{} functions or refit",
            name(model),
            name(data),
            if model == NmfDtype::NMF_DTYPE_F32 { "f32" } else { "f64" }
        ),
    )
}

/// f32 or f64 as the handle stores it.
pub(crate) trait FfiFloat: NmfFloat {
    const NMF_DTYPE: NmfDtype;
    fn get(est: &Est) -> FfiResult<&MiniBatchNmf<Self>>;
    fn get_mut(est: &mut Est) -> FfiResult<&mut MiniBatchNmf<Self>>;
    fn wrap(est: MiniBatchNmf<Self>) -> Est;
}

macro_rules! ffi_float {
    ($t:ty, $variant:ident, $dtype:ident) => {
        impl FfiFloat for $t {
            const NMF_DTYPE: NmfDtype = NmfDtype::$dtype;
            fn get(est: &Est) -> FfiResult<&MiniBatchNmf<Self>> {
                match est {
                    Est::$variant(e) => Ok(e),
                    Est::Unfitted => Err(not_fitted()),
                    other => Err(dtype_mismatch(other.dtype(), Self::NMF_DTYPE)),
                }
            }
            fn get_mut(est: &mut Est) -> FfiResult<&mut MiniBatchNmf<Self>> {
                match est {
                    Est::$variant(e) => Ok(e),
                    Est::Unfitted => Err(not_fitted()),
                    other => Err(dtype_mismatch(other.dtype(), Self::NMF_DTYPE)),
                }
            }
            fn wrap(est: MiniBatchNmf<Self>) -> Est {
                Est::$variant(est)
            }
        }
    };
}
ffi_float!(f64, F64, NMF_DTYPE_F64);
ffi_float!(f32, F32, NMF_DTYPE_F32);

// ---------------------------------------------------------------------------
// Pointer checks

fn overflow(what: &str) -> Failure {
    Failure::arg(format!(
        "{what}: the sizes given overflow the address space"
    ))
}

/// Non-NULL and aligned for `T`.
pub(crate) fn check_ptr<T>(p: *const T, what: &str) -> FfiResult {
    if p.is_null() {
        Err(Failure::null(what))
    } else if (p as usize) % align_of::<T>() != 0 {
        Err(Failure::arg(format!(
            "{what} is not aligned for its element type"
        )))
    } else {
        Ok(())
    }
}

/// A slice of `len` elements starting at `p` (which may be NULL when `len` is 0).
///
/// # Safety
/// `p` must point to `len` readable elements when `len > 0`.
pub(crate) unsafe fn slice<'a, T>(p: *const T, len: usize, what: &str) -> FfiResult<&'a [T]> {
    if len == 0 && p.is_null() {
        return Ok(&[]);
    }
    check_ptr(p, what)?;
    if len
        .checked_mul(size_of::<T>())
        .map_or(true, |b| b > isize::MAX as usize)
    {
        return Err(overflow(what));
    }
    // SAFETY: p is non-NULL and aligned (checked), the byte size fits in
    // isize (checked), and p points to len readable elements (contract).
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// A row-major view with a row stride (0 means n_cols).
///
/// # Safety
/// `p` must point to `(n_rows - 1) * row_stride + n_cols` readable elements.
pub(crate) unsafe fn dense_view<'a, F>(
    p: *const F,
    n_rows: usize,
    n_cols: usize,
    row_stride: usize,
    what: &str,
) -> FfiResult<ArrayView2<'a, F>> {
    check_ptr(p, what)?;
    let stride = if row_stride == 0 { n_cols } else { row_stride };
    if stride < n_cols {
        return Err(Failure::arg(format!(
            "{what}: row_stride {stride} is smaller than the number of columns {n_cols}"
        )));
    }
    let extent = if n_rows == 0 || n_cols == 0 {
        Some(0)
    } else {
        (n_rows - 1)
            .checked_mul(stride)
            .and_then(|v| v.checked_add(n_cols))
    };
    let extent = extent.ok_or_else(|| overflow(what))?;
    if extent
        .checked_mul(size_of::<F>())
        .map_or(true, |b| b > isize::MAX as usize)
        || n_rows.checked_mul(n_cols).is_none()
    {
        return Err(overflow(what));
    }
    // SAFETY: p is non-NULL and aligned (checked), the extent fits in isize
    // (checked), and p points to `extent` readable elements (contract).
    Ok(unsafe { ArrayView2::from_shape_ptr((n_rows, n_cols).strides((stride, 1)), p) })
}

/// A data matrix as passed through the ABI.
pub(crate) enum Matrix<F> {
    Dense {
        ptr: *const F,
        n_rows: usize,
        n_cols: usize,
        row_stride: usize,
    },
    Csr {
        indptr: *const usize,
        indices: *const usize,
        data: *const F,
        nnz: usize,
        n_rows: usize,
        n_cols: usize,
    },
}

impl<F: NmfFloat> Matrix<F> {
    pub(crate) fn shape(&self) -> (usize, usize) {
        match *self {
            Matrix::Dense { n_rows, n_cols, .. } | Matrix::Csr { n_rows, n_cols, .. } => {
                (n_rows, n_cols)
            }
        }
    }

    /// Check and view the caller's arrays.
    ///
    /// # Safety
    /// The pointers must point to arrays of the sizes given.
    pub(crate) unsafe fn input<'a>(&self, what: &str) -> FfiResult<Input<'a, F>> {
        match *self {
            Matrix::Dense {
                ptr,
                n_rows,
                n_cols,
                row_stride,
            } => {
                // SAFETY: this function's contract.
                let view = unsafe { dense_view(ptr, n_rows, n_cols, row_stride, what) }?;
                Ok(Input::Dense(view))
            }
            Matrix::Csr {
                indptr,
                indices,
                data,
                nnz,
                n_rows,
                n_cols,
            } => {
                check_ptr(indptr, &format!("{what} indptr"))?;
                let len = n_rows.checked_add(1).ok_or_else(|| overflow(what))?;
                // SAFETY: this function's contract (indptr has n_rows + 1
                // entries, indices and data nnz).
                let (indptr, indices, data) = unsafe {
                    (
                        slice(indptr, len, &format!("{what} indptr"))?,
                        slice(indices, nnz, &format!("{what} indices"))?,
                        slice(data, nnz, &format!("{what} data"))?,
                    )
                };
                Ok(Input::Csr(CsrView::new(
                    n_rows, n_cols, indptr, indices, data,
                )?))
            }
        }
    }

    /// The matrix as a dense array (for inverse_transform of a CSR W).
    ///
    /// # Safety
    /// As [`input`](Self::input).
    pub(crate) unsafe fn to_dense(&self, what: &str) -> FfiResult<Array2<F>> {
        // SAFETY: this function's contract.
        match unsafe { self.input(what) }? {
            Input::Dense(v) => Ok(v.to_owned()),
            Input::Csr(c) => {
                let mut a = Array2::zeros((c.n_rows(), c.n_cols()));
                for i in 0..c.n_rows() {
                    let (cols, vals) = c.row(i);
                    for (&j, &v) in cols.iter().zip(vals) {
                        a[(i, j)] = v;
                    }
                }
                Ok(a)
            }
        }
    }
}

/// Custom W (n_samples × k) and H (k × n_features), C-contiguous, either may be NULL.
pub(crate) struct InitArrays<F> {
    pub(crate) w: *const F,
    pub(crate) h: *const F,
    pub(crate) n_components: usize,
}

type InitViews<'a, F> = (Option<ArrayView2<'a, F>>, Option<ArrayView2<'a, F>>);

impl<F: NmfFloat> InitArrays<F> {
    /// No custom W/H.
    pub(crate) fn none() -> Self {
        InitArrays {
            w: std::ptr::null(),
            h: std::ptr::null(),
            n_components: 0,
        }
    }

    fn given(&self) -> bool {
        !self.w.is_null() || !self.h.is_null()
    }

    /// # Safety
    /// Non-NULL pointers must point to n_samples × k and k × n_features elements.
    unsafe fn views<'a>(&self, n_samples: usize, n_features: usize) -> FfiResult<InitViews<'a, F>> {
        if !self.given() {
            return Ok((None, None));
        }
        let k = self.n_components;
        if k == 0 {
            return Err(Failure::arg(
                "init_n_components must be >= 1 (the number of columns of w_init and rows of h_init) when w_init or h_init is given",
            ));
        }
        let w = if self.w.is_null() {
            None
        } else {
            // SAFETY: this function's contract.
            Some(unsafe { dense_view(self.w, n_samples, k, k, "w_init") }?)
        };
        let h = if self.h.is_null() {
            None
        } else {
            // SAFETY: this function's contract.
            Some(unsafe { dense_view(self.h, k, n_features, n_features, "h_init") }?)
        };
        Ok((w, h))
    }
}

/// A caller's output buffer.
pub(crate) struct Out<F> {
    pub(crate) ptr: *mut F,
    pub(crate) len: usize,
    pub(crate) what: &'static str,
}

impl<F: Copy> Out<F> {
    fn check_ptr(&self) -> FfiResult {
        check_ptr(self.ptr as *const F, self.what)
    }

    /// The buffer must hold `rows × cols` elements.
    fn check_len(&self, rows: usize, cols: usize, shape: &str) -> FfiResult {
        let needed = rows.checked_mul(cols).ok_or_else(|| overflow(self.what))?;
        if self.len < needed {
            return Err(Failure::new(
                NmfStatus::NMF_ERR_BUFFER_LENGTH,
                format!(
                    "{} has length {} but the result needs {needed} elements ({shape} = {rows} x {cols})",
                    self.what, self.len
                ),
            ));
        }
        Ok(())
    }

    /// Copy `a` in row-major order into the buffer.
    ///
    /// # Safety
    /// The buffer must hold `len` writable elements.
    unsafe fn write(&self, a: ArrayView2<F>) -> FfiResult {
        self.check_len(a.nrows(), a.ncols(), "result")?;
        // SAFETY: ptr is checked non-NULL and aligned by the callers
        // (check_ptr), holds len >= a.len() elements (checked above and by
        // the contract) and does not overlap the inputs.
        let dst = unsafe { std::slice::from_raw_parts_mut(self.ptr, a.len()) };
        for (d, s) in dst.iter_mut().zip(a.iter()) {
            *d = *s;
        }
        Ok(())
    }
}

/// The handle behind a pointer.
///
/// # Safety
/// `p` must be NULL or a live handle from `nmf_create`.
pub(crate) unsafe fn model_ref<'a>(p: *const NmfModel) -> FfiResult<&'a NmfModel> {
    check_ptr(p, "model")?;
    // SAFETY: non-NULL and aligned (checked), a live handle (contract).
    Ok(unsafe { &*p })
}

/// Read one value of a model into `*out`: the handle is checked, then
/// `out`, then `read` runs under the handle's shared lock.
///
/// # Safety
/// `model` must be NULL or a live handle; `out` NULL or writable for a `T`.
pub(crate) unsafe fn read_into<T>(
    model: *const NmfModel,
    out: *mut T,
    read: impl FnOnce(&State) -> FfiResult<T>,
) -> FfiResult {
    // SAFETY: this function's contract.
    let model = unsafe { model_ref(model) }?;
    check_ptr(out as *const T, "out")?;
    let v = read(&model.read())?;
    // SAFETY: non-NULL and aligned (checked), writable (contract).
    unsafe { out.write(v) };
    Ok(())
}

// ---------------------------------------------------------------------------
// The arguments of the data calls, as the exports receive them

/// A dense row-major matrix argument (`row_stride` 0 = `n_cols`).
pub(crate) fn dense_in<F>(
    ptr: *const F,
    n_rows: usize,
    n_cols: usize,
    row_stride: usize,
) -> Matrix<F> {
    Matrix::Dense {
        ptr,
        n_rows,
        n_cols,
        row_stride,
    }
}

/// A CSR matrix argument.
pub(crate) fn csr_in<F>(
    indptr: *const usize,
    indices: *const usize,
    data: *const F,
    nnz: usize,
    n_rows: usize,
    n_cols: usize,
) -> Matrix<F> {
    Matrix::Csr {
        indptr,
        indices,
        data,
        nnz,
        n_rows,
        n_cols,
    }
}

/// Custom W and H arguments (either may be NULL).
pub(crate) fn init_in<F>(w: *const F, h: *const F, n_components: usize) -> InitArrays<F> {
    InitArrays { w, h, n_components }
}

/// An output buffer argument of `len` elements, named `what` in errors.
pub(crate) fn out_buf<F>(ptr: *mut F, len: usize, what: &'static str) -> Out<F> {
    Out { ptr, len, what }
}

/// Number of components a fit will produce (to check the output buffer
/// before fitting; the estimator's own rule).
fn expected_k(
    params: &MiniBatchNmfParams,
    n_features: usize,
    init: &InitArrays<impl NmfFloat>,
) -> usize {
    match params.get_n_components() {
        NComponents::Fixed(k) => k,
        NComponents::All => n_features,
        NComponents::Auto if params.get_init() == Init::Custom && !init.h.is_null() => {
            init.n_components
        }
        NComponents::Auto => n_features,
    }
}

// ---------------------------------------------------------------------------
// Bodies of the data calls

/// Run the checks a collective call makes before the estimator's own: if
/// one fails on a distributed model, take part in the preflight exchange
/// with the error flag set, so the other ranks fail too instead of waiting.
fn collective<T>(state: &State, checks: impl FnOnce() -> FfiResult<T>) -> FfiResult<T> {
    checks().inspect_err(|_| {
        if let Some(r) = &state.reducer {
            // The local failure is what this rank reports.
            let _ = dist::abort(Comm::new(Some(&**r)));
        }
    })
}

/// fit / fit_transform: a fresh estimator of dtype F replaces the model on
/// success (so a refit may change the dtype, as scikit-learn allows).
///
/// # Safety
/// Pointers as documented on the exports.
pub(crate) unsafe fn fit<F: FfiFloat>(
    model: *const NmfModel,
    x: Matrix<F>,
    init: InitArrays<F>,
    out: Option<Out<F>>,
) -> FfiResult {
    // SAFETY: the pointers are as the exports document (this function's contract).
    let model = unsafe { model_ref(model) }?;
    let mut state = model.write();
    let (n, m) = x.shape();
    let (input, w0, h0) = collective(&state, || {
        if let Some(o) = &out {
            o.check_ptr()?;
            o.check_len(
                n,
                expected_k(&state.params, m, &init),
                "n_samples x n_components",
            )?;
        }
        // SAFETY: the pointers are as the exports document (this function's contract).
        let (input, (w0, h0)) = unsafe { (x.input("x")?, init.views(n, m)?) };
        Ok((input, w0, h0))
    })?;
    let mut est = collective(&state, || Ok(MiniBatchNmf::<F>::new(state.params.clone())?))?;
    est.set_reducer(state.reducer.clone());
    let w = est.fit_transform_with(
        input,
        FitArgs {
            w: w0,
            h: h0,
            feature_names: None,
        },
    )?;
    if let Some(o) = &out {
        // SAFETY: the pointers are as the exports document (this function's contract).
        unsafe { o.write(w.view()) }?;
    }
    // A generator-state random_state has moved on (see ffi::random_state).
    state.params = est.params().clone();
    state.est = F::wrap(est);
    Ok(())
}

/// partial_fit: the first call creates the estimator in dtype F.
///
/// # Safety
/// Pointers as documented on the exports.
pub(crate) unsafe fn partial_fit<F: FfiFloat>(
    model: *const NmfModel,
    x: Matrix<F>,
    init: InitArrays<F>,
) -> FfiResult {
    // SAFETY: the pointers are as the exports document (this function's contract).
    let model = unsafe { model_ref(model) }?;
    let mut state = model.write();
    let (n, m) = x.shape();
    let (input, w0, h0) = collective(&state, || {
        // SAFETY: the pointers are as the exports document (this function's contract).
        let (input, (w0, h0)) = unsafe { (x.input("x")?, init.views(n, m)?) };
        Ok((input, w0, h0))
    })?;
    let args = FitArgs {
        w: w0,
        h: h0,
        feature_names: None,
    };
    if let Est::Unfitted = state.est {
        let mut est = collective(&state, || Ok(MiniBatchNmf::<F>::new(state.params.clone())?))?;
        est.set_reducer(state.reducer.clone());
        est.partial_fit_with(input, args)?;
        state.params = est.params().clone();
        state.est = F::wrap(est);
    } else {
        collective(&state, || F::get(&state.est).map(|_| ()))?;
        F::get_mut(&mut state.est)?.partial_fit_with(input, args)?;
    }
    Ok(())
}

/// transform into `out` (n_samples × n_components).
///
/// # Safety
/// Pointers as documented on the exports.
pub(crate) unsafe fn transform<F: FfiFloat>(
    model: *const NmfModel,
    x: Matrix<F>,
    out: Out<F>,
) -> FfiResult {
    // SAFETY: the pointers are as the exports document (this function's contract).
    let model = unsafe { model_ref(model) }?;
    let state = model.read();
    let (input, est) = collective(&state, || {
        out.check_ptr()?;
        // SAFETY: the pointers are as the exports document (this function's contract).
        let input = unsafe { x.input("x") }?;
        let est = F::get(&state.est)?;
        let k = est.n_components().ok_or_else(not_fitted)?;
        out.check_len(x.shape().0, k, "n_samples x n_components")?;
        Ok((input, est))
    })?;
    let w = est.transform(input)?;
    // SAFETY: the pointers are as the exports document (this function's contract).
    unsafe { out.write(w.view()) }
}

/// inverse_transform of W (n_samples × n_components) into `out` (n_samples × n_features).
///
/// # Safety
/// Pointers as documented on the exports.
pub(crate) unsafe fn inverse_transform<F: FfiFloat>(
    model: *const NmfModel,
    w: Matrix<F>,
    out: Out<F>,
) -> FfiResult {
    // SAFETY: the pointers are as the exports document (this function's contract).
    let model = unsafe { model_ref(model) }?;
    out.check_ptr()?;
    // Validate the arrays before taking the lock (CSR W is densified: it is
    // n_samples × n_components, the size of a transform's output).
    let dense;
    let view = match w {
        // SAFETY: the pointers are as the exports document (this function's contract).
        Matrix::Dense { .. } => match unsafe { w.input("w") }? {
            Input::Dense(v) => v,
            Input::Csr(_) => unreachable!("dense matrix gives a dense view"),
        },
        Matrix::Csr { .. } => {
            // SAFETY: the pointers are as the exports document (this function's contract).
            dense = unsafe { w.to_dense("w") }?;
            dense.view()
        }
    };
    let state = model.read();
    let est = F::get(&state.est)?;
    let m = est.n_features_in().ok_or_else(not_fitted)?;
    out.check_len(view.nrows(), m, "n_samples x n_features")?;
    let x = est.inverse_transform(view)?;
    // SAFETY: the pointers are as the exports document (this function's contract).
    unsafe { out.write(x.view()) }
}

/// H copied into `out` (n_components × n_features).
///
/// # Safety
/// Pointers as documented on the exports.
pub(crate) unsafe fn components<F: FfiFloat>(model: *const NmfModel, out: Out<F>) -> FfiResult {
    // SAFETY: the pointers are as the exports document (this function's contract).
    let model = unsafe { model_ref(model) }?;
    out.check_ptr()?;
    let state = model.read();
    let h = F::get(&state.est)?.components()?;
    out.check_len(h.nrows(), h.ncols(), "n_components x n_features")?;
    // SAFETY: the pointers are as the exports document (this function's contract).
    unsafe { out.write(h) }
}
