//! Sparse X on disk in CSR form, read by row blocks: scipy's `.npz` files
//! (`scipy.sparse.save_npz`) and MatrixMarket coordinate files.
//!
//! `indptr` (n + 1 offsets, 8 bytes a row: less than W's n·k values) is
//! held in memory; `indices` and `data` stay on disk and each block reads
//! its range of them with positioned reads.
//!
//! * `.npz`: members stored uncompressed (`save_npz(..., compressed=False)`)
//!   are read in place inside the zip; compressed members (scipy's default)
//!   are decompressed once, when the file is opened, into an anonymous
//!   temporary file (disk: 8 bytes per non-zero plus the data's size; it is
//!   removed when the source is dropped, or by the system if the process
//!   dies).
//! * `.mtx`: see [`super::mtx`]; the entries are laid out by row once, into
//!   temporary files.

use super::elem::{Elem, Kind};
use super::npy::{read_meta, NpyMeta};
use super::{io_err, mtx, source_err, RowSource};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::{CsrError, CsrView, Input};
use ndarray_npy::npy::header::Header;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// A 1-D array of `len` elements at `offset` in `file`.
pub(crate) struct Member {
    pub(crate) file: File,
    pub(crate) offset: u64,
    pub(crate) elem: Elem,
    pub(crate) len: usize,
}

impl Member {
    fn read_bytes<'b>(
        &self,
        from: usize,
        to: usize,
        bytes: &'b mut Vec<u8>,
        path: &Path,
    ) -> Result<&'b [u8]> {
        let size = self.elem.size();
        let len = (to - from) * size;
        if bytes.len() < len {
            bytes.resize(len, 0);
        }
        self.file
            .read_exact_at(&mut bytes[..len], self.offset + (from * size) as u64)
            .map_err(|e| io_err(path, e))?;
        Ok(&bytes[..len])
    }
}

/// A CSR matrix on disk as a [`RowSource`].
///
/// ```no_run
/// use minibatchnmf::io::{CsrFile, RowSource};
/// let mut x = CsrFile::<f64>::open_npz("X.npz")?; // scipy.sparse.save_npz
/// let block = x.rows(0, 10)?;
/// assert!(block.is_sparse());
/// # Ok::<(), minibatchnmf::Error>(())
/// ```
pub struct CsrFile<F> {
    path: PathBuf,
    n: usize,
    m: usize,
    indptr: Vec<usize>,
    indices: Member,
    data: Member,
    // Block buffers, reused.
    bytes: Vec<u8>,
    ip: Vec<usize>,
    ix: Vec<usize>,
    dv: Vec<F>,
    /// Duplicate-column detection: the stamp of the last row that used a column.
    seen: Vec<u64>,
    stamp: u64,
}

impl<F: NmfFloat> CsrFile<F> {
    pub(crate) fn from_parts(
        path: &Path,
        (n, m): (usize, usize),
        indptr: Vec<usize>,
        indices: Member,
        data: Member,
    ) -> Result<Self> {
        let bad = |d: String| Err(source_err(path, d));
        if indptr.len() != n + 1 {
            return bad(format!(
                "indptr has {} entries for {n} rows (expected {})",
                indptr.len(),
                n + 1
            ));
        }
        if indptr[0] != 0 || indptr.windows(2).any(|w| w[1] < w[0]) {
            return bad("indptr does not start at 0 or decreases".into());
        }
        let nnz = indptr[n];
        if indices.len != nnz || data.len != nnz {
            return bad(format!(
                "indptr announces {nnz} stored values, but indices has {} and data {}",
                indices.len, data.len
            ));
        }
        if !indices.elem.is_integer() {
            return bad("indices are not integers".into());
        }
        Ok(CsrFile {
            path: path.to_path_buf(),
            n,
            m,
            indptr,
            indices,
            data,
            bytes: Vec::new(),
            ip: Vec::new(),
            ix: Vec::new(),
            dv: Vec::new(),
            seen: Vec::new(),
            stamp: 0,
        })
    }

    /// Opens a CSR matrix saved by `scipy.sparse.save_npz` (compressed or not).
    pub fn open_npz(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| source_err(path, format!("not a .npz (zip) file: {e}")))?;
        // format: a bytes scalar 'csr'.
        let format = {
            let mut member = zip.by_name("format.npy").map_err(|_| {
                source_err(
                    path,
                    "no 'format' member: not a scipy sparse matrix (save it with scipy.sparse.save_npz)",
                )
            })?;
            let header = Header::from_reader(&mut member)
                .map_err(|e| source_err(path, format!("format member: {e}")))?;
            let mut rest = Vec::new();
            member.read_to_end(&mut rest).map_err(|e| io_err(path, e))?;
            drop(header);
            String::from_utf8_lossy(&rest)
                .trim_end_matches('\0')
                .to_string()
        };
        if format != "csr" {
            return Err(source_err(
                path,
                format!("sparse format '{format}' is not supported: save X.tocsr()"),
            ));
        }
        let small = |zip: &mut zip::ZipArchive<File>, name: &str| -> Result<Vec<usize>> {
            let mut member = zip
                .by_name(name)
                .map_err(|_| source_err(path, format!("no '{name}' member in the .npz")))?;
            let header = Header::from_reader(&mut member)
                .map_err(|e| source_err(path, format!("{name}: {e}")))?;
            let descr = header
                .type_descriptor
                .as_string()
                .cloned()
                .unwrap_or_default();
            let elem = Elem::parse(&descr)
                .filter(|e| e.is_integer())
                .ok_or_else(|| {
                    source_err(
                        path,
                        format!("{name}: dtype {descr:?} is not an integer type"),
                    )
                })?;
            let count: usize = header.shape.iter().product();
            let mut bytes = vec![0u8; count * elem.size()];
            member.read_exact(&mut bytes).map_err(|e| io_err(path, e))?;
            let mut out = vec![0usize; count];
            elem.to_index(&bytes, &mut out)
                .map_err(|v| source_err(path, format!("{name} holds a negative value {v}")))?;
            Ok(out)
        };
        let shape = small(&mut zip, "shape.npy")?;
        let (n, m) = match shape[..] {
            [n, m] => (n, m),
            _ => return Err(source_err(path, format!("shape {shape:?} is not 2-D"))),
        };
        let indptr = small(&mut zip, "indptr.npy")?;
        let mut big = |name: &str| -> Result<Member> {
            let mut member = zip
                .by_name(name)
                .map_err(|_| source_err(path, format!("no '{name}' member in the .npz")))?;
            if member.compression() == zip::CompressionMethod::Stored {
                let start = member.data_start();
                let end = start + member.size();
                drop(member);
                let file = File::open(path).map_err(|e| io_err(path, e))?;
                let meta = read_meta(&file, start, end, path)?;
                member_of(file, meta, path, name)
            } else {
                let mut tmp = tempfile::tempfile().map_err(|e| {
                    source_err(path, format!("cannot create a temporary file: {e}"))
                })?;
                std::io::copy(&mut member, &mut tmp)
                    .map_err(|e| source_err(path, format!("decompressing '{name}': {e}")))?;
                let len = tmp.metadata().map_err(|e| io_err(path, e))?.len();
                let meta = read_meta(&tmp, 0, len, path)?;
                member_of(tmp, meta, path, name)
            }
        };
        let indices = big("indices.npy")?;
        let data = big("data.npy")?;
        Self::from_parts(path, (n, m), indptr, indices, data)
    }

    /// Opens a MatrixMarket coordinate file (`real`, `integer` or `pattern`,
    /// `general`); entries need not be sorted. The file is read once here to
    /// lay the entries out by row in temporary files.
    pub fn open_mtx(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let laid = mtx::lay_out(path)?;
        Self::from_parts(
            path,
            laid.shape,
            laid.indptr,
            Member {
                file: laid.indices,
                offset: 0,
                elem: Elem::little(Kind::U64),
                len: laid.nnz,
            },
            Member {
                file: laid.data,
                offset: 0,
                elem: Elem::little(Kind::F64),
                len: laid.nnz,
            },
        )
    }
}

fn member_of(file: File, meta: NpyMeta, path: &Path, name: &str) -> Result<Member> {
    if meta.shape.len() != 1 {
        return Err(source_err(
            path,
            format!("{name}: expected a 1-D array, found shape {:?}", meta.shape),
        ));
    }
    Ok(Member {
        file,
        offset: meta.data_offset,
        elem: meta.elem,
        len: meta.shape[0],
    })
}

impl<F: NmfFloat> RowSource<F> for CsrFile<F> {
    fn shape(&self) -> (usize, usize) {
        (self.n, self.m)
    }
    fn nnz(&self) -> usize {
        self.indptr[self.n]
    }
    fn is_sparse(&self) -> bool {
        true
    }
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, F>> {
        assert!(
            start <= end && end <= self.n,
            "rows {start}..{end} of {}",
            self.n
        );
        let (p0, p1) = (self.indptr[start], self.indptr[end]);
        let nnz = p1 - p0;
        self.ix.resize(nnz, 0);
        self.dv.resize(nnz, F::zero());
        let bytes = self
            .indices
            .read_bytes(p0, p1, &mut self.bytes, &self.path)?;
        self.indices
            .elem
            .to_index(bytes, &mut self.ix)
            .map_err(|v| source_err(&self.path, format!("negative column index {v}")))?;
        let bytes = self.data.read_bytes(p0, p1, &mut self.bytes, &self.path)?;
        self.data.elem.to_float(bytes, &mut self.dv);
        self.ip.clear();
        self.ip
            .extend(self.indptr[start..=end].iter().map(|&p| p - p0));
        // Structure checks (no allocation once `seen` is sized).
        if self.seen.len() != self.m {
            self.seen = vec![0; self.m];
        }
        for i in 0..end - start {
            self.stamp += 1;
            for pos in self.ip[i]..self.ip[i + 1] {
                let col = self.ix[pos];
                if col >= self.m {
                    return Err(Error::Csr(CsrError::ColumnOutOfRange {
                        index: col,
                        pos: p0 + pos,
                        n_cols: self.m,
                    }));
                }
                if self.seen[col] == self.stamp {
                    return Err(Error::Csr(CsrError::DuplicateColumn {
                        row: start + i,
                        col,
                    }));
                }
                self.seen[col] = self.stamp;
            }
        }
        let view = CsrView::from_checked_parts(
            end - start,
            self.m,
            &self.ip[..=end - start],
            &self.ix,
            &self.dv,
        );
        Ok(Input::Csr(view))
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
