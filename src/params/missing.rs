//! The extension parameter `missing`: which entries of X are unknown.
//!
//! - `"error"` (default): scikit-learn's behaviour, NaN is refused;
//! - `"nan"`: NaN entries (of dense X, or stored in a CSR matrix) are
//!   missing;
//! - `"unstored"`: for CSR X, the entries that are not stored are missing
//!   (stored zeros are observed zeros: ratings); refused for dense X.
//!
//! Missing entries count nowhere: the loss, every update, the
//! reconstruction error and `transform` run over the observed entries only
//! (NMF weighted by a 0/1 mask). The mask is never stored: it is read off
//! each batch (NaN positions, the stored pattern).

use super::{invalid, MiniBatchNmfParams, ParamError};

/// Which entries of X are missing (the `missing` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Missing {
    /// NaN is refused with scikit-learn's message (the default).
    #[default]
    Error,
    /// NaN entries (dense, or stored in a CSR matrix) are missing.
    Nan,
    /// CSR only: unstored entries are missing, stored zeros observed.
    Unstored,
}

impl Missing {
    /// The parameter's spelling (`"error"`, `"nan"`, `"unstored"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Missing::Error => "error",
            Missing::Nan => "nan",
            Missing::Unstored => "unstored",
        }
    }
    /// Whether some entries may be missing.
    pub fn is_masked(&self) -> bool {
        *self != Missing::Error
    }
}

impl std::str::FromStr for Missing {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        match s {
            "error" => Ok(Missing::Error),
            "nan" => Ok(Missing::Nan),
            "unstored" => Ok(Missing::Unstored),
            other => Err(invalid(
                "missing",
                format!("got {other:?}, expected 'error', 'nan' or 'unstored'"),
            )),
        }
    }
}

impl MiniBatchNmfParams {
    /// Which entries of X are missing: [`Missing::Error`] (NaN refused,
    /// scikit-learn's behaviour, the default), [`Missing::Nan`] or
    /// [`Missing::Unstored`] (CSR).
    ///
    /// ```
    /// use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams, Init, Missing};
    /// let x = ndarray::array![[1.0, f64::NAN, 2.0], [0.5, 1.0, 0.0], [2.0, 0.1, f64::NAN]];
    /// let params = MiniBatchNmfParams::new()
    ///     .n_components(1)
    ///     .init(Init::Random)
    ///     .random_state(Some(0))
    ///     .missing(Missing::Nan);
    /// let mut model = MiniBatchNmf::<f64>::new(params)?;
    /// let w = model.fit_transform(&x)?;
    /// let completed = model.inverse_transform(w.view())?;
    /// assert!(completed.iter().all(|v| v.is_finite()));
    /// let mut p = MiniBatchNmfParams::new();
    /// p.set_param("missing", "unstored")?;
    /// assert_eq!(p.get_param("missing")?, "unstored");
    /// # Ok::<(), minibatchnmf::Error>(())
    /// ```
    #[must_use]
    pub fn missing(mut self, missing: Missing) -> Self {
        self.missing = missing;
        self
    }
    /// `missing` as set.
    pub fn get_missing(&self) -> Missing {
        self.missing
    }
}

impl MiniBatchNmfParams {
    /// The checks of `missing` (part of `check`): every solver takes
    /// missing values (cd's memory is checked when a fit starts).
    pub(super) fn check_missing(&self) -> Result<(), ParamError> {
        Ok(())
    }
}
