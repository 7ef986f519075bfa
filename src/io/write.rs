//! Writers for the formats the sources read: a dense `.npy` written by row
//! blocks (W of a transform, a data set bigger than memory) and a CSR
//! matrix as scipy's `save_npz` writes it.

use super::{io_err, source_err};
use crate::error::Result;
use crate::float::NmfFloat;
use ndarray::ArrayView2;
use ndarray_npy::npy::header::{Header, Layout};
use ndarray_npy::WriteNpyExt;
use py_literal::Value as PyValue;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

fn descr<F: NmfFloat>() -> &'static str {
    if std::mem::size_of::<F>() == 4 {
        "<f4"
    } else {
        "<f8"
    }
}

/// The header of a C-order `.npy` file of n×m values of `F` (its length a
/// multiple of 64 bytes, so the values that follow are aligned).
pub(crate) fn npy_header_bytes<F: NmfFloat>(shape: (usize, usize)) -> Vec<u8> {
    let header = Header {
        type_descriptor: PyValue::String(descr::<F>().into()),
        layout: Layout::Standard,
        shape: vec![shape.0, shape.1],
    };
    let mut bytes = Vec::new();
    header
        .write(&mut bytes)
        .expect("a header of two sizes is always written");
    bytes
}

/// A C-order `.npy` file of n×m values of `F`, written block by block.
///
/// ```
/// use minibatchnmf::io::{NpyRows, NpyWriter, RowSource};
/// use ndarray::array;
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("w.npy");
/// let mut out = NpyWriter::<f64>::create(&path, (3, 2))?;
/// out.write_rows(array![[1.0, 2.0]].view())?;
/// out.write_rows(array![[3.0, 4.0], [5.0, 6.0]].view())?;
/// out.finish()?;
/// let mut back = NpyRows::<f64>::open(&path)?;
/// assert_eq!(back.rows(2, 3)?.shape(), (1, 2));
/// # Ok::<(), minibatchnmf::Error>(())
/// ```
pub struct NpyWriter<F> {
    path: PathBuf,
    out: BufWriter<File>,
    shape: (usize, usize),
    written: usize,
    _f: std::marker::PhantomData<F>,
}

impl<F: NmfFloat> NpyWriter<F> {
    /// Creates (or truncates) `path` and writes the header.
    pub fn create(path: impl AsRef<Path>, shape: (usize, usize)) -> Result<Self> {
        let path = path.as_ref();
        let file = File::create(path).map_err(|e| io_err(path, e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(&npy_header_bytes::<F>(shape))
            .map_err(|e| io_err(path, e))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            out,
            shape,
            written: 0,
            _f: std::marker::PhantomData,
        })
    }

    /// Appends rows (m columns each).
    pub fn write_rows(&mut self, rows: ArrayView2<F>) -> Result<()> {
        assert_eq!(rows.ncols(), self.shape.1, "rows of the wrong width");
        assert!(self.written + rows.nrows() <= self.shape.0, "too many rows");
        let mut bytes = Vec::with_capacity(rows.ncols() * std::mem::size_of::<F>());
        for row in rows.rows() {
            bytes.clear();
            for v in row {
                let b = v.to_f64_();
                if std::mem::size_of::<F>() == 4 {
                    bytes.extend_from_slice(&(b as f32).to_le_bytes());
                } else {
                    bytes.extend_from_slice(&b.to_le_bytes());
                }
            }
            self.out
                .write_all(&bytes)
                .map_err(|e| io_err(&self.path, e))?;
        }
        self.written += rows.nrows();
        Ok(())
    }

    /// Flushes; fails if fewer rows than announced were written.
    pub fn finish(mut self) -> Result<()> {
        if self.written != self.shape.0 {
            return Err(source_err(
                &self.path,
                format!("{} rows written of {}", self.written, self.shape.0),
            ));
        }
        self.out.flush().map_err(|e| io_err(&self.path, e))
    }
}

/// Writes a CSR matrix as `scipy.sparse.save_npz` does (members `format`,
/// `shape`, `indptr`, `indices`, `data`); `compressed` deflates them (scipy's
/// default), otherwise they are stored and can be read in place.
pub fn save_npz_csr<F: NmfFloat>(
    path: impl AsRef<Path>,
    (n, m): (usize, usize),
    indptr: &[usize],
    indices: &[usize],
    data: &[F],
    compressed: bool,
) -> Result<()> {
    let path = path.as_ref();
    let file = File::create(path).map_err(|e| io_err(path, e))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    let method = if compressed {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    let zerr = |e: zip::result::ZipError| source_err(path, format!("writing the zip: {e}"));
    let werr = |e: ndarray_npy::WriteNpyError| source_err(path, format!("writing a member: {e}"));
    // format: numpy bytes scalar b'csr'.
    zip.start_file("format.npy", options).map_err(zerr)?;
    let header = Header {
        type_descriptor: PyValue::String("|S3".into()),
        layout: Layout::Standard,
        shape: vec![],
    };
    header
        .write(&mut zip)
        .map_err(|e| source_err(path, format!("writing the header: {e}")))?;
    zip.write_all(b"csr").map_err(|e| io_err(path, e))?;
    let ints = |v: &[usize]| ndarray::Array1::from_iter(v.iter().map(|&x| x as i64));
    zip.start_file("shape.npy", options).map_err(zerr)?;
    ints(&[n, m]).write_npy(&mut zip).map_err(werr)?;
    zip.start_file("indptr.npy", options).map_err(zerr)?;
    ints(indptr).write_npy(&mut zip).map_err(werr)?;
    zip.start_file("indices.npy", options).map_err(zerr)?;
    ndarray::Array1::from_iter(indices.iter().map(|&x| x as i32))
        .write_npy(&mut zip)
        .map_err(werr)?;
    zip.start_file("data.npy", options).map_err(zerr)?;
    if std::mem::size_of::<F>() == 4 {
        ndarray::Array1::from_iter(data.iter().map(|v| v.to_f64_() as f32)).write_npy(&mut zip)
    } else {
        ndarray::Array1::from_iter(data.iter().map(|v| v.to_f64_())).write_npy(&mut zip)
    }
    .map_err(werr)?;
    zip.finish().map_err(zerr)?;
    Ok(())
}
