//! A big row-major matrix (W, n_samples × n_components) held in RAM or in a
//! memory-mapped file ([`super::spill`]), behind one type: code that uses
//! it takes [`Matrix::view`] / [`Matrix::view_mut`] and does not care
//! where it lives. The values are the same bits either way: the layout
//! (C order, contiguous) is the same, only the storage differs.

use super::spill::{Mapped, Pager};
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::RowSource;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::path::PathBuf;

/// Where a new [`Matrix`] goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Placement {
    /// In RAM (an `Array2`).
    #[default]
    Ram,
    /// In a scratch file of the temporary folder.
    Scratch,
    /// In this `.npy` file (kept when the caller asks,
    /// [`Matrix::keep_file`]; removed otherwise).
    Npy(PathBuf),
}

/// An n×k C-order matrix (W) in RAM or in a memory-mapped file, the same
/// values either way: see [`crate::MiniBatchNmf::fit_transform_source_to`].
pub enum Matrix<F> {
    /// In RAM.
    Ram(Array2<F>),
    /// In a mapped file.
    Mapped {
        /// The file.
        file: MappedFile,
        /// (rows, columns).
        shape: (usize, usize),
        /// `F` is what the bytes hold.
        _f: std::marker::PhantomData<F>,
    },
}

/// The mapped file of a [`Matrix`] (opaque).
pub struct MappedFile(Mapped);

impl<F> std::fmt::Debug for Matrix<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ((n, k), place) = match self {
            Matrix::Ram(a) => (a.dim(), "RAM"),
            Matrix::Mapped { shape, .. } => (*shape, "a mapped file"),
        };
        write!(f, "Matrix({n}×{k} in {place})")
    }
}

impl<F: NmfFloat> Matrix<F> {
    /// `shape` zeros where `place` says. `what` names it in errors.
    pub(crate) fn zeros(shape: (usize, usize), place: &Placement, what: &str) -> Result<Self> {
        let bytes = super::bytes_of(&[shape.0, shape.1], std::mem::size_of::<F>())
            .and_then(|b| usize::try_from(b).ok());
        let too_big = || crate::error::Error::OutOfMemory {
            what: what.to_string(),
            needed: "more than the address space".into(),
            budget: "the address space".into(),
            hint: "lower n_components or the number of rows".into(),
        };
        let file = match place {
            Placement::Ram => {
                let n = shape.0.checked_mul(shape.1).ok_or_else(too_big)?;
                let mut v: Vec<F> = Vec::new();
                super::try_grow(&mut v, n, what)?;
                v.resize(n, F::zero());
                return Ok(Matrix::Ram(
                    Array2::from_shape_vec(shape, v).expect("n·k values"),
                ));
            }
            Placement::Scratch => Mapped::scratch(what, bytes.ok_or_else(too_big)?)?,
            Placement::Npy(path) => {
                let header = npy_header::<F>(shape);
                Mapped::named(what, path, &header, bytes.ok_or_else(too_big)?)?
            }
        };
        Ok(Matrix::Mapped {
            file: MappedFile(file),
            shape,
            _f: std::marker::PhantomData,
        })
    }

    /// `a` where `place` says (moved when in RAM, copied otherwise).
    pub(crate) fn from_array(a: Array2<F>, place: &Placement, what: &str) -> Result<Self> {
        if *place == Placement::Ram {
            return Ok(Matrix::Ram(a));
        }
        Matrix::from_view(a.view(), place, what)
    }

    /// A copy of `a` where `place` says.
    pub(crate) fn from_view(a: ArrayView2<F>, place: &Placement, what: &str) -> Result<Self> {
        if *place == Placement::Ram {
            return Ok(Matrix::Ram(a.to_owned()));
        }
        let mut it = a.iter();
        Matrix::from_fn(a.dim(), place, what, || *it.next().expect("n·k values"))
    }

    /// A matrix of `shape` filled in C order by `f` (the first row first),
    /// where `place` says.
    pub(crate) fn from_fn(
        shape: (usize, usize),
        place: &Placement,
        what: &str,
        mut f: impl FnMut() -> F,
    ) -> Result<Self> {
        if *place == Placement::Ram {
            let n = shape.0.saturating_mul(shape.1);
            let mut v: Vec<F> = Vec::new();
            super::try_grow(&mut v, n, what)?;
            v.extend((0..n).map(|_| f()));
            return Ok(Matrix::Ram(
                Array2::from_shape_vec(shape, v).expect("n·k values"),
            ));
        }
        let mut m = Matrix::zeros(shape, place, what)?;
        let pager = m.pager();
        let mut out = m.view_mut();
        for (i, mut row) in out.rows_mut().into_iter().enumerate() {
            row.iter_mut().for_each(|v| *v = f());
            if (i + 1) % 4096 == 0 {
                pager.release_rows_of::<F>(i + 1 - 4096, i + 1, shape.1);
            }
        }
        pager.release_rows_of::<F>(0, shape.0, shape.1);
        Ok(m)
    }

    /// Takes the values of `a` (of the same shape), keeping its place:
    /// moved in when in RAM, copied into the file otherwise.
    pub(crate) fn replace(&mut self, a: Array2<F>) {
        match self {
            Matrix::Ram(w) => *w = a,
            Matrix::Mapped { .. } => {
                let pager = self.pager();
                let k = a.ncols();
                let mut out = self.view_mut();
                for (i, (mut dst, src)) in out
                    .axis_chunks_iter_mut(ndarray::Axis(0), 4096)
                    .zip(a.axis_chunks_iter(ndarray::Axis(0), 4096))
                    .enumerate()
                {
                    dst.assign(&src);
                    pager.release_rows_of::<F>(i * 4096, i * 4096 + src.nrows(), k);
                }
            }
        }
    }

    /// (rows, columns).
    pub fn dim(&self) -> (usize, usize) {
        match self {
            Matrix::Ram(a) => a.dim(),
            Matrix::Mapped { shape, .. } => *shape,
        }
    }

    /// Whether it lives in a file.
    pub fn is_spilled(&self) -> bool {
        matches!(self, Matrix::Mapped { .. })
    }

    /// A view of the whole matrix.
    pub fn view(&self) -> ArrayView2<'_, F> {
        match self {
            Matrix::Ram(a) => a.view(),
            Matrix::Mapped { file, shape, .. } => {
                // SAFETY: the mapping holds shape.0·shape.1 values of F,
                // aligned (page-aligned mapping, header a multiple of 64
                // bytes), initialised (zeros or written values), and lives
                // as long as `self`, which the view borrows.
                unsafe { ArrayView2::from_shape_ptr(*shape, file.0.as_ptr().cast::<F>()) }
            }
        }
    }

    /// A mutable view of the whole matrix.
    pub fn view_mut(&mut self) -> ArrayViewMut2<'_, F> {
        match self {
            Matrix::Ram(a) => a.view_mut(),
            Matrix::Mapped { file, shape, .. } => {
                // SAFETY: as in `view`, borrowed mutably.
                unsafe { ArrayViewMut2::from_shape_ptr(*shape, file.0.as_mut_ptr().cast::<F>()) }
            }
        }
    }

    /// Whether every value is finite (reading a mapped matrix page by page
    /// and giving the pages back).
    pub(crate) fn all_finite(&self) -> bool {
        let pager = self.pager();
        let k = self.dim().1;
        let v = self.view();
        let mut ok = true;
        for (i, chunk) in v.axis_chunks_iter(ndarray::Axis(0), 4096).enumerate() {
            ok &= chunk.iter().all(|x| x.is_finite());
            pager.release_rows_of::<F>(i * 4096, i * 4096 + chunk.nrows(), k);
            if !ok {
                break;
            }
        }
        ok
    }

    /// The values in RAM (copied from a mapped file, with `try_reserve`).
    pub fn into_array(self) -> Result<Array2<F>> {
        match self {
            Matrix::Ram(a) => Ok(a),
            Matrix::Mapped { .. } => {
                let (n, k) = self.dim();
                let mut v: Vec<F> = Vec::new();
                super::try_grow(&mut v, n.saturating_mul(k), "W (copied to memory)")?;
                let pager = self.pager();
                for (i, chunk) in self
                    .view()
                    .axis_chunks_iter(ndarray::Axis(0), 4096)
                    .enumerate()
                {
                    v.extend(chunk.iter().copied());
                    pager.release_rows_of::<F>(i * 4096, i * 4096 + chunk.nrows(), k);
                }
                Ok(Array2::from_shape_vec((n, k), v).expect("n·k values"))
            }
        }
    }

    /// Keeps the `.npy` file of a matrix placed in one (the `w_npy` of
    /// [`crate::MiniBatchNmf::fit_transform_source_to`], the CLI's
    /// `--w-out`): written out, not removed on drop. Returns whether there
    /// was such a file.
    pub fn keep_file(&mut self) -> Result<bool> {
        match self {
            Matrix::Mapped { file, .. } => file.0.keep().map(|()| true),
            Matrix::Ram(_) => Ok(false),
        }
    }

    /// Its page releaser (a no-op in RAM).
    pub(crate) fn pager(&self) -> RowPager {
        RowPager(match self {
            Matrix::Ram(_) => None,
            Matrix::Mapped { file, .. } => Some(file.0.pager()),
        })
    }
}

/// Gives back the pages of rows of a mapped [`Matrix`] (see
/// [`super::spill`]); a no-op for one in RAM.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowPager(Option<Pager>);

impl RowPager {
    /// Releases the pages of data bytes `a..b`.
    fn release_bytes(&self, a: usize, b: usize) {
        if let Some(p) = &self.0 {
            p.release(a, b);
        }
    }

    /// Releases rows `a..b` of a matrix of `k` columns of `F`.
    pub(crate) fn release_rows_of<F>(&self, a: usize, b: usize, k: usize) {
        let row = k * std::mem::size_of::<F>();
        self.release_bytes(a * row, b * row);
    }
}

/// X's row source, seen through: each block asked for releases the rows of
/// the mapped matrix (W) that the previous block covered, so a whole pass
/// over X and W keeps about one block of W resident.
pub(crate) struct Paged<'s, F: NmfFloat> {
    inner: &'s mut dyn RowSource<F>,
    pager: RowPager,
    k: usize,
    last: Option<(usize, usize)>,
}

impl<'s, F: NmfFloat> Paged<'s, F> {
    /// `inner` with the pages of `w` released behind each block.
    pub(crate) fn new(inner: &'s mut dyn RowSource<F>, w: &Matrix<F>) -> Self {
        Paged {
            inner,
            pager: w.pager(),
            k: w.dim().1,
            last: None,
        }
    }

    /// Releases the rows of the last block (at the end of a pass).
    pub(crate) fn release_last(&mut self) {
        if let Some((a, b)) = self.last.take() {
            self.pager.release_rows_of::<F>(a, b, self.k);
        }
    }
}

impl<F: NmfFloat> Drop for Paged<'_, F> {
    fn drop(&mut self) {
        self.release_last();
    }
}

impl<F: NmfFloat> RowSource<F> for Paged<'_, F> {
    fn shape(&self) -> (usize, usize) {
        self.inner.shape()
    }
    fn nnz(&self) -> usize {
        self.inner.nnz()
    }
    fn is_sparse(&self) -> bool {
        self.inner.is_sparse()
    }
    fn rows(&mut self, start: usize, end: usize) -> Result<Input<'_, F>> {
        if self.last != Some((start, end)) {
            self.release_last();
            self.last = Some((start, end));
        }
        self.inner.rows(start, end)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

/// The `.npy` header of a C-order n×k array of `F`, as
/// [`crate::io::NpyWriter`] writes it (so a file W spilled to and one
/// written from memory are the same bytes).
fn npy_header<F: NmfFloat>(shape: (usize, usize)) -> Vec<u8> {
    crate::io::npy_header_bytes::<F>(shape)
}
