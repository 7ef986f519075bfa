//! The `__metadata__` of a model file: a flat map of strings (safetensors
//! allows nothing else).
//!
//! | key | value |
//! |-----|-------|
//! | `format` | `minibatchnmf` |
//! | `format_version` | `1` |
//! | `library_version` | the writing library's version, e.g. `0.1.0` |
//! | `dtype` | `float32` or `float64` |
//! | `checksum` | `crc32c:` + 8 hex digits (see [`super::checksum`]) |
//! | `n_components`, `n_features_in` | k and m (the tensors are k × m) |
//! | `n_steps` | mini-batches processed (`n_steps_`) |
//! | `n_iter`, `reconstruction_err` | set by fit (absent after partial_fit only) |
//! | `frozen.batch_size`, `frozen.rho`, `frozen.beta`, `frozen.transform_max_iter` | values fixed at the first fit/partial_fit |
//! | `param.<name>` | every parameter, as `get_params` and `extension_params` spell it (an extension parameter a file lacks keeps its default; `missing` is written only when not "error") |
//! | `frozen.solver`, `frozen.cd_stats`, `cd.stat_rows` | cd models only (absent: `mu`): the solver and statistics form fixed at the first fit, and the rows the statistics stand for |
//! | `feature_names_in` | JSON array of strings (absent if none were given) |
//! | `last_fit.n_iter`, `last_fit.n_steps`, `last_fit.reconstruction_err`, `last_fit.stop_reason`, `last_fit.warnings` | the last fit's summary (absent after partial_fit only) |
//!
//! Integers are decimal; floats are the shortest decimal that reads back to
//! the same bits (Rust's `{:?}`, which Python's `float()` also reads
//! exactly; a reconstruction error that overflowed is `inf`), and the
//! reader insists on that canonical spelling, so a float
//! that would not round-trip bit for bit is rejected, never approximated.
//! Readers ignore keys they do not know; anything a reader must understand
//! to rebuild the model exactly comes with a new `format_version`.

use super::layout::corrupt;
use super::FORMAT_VERSION;
use crate::error::{Error, Result};
use crate::estimator::{Derived, FitSummary, ModelState, StopReason, Warning};
use crate::float::NmfFloat;
use crate::kernels::Loss;
use crate::params::{CdStats, MiniBatchNmfParams, Missing, Solver, ValidParams};
use ndarray::Array2;
use std::collections::HashMap;

/// The format name.
pub const FORMAT: &str = "format";
/// The format version.
pub const FORMAT_VERSION_KEY: &str = "format_version";
/// The writer's library version.
pub const LIBRARY_VERSION: &str = "library_version";
/// "float32"/"float64".
pub const DTYPE: &str = "dtype";
/// The checksum.
pub const CHECKSUM: &str = "checksum";
const N_COMPONENTS: &str = "n_components";
const N_FEATURES_IN: &str = "n_features_in";
const N_STEPS: &str = "n_steps";
const N_ITER: &str = "n_iter";
const RECONSTRUCTION_ERR: &str = "reconstruction_err";
const FEATURE_NAMES_IN: &str = "feature_names_in";
const BATCH_SIZE: &str = "frozen.batch_size";
const RHO: &str = "frozen.rho";
const BETA: &str = "frozen.beta";
const TRANSFORM_MAX_ITER: &str = "frozen.transform_max_iter";
const SOLVER: &str = "frozen.solver";
const CD_STATS: &str = "frozen.cd_stats";
const STAT_ROWS: &str = "cd.stat_rows";
const PARAM_PREFIX: &str = "param.";
const LAST_N_ITER: &str = "last_fit.n_iter";
const LAST_N_STEPS: &str = "last_fit.n_steps";
const LAST_ERR: &str = "last_fit.reconstruction_err";
const LAST_STOP: &str = "last_fit.stop_reason";
const LAST_WARNINGS: &str = "last_fit.warnings";

fn float(v: f64) -> String {
    format!("{v:?}")
}

fn stop_name(r: StopReason) -> &'static str {
    match r {
        StopReason::MaxIter => "max_iter",
        StopReason::SmallHChange => "small_h_change",
        StopReason::NoImprovement => "no_improvement",
        StopReason::Interrupted => "interrupted",
    }
}

fn warning_name(w: &Warning) -> String {
    match w {
        Warning::Convergence { max_iter } => format!("convergence:{max_iter}"),
        Warning::IgnoredInitialGuess => "ignored_initial_guess".to_string(),
    }
}

/// The metadata of a model (without the checksum).
pub(crate) fn encode<F: NmfFloat>(
    params: &MiniBatchNmfParams,
    s: &ModelState<F>,
    dtype: &str,
) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put(FORMAT, super::FORMAT_NAME.to_string());
    put(FORMAT_VERSION_KEY, FORMAT_VERSION.to_string());
    put(LIBRARY_VERSION, env!("CARGO_PKG_VERSION").to_string());
    put(DTYPE, dtype.to_string());
    put(N_COMPONENTS, s.components.nrows().to_string());
    put(N_FEATURES_IN, s.n_features_in.to_string());
    put(N_STEPS, s.n_steps.to_string());
    if let Some(n) = s.n_iter {
        put(N_ITER, n.to_string());
    }
    if let Some(e) = s.reconstruction_err {
        put(RECONSTRUCTION_ERR, float(e));
    }
    put(BATCH_SIZE, s.derived.batch_size.to_string());
    put(RHO, float(s.derived.rho));
    put(BETA, float(s.derived.loss.beta));
    put(TRANSFORM_MAX_ITER, s.derived.transform_max_iter.to_string());
    if s.derived.solver == Solver::Cd {
        put(SOLVER, s.derived.solver.as_str().to_string());
        put(CD_STATS, s.derived.cd_stats.as_str().to_string());
        put(STAT_ROWS, float(s.stat_rows));
    }
    for (name, value) in params
        .get_params()
        .into_iter()
        .chain(params.extension_params())
    {
        // `missing` is written only when set: files of fits without
        // missing values stay readable by versions that predate it.
        if name == "missing" && value == Missing::Error.as_str() {
            continue;
        }
        put(&format!("{PARAM_PREFIX}{name}"), value);
    }
    if let Some(names) = &s.feature_names_in {
        put(
            FEATURE_NAMES_IN,
            serde_json::to_string(names).expect("strings serialise"),
        );
    }
    if let Some(f) = &s.last_fit {
        put(LAST_N_ITER, f.n_iter.to_string());
        put(LAST_N_STEPS, f.n_steps.to_string());
        put(LAST_ERR, float(f.reconstruction_err));
        put(LAST_STOP, stop_name(f.stop_reason).to_string());
        let w: Vec<String> = f.warnings.iter().map(warning_name).collect();
        put(
            LAST_WARNINGS,
            serde_json::to_string(&w).expect("strings serialise"),
        );
    }
    m
}

/// A required entry.
pub(crate) fn get<'m>(m: &'m HashMap<String, String>, key: &str) -> Result<&'m str> {
    m.get(key)
        .map(String::as_str)
        .ok_or_else(|| corrupt(format!("metadata {key:?} is missing")))
}

/// The format version must be one this library reads.
pub(crate) fn check_version(m: &HashMap<String, String>) -> Result<()> {
    let v = get(m, FORMAT_VERSION_KEY)?;
    let n: u32 = canonical(v, FORMAT_VERSION_KEY)?;
    if n > FORMAT_VERSION {
        let by = m
            .get(LIBRARY_VERSION)
            .map_or(String::new(), |l| format!(" (written by minibatchnmf {l})"));
        return Err(Error::UnsupportedFormat {
            detail: format!(
                "format version {n}{by} is newer than this library ({}) reads (up to {FORMAT_VERSION}); upgrade minibatchnmf",
                env!("CARGO_PKG_VERSION")
            ),
        });
    }
    if n == 0 {
        return Err(corrupt("format version 0 does not exist"));
    }
    Ok(())
}

/// A number in its canonical spelling (so it reads back as it was written).
fn canonical<T: std::str::FromStr + ToString>(s: &str, key: &str) -> Result<T> {
    match s.parse::<T>() {
        Ok(v) if v.to_string() == s => Ok(v),
        _ => Err(corrupt(format!(
            "metadata {key:?} = {s:?} is not a valid integer"
        ))),
    }
}

fn usize_at(m: &HashMap<String, String>, key: &str) -> Result<usize> {
    canonical(get(m, key)?, key)
}

fn positive_at(m: &HashMap<String, String>, key: &str) -> Result<usize> {
    match usize_at(m, key)? {
        0 => Err(corrupt(format!("metadata {key:?} is 0, expected >= 1"))),
        v => Ok(v),
    }
}

/// A finite float in its shortest round-trip spelling.
fn float_at(m: &HashMap<String, String>, key: &str) -> Result<f64> {
    match any_float_at(m, key)? {
        v if v.is_finite() => Ok(v),
        v => Err(corrupt(format!(
            "metadata {key:?} = {v} is not a finite float"
        ))),
    }
}

/// A float in its shortest round-trip spelling, `inf` and `NaN` included:
/// a reconstruction error can overflow for data near the dtype's limits
/// while W and H are fine (found by the ffi_calls fuzz target).
fn any_float_at(m: &HashMap<String, String>, key: &str) -> Result<f64> {
    let s = get(m, key)?;
    match s.parse::<f64>() {
        Ok(v) if float(v) == s => Ok(v),
        _ => Err(corrupt(format!(
            "metadata {key:?} = {s:?} is not a float in shortest round-trip form"
        ))),
    }
}

fn optional<T>(
    m: &HashMap<String, String>,
    key: &str,
    read: impl Fn(&HashMap<String, String>, &str) -> Result<T>,
) -> Result<Option<T>> {
    if m.contains_key(key) {
        read(m, key).map(Some)
    } else {
        Ok(None)
    }
}

fn strings_at(m: &HashMap<String, String>, key: &str) -> Result<Vec<String>> {
    serde_json::from_str(get(m, key)?).map_err(|e| {
        corrupt(format!(
            "metadata {key:?} is not a JSON array of strings: {e}"
        ))
    })
}

/// The parameters, each set by its name and read back to the same text;
/// unknown `param.*` keys are refused (this library could not reproduce the
/// model they describe). scikit-learn's parameters must all be there; a
/// parameter beyond scikit-learn's that a file lacks (written before the
/// parameter existed) keeps its default, which is what that file's fit used.
fn params(m: &HashMap<String, String>) -> Result<ValidParams> {
    let mut p = MiniBatchNmfParams::new();
    let names: Vec<&str> = p.get_params().into_iter().map(|(n, _)| n).collect();
    let extensions: Vec<&str> = p.extension_params().into_iter().map(|(n, _)| n).collect();
    for key in m.keys() {
        if let Some(name) = key.strip_prefix(PARAM_PREFIX) {
            if !names.contains(&name) && !extensions.contains(&name) {
                return Err(Error::UnsupportedFormat {
                    detail: format!(
                        "the model has parameter {name:?}, which this version of minibatchnmf ({}) does not know",
                        env!("CARGO_PKG_VERSION")
                    ),
                });
            }
        }
    }
    let present = extensions
        .iter()
        .filter(|name| m.contains_key(&format!("{PARAM_PREFIX}{name}")));
    for name in names.iter().chain(present) {
        let key = format!("{PARAM_PREFIX}{name}");
        let value = get(m, &key)?;
        p.set_param(name, value)
            .map_err(|e| corrupt(format!("metadata {key:?}: {e}")))?;
        let back = p.get_param(name).expect("a known parameter");
        if back != value {
            return Err(corrupt(format!(
                "metadata {key:?} = {value:?} does not read back exactly (gives {back:?})"
            )));
        }
    }
    p.check()
        .map_err(|e| corrupt(format!("the saved parameters are invalid: {e}")))
}

fn last_fit(m: &HashMap<String, String>) -> Result<Option<FitSummary>> {
    if !m.contains_key(LAST_N_STEPS) {
        return Ok(None);
    }
    let stop_reason = match get(m, LAST_STOP)? {
        "max_iter" => StopReason::MaxIter,
        "small_h_change" => StopReason::SmallHChange,
        "no_improvement" => StopReason::NoImprovement,
        "interrupted" => StopReason::Interrupted,
        other => {
            return Err(corrupt(format!(
                "metadata {LAST_STOP:?} = {other:?} is unknown"
            )))
        }
    };
    let warnings = strings_at(m, LAST_WARNINGS)?
        .into_iter()
        .map(|w| match w.as_str() {
            "ignored_initial_guess" => Ok(Warning::IgnoredInitialGuess),
            s => match s
                .strip_prefix("convergence:")
                .map(|n| canonical(n, LAST_WARNINGS))
            {
                Some(Ok(max_iter)) => Ok(Warning::Convergence { max_iter }),
                _ => Err(corrupt(format!(
                    "unknown warning {s:?} in {LAST_WARNINGS:?}"
                ))),
            },
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(FitSummary {
        n_iter: usize_at(m, LAST_N_ITER)?,
        n_steps: usize_at(m, LAST_N_STEPS)?,
        reconstruction_err: any_float_at(m, LAST_ERR)?,
        stop_reason,
        warnings,
    }))
}

/// Everything but the tensors, read and checked.
pub(crate) struct Decoded {
    pub(crate) n_components: usize,
    pub(crate) n_features_in: usize,
    params: ValidParams,
    n_steps: usize,
    n_iter: Option<usize>,
    reconstruction_err: Option<f64>,
    feature_names_in: Option<Vec<String>>,
    pub(crate) derived: Derived,
    stat_rows: f64,
    last_fit: Option<FitSummary>,
}

/// Read and check the metadata (the version and checksum were checked).
pub(crate) fn decode(m: &HashMap<String, String>) -> Result<Decoded> {
    let n_components = positive_at(m, N_COMPONENTS)?;
    let n_features_in = positive_at(m, N_FEATURES_IN)?;
    let rho = float_at(m, RHO)?;
    if !(0.0..=1.0).contains(&rho) {
        return Err(corrupt(format!("{RHO} = {rho} is outside [0, 1]")));
    }
    let reconstruction_err = optional(m, RECONSTRUCTION_ERR, any_float_at)?;
    if reconstruction_err.is_some_and(|e| e < 0.0) {
        return Err(corrupt("reconstruction_err is negative"));
    }
    let feature_names_in = optional(m, FEATURE_NAMES_IN, strings_at)?;
    let solver: Solver = match m.get(SOLVER) {
        None => Solver::Mu,
        Some(v) => v
            .parse()
            .map_err(|e| corrupt(format!("metadata {SOLVER:?}: {e}")))?,
    };
    let cd_stats: CdStats = match m.get(CD_STATS) {
        None => CdStats::default(),
        Some(v) => v
            .parse()
            .map_err(|e| corrupt(format!("metadata {CD_STATS:?}: {e}")))?,
    };
    let stat_rows = match solver {
        Solver::Mu => 0.0,
        Solver::Cd => match float_at(m, STAT_ROWS)? {
            v if v >= 0.0 => v,
            v => return Err(corrupt(format!("{STAT_ROWS} = {v} is negative"))),
        },
    };
    if let Some(names) = &feature_names_in {
        if names.len() != n_features_in {
            return Err(corrupt(format!(
                "{} feature names for n_features_in = {n_features_in}",
                names.len()
            )));
        }
    }
    Ok(Decoded {
        n_components,
        n_features_in,
        params: params(m)?,
        n_steps: positive_at(m, N_STEPS)?,
        n_iter: optional(m, N_ITER, usize_at)?,
        reconstruction_err,
        feature_names_in,
        derived: Derived {
            batch_size: positive_at(m, BATCH_SIZE)?,
            rho,
            loss: Loss::new(float_at(m, BETA)?),
            transform_max_iter: positive_at(m, TRANSFORM_MAX_ITER)?,
            solver,
            cd_stats,
        },
        stat_rows,
        last_fit: last_fit(m)?,
    })
}

impl Decoded {
    /// The parameters and the state with the (checked) tensors.
    pub(crate) fn into_state<F>(
        self,
        components: Array2<F>,
        numerator: Array2<F>,
        denominator: Array2<F>,
    ) -> (ValidParams, ModelState<F>) {
        (
            self.params,
            ModelState {
                components,
                numerator,
                denominator,
                stat_rows: self.stat_rows,
                n_features_in: self.n_features_in,
                n_steps: self.n_steps,
                n_iter: self.n_iter,
                reconstruction_err: self.reconstruction_err,
                feature_names_in: self.feature_names_in,
                derived: self.derived,
                last_fit: self.last_fit,
            },
        )
    }
}
