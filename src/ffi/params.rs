//! `NmfParams`, the plain C mirror of [`MiniBatchNmfParams`], and its enums.

use super::status::{Failure, FfiResult};
use crate::params::{AlphaH, Init, MiniBatchNmfParams, NComponents};
use std::ffi::c_int;
use std::mem::{align_of, offset_of, size_of};

/// How `NmfParams.n_components` is read (scikit-learn's `n_components`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmfNComponentsMode {
    /// scikit-learn's `'auto'` (the default): with `init = NMF_INIT_CUSTOM`
    /// the number of components is the number of rows of the H passed in,
    /// otherwise it is n_features.
    NMF_N_COMPONENTS_AUTO = 0,
    /// scikit-learn's `None`: n_components = n_features.
    NMF_N_COMPONENTS_ALL = 1,
    /// Use the value of `NmfParams.n_components` (>= 1).
    NMF_N_COMPONENTS_FIXED = 2,
}

/// Initialisation of W and H (scikit-learn's `init`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NmfInit {
    /// scikit-learn's `None` (the default): nndsvda if n_components <=
    /// min(n_samples, n_features), otherwise random.
    NMF_INIT_AUTO = 0,
    /// Non-negative random matrices scaled by sqrt(mean(X) / n_components).
    NMF_INIT_RANDOM = 1,
    /// Non-negative double singular value decomposition.
    NMF_INIT_NNDSVD = 2,
    /// NNDSVD with zeros filled with the mean of X.
    NMF_INIT_NNDSVDA = 3,
    /// NNDSVD with zeros filled with small random values.
    NMF_INIT_NNDSVDAR = 4,
    /// W and H given by the caller (to fit_transform or the first partial_fit).
    NMF_INIT_CUSTOM = 5,
}

/// Every hyper-parameter of scikit-learn's `MiniBatchNMF`.
///
/// Get the defaults from `nmf_params_default()` and change only what you
/// need. Where scikit-learn accepts `None`, `'auto'` or `'same'`, the value
/// is expressed by an explicit field (`*_is_none`, `alpha_h_is_same`,
/// `n_components_mode`); the numeric field next to it is then ignored.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NmfParams {
    /// How n_components is chosen (default `NMF_N_COMPONENTS_AUTO`).
    pub n_components_mode: NmfNComponentsMode,
    /// Number of components when `n_components_mode == NMF_N_COMPONENTS_FIXED` (>= 1).
    pub n_components: usize,
    /// Initialisation method (default `NMF_INIT_AUTO`, scikit-learn's None).
    pub init: NmfInit,
    /// Rows per mini-batch (default 1024, >= 1).
    pub batch_size: usize,
    /// The beta of the beta-divergence: 2 = 'frobenius' (default),
    /// 1 = 'kullback-leibler', 0 = 'itakura-saito', or any other finite value.
    pub beta_loss: f64,
    /// Tolerance of the relative change of H (fit) and of W (transform);
    /// 0 disables that test (default 1e-4, >= 0).
    pub tol: f64,
    /// Mini-batches without improvement of the smoothed cost before stopping (default 10, >= 1).
    pub max_no_improvement: usize,
    /// true = scikit-learn's `max_no_improvement=None` (no such stopping).
    pub max_no_improvement_is_none: bool,
    /// Maximum number of passes over the data (default 200, >= 1).
    pub max_iter: usize,
    /// Regularisation constant of W (scikit-learn's alpha_W, default 0, >= 0).
    pub alpha_w: f64,
    /// Regularisation constant of H (scikit-learn's alpha_H, >= 0), used
    /// when `alpha_h_is_same` is false.
    pub alpha_h: f64,
    /// true (the default) = scikit-learn's `alpha_H='same'`: use alpha_w.
    pub alpha_h_is_same: bool,
    /// Share of L1 in the regularisation, in [0, 1] (default 0).
    pub l1_ratio: f64,
    /// Weight of past mini-batches in the H statistics, in [0, 1] (default 0.7).
    pub forget_factor: f64,
    /// Solve W completely at each step (default false).
    pub fresh_restarts: bool,
    /// Iterations of each W solve with fresh restarts and in partial_fit (default 30, >= 1).
    pub fresh_restarts_max_iter: usize,
    /// Iterations of the W solve in transform (>= 1), used when
    /// `transform_max_iter_is_none` is false.
    pub transform_max_iter: usize,
    /// true (the default) = scikit-learn's `transform_max_iter=None` (use max_iter).
    pub transform_max_iter_is_none: bool,
    /// Seed of the initialisation (numpy `RandomState(seed)` semantics),
    /// used when `random_state_is_none` is false.
    pub random_state: u32,
    /// true (the default) = scikit-learn's `random_state=None`: a seed from the OS.
    /// A numpy generator state set with `nmf_set_random_state_mt19937` reads
    /// as true here (with `random_state` 0): read it with
    /// `nmf_get_random_state_mt19937`. `nmf_set_params` replaces it by the
    /// seed or None given in this struct.
    pub random_state_is_none: bool,
    /// Print progress to stderr (default false).
    pub verbose: bool,
}

/// The same memory as [`NmfParams`] with the enums and booleans as plain
/// integers, so that values written by a foreign caller are read without
/// undefined behaviour (an out-of-range enum or a bool other than 0/1 is
/// reported, not trusted).
#[repr(C)]
#[derive(Clone, Copy)]
struct RawParams {
    n_components_mode: c_int,
    n_components: usize,
    init: c_int,
    batch_size: usize,
    beta_loss: f64,
    tol: f64,
    max_no_improvement: usize,
    max_no_improvement_is_none: u8,
    max_iter: usize,
    alpha_w: f64,
    alpha_h: f64,
    alpha_h_is_same: u8,
    l1_ratio: f64,
    forget_factor: f64,
    fresh_restarts: u8,
    fresh_restarts_max_iter: usize,
    transform_max_iter: usize,
    transform_max_iter_is_none: u8,
    random_state: u32,
    random_state_is_none: u8,
    verbose: u8,
}

macro_rules! assert_same_layout {
    ($($field:ident),*) => {
        const _: () = {
            assert!(size_of::<NmfParams>() == size_of::<RawParams>());
            assert!(align_of::<NmfParams>() == align_of::<RawParams>());
            assert!(size_of::<NmfInit>() == size_of::<c_int>());
            assert!(size_of::<NmfNComponentsMode>() == size_of::<c_int>());
            assert!(size_of::<bool>() == size_of::<u8>());
            $(assert!(offset_of!(NmfParams, $field) == offset_of!(RawParams, $field));)*
        };
    };
}

assert_same_layout!(
    n_components_mode,
    n_components,
    init,
    batch_size,
    beta_loss,
    tol,
    max_no_improvement,
    max_no_improvement_is_none,
    max_iter,
    alpha_w,
    alpha_h,
    alpha_h_is_same,
    l1_ratio,
    forget_factor,
    fresh_restarts,
    fresh_restarts_max_iter,
    transform_max_iter,
    transform_max_iter_is_none,
    random_state,
    random_state_is_none,
    verbose
);

fn flag(v: u8, name: &str) -> FfiResult<bool> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(Failure::new(
            super::NmfStatus::NMF_ERR_INVALID_PARAM,
            format!("invalid parameter `{name}`: a bool must be 0 or 1, got {other}"),
        )),
    }
}

/// Read and translate a caller's `NmfParams` (not yet range-checked).
///
/// # Safety
/// `p` must be NULL or point to a readable `NmfParams`.
pub(crate) unsafe fn read_params(p: *const NmfParams, what: &str) -> FfiResult<MiniBatchNmfParams> {
    if p.is_null() {
        return Err(Failure::null(what));
    }
    if (p as usize) % align_of::<NmfParams>() != 0 {
        return Err(Failure::arg(format!("{what} is not aligned for NmfParams")));
    }
    // SAFETY: non-NULL and aligned (checked), a readable NmfParams
    // (contract); RawParams has NmfParams' layout with plain integers in
    // place of the enums, so any bits are a valid RawParams.
    let r: RawParams = unsafe { std::ptr::read(p.cast::<RawParams>()) };
    let bad = |name: &str, v: c_int| {
        Failure::new(
            super::NmfStatus::NMF_ERR_INVALID_PARAM,
            format!("invalid parameter `{name}`: unknown enum value {v}"),
        )
    };
    let n_components = match r.n_components_mode {
        0 => NComponents::Auto,
        1 => NComponents::All,
        2 => NComponents::Fixed(r.n_components),
        v => return Err(bad("n_components_mode", v)),
    };
    let init = match r.init {
        0 => Init::Auto,
        1 => Init::Random,
        2 => Init::Nndsvd,
        3 => Init::Nndsvda,
        4 => Init::Nndsvdar,
        5 => Init::Custom,
        v => return Err(bad("init", v)),
    };
    let opt = |is_none: bool, v: usize| if is_none { None } else { Some(v) };
    let p = MiniBatchNmfParams::new()
        .n_components_mode(n_components)
        .init(init)
        .batch_size(r.batch_size)
        .beta(r.beta_loss)
        .tol(r.tol)
        .max_no_improvement(opt(
            flag(r.max_no_improvement_is_none, "max_no_improvement_is_none")?,
            r.max_no_improvement,
        ))
        .max_iter(r.max_iter)
        .alpha_w(r.alpha_w)
        .alpha_h(if flag(r.alpha_h_is_same, "alpha_h_is_same")? {
            AlphaH::Same
        } else {
            AlphaH::Value(r.alpha_h)
        })
        .l1_ratio(r.l1_ratio)
        .forget_factor(r.forget_factor)
        .fresh_restarts(flag(r.fresh_restarts, "fresh_restarts")?)
        .fresh_restarts_max_iter(r.fresh_restarts_max_iter)
        .transform_max_iter(opt(
            flag(r.transform_max_iter_is_none, "transform_max_iter_is_none")?,
            r.transform_max_iter,
        ))
        .random_state(if flag(r.random_state_is_none, "random_state_is_none")? {
            None
        } else {
            Some(r.random_state)
        })
        .verbose(flag(r.verbose, "verbose")?);
    Ok(p)
}

/// The C form of checked-or-not Rust parameters.
pub(crate) fn to_c(p: &MiniBatchNmfParams) -> NmfParams {
    use NmfInit::*;
    use NmfNComponentsMode::*;
    let (n_components_mode, n_components) = match p.get_n_components() {
        NComponents::Auto => (NMF_N_COMPONENTS_AUTO, 0),
        NComponents::All => (NMF_N_COMPONENTS_ALL, 0),
        NComponents::Fixed(k) => (NMF_N_COMPONENTS_FIXED, k),
    };
    let init = match p.get_init() {
        Init::Auto => NMF_INIT_AUTO,
        Init::Random => NMF_INIT_RANDOM,
        Init::Nndsvd => NMF_INIT_NNDSVD,
        Init::Nndsvda => NMF_INIT_NNDSVDA,
        Init::Nndsvdar => NMF_INIT_NNDSVDAR,
        Init::Custom => NMF_INIT_CUSTOM,
    };
    let (alpha_h, alpha_h_is_same) = match p.get_alpha_h() {
        AlphaH::Same => (0.0, true),
        AlphaH::Value(a) => (a, false),
    };
    NmfParams {
        n_components_mode,
        n_components,
        init,
        batch_size: p.get_batch_size(),
        beta_loss: p.get_beta_loss().beta(),
        tol: p.get_tol(),
        max_no_improvement: p.get_max_no_improvement().unwrap_or(0),
        max_no_improvement_is_none: p.get_max_no_improvement().is_none(),
        max_iter: p.get_max_iter(),
        alpha_w: p.get_alpha_w(),
        alpha_h,
        alpha_h_is_same,
        l1_ratio: p.get_l1_ratio(),
        forget_factor: p.get_forget_factor(),
        fresh_restarts: p.get_fresh_restarts(),
        fresh_restarts_max_iter: p.get_fresh_restarts_max_iter(),
        transform_max_iter: p.get_transform_max_iter().unwrap_or(0),
        transform_max_iter_is_none: p.get_transform_max_iter().is_none(),
        // A generator state (nmf_set_random_state_mt19937) has no seed: it
        // reads as random_state_is_none (see the field's documentation).
        random_state: p.get_random_state().seed().unwrap_or(0),
        random_state_is_none: p.get_random_state().seed().is_none(),
        verbose: p.get_verbose(),
    }
}

/// scikit-learn's defaults, written out so that building them cannot fail
/// (a unit test checks they equal `MiniBatchNmfParams::default()`).
pub(crate) const DEFAULT_PARAMS: NmfParams = NmfParams {
    n_components_mode: NmfNComponentsMode::NMF_N_COMPONENTS_AUTO,
    n_components: 0,
    init: NmfInit::NMF_INIT_AUTO,
    batch_size: 1024,
    beta_loss: 2.0,
    tol: 1e-4,
    max_no_improvement: 10,
    max_no_improvement_is_none: false,
    max_iter: 200,
    alpha_w: 0.0,
    alpha_h: 0.0,
    alpha_h_is_same: true,
    l1_ratio: 0.0,
    forget_factor: 0.7,
    fresh_restarts: false,
    fresh_restarts_max_iter: 30,
    transform_max_iter: 0,
    transform_max_iter_is_none: true,
    random_state: 0,
    random_state_is_none: true,
    verbose: false,
};
