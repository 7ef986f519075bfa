//! Hyper-parameters: the user-facing builder ([`MiniBatchNmfParams`]) and the
//! checked form ([`ValidParams`]) that the solver accepts.
//!
//! Parameters are validated once, up front, into a type that cannot hold an
//! invalid value (linfa's pattern), so the solver never re-checks them.
//! Defaults and ranges are scikit-learn's (`MiniBatchNMF` of 1.1 with the
//! constraints of later releases, as scikit-learn 1.9.1 checks them).

use crate::rng::RandomState;
use std::fmt;

mod missing;
mod solver;
pub use missing::Missing;
pub use solver::{CdStats, Solver, DEFAULT_CD_H_SWEEPS, DEFAULT_CD_W_SWEEPS};

/// How many components to extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NComponents {
    /// scikit-learn's `None`: keep all features (k = n_features).
    All,
    /// scikit-learn's `'auto'` (default since 1.6): with `init = Custom` k is
    /// read from H's rows, otherwise k = n_features.
    #[default]
    Auto,
    /// An explicit number of components (>= 1).
    Fixed(usize),
}

/// Initialisation method for W and H.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// scikit-learn's `None`: `Nndsvda` if k <= min(n_samples, n_features),
    /// otherwise `Random`.
    #[default]
    Auto,
    /// Non-negative Gaussian draws scaled by sqrt(mean(X) / k).
    Random,
    /// Non-negative double SVD (good for sparse results).
    Nndsvd,
    /// NNDSVD with zeros filled with mean(X).
    Nndsvda,
    /// NNDSVD with zeros filled with small random values.
    Nndsvdar,
    /// W and H supplied by the caller.
    Custom,
}

impl Init {
    /// scikit-learn's spelling (`None` for [`Init::Auto`]).
    pub fn as_str(&self) -> &'static str {
        match self {
            Init::Auto => "None",
            Init::Random => "random",
            Init::Nndsvd => "nndsvd",
            Init::Nndsvda => "nndsvda",
            Init::Nndsvdar => "nndsvdar",
            Init::Custom => "custom",
        }
    }
}

impl std::str::FromStr for Init {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        Ok(match s {
            "None" | "none" | "auto" | "" => Init::Auto,
            "random" => Init::Random,
            "nndsvd" => Init::Nndsvd,
            "nndsvda" => Init::Nndsvda,
            "nndsvdar" => Init::Nndsvdar,
            "custom" => Init::Custom,
            other => {
                return Err(ParamError::Invalid {
                    name: "init",
                    reason: format!(
                        "got {other:?}, expected one of None, 'random', 'nndsvd', 'nndsvda', 'nndsvdar', 'custom'"
                    ),
                })
            }
        })
    }
}

/// The beta-divergence to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum BetaLoss {
    /// beta = 2 (half the squared Frobenius norm).
    #[default]
    Frobenius,
    /// beta = 1 (generalised Kullback-Leibler divergence).
    KullbackLeibler,
    /// beta = 0 (Itakura-Saito divergence; X must be strictly positive).
    ItakuraSaito,
    /// Any other real beta.
    Beta(f64),
}

impl BetaLoss {
    /// The numeric beta.
    pub fn beta(&self) -> f64 {
        match *self {
            BetaLoss::Frobenius => 2.0,
            BetaLoss::KullbackLeibler => 1.0,
            BetaLoss::ItakuraSaito => 0.0,
            BetaLoss::Beta(b) => b,
        }
    }
}

impl std::str::FromStr for BetaLoss {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        match s {
            "frobenius" => Ok(BetaLoss::Frobenius),
            "kullback-leibler" => Ok(BetaLoss::KullbackLeibler),
            "itakura-saito" => Ok(BetaLoss::ItakuraSaito),
            other => other.parse::<f64>().map(BetaLoss::Beta).map_err(|_| ParamError::Invalid {
                name: "beta_loss",
                reason: format!(
                    "got {other:?}, expected 'frobenius', 'kullback-leibler', 'itakura-saito' or a number"
                ),
            }),
        }
    }
}

/// Regularisation constant of H.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum AlphaH {
    /// scikit-learn's `'same'`: take alpha_W's value.
    #[default]
    Same,
    /// An explicit value (>= 0).
    Value(f64),
}

/// Errors in hyper-parameters; each names the parameter at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParamError {
    /// A parameter outside its allowed range or set.
    #[error("invalid parameter `{name}`: {reason}")]
    Invalid {
        /// The parameter's scikit-learn name.
        name: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// `set_param` was given a name that is not a parameter.
    #[error("unknown parameter `{0}`")]
    Unknown(String),
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ParamError {
    ParamError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// Unchecked hyper-parameters of [`crate::MiniBatchNmf`], with scikit-learn's
/// defaults. Build with the chained setters, then [`check`](Self::check).
///
/// ```
/// use minibatchnmf::{MiniBatchNmfParams, Init, BetaLoss};
/// let params = MiniBatchNmfParams::new()
///     .n_components(5)
///     .init(Init::Nndsvda)
///     .beta_loss(BetaLoss::KullbackLeibler)
///     .batch_size(256)
///     .random_state(Some(0));
/// let checked = params.check().unwrap();
/// assert_eq!(checked.beta(), 1.0);
/// assert!(MiniBatchNmfParams::new().batch_size(0).check().is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MiniBatchNmfParams {
    pub(crate) n_components: NComponents,
    pub(crate) init: Init,
    pub(crate) batch_size: usize,
    pub(crate) beta_loss: BetaLoss,
    pub(crate) tol: f64,
    pub(crate) max_no_improvement: Option<usize>,
    pub(crate) max_iter: usize,
    pub(crate) alpha_w: f64,
    pub(crate) alpha_h: AlphaH,
    pub(crate) l1_ratio: f64,
    pub(crate) forget_factor: f64,
    pub(crate) fresh_restarts: bool,
    pub(crate) fresh_restarts_max_iter: usize,
    pub(crate) transform_max_iter: Option<usize>,
    pub(crate) random_state: RandomState,
    pub(crate) verbose: bool,
    // Extension parameters (beyond scikit-learn's; see `extension_params`).
    pub(crate) solver: Solver,
    pub(crate) cd_w_sweeps: usize,
    pub(crate) cd_h_sweeps: usize,
    pub(crate) cd_stats: CdStats,
    /// Extension: which entries of X are missing (see [`Missing`]).
    pub(crate) missing: Missing,
    /// Extension (not scikit-learn's): the memory budget of a call (see
    /// [`crate::memory`]); in [`extension_params`](Self::extension_params),
    /// not in [`get_params`](Self::get_params).
    pub(crate) max_memory: crate::memory::MaxMemory,
}

impl Default for MiniBatchNmfParams {
    fn default() -> Self {
        MiniBatchNmfParams {
            n_components: NComponents::Auto,
            init: Init::Auto,
            batch_size: 1024,
            beta_loss: BetaLoss::Frobenius,
            tol: 1e-4,
            max_no_improvement: Some(10),
            max_iter: 200,
            alpha_w: 0.0,
            alpha_h: AlphaH::Same,
            l1_ratio: 0.0,
            forget_factor: 0.7,
            fresh_restarts: false,
            fresh_restarts_max_iter: 30,
            transform_max_iter: None,
            random_state: RandomState::Entropy,
            verbose: false,
            solver: Solver::Mu,
            cd_w_sweeps: DEFAULT_CD_W_SWEEPS,
            cd_h_sweeps: DEFAULT_CD_H_SWEEPS,
            cd_stats: CdStats::Exact,
            missing: Missing::Error,
            max_memory: crate::memory::MaxMemory::Auto,
        }
    }
}

macro_rules! param_accessors {
    ($($(#[$doc:meta])* $field:ident, $getter:ident : $ty:ty;)*) => {
        impl MiniBatchNmfParams {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $field(mut self, value: $ty) -> Self {
                    self.$field = value;
                    self
                }

                $(#[$doc])*
                pub fn $getter(&self) -> $ty {
                    self.$field
                }
            )*
        }
    };
}

param_accessors! {
    /// Initialisation method ([`Init::Auto`] by default).
    init, get_init: Init;
    /// Number of samples per mini-batch (default 1024, >= 1).
    batch_size, get_batch_size: usize;
    /// Beta-divergence to minimise (default Frobenius).
    beta_loss, get_beta_loss: BetaLoss;
    /// Tolerance of the H-change (fit) and W-change (transform) stopping test;
    /// 0 disables it (default 1e-4).
    tol, get_tol: f64;
    /// Consecutive mini-batches without improvement of the smoothed cost
    /// before stopping; None disables it (default Some(10)).
    max_no_improvement, get_max_no_improvement: Option<usize>;
    /// Maximum number of passes over the data (default 200, >= 1).
    max_iter, get_max_iter: usize;
    /// Regularisation constant of W (default 0).
    alpha_w, get_alpha_w: f64;
    /// Regularisation constant of H (default [`AlphaH::Same`]).
    alpha_h, get_alpha_h: AlphaH;
    /// L1 share of the regularisation, in [0, 1] (default 0).
    l1_ratio, get_l1_ratio: f64;
    /// Weight of past batches in the H statistics, in [0, 1] (default 0.7).
    forget_factor, get_forget_factor: f64;
    /// Solve W completely at each step (default false).
    fresh_restarts, get_fresh_restarts: bool;
    /// Iterations of each fresh W solve (default 30, >= 1).
    fresh_restarts_max_iter, get_fresh_restarts_max_iter: usize;
    /// Iterations of the W solve in transform; None means max_iter.
    transform_max_iter, get_transform_max_iter: Option<usize>;
    /// Print progress to stderr.
    verbose, get_verbose: bool;
    /// The memory budget (`max_memory`; see [`MaxMemory`](crate::MaxMemory)).
    max_memory, get_max_memory: crate::memory::MaxMemory;
}

impl MiniBatchNmfParams {
    /// Default parameters (scikit-learn's).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set an explicit number of components.
    #[must_use]
    pub fn n_components(mut self, k: usize) -> Self {
        self.n_components = NComponents::Fixed(k);
        self
    }

    /// Set the number of components as scikit-learn does (None/'auto'/k).
    #[must_use]
    pub fn n_components_mode(mut self, mode: NComponents) -> Self {
        self.n_components = mode;
        self
    }

    /// Where the initialisation draws from: a seed (`Some(0)`, numpy
    /// `RandomState(seed)` semantics), `None` (OS entropy), or a numpy
    /// generator's state ([`crate::rng::MtState`]), which a fit that
    /// initialises W and H advances as scikit-learn advances a
    /// `RandomState` instance.
    #[must_use]
    pub fn random_state(mut self, value: impl Into<RandomState>) -> Self {
        self.random_state = value.into();
        self
    }

    /// `random_state` as set.
    pub fn get_random_state(&self) -> &RandomState {
        &self.random_state
    }

    /// Number of components as set.
    pub fn get_n_components(&self) -> NComponents {
        self.n_components
    }

    /// Set a numeric beta directly (same as `beta_loss(BetaLoss::Beta(b))`,
    /// but 2, 1 and 0 map to their named losses).
    #[must_use]
    pub fn beta(mut self, beta: f64) -> Self {
        self.beta_loss = if beta == 2.0 {
            BetaLoss::Frobenius
        } else if beta == 1.0 {
            BetaLoss::KullbackLeibler
        } else if beta == 0.0 {
            BetaLoss::ItakuraSaito
        } else {
            BetaLoss::Beta(beta)
        };
        self
    }

    /// Validate into the checked form the solver uses.
    pub fn check(&self) -> Result<ValidParams, ParamError> {
        let p = self;
        if let NComponents::Fixed(0) = p.n_components {
            return Err(invalid(
                "n_components",
                "must be >= 1, None or 'auto', got 0",
            ));
        }
        if p.batch_size < 1 {
            return Err(invalid("batch_size", "must be >= 1, got 0"));
        }
        let beta = p.beta_loss.beta();
        if !beta.is_finite() {
            return Err(invalid(
                "beta_loss",
                format!("must be a finite number, got {beta}"),
            ));
        }
        check_nonneg_finite("tol", p.tol)?;
        if let Some(0) = p.max_no_improvement {
            return Err(invalid("max_no_improvement", "must be >= 1 or None, got 0"));
        }
        if p.max_iter < 1 {
            return Err(invalid("max_iter", "must be >= 1, got 0"));
        }
        check_nonneg_finite("alpha_W", p.alpha_w)?;
        if let AlphaH::Value(a) = p.alpha_h {
            check_nonneg_finite("alpha_H", a)?;
        }
        if !(0.0..=1.0).contains(&p.l1_ratio) {
            return Err(invalid(
                "l1_ratio",
                format!("must be in [0, 1], got {}", p.l1_ratio),
            ));
        }
        if !(0.0..=1.0).contains(&p.forget_factor) {
            return Err(invalid(
                "forget_factor",
                format!("must be in [0, 1], got {}", p.forget_factor),
            ));
        }
        if p.fresh_restarts_max_iter < 1 {
            return Err(invalid("fresh_restarts_max_iter", "must be >= 1, got 0"));
        }
        if let Some(0) = p.transform_max_iter {
            return Err(invalid("transform_max_iter", "must be >= 1 or None, got 0"));
        }
        p.check_extension(beta)?;
        p.check_missing()?;
        Ok(ValidParams(p.clone()))
    }

    /// Set one parameter by its scikit-learn name from a string value, as
    /// `set_params(name=value)` does; `"None"` stands for Python's None.
    ///
    /// ```
    /// use minibatchnmf::MiniBatchNmfParams;
    /// let mut p = MiniBatchNmfParams::new();
    /// p.set_param("beta_loss", "kullback-leibler").unwrap();
    /// p.set_param("max_no_improvement", "None").unwrap();
    /// assert_eq!(p.get_param("beta_loss").unwrap(), "kullback-leibler");
    /// assert!(p.set_param("batch_sise", "3").is_err());
    /// ```
    pub fn set_param(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let none = value == "None" || value == "none";
        match name {
            "n_components" => {
                self.n_components = match value {
                    "None" | "none" => NComponents::All,
                    "auto" => NComponents::Auto,
                    v => NComponents::Fixed(parse(v, "n_components")?),
                }
            }
            "init" => self.init = value.parse()?,
            "batch_size" => self.batch_size = parse(value, "batch_size")?,
            "beta_loss" => self.beta_loss = value.parse()?,
            "tol" => self.tol = parse(value, "tol")?,
            "max_no_improvement" => {
                self.max_no_improvement = if none {
                    None
                } else {
                    Some(parse(value, "max_no_improvement")?)
                }
            }
            "max_iter" => self.max_iter = parse(value, "max_iter")?,
            "alpha_W" => self.alpha_w = parse(value, "alpha_W")?,
            "alpha_H" => {
                self.alpha_h = if value == "same" {
                    AlphaH::Same
                } else {
                    AlphaH::Value(parse(value, "alpha_H")?)
                }
            }
            "l1_ratio" => self.l1_ratio = parse(value, "l1_ratio")?,
            "forget_factor" => self.forget_factor = parse(value, "forget_factor")?,
            "fresh_restarts" => self.fresh_restarts = parse_bool(value, "fresh_restarts")?,
            "fresh_restarts_max_iter" => {
                self.fresh_restarts_max_iter = parse(value, "fresh_restarts_max_iter")?
            }
            "transform_max_iter" => {
                self.transform_max_iter = if none {
                    None
                } else {
                    Some(parse(value, "transform_max_iter")?)
                }
            }
            "random_state" => self.random_state = value.parse()?,
            "verbose" => self.verbose = parse_bool(value, "verbose")?,
            // Extension: the memory budget ("auto", bytes, "512M", "4G").
            "max_memory" => {
                self.max_memory = value.parse().map_err(|reason| ParamError::Invalid {
                    name: "max_memory",
                    reason,
                })?
            }
            // Extension: which entries are missing ("error", "nan", "unstored").
            "missing" => self.missing = value.parse()?,
            other => {
                if !self.set_extension(other, value)? {
                    return Err(ParamError::Unknown(other.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Read one parameter by its scikit-learn name (or an extension
    /// parameter's, see [`extension_params`](Self::extension_params)),
    /// formatted as [`set_param`](Self::set_param) accepts it.
    pub fn get_param(&self, name: &str) -> Result<String, ParamError> {
        Ok(self
            .get_params()
            .into_iter()
            .chain(self.extension_params())
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ParamError::Unknown(name.to_string()))?
            .1)
    }

    /// The parameters beyond scikit-learn's signature, by name, formatted
    /// as [`set_param`](Self::set_param) accepts them. They are not part of
    /// [`get_params`](Self::get_params) (scikit-learn's list) nor of the C
    /// `NmfParams`; C reaches them with `nmf_set_param`/`nmf_get_param`.
    pub fn extension_params(&self) -> Vec<(&'static str, String)> {
        let mut v = Vec::new();
        v.extend(self.solver_params());
        v.push(("max_memory", self.max_memory.to_string()));
        v.push(("missing", self.missing.as_str().to_string()));
        v
    }

    /// These parameters with the extension parameters of `other` (the C
    /// ABI's `nmf_set_params` replaces scikit-learn's parameters only).
    pub(crate) fn with_extensions_of(mut self, other: &Self) -> Result<Self, ParamError> {
        for (name, value) in other.extension_params() {
            self.set_param(name, &value)?;
        }
        Ok(self)
    }

    /// Every parameter by its scikit-learn name (scikit-learn's `get_params`).
    pub fn get_params(&self) -> Vec<(&'static str, String)> {
        fn opt<T: fmt::Display>(v: Option<T>) -> String {
            v.map_or_else(|| "None".to_string(), |v| v.to_string())
        }
        let beta = match self.beta_loss {
            BetaLoss::Frobenius => "frobenius".to_string(),
            BetaLoss::KullbackLeibler => "kullback-leibler".to_string(),
            BetaLoss::ItakuraSaito => "itakura-saito".to_string(),
            BetaLoss::Beta(b) => format!("{b:?}"),
        };
        vec![
            (
                "n_components",
                match self.n_components {
                    NComponents::All => "None".to_string(),
                    NComponents::Auto => "auto".to_string(),
                    NComponents::Fixed(k) => k.to_string(),
                },
            ),
            ("init", self.init.as_str().to_string()),
            ("batch_size", self.batch_size.to_string()),
            ("beta_loss", beta),
            ("tol", format!("{:?}", self.tol)),
            ("max_no_improvement", opt(self.max_no_improvement)),
            ("max_iter", self.max_iter.to_string()),
            ("alpha_W", format!("{:?}", self.alpha_w)),
            (
                "alpha_H",
                match self.alpha_h {
                    AlphaH::Same => "same".to_string(),
                    AlphaH::Value(a) => format!("{a:?}"),
                },
            ),
            ("l1_ratio", format!("{:?}", self.l1_ratio)),
            ("forget_factor", format!("{:?}", self.forget_factor)),
            ("fresh_restarts", self.fresh_restarts.to_string()),
            (
                "fresh_restarts_max_iter",
                self.fresh_restarts_max_iter.to_string(),
            ),
            ("transform_max_iter", opt(self.transform_max_iter)),
            ("random_state", self.random_state.to_string()),
            ("verbose", self.verbose.to_string()),
        ]
    }
}

fn check_nonneg_finite(name: &'static str, v: f64) -> Result<(), ParamError> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(invalid(
            name,
            format!("must be a finite number >= 0, got {v}"),
        ))
    }
}

fn parse<T: std::str::FromStr>(v: &str, name: &'static str) -> Result<T, ParamError> {
    v.trim()
        .parse()
        .map_err(|_| invalid(name, format!("cannot parse {v:?}")))
}

fn parse_bool(v: &str, name: &'static str) -> Result<bool, ParamError> {
    match v {
        "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        _ => Err(invalid(name, format!("expected a boolean, got {v:?}"))),
    }
}

/// Hyper-parameters that passed [`MiniBatchNmfParams::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidParams(MiniBatchNmfParams);

impl std::ops::Deref for ValidParams {
    type Target = MiniBatchNmfParams;
    fn deref(&self) -> &MiniBatchNmfParams {
        &self.0
    }
}

impl ValidParams {
    /// The numeric beta of the loss.
    pub fn beta(&self) -> f64 {
        self.0.beta_loss.beta()
    }

    /// alpha_H with `Same` resolved.
    pub fn alpha_h_value(&self) -> f64 {
        match self.0.alpha_h {
            AlphaH::Same => self.0.alpha_w,
            AlphaH::Value(a) => a,
        }
    }

    /// Iterations of the W solve in `transform`.
    pub fn transform_iters(&self) -> usize {
        self.0.transform_max_iter.unwrap_or(self.0.max_iter)
    }

    /// The same parameters with `random_state` replaced (a fit moves a
    /// generator state on; any `RandomState` is valid).
    pub(crate) fn with_random_state(mut self, random_state: RandomState) -> Self {
        self.0.random_state = random_state;
        self
    }

    /// The unchecked parameters back.
    pub fn into_inner(self) -> MiniBatchNmfParams {
        self.0
    }
}
