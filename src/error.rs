//! The crate's error type: every fallible entry point returns [`Error`].

use crate::input::CsrError;
use crate::params::ParamError;
use std::path::PathBuf;

/// Why a call failed. A failed call leaves the estimator as it was.
///
/// New variants may be added in minor releases (`#[non_exhaustive]`): match
/// with a wildcard arm. Compare errors with `matches!`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hyper-parameter is out of range.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A CSR matrix is malformed.
    #[error(transparent)]
    Csr(#[from] CsrError),
    /// X (or W/H) holds a negative value.
    #[error("negative values in data passed to {whom}")]
    Negative {
        /// Which input, as scikit-learn names it.
        whom: String,
    },
    /// X (or W/H) holds NaN or infinity.
    #[error("input {whom} contains NaN or infinity")]
    NotFinite {
        /// Which input.
        whom: String,
    },
    /// beta <= 0 with a zero in X.
    #[error(
        "when beta_loss <= 0 and X contains zeros, the solver may diverge; \
         add small values to X or use a positive beta_loss"
    )]
    ZerosWithNonPositiveBeta,
    /// An array has the wrong shape.
    #[error("{whom}: {detail}")]
    Shape {
        /// Which input.
        whom: String,
        /// Expected and actual dimensions.
        detail: String,
    },
    /// A custom W or H is all zeros.
    #[error("array passed to {whom} is full of zeros")]
    AllZeros {
        /// Which input.
        whom: String,
    },
    /// The input has no rows or no columns.
    #[error("{whom}: found array with {n_samples} sample(s) and {n_features} feature(s); at least one of each is required")]
    Empty {
        /// Which input.
        whom: String,
        /// Rows.
        n_samples: usize,
        /// Columns.
        n_features: usize,
    },
    /// transform/inverse_transform before fit.
    #[error("this MiniBatchNMF instance is not fitted yet; call fit, fit_transform or partial_fit first")]
    NotFitted,
    /// X has a different number of features than the fitted model.
    #[error("X has {got} features, but MiniBatchNMF is expecting {expected} features as input")]
    FeatureMismatch {
        /// Features of the model.
        expected: usize,
        /// Features of X.
        got: usize,
    },
    /// Feature names given do not match those seen at fit.
    #[error("feature names do not match those passed during fit: {0}")]
    FeatureNames(String),
    /// init='nndsvd*' with too many components, custom init without W/H, …
    #[error("{0}")]
    Init(String),
    /// The factorization produced NaN or infinity (e.g. an all-zero X, or
    /// values so large that W·H overflows); the model is left unchanged.
    #[error("the factorization diverged: {0}")]
    Diverged(String),
    /// A LAPACK routine failed (e.g. the SVD of the init did not converge).
    #[error("linear algebra failure: {0}")]
    Linalg(String),
    /// Reading or writing a model file failed (missing file, permissions,
    /// disk full, …); a save that fails leaves any previous file intact.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// "read" or "write".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error (its kind and message).
        #[source]
        source: std::io::Error,
    },
    /// A model file (or buffer) is truncated, altered or inconsistent.
    #[error("corrupt or truncated model file: {detail}")]
    CorruptModel {
        /// What is wrong with it.
        detail: String,
    },
    /// A model file this library cannot read: another program's safetensors
    /// file, or a format version newer than this library knows.
    #[error("unsupported model file: {detail}")]
    UnsupportedFormat {
        /// Why it is not supported.
        detail: String,
    },
    /// A model file of one dtype loaded as the other
    /// (use [`crate::persist::load_any`] when the dtype is not known).
    #[error("the model file holds a {found} model but was loaded as {expected}; load it as {found} or with persist::load_any")]
    ModelDtype {
        /// The dtype asked for ("float32"/"float64").
        expected: &'static str,
        /// The dtype in the file.
        found: String,
    },
    /// A distributed call failed as a whole: the all-reduce hook reported
    /// an error, another worker rejected its input, or the workers'
    /// configuration (ranks, shards) is inconsistent. The model is unchanged.
    #[error("distributed reduce failed: {0}")]
    Reduce(String),
    /// A data file cannot be read as X: missing, unreadable, not in a known
    /// format, truncated or inconsistent (see [`crate::io`]).
    #[error("{path}: {detail}")]
    Source {
        /// The file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
