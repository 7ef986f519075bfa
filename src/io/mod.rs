//! Row-block sources of X: the solver asks for rows `[a, b)` and gets a
//! dense or CSR block it sees as an [`Input`], whether X is in memory or in a
//! file bigger than memory.
//!
//! * [`InMemory`]: an [`Input`] the caller holds (zero-copy row slices);
//! * [`NpyRows`]: a dense `.npy` file (C or Fortran order, any real or
//!   integer dtype, converted per block);
//! * [`CsrFile`]: scipy's `.npz` CSR files ([`CsrFile::open_npz`]) and
//!   MatrixMarket coordinate files ([`CsrFile::open_mtx`]).
//!
//! File sources read with positioned reads into buffers they reuse: memory
//! stays bounded by the largest block asked for, whatever the file's size.
//! Values are checked by the estimator's first pass (see
//! `validation::scan`), which names the global row and column of the
//! first negative or non-finite value.
//!
//! Whole passes over X (the initialisation's products, the final W solve and
//! the reconstruction error) go through [`pass_rows`]: block sizes depend on
//! X's shape and number of stored values only, never on the source, so a fit
//! from a file is bit-identical to the fit from the same matrix in memory.
//!
//! ```
//! use minibatchnmf::io::{InMemory, RowSource};
//! use ndarray::array;
//! let x = array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]];
//! let mut src = InMemory::new(&x);
//! assert_eq!(src.shape(), (3, 2));
//! let block = src.rows(1, 3)?;
//! assert_eq!(block.shape(), (2, 2));
//! # Ok::<(), minibatchnmf::Error>(())
//! ```

mod csr_file;
mod elem;
mod mtx;
mod npy;
mod rowptr;
mod write;
mod zero_filled;

pub use csr_file::CsrFile;
pub use npy::NpyRows;
pub(crate) use write::npy_header_bytes;
pub use write::{save_npz_csr, NpyWriter};
pub(crate) use zero_filled::ZeroFilled;

use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use std::path::Path;

/// A matrix X read by blocks of consecutive rows.
pub trait RowSource<F: NmfFloat>: Send {
    /// (n_samples, n_features).
    fn shape(&self) -> (usize, usize);
    /// Stored values: n·m for dense X, the number of non-zeros for CSR.
    fn nnz(&self) -> usize;
    /// Whether blocks are CSR.
    fn is_sparse(&self) -> bool;
    /// Rows `start..end` (`start < end <= n_samples`). The block borrows the
    /// source: it lives until the next call.
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, F>>;
    /// Where the rows come from (a path, or "memory"), for messages.
    fn describe(&self) -> String;
    /// Another reader of the same rows, independent of this one, when one
    /// is cheap (a view of X in memory). None (the default): the source
    /// serves one reader at a time.
    fn reader(&self) -> Option<Box<dyn RowSource<F> + '_>> {
        None
    }
}

/// X held by the caller: blocks are views of it, nothing is copied.
#[derive(Debug, Clone, Copy)]
pub struct InMemory<'a, F> {
    x: Input<'a, F>,
}

impl<'a, F: NmfFloat> InMemory<'a, F> {
    /// A source over a dense or CSR matrix in memory.
    pub fn new(x: impl Into<Input<'a, F>>) -> Self {
        InMemory { x: x.into() }
    }
}

impl<'a, F: NmfFloat> RowSource<F> for InMemory<'a, F> {
    fn shape(&self) -> (usize, usize) {
        self.x.shape()
    }
    fn nnz(&self) -> usize {
        match &self.x {
            Input::Dense(d) => d.len(),
            Input::Csr(c) => c.nnz(),
        }
    }
    fn is_sparse(&self) -> bool {
        self.x.is_sparse()
    }
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, F>> {
        // ndarray views are invariant in their lifetime: reborrow for `'_`.
        let x: Input<'_, F> = match &self.x {
            Input::Dense(d) => Input::Dense(d.reborrow()),
            Input::Csr(c) => Input::Csr(*c),
        };
        Ok(x.slice_rows(start, end))
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn reader(&self) -> Option<Box<dyn RowSource<F> + '_>> {
        Some(Box::new(*self))
    }
}

/// Bytes of X one block of a whole pass holds by default (at most; at
/// least one row).
pub const PASS_BYTES: usize = 32 << 20;

static PASS_BYTES_NOW: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(PASS_BYTES);

/// Sets the bytes per block of whole passes for the process (default
/// [`PASS_BYTES`]): smaller blocks lower peak memory. Results depend on it
/// only at rounding level (dense products are cut differently); fits that
/// must agree bit for bit run with the same value.
pub fn set_pass_bytes(bytes: usize) {
    PASS_BYTES_NOW.store(bytes.max(1), std::sync::atomic::Ordering::Relaxed);
}

/// Rows per block of a whole pass over an n×m matrix with `nnz` stored
/// values of `F`: about [`PASS_BYTES`] of values (and column indices for
/// CSR). A function of the shape alone, so every source is cut the same way.
pub fn pass_rows<F: NmfFloat>(n: usize, m: usize, nnz: usize, sparse: bool) -> usize {
    let per_value = std::mem::size_of::<F>() + if sparse { 8 } else { 0 };
    let per_row = if sparse {
        (nnz.div_ceil(n.max(1))).max(1) * per_value
    } else {
        m.max(1) * per_value
    };
    let budget = PASS_BYTES_NOW.load(std::sync::atomic::Ordering::Relaxed);
    (budget / per_row).clamp(1, n.max(1))
}

/// Calls `f(start, block)` for consecutive blocks of [`pass_rows`] rows
/// covering X, in order.
pub fn for_each_block<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    mut f: impl FnMut(usize, &Input<F>) -> Result<()>,
) -> Result<()> {
    let (n, m) = src.shape();
    let step = pass_rows::<F>(n, m, src.nnz(), src.is_sparse());
    let mut start = 0;
    while start < n {
        let end = (start + step).min(n);
        let block = src.rows(start, end)?;
        f(start, &block)?;
        start = end;
    }
    Ok(())
}

/// The formats [`open`] reads, told by the file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// numpy `.npy` (dense).
    Npy,
    /// scipy `.npz` written by `scipy.sparse.save_npz` (CSR).
    Npz,
    /// MatrixMarket `.mtx` coordinate (sparse).
    Mtx,
}

impl Format {
    /// The format of a path, from its extension.
    pub fn of(path: &Path) -> Result<Format> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("npy") => Ok(Format::Npy),
            Some("npz") => Ok(Format::Npz),
            Some("mtx") => Ok(Format::Mtx),
            _ => Err(source_err(
                path,
                "unknown format: expected a .npy, .npz (scipy CSR) or .mtx (MatrixMarket) file",
            )),
        }
    }
}

/// Opens a data file as a row source of `F` values, by its extension,
/// within the memory the system reports available (see [`open_with`]).
pub fn open<F: NmfFloat>(path: impl AsRef<Path>) -> Result<Box<dyn RowSource<F>>> {
    open_with(path, &crate::memory::Budget::auto())
}

/// Opens a data file as a row source of `F` values, by its extension. The
/// sizes its header claims are checked against the file's size, and what
/// the reader keeps in memory (the row offsets of a sparse file) against
/// `budget`, before anything is allocated for them.
pub fn open_with<F: NmfFloat>(
    path: impl AsRef<Path>,
    budget: &crate::memory::Budget,
) -> Result<Box<dyn RowSource<F>>> {
    let path = path.as_ref();
    Ok(match Format::of(path)? {
        Format::Npy => Box::new(NpyRows::<F>::open(path)?),
        Format::Npz => Box::new(CsrFile::<F>::open_npz_with(path, budget)?),
        Format::Mtx => Box::new(CsrFile::<F>::open_mtx_with(path, budget)?),
    })
}

/// An [`Error::Source`] about `path`.
pub(crate) fn source_err(path: &Path, detail: impl Into<String>) -> Error {
    Error::Source {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

/// An I/O error on `path` as an [`Error::Source`] (a short read says the
/// file is truncated).
pub(crate) fn io_err(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::UnexpectedEof {
        source_err(
            path,
            "file is truncated (fewer bytes than its header announces)",
        )
    } else {
        source_err(path, e.to_string())
    }
}
