//! The file layout: a safetensors container holding three tensors of one
//! float dtype, little-endian, row-major, each n_components × n_features
//! (but cd's A, n_components × n_components):
//!
//! | tensor                   | scikit-learn attribute        | cd solver |
//! |--------------------------|-------------------------------|-----------|
//! | `components`             | `components_` (H)             | H |
//! | `components_numerator`   | `_components_numerator` (A)   | B = WᵀX |
//! | `components_denominator` | `_components_denominator` (B) | A = WᵀW (k × k) |
//!
//! and the string map `__metadata__` described in [`super::metadata`].

use super::{checksum, metadata, FORMAT_NAME};
use crate::error::{Error, Result};
use crate::estimator::ModelState;
use crate::float::NmfFloat;
use crate::params::{MiniBatchNmfParams, ValidParams};
use ndarray::{Array2, ArrayView2};
use safetensors::tensor::{Metadata, TensorInfo};
use safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;

/// H.
pub const COMPONENTS: &str = "components";
/// The online numerator of H.
pub const NUMERATOR: &str = "components_numerator";
/// The online denominator of H.
pub const DENOMINATOR: &str = "components_denominator";
/// Every tensor of a model file, in checksum order.
pub const TENSORS: [&str; 3] = [COMPONENTS, NUMERATOR, DENOMINATOR];

/// Bytes of the little-endian header length that starts a safetensors file.
const LEN_BYTES: usize = 8;
/// The largest JSON header accepted (the safetensors crate's own bound).
pub const MAX_HEADER_BYTES: usize = 100_000_000;

/// The dtype a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileDtype {
    /// float32 tensors.
    F32,
    /// float64 tensors.
    F64,
}

impl FileDtype {
    fn of<F: NmfFloat>() -> Self {
        if F::DTYPE == f32::DTYPE {
            FileDtype::F32
        } else {
            FileDtype::F64
        }
    }

    /// numpy's name.
    pub fn name(self) -> &'static str {
        match self {
            FileDtype::F32 => f32::DTYPE,
            FileDtype::F64 => f64::DTYPE,
        }
    }

    fn safetensors(self) -> Dtype {
        match self {
            FileDtype::F32 => Dtype::F32,
            FileDtype::F64 => Dtype::F64,
        }
    }

    fn from_name(s: &str) -> Result<Self> {
        match s {
            "float32" => Ok(FileDtype::F32),
            "float64" => Ok(FileDtype::F64),
            other => Err(corrupt(format!(
                "metadata dtype {other:?} is neither \"float32\" nor \"float64\""
            ))),
        }
    }
}

pub(crate) fn corrupt(detail: impl Into<String>) -> Error {
    Error::CorruptModel {
        detail: detail.into(),
    }
}

/// A tensor to write.
struct Tensor {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Tensor {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Row-major little-endian bytes of `a` in the file's dtype (exact: an f32
/// model's values are f32 widened to f64 and narrowed back).
fn to_le_bytes<F: NmfFloat>(a: ArrayView2<F>) -> Vec<u8> {
    let dtype = FileDtype::of::<F>();
    let mut out = Vec::with_capacity(a.len() * std::mem::size_of::<F>());
    for v in a.iter() {
        match dtype {
            FileDtype::F32 => out.extend_from_slice(&(v.to_f64_() as f32).to_le_bytes()),
            FileDtype::F64 => out.extend_from_slice(&v.to_f64_().to_le_bytes()),
        }
    }
    out
}

/// The inverse of [`to_le_bytes`]; `bytes.len()` was checked against the shape.
fn from_le_bytes<F: NmfFloat>(bytes: &[u8], shape: (usize, usize)) -> Result<Array2<F>> {
    let values: Vec<F> = match FileDtype::of::<F>() {
        FileDtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| F::from_f64_(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect(),
        FileDtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| {
                let mut b = [0u8; 8];
                b.copy_from_slice(c);
                F::from_f64_(f64::from_le_bytes(b))
            })
            .collect(),
    };
    Array2::from_shape_vec(shape, values)
        .map_err(|e| corrupt(format!("tensor bytes do not fit its shape: {e}")))
}

/// The bytes of a model file for `params` and `state`.
pub(crate) fn encode<F: NmfFloat>(
    params: &MiniBatchNmfParams,
    state: &ModelState<F>,
) -> Result<Vec<u8>> {
    let dtype = FileDtype::of::<F>();
    let tensors: Vec<(&str, Tensor)> = [
        (COMPONENTS, state.components.view()),
        (NUMERATOR, state.numerator.view()),
        (DENOMINATOR, state.denominator.view()),
    ]
    .into_iter()
    .map(|(name, a)| {
        (
            name,
            Tensor {
                dtype: dtype.safetensors(),
                shape: vec![a.nrows(), a.ncols()],
                bytes: to_le_bytes(a),
            },
        )
    })
    .collect();
    let mut meta = metadata::encode(params, state, dtype.name());
    let sum = checksum::compute(
        &meta,
        tensors
            .iter()
            .map(|(name, t)| (*name, dtype.name(), t.shape.as_slice(), t.bytes.as_slice())),
    );
    meta.insert(metadata::CHECKSUM.to_string(), sum);
    safetensors::serialize(tensors.iter().map(|(n, t)| (*n, t)), Some(meta))
        .map_err(|e| corrupt(format!("cannot serialise the model: {e}")))
}

/// The safetensors header of `bytes`, checked structurally: length bounded
/// by the bytes present, every tensor's shape × dtype size equal to its
/// byte range, the ranges contiguous and ending at the end of the file.
/// Nothing is allocated by the sizes the file claims.
fn header(bytes: &[u8]) -> Result<(usize, Metadata)> {
    let Some(len_bytes) = bytes.get(..LEN_BYTES) else {
        return Err(corrupt(format!(
            "{} byte(s); a model file starts with an 8-byte header length",
            bytes.len()
        )));
    };
    let mut b = [0u8; LEN_BYTES];
    b.copy_from_slice(len_bytes);
    let n = u64::from_le_bytes(b);
    let available = (bytes.len() - LEN_BYTES) as u64;
    if n > MAX_HEADER_BYTES as u64 {
        return Err(corrupt(format!(
            "header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit (not a model file, or damaged)"
        )));
    }
    if n > available {
        return Err(corrupt(format!(
            "truncated: the header claims {n} bytes but only {available} follow"
        )));
    }
    SafeTensors::read_metadata(bytes).map_err(|e| match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            corrupt("truncated or extended: the tensor data does not end where the file ends")
        }
        other => corrupt(format!("not a valid safetensors header: {other}")),
    })
}

/// The metadata map of a checked header; a file without our format name is
/// another program's safetensors file.
fn our_metadata(meta: &Metadata) -> Result<&HashMap<String, String>> {
    let foreign = |why: &str| {
        let mut names: Vec<_> = meta.tensors().into_keys().collect();
        names.sort();
        Error::UnsupportedFormat {
            detail: format!(
                "not a minibatchnmf model ({why}; tensors: {names:?}); was it written by another program?"
            ),
        }
    };
    let map = meta
        .metadata()
        .as_ref()
        .ok_or_else(|| foreign("no __metadata__"))?;
    match map.get(metadata::FORMAT) {
        Some(f) if f == FORMAT_NAME => Ok(map),
        Some(f) => Err(foreign(&format!("format is {f:?}"))),
        None => Err(foreign("no \"format\" in __metadata__")),
    }
}

/// The dtype a model file holds (after the structural and format checks).
pub(crate) fn peek_dtype(bytes: &[u8]) -> Result<FileDtype> {
    let (_, meta) = header(bytes)?;
    let map = our_metadata(&meta)?;
    metadata::check_version(map)?;
    FileDtype::from_name(metadata::get(map, metadata::DTYPE)?)
}

fn tensor_info<'m>(meta: &'m Metadata, name: &str) -> Result<&'m TensorInfo> {
    meta.info(name)
        .ok_or_else(|| corrupt(format!("tensor {name:?} is missing")))
}

/// Parameters and fitted state from the bytes of a model file of dtype `F`.
pub(crate) fn decode<F: NmfFloat>(bytes: &[u8]) -> Result<(ValidParams, ModelState<F>)> {
    let (n, meta) = header(bytes)?;
    let map = our_metadata(&meta)?;
    metadata::check_version(map)?;
    let file_dtype = FileDtype::from_name(metadata::get(map, metadata::DTYPE)?)?;
    let data = &bytes[LEN_BYTES + n..];

    // Exactly our three tensors, each 2-D in the metadata's dtype.
    let mut names: Vec<_> = meta.tensors().into_keys().collect();
    names.sort();
    let mut expected: Vec<_> = TENSORS.iter().map(|s| s.to_string()).collect();
    expected.sort();
    if names != expected {
        return Err(corrupt(format!(
            "tensors are {names:?}, expected {expected:?}"
        )));
    }
    let mut views = Vec::with_capacity(TENSORS.len());
    for name in TENSORS {
        let info = tensor_info(&meta, name)?;
        if info.dtype != file_dtype.safetensors() {
            return Err(corrupt(format!(
                "tensor {name:?} is {:?} but the metadata says {}",
                info.dtype,
                file_dtype.name()
            )));
        }
        let &[rows, cols] = info.shape.as_slice() else {
            return Err(corrupt(format!(
                "tensor {name:?} has shape {:?}, expected 2 dimensions",
                info.shape
            )));
        };
        // In bounds: read_metadata checked the ranges against the buffer.
        let (s, e) = info.data_offsets;
        views.push((name, info.shape.clone(), (rows, cols), &data[s..e]));
    }

    // Checksum before the values are interpreted.
    let stored = metadata::get(map, metadata::CHECKSUM)?;
    let actual = checksum::compute(
        map,
        views
            .iter()
            .map(|(name, shape, _, b)| (*name, file_dtype.name(), shape.as_slice(), *b)),
    );
    // Fuzzing builds skip the comparison, so the fuzzer reaches the checks
    // behind it (the checksum would reject almost every mutation).
    if stored != actual && !cfg!(fuzzing) {
        return Err(corrupt(format!(
            "checksum mismatch: the file says {stored}, its content gives {actual}"
        )));
    }
    if file_dtype != FileDtype::of::<F>() {
        return Err(Error::ModelDtype {
            expected: F::DTYPE,
            found: file_dtype.name().to_string(),
        });
    }

    let decoded = metadata::decode(map)?;
    let (k, m) = (decoded.n_components, decoded.n_features_in);
    let cd = decoded.derived.solver == crate::params::Solver::Cd;
    for (name, _, shape, _) in &views {
        let expected = if cd && *name == DENOMINATOR {
            // cd with missing values keeps one k×k Gram per feature.
            if *shape == (m, k * k) {
                (m, k * k)
            } else {
                (k, k)
            }
        } else {
            (k, m)
        };
        if *shape != expected {
            return Err(corrupt(format!(
                "tensor {name:?} is {} x {}, but the metadata says n_components = {k}, n_features_in = {m}{}",
                shape.0,
                shape.1,
                if cd { " and solver = cd" } else { "" }
            )));
        }
    }
    let mut arrays = Vec::with_capacity(3);
    for (name, _, shape, b) in &views {
        let a = from_le_bytes::<F>(b, *shape)?;
        // cd's statistics are sums of changes: their rounding may leave a
        // tiny negative where the exact value is 0.
        let signed = cd && *name != COMPONENTS;
        if !a
            .iter()
            .all(|v| v.is_finite() && (signed || *v >= F::zero()))
        {
            return Err(corrupt(format!(
                "tensor {name:?} holds a negative, NaN or infinite value"
            )));
        }
        arrays.push(a);
    }
    let denominator = arrays.pop().expect("three tensors");
    let numerator = arrays.pop().expect("three tensors");
    let components = arrays.pop().expect("three tensors");
    Ok(decoded.into_state(components, numerator, denominator))
}
