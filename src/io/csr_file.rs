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
use super::npy::{read_header, read_meta, NpyMeta};
use super::rowptr::{RowPtr, RowPtrBuilder};
use super::{io_err, mtx, source_err, RowSource};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::{CsrError, CsrView, Input};
use crate::memory::{self, Budget};
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
            memory::try_resize(bytes, len, 0, "a block of rows")?;
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
    indptr: RowPtr,
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
    /// A row's columns, sorted (duplicate detection for many columns).
    sorted: Vec<usize>,
}

/// Columns up to which duplicates are found with a stamp per column (8
/// bytes a column: 32 MiB at most).
const MAX_STAMPED_COLUMNS: usize = 1 << 22;

impl<F: NmfFloat> CsrFile<F> {
    pub(crate) fn from_parts(
        path: &Path,
        (n, m): (usize, usize),
        indptr: RowPtr,
        indices: Member,
        data: Member,
    ) -> Result<Self> {
        let bad = |d: String| Err(source_err(path, d));
        if indptr.n() != n {
            return bad(format!(
                "indptr has {} entries for {n} rows (expected {})",
                indptr.n() + 1,
                n + 1
            ));
        }
        let nnz = indptr.nnz();
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
            sorted: Vec::new(),
        })
    }

    /// Opens a CSR matrix saved by `scipy.sparse.save_npz` (compressed or
    /// not), within the memory the system reports available (see
    /// [`CsrFile::open_npz_with`]).
    pub fn open_npz(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_npz_with(path, &Budget::auto())
    }

    /// Opens a scipy `.npz` CSR file. No size the file claims is trusted:
    /// `indptr` must have n + 1 entries and fit its member, its offsets
    /// take memory for the non-empty rows only (checked against `budget`),
    /// and a compressed member is inflated into a temporary file no further
    /// than its declared size, the temporary folder's free space (and
    /// `budget` when that folder is in memory).
    pub fn open_npz_with(path: impl AsRef<Path>, budget: &Budget) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        let mut zip = zip::ZipArchive::new(file)
            .map_err(|e| source_err(path, format!("not a .npz (zip) file: {e}")))?;
        // format: a bytes scalar 'csr'.
        let format = {
            let member = zip.by_name("format.npy").map_err(|_| {
                source_err(
                    path,
                    "no 'format' member: not a scipy sparse matrix (save it with scipy.sparse.save_npz)",
                )
            })?;
            let mut member = member.take(1 << 16);
            read_header(&mut member, path, "format member: ")?;
            let mut rest = Vec::new();
            member.read_to_end(&mut rest).map_err(|e| io_err(path, e))?;
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
        let shape = {
            let mut member = zip
                .by_name("shape.npy")
                .map_err(|_| source_err(path, "no 'shape.npy' member in the .npz"))?;
            let (elem, count) = int_header(&mut member, path, "shape")?;
            if count != 2 {
                return Err(source_err(
                    path,
                    format!("shape has {count} entries: not a 2-D matrix"),
                ));
            }
            let mut bytes = [0u8; 16];
            let bytes = &mut bytes[..2 * elem.size()];
            member.read_exact(bytes).map_err(|e| io_err(path, e))?;
            let mut out = [0usize; 2];
            elem.to_index(bytes, &mut out)
                .map_err(|v| source_err(path, format!("shape holds a negative value {v}")))?;
            out
        };
        let [n, m] = shape;
        let indptr = {
            let mut member = zip
                .by_name("indptr.npy")
                .map_err(|_| source_err(path, "no 'indptr.npy' member in the .npz"))?;
            let (elem, count) = int_header(&mut member, path, "indptr")?;
            if Some(count) != n.checked_add(1) {
                return Err(source_err(
                    path,
                    format!("indptr has {count} entries for {n} rows (expected {n} + 1)"),
                ));
            }
            // The member must hold the values it announces (its declared size
            // is checked again by the reads: a short member is truncated).
            if (count as u64).saturating_mul(elem.size() as u64) > member.size() {
                return Err(source_err(
                    path,
                    format!(
                        "file is truncated: indptr announces {count} entries, its member holds {} bytes",
                        member.size()
                    ),
                ));
            }
            read_indptr(&mut member, elem, n, budget, path)?
        };
        let tmp_room = temp_room(budget);
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
                let declared = member.size();
                if let Some((room, where_)) = tmp_room {
                    if declared > room {
                        return Err(source_err(
                            path,
                            format!(
                                "'{name}' inflates to {} (as its zip entry declares), more than {where_} ({}); \
                                 save it with save_npz(..., compressed=False) or point TMPDIR to a larger folder",
                                crate::memory::human(declared),
                                crate::memory::human(room)
                            ),
                        ));
                    }
                }
                let mut tmp = tempfile::tempfile().map_err(|e| {
                    source_err(path, format!("cannot create a temporary file: {e}"))
                })?;
                // Never more than the declared size: stop at the first byte over.
                let copied = std::io::copy(&mut (&mut member).take(declared + 1), &mut tmp)
                    .map_err(|e| source_err(path, format!("decompressing '{name}': {e}")))?;
                if copied > declared {
                    return Err(source_err(
                        path,
                        format!("'{name}' inflates to more than the {declared} bytes its zip entry declares"),
                    ));
                }
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
    /// lay the entries out by row in temporary files (see
    /// [`CsrFile::open_mtx_with`]).
    pub fn open_mtx(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_mtx_with(path, &Budget::auto())
    }

    /// [`CsrFile::open_mtx`] within a memory budget: the header's size line
    /// is checked against the file's size, and the row offsets (memory for
    /// the non-empty rows only) against `budget`.
    pub fn open_mtx_with(path: impl AsRef<Path>, budget: &Budget) -> Result<Self> {
        let path = path.as_ref();
        let laid = mtx::lay_out(path, budget)?;
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

/// The integer element type and the number of entries of a 1-D `.npy`
/// member.
fn int_header(r: &mut impl Read, path: &Path, name: &str) -> Result<(Elem, usize)> {
    let header = read_header(r, path, &format!("{name}: "))?;
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
    match header.shape[..] {
        [count] => Ok((elem, count)),
        _ => Err(source_err(
            path,
            format!(
                "{name}: expected a 1-D array, found shape {:?}",
                header.shape
            ),
        )),
    }
}

/// Reads the n + 1 offsets of `indptr` by chunks into a [`RowPtr`] (memory
/// for the non-empty rows), checking that they start at 0 and never
/// decrease.
fn read_indptr(
    r: &mut impl Read,
    elem: Elem,
    n: usize,
    budget: &Budget,
    path: &Path,
) -> Result<RowPtr> {
    const CHUNK: usize = 1 << 16;
    let mut builder = RowPtrBuilder::new(n, budget, &path.display().to_string())?;
    let mut bytes = vec![0u8; CHUNK * elem.size()];
    let mut vals = vec![0usize; CHUNK];
    let mut prev = 0usize;
    let mut i = 0usize; // entries read
    while i < n + 1 {
        let c = CHUNK.min(n + 1 - i);
        let b = &mut bytes[..c * elem.size()];
        r.read_exact(b).map_err(|e| io_err(path, e))?;
        elem.to_index(b, &mut vals[..c])
            .map_err(|v| source_err(path, format!("indptr holds a negative value {v}")))?;
        for (j, &v) in vals[..c].iter().enumerate() {
            let at = i + j;
            if at == 0 {
                if v != 0 {
                    return Err(source_err(path, "indptr does not start at 0 or decreases"));
                }
            } else {
                if v < prev {
                    return Err(source_err(path, "indptr does not start at 0 or decreases"));
                }
                builder.push(at - 1, v - prev)?;
            }
            prev = v;
        }
        i += c;
    }
    Ok(builder.finish())
}

/// Room for inflated members in the temporary folder: its free space, and
/// the memory budget when the folder is in memory (tmpfs). `None`: unknown.
fn temp_room(budget: &Budget) -> Option<(u64, &'static str)> {
    let dir = std::env::temp_dir();
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: an all-zero statfs is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: statfs writes the struct it is given; `c` is NUL-terminated.
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let free = (st.f_bavail as u64).saturating_mul(st.f_bsize as u64);
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    if st.f_type as i64 == TMPFS_MAGIC {
        if let Some(b) = budget.limit() {
            if b < free {
                return Some((b, "the memory budget (the temporary folder is in memory)"));
            }
        }
    }
    Some((free, "the free space of the temporary folder"))
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
        self.indptr.nnz()
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
        let (p0, p1) = (self.indptr.get(start), self.indptr.get(end));
        let nnz = p1 - p0;
        memory::try_resize(&mut self.ix, nnz, 0, "a block of rows")?;
        memory::try_resize(&mut self.dv, nnz, F::zero(), "a block of rows")?;
        let bytes = self
            .indices
            .read_bytes(p0, p1, &mut self.bytes, &self.path)?;
        self.indices
            .elem
            .to_index(bytes, &mut self.ix)
            .map_err(|v| source_err(&self.path, format!("negative column index {v}")))?;
        let bytes = self.data.read_bytes(p0, p1, &mut self.bytes, &self.path)?;
        self.data.elem.to_float(bytes, &mut self.dv);
        self.indptr.block(start, end, &mut self.ip);
        // Structure checks (no allocation once `seen` is sized). A column
        // stamp per column while that is small; beyond (a header may claim
        // any number of columns) each row's columns are sorted in a scratch
        // buffer instead.
        let stamps = self.m <= MAX_STAMPED_COLUMNS;
        if stamps && self.seen.len() != self.m {
            self.seen.clear();
            memory::try_resize(&mut self.seen, self.m, 0, "column marks")?;
        }
        for i in 0..end - start {
            self.stamp += 1;
            let (a, b) = (self.ip[i], self.ip[i + 1]);
            for pos in a..b {
                let col = self.ix[pos];
                if col >= self.m {
                    return Err(Error::Csr(CsrError::ColumnOutOfRange {
                        index: col,
                        pos: p0 + pos,
                        n_cols: self.m,
                    }));
                }
                if stamps {
                    if self.seen[col] == self.stamp {
                        return Err(Error::Csr(CsrError::DuplicateColumn {
                            row: start + i,
                            col,
                        }));
                    }
                    self.seen[col] = self.stamp;
                }
            }
            if !stamps {
                self.sorted.clear();
                self.sorted.extend_from_slice(&self.ix[a..b]);
                self.sorted.sort_unstable();
                if let Some(w) = self.sorted.windows(2).find(|w| w[0] == w[1]) {
                    return Err(Error::Csr(CsrError::DuplicateColumn {
                        row: start + i,
                        col: w[0],
                    }));
                }
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
