//! Model files: a fitted (or partially fitted) model as a
//! [safetensors](https://huggingface.co/docs/safetensors) file, loaded back
//! bit for bit.
//!
//! The estimator exposes its fitted state as plain data; this module only
//! serialises it:
//! - `layout`: the tensors (H and the two online statistics) and their
//!   little-endian bytes;
//! - `metadata`: parameters, frozen derived values, counters and feature
//!   names as `__metadata__` strings (floats in shortest round-trip form);
//! - [`checksum`]: a CRC32C over the metadata and the tensor bytes;
//! - `atomic`: the temporary-file, fsync, rename, fsync-folder write.
//!
//! Loading checks hostile input before allocating anything by the sizes a
//! file claims: the header length is bounded by the bytes present, every
//! tensor's shape × dtype size must equal its byte range (checked with
//! overflow-safe arithmetic by the safetensors crate), the three tensors must
//! agree on n_components × n_features with the metadata, the checksum must
//! match, and every value must be finite and non-negative. Another
//! program's safetensors file and a newer format version are
//! [`Error::UnsupportedFormat`]; anything else wrong is
//! [`Error::CorruptModel`].
//!
//! Only fitted models can be saved ([`Error::NotFitted`] otherwise): an
//! unfitted model is just its parameters, which
//! [`MiniBatchNmfParams::get_params`](crate::MiniBatchNmfParams::get_params)
//! already gives.
//!
//! ```
//! use minibatchnmf::{persist, Init, MiniBatchNmf, MiniBatchNmfParams};
//! use ndarray::array;
//!
//! let x = array![[1.0, 0.5, 2.0], [0.5, 1.0, 0.0], [2.0, 0.1, 4.0], [0.2, 3.0, 0.2]];
//! let params = MiniBatchNmfParams::new().n_components(2).init(Init::Random).random_state(Some(0));
//! let mut model = MiniBatchNmf::<f64>::new(params)?;
//! model.partial_fit(&x)?;
//!
//! let dir = std::env::temp_dir().join(format!("mbnmf-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("model.safetensors");
//! model.save(&path)?;
//!
//! let mut loaded = MiniBatchNmf::<f64>::load(&path)?;
//! assert_eq!(loaded.components()?, model.components()?);
//! // Resume exactly where the saved model stopped.
//! loaded.partial_fit(&x)?;
//! model.partial_fit(&x)?;
//! assert_eq!(loaded.components()?, model.components()?);
//!
//! // Without knowing the dtype (a CLI, the C ABI):
//! match persist::load_any(&path)? {
//!     persist::AnyModel::F64(m) => assert_eq!(m.n_steps(), Some(1)),
//!     persist::AnyModel::F32(_) => unreachable!(),
//! }
//! // Loading as the other dtype is a clear error.
//! assert!(MiniBatchNmf::<f32>::load(&path).is_err());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), minibatchnmf::Error>(())
//! ```

mod atomic;
pub mod checksum;
mod layout;
mod metadata;

/// Replace a file with new bytes atomically (a temporary file beside it,
/// synced, then renamed over it), as model files are saved: a failed or
/// interrupted write leaves any previous file intact.
pub use atomic::write as write_atomic;

use crate::error::{Error, Result};
use crate::estimator::MiniBatchNmf;
use crate::float::NmfFloat;
use std::path::Path;

/// The `format` value of every model file.
pub const FORMAT_NAME: &str = "minibatchnmf";
/// The format version this library writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

impl<F: NmfFloat> MiniBatchNmf<F> {
    /// The fitted model as the bytes of a model file.
    ///
    /// [`Error::NotFitted`] for an unfitted model.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let state = self.state().ok_or(Error::NotFitted)?;
        layout::encode(self.params(), state)
    }

    /// A model from the bytes of a model file of dtype `F`.
    ///
    /// [`Error::ModelDtype`] if the file holds the other dtype,
    /// [`Error::CorruptModel`] / [`Error::UnsupportedFormat`] for bad bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (params, state) = layout::decode::<F>(bytes)?;
        Ok(MiniBatchNmf::from_state(params, state))
    }

    /// Save the fitted model to `path`, atomically: the file is written
    /// under a temporary name in the same folder, synced, then renamed over
    /// `path`, so a crash never leaves a half-written or missing model.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        atomic::write(path.as_ref(), &self.to_bytes()?)
    }

    /// Load a model of dtype `F` saved by [`save`](Self::save).
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        Self::from_bytes(&read(path.as_ref())?)
    }
}

/// A loaded model of either dtype.
#[derive(Debug, Clone)]
pub enum AnyModel {
    /// A model fitted on f32 data.
    F32(MiniBatchNmf<f32>),
    /// A model fitted on f64 data.
    F64(MiniBatchNmf<f64>),
}

impl AnyModel {
    /// "float32" or "float64".
    pub fn dtype(&self) -> &'static str {
        match self {
            AnyModel::F32(_) => f32::DTYPE,
            AnyModel::F64(_) => f64::DTYPE,
        }
    }

    /// The model file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        match self {
            AnyModel::F32(m) => m.to_bytes(),
            AnyModel::F64(m) => m.to_bytes(),
        }
    }

    /// Save atomically (see [`MiniBatchNmf::save`]).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        atomic::write(path.as_ref(), &self.to_bytes()?)
    }
}

/// A model of whichever dtype the bytes hold.
pub fn from_bytes_any(bytes: &[u8]) -> Result<AnyModel> {
    match layout::peek_dtype(bytes)? {
        layout::FileDtype::F32 => MiniBatchNmf::<f32>::from_bytes(bytes).map(AnyModel::F32),
        layout::FileDtype::F64 => MiniBatchNmf::<f64>::from_bytes(bytes).map(AnyModel::F64),
    }
}

/// Load a model of whichever dtype the file holds.
pub fn load_any(path: impl AsRef<Path>) -> Result<AnyModel> {
    from_bytes_any(&read(path.as_ref())?)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Io {
        action: "read",
        path: path.to_path_buf(),
        source: e,
    })
}
