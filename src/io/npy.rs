//! Dense X in a numpy `.npy` file, read by row blocks.
//!
//! The header is parsed by `ndarray-npy`; the values are read with
//! positioned reads into buffers kept between calls and converted to `F`
//! block by block. C order reads one contiguous range per block; Fortran
//! order reads one range per column (rows `a..b` of column j are contiguous)
//! and transposes it into the row-major block.

use super::elem::Elem;
use super::{io_err, source_err, RowSource};
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::memory;
use ndarray::ArrayView2;
use ndarray_npy::npy::header::Header;
use std::fs::File;
use std::io::{Read, Seek};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Parsed `.npy` header of an array stored at `base` in `file`: element
/// type, shape, layout, and the absolute offset of the first value.
#[derive(Debug, Clone)]
pub(crate) struct NpyMeta {
    pub(crate) elem: Elem,
    pub(crate) shape: Vec<usize>,
    pub(crate) fortran: bool,
    pub(crate) data_offset: u64,
}

/// Longest `.npy` header read (numpy writes headers of a few hundred bytes
/// and refuses to read more than 10 000 by default): a header length beyond
/// it is refused before anything is allocated for it.
const MAX_HEADER: usize = 1 << 16;

/// Reads a `.npy` header from `r`, refusing a header length over
/// [`MAX_HEADER`] before allocating it (`ndarray-npy` would allocate the
/// length a file claims, up to 4 GiB). `what` names the array in messages.
pub(crate) fn read_header(r: &mut impl Read, path: &Path, what: &str) -> Result<Header> {
    let bad = |d: String| source_err(path, format!("{what}not a valid .npy array: {d}"));
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre).map_err(|e| bad(e.to_string()))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad("no numpy magic string".into()));
    }
    let width = match pre[6] {
        1 => 2,
        2 | 3 => 4,
        v => return Err(bad(format!("unknown .npy format version {v}"))),
    };
    let mut len_bytes = [0u8; 4];
    r.read_exact(&mut len_bytes[..width])
        .map_err(|e| bad(e.to_string()))?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    if len > MAX_HEADER {
        return Err(bad(format!(
            "its header claims {len} bytes (numpy headers are at most {MAX_HEADER})"
        )));
    }
    let mut all = Vec::with_capacity(8 + width + len);
    all.extend_from_slice(&pre);
    all.extend_from_slice(&len_bytes[..width]);
    all.resize(8 + width + len, 0);
    r.read_exact(&mut all[8 + width..])
        .map_err(|e| bad(e.to_string()))?;
    Header::from_reader(&mut &all[..]).map_err(|e| bad(e.to_string()))
}

/// Reads the `.npy` header found at byte `base` of `file` and checks that the
/// values it announces are all there (`limit`: where the array must end, the
/// file's length or a zip member's end).
pub(crate) fn read_meta(file: &File, base: u64, limit: u64, path: &Path) -> Result<NpyMeta> {
    let mut f = file;
    f.seek(std::io::SeekFrom::Start(base))
        .map_err(|e| io_err(path, e))?;
    let header = read_header(&mut f, path, "")?;
    let data_offset = f.stream_position().map_err(|e| io_err(path, e))?;
    let descr = header
        .type_descriptor
        .as_string()
        .cloned()
        .unwrap_or_else(|| header.type_descriptor.to_string());
    let elem = Elem::parse(&descr).ok_or_else(|| {
        source_err(
            path,
            format!(
                "unsupported dtype {descr:?}: expected a real or integer type \
                 (float32/64, (u)int8/16/32/64, bool)"
            ),
        )
    })?;
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|c| c.checked_mul(elem.size()))
        .ok_or_else(|| source_err(path, format!("shape {:?} overflows", header.shape)))?;
    let end = data_offset.checked_add(count as u64);
    if end.map_or(true, |end| end > limit) {
        return Err(source_err(
            path,
            format!(
                "file is truncated: shape {:?} of {descr} needs {count} bytes of values, {} present",
                header.shape,
                limit.saturating_sub(data_offset)
            ),
        ));
    }
    Ok(NpyMeta {
        elem,
        shape: header.shape,
        fortran: header.layout.is_fortran(),
        data_offset,
    })
}

/// A dense 2-D `.npy` file as a [`RowSource`].
///
/// ```no_run
/// use minibatchnmf::io::{NpyRows, RowSource};
/// let mut x = NpyRows::<f32>::open("X.npy")?;
/// let (n, m) = x.shape();
/// let first = x.rows(0, n.min(100))?;
/// # Ok::<(), minibatchnmf::Error>(())
/// ```
pub struct NpyRows<F> {
    path: PathBuf,
    file: File,
    meta: NpyMeta,
    n: usize,
    m: usize,
    bytes: Vec<u8>,
    col: Vec<F>,
    block: Vec<F>,
}

impl<F: NmfFloat> NpyRows<F> {
    /// Opens a 2-D `.npy` file; its values are converted to `F` as read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        let len = file.metadata().map_err(|e| io_err(path, e))?.len();
        let meta = read_meta(&file, 0, len, path)?;
        let (n, m) = match meta.shape[..] {
            [n, m] => (n, m),
            _ => {
                return Err(source_err(
                    path,
                    format!(
                        "expected a 2-D array (n_samples, n_features), found shape {:?}",
                        meta.shape
                    ),
                ))
            }
        };
        Ok(NpyRows {
            path: path.to_path_buf(),
            file,
            meta,
            n,
            m,
            bytes: Vec::new(),
            col: Vec::new(),
            block: Vec::new(),
        })
    }

    /// Whether the file is stored in Fortran (column-major) order.
    pub fn is_fortran(&self) -> bool {
        self.meta.fortran
    }
}

impl<F: NmfFloat> RowSource<F> for NpyRows<F> {
    fn shape(&self) -> (usize, usize) {
        (self.n, self.m)
    }
    fn nnz(&self) -> usize {
        self.n * self.m
    }
    fn is_sparse(&self) -> bool {
        false
    }
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, F>> {
        assert!(
            start <= end && end <= self.n,
            "rows {start}..{end} of {}",
            self.n
        );
        let (r, m) = (end - start, self.m);
        let size = self.meta.elem.size();
        if self.block.len() < r * m {
            memory::try_resize(&mut self.block, r * m, F::zero(), "a block of rows")?;
        }
        if !self.meta.fortran {
            let len = r * m * size;
            if self.bytes.len() < len {
                memory::try_resize(&mut self.bytes, len, 0, "a block of rows")?;
            }
            let at = self.meta.data_offset + (start * m * size) as u64;
            self.file
                .read_exact_at(&mut self.bytes[..len], at)
                .map_err(|e| io_err(&self.path, e))?;
            self.meta
                .elem
                .to_float(&self.bytes[..len], &mut self.block[..r * m]);
        } else {
            let len = r * size;
            if self.bytes.len() < len {
                memory::try_resize(&mut self.bytes, len, 0, "a block of rows")?;
            }
            if self.col.len() < r {
                memory::try_resize(&mut self.col, r, F::zero(), "a block of rows")?;
            }
            for j in 0..m {
                let at = self.meta.data_offset + ((j * self.n + start) * size) as u64;
                self.file
                    .read_exact_at(&mut self.bytes[..len], at)
                    .map_err(|e| io_err(&self.path, e))?;
                self.meta
                    .elem
                    .to_float(&self.bytes[..len], &mut self.col[..r]);
                for (i, &v) in self.col[..r].iter().enumerate() {
                    self.block[i * m + j] = v;
                }
            }
        }
        let view =
            ArrayView2::from_shape((r, m), &self.block[..r * m]).expect("block holds r*m values");
        Ok(Input::Dense(view))
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
