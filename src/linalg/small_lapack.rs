//! The small dense factorisations of the randomized SVD, on column-major
//! copies as scipy hands them to LAPACK: `getrf` (and scipy's P·L), the
//! economic QR basis (and its R), the thin SVD (`gesdd`).

use crate::error::{Error, Result};
use crate::float::NmfFloat;
use ndarray::{Array1, Array2, ArrayView2, ShapeBuilder};
use ndarray_linalg::{JobSvd, MatrixLayout};
use rayon::prelude::*;
use std::any::TypeId;

/// A column-major copy of `a` and its LAPACK layout.
pub(super) fn to_fortran<F: NmfFloat>(a: ArrayView2<F>) -> (Array2<F>, MatrixLayout) {
    let (r, c) = a.dim();
    let mut f = Array2::zeros((r, c).f());
    f.assign(&a);
    let layout = MatrixLayout::F {
        col: c as i32,
        lda: r.max(1) as i32,
    };
    (f, layout)
}

pub(super) fn lapack_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Linalg(format!("{what}: {e}"))
}

// getrf is called directly: lax's wrapper turns an exactly singular U
// (info > 0) into an error, while scipy's `lu` accepts it and so must we.
extern "C" {
    fn sgetrf_(
        m: *const i32,
        n: *const i32,
        a: *mut f32,
        lda: *const i32,
        ipiv: *mut i32,
        info: *mut i32,
    );
    fn dgetrf_(
        m: *const i32,
        n: *const i32,
        a: *mut f64,
        lda: *const i32,
        ipiv: *mut i32,
        info: *mut i32,
    );
}

/// LU factorisation with partial pivoting of a column-major r×c matrix, in
/// place; returns LAPACK's 1-based pivots (min(r, c) of them).
pub(super) fn getrf<F: NmfFloat>(a: &mut Array2<F>) -> Result<Vec<i32>> {
    let (r, c) = a.dim();
    debug_assert!(a.t().is_standard_layout());
    let (m, n, lda) = (r as i32, c as i32, r.max(1) as i32);
    let mut ipiv = vec![0i32; r.min(c)];
    let mut info = 0i32;
    let ptr = a.as_mut_ptr();
    // SAFETY: `a` is a contiguous column-major r×c buffer with leading
    // dimension r, `ipiv` holds min(r, c) entries, and the pointer casts only
    // happen when F is exactly the routine's element type.
    unsafe {
        if TypeId::of::<F>() == TypeId::of::<f64>() {
            dgetrf_(&m, &n, ptr as *mut f64, &lda, ipiv.as_mut_ptr(), &mut info);
        } else if TypeId::of::<F>() == TypeId::of::<f32>() {
            sgetrf_(&m, &n, ptr as *mut f32, &lda, ipiv.as_mut_ptr(), &mut info);
        } else {
            return Err(Error::Linalg(format!("no getrf for {}", F::DTYPE)));
        }
    }
    if info < 0 {
        return Err(Error::Linalg(format!("getrf: invalid argument {}", -info)));
    }
    Ok(ipiv)
}

/// Rows per tile of the transposing copies (a tile of c columns stays in
/// cache while it is read along one axis and written along the other).
const TILE_ROWS: usize = 64;

/// A raw pointer shared by the tasks of the tiled copies below, each of
/// which writes a disjoint set of elements.
#[derive(Clone, Copy)]
struct SharedOut<F>(*mut F);
// SAFETY: the tasks write disjoint elements (see the callers) and nothing
// reads them until every task has finished.
unsafe impl<F: Send> Send for SharedOut<F> {}
// SAFETY: as for Send: every element has one writer.
unsafe impl<F: Send> Sync for SharedOut<F> {}

impl<F> SharedOut<F> {
    /// # Safety
    /// `i` is in bounds of the buffer and no other task writes element `i`.
    #[inline(always)]
    unsafe fn write(self, i: usize, v: F) {
        // SAFETY: the caller's contract.
        unsafe { *self.0.add(i) = v };
    }
}

/// Row tiles per parallel task of the tiled copies (a plain copy: the
/// split does not change any value).
const TILES_PER_TASK: usize = 8;

/// getrf of `a` (r×c) on its column-major copy in `lu` (reused buffer);
/// returns LAPACK's 1-based pivots.
pub(super) fn lu_factor<F: NmfFloat>(a: ArrayView2<F>, lu: &mut Vec<F>) -> Result<Vec<i32>> {
    let (r, c) = a.dim();
    // Column-major copy, in row tiles on the rayon workers (each tile's
    // elements belong to it alone).
    lu.clear();
    lu.resize(r * c, F::zero());
    let out = SharedOut(lu.as_mut_ptr());
    let task_rows = TILE_ROWS * TILES_PER_TASK;
    (0..r.div_ceil(task_rows)).into_par_iter().for_each(|t| {
        let (t0, t1) = (t * task_rows, ((t + 1) * task_rows).min(r));
        for i0 in (t0..t1).step_by(TILE_ROWS) {
            let i1 = (i0 + TILE_ROWS).min(t1);
            for (i, row) in (i0..i1).zip(a.slice(ndarray::s![i0..i1, ..]).rows()) {
                for (j, &v) in row.iter().enumerate() {
                    // SAFETY: j·r + i < r·c, and row i is this task's.
                    unsafe { out.write(j * r + i, v) };
                }
            }
        }
    });
    let mut f = Array2::from_shape_vec((r, c).f(), std::mem::take(lu)).expect("r*c elements");
    let ipiv = getrf(&mut f);
    *lu = f.into_raw_vec_and_offset().0;
    ipiv
}

/// scipy's `lu(a, permute_l=True)[0]`: P·L, r × min(r, c), where A = P·L·U,
/// into `out` (row-major; reshaped only when its shape differs). `lu` is
/// the column-major work copy of `a` that `getrf` factorises in place.
pub(super) fn permuted_l_into<F: NmfFloat>(
    a: ArrayView2<F>,
    lu: &mut Vec<F>,
    out: &mut Array2<F>,
) -> Result<()> {
    let (r, c) = a.dim();
    let ipiv = lu_factor(a, lu)?;
    permuted_l_from(lu, r, c, &ipiv, out);
    Ok(())
}

/// P·L from getrf's column-major r×c factors `lu` and pivots `ipiv`.
pub(super) fn permuted_l_from<F: NmfFloat>(
    lu: &[F],
    r: usize,
    c: usize,
    ipiv: &[i32],
    out: &mut Array2<F>,
) {
    let mn = r.min(c);
    // Row i of the pivoted matrix is row `origin[i]` of A.
    let mut origin: Vec<usize> = (0..r).collect();
    for (t, &p) in ipiv.iter().enumerate() {
        origin.swap(t, p as usize - 1);
    }
    // A = Pᵀ_lapack·L·U, so row origin[i] of P·L is row i of L: unit
    // diagonal, L's entries below it, zeros above. Written in row tiles on
    // the rayon workers: `origin` is a permutation, so the rows of
    // different tiles are different rows of `out`.
    if out.dim() != (r, mn) || !out.is_standard_layout() {
        *out = Array2::zeros((r, mn));
    }
    let o = SharedOut(out.as_mut_ptr());
    let origin = &origin;
    let task_rows = TILE_ROWS * TILES_PER_TASK;
    (0..r.div_ceil(task_rows)).into_par_iter().for_each(|t| {
        let (t0, t1) = (t * task_rows, ((t + 1) * task_rows).min(r));
        for i0 in (t0..t1).step_by(TILE_ROWS) {
            let i1 = (i0 + TILE_ROWS).min(t1);
            for (i, &dest) in origin.iter().enumerate().take(i1).skip(i0) {
                for jj in mn.min(i)..mn {
                    let v = if jj == i { F::one() } else { F::zero() };
                    // SAFETY: dest < r and jj < mn; row `dest` is written by
                    // this task alone (i is in its tile).
                    unsafe { o.write(dest * mn + jj, v) };
                }
            }
            for j in 0..mn.min(i1) {
                let col = &lu[j * r..(j + 1) * r];
                for i in i0.max(j + 1)..i1 {
                    // SAFETY: as above.
                    unsafe { o.write(origin[i] * mn + j, col[i]) };
                }
            }
        }
    });
}

/// [`permuted_l_into`] into new buffers.
#[cfg(test)]
pub(super) fn permuted_l<F: NmfFloat>(a: Array2<F>) -> Result<Array2<F>> {
    let mut out = Array2::zeros((0, 0));
    permuted_l_into(a.view(), &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// scipy's `qr(a, mode='economic')[0]`: r × min(r, c) orthonormal basis.
pub(super) fn qr_basis<F: NmfFloat>(a: Array2<F>) -> Result<Array2<F>> {
    qr_basis_r(a).map(|(q, _)| q)
}

/// [`qr_basis`] and the upper factor R (min(r, c) × c) of the same
/// factorisation: a = Q·R.
pub(super) fn qr_basis_r<F: NmfFloat>(a: Array2<F>) -> Result<(Array2<F>, Array2<F>)> {
    let (r, c) = a.dim();
    let kk = r.min(c);
    let (mut f, layout) = to_fortran(a.view());
    drop(a);
    let data = f.as_slice_memory_order_mut().expect("contiguous");
    let tau = F::householder(layout, data).map_err(|e| lapack_err("geqrf", e))?;
    let mut rr = Array2::zeros((kk, c));
    for j in 0..c {
        for i in 0..=j.min(kk - 1) {
            rr[[i, j]] = data[j * r + i];
        }
    }
    F::q(layout, data, &tau).map_err(|e| lapack_err("orgqr", e))?;
    let q = if kk == c {
        f
    } else {
        f.slice(ndarray::s![.., ..kk]).to_owned()
    };
    Ok((q, rr))
}

/// Thin SVD through `gesdd` (jobz = 'S') on a column-major copy.
pub(super) fn thin_svd<F: NmfFloat>(b: Array2<F>) -> Result<(Array2<F>, Array1<F>, Array2<F>)> {
    let (r, c) = b.dim();
    let kk = r.min(c);
    let (mut f, layout) = to_fortran(b.view());
    drop(b);
    let out = F::svddc(
        layout,
        JobSvd::Some,
        f.as_slice_memory_order_mut().expect("contiguous"),
    )
    .map_err(|e| lapack_err("gesdd (SVD did not converge?)", e))?;
    let u = out
        .u
        .ok_or_else(|| Error::Linalg("gesdd returned no U".into()))?;
    let vt = out
        .vt
        .ok_or_else(|| Error::Linalg("gesdd returned no Vt".into()))?;
    let u = Array2::from_shape_vec((r, kk).f(), u).map_err(|e| lapack_err("gesdd U", e))?;
    let vt = Array2::from_shape_vec((kk, c).f(), vt).map_err(|e| lapack_err("gesdd Vt", e))?;
    Ok((u, Array1::from(out.s), vt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permuted_l_matches_definition() {
        let a = ndarray::array![[1.0, 2.0], [4.0, 1.0], [3.0, 3.0]];
        let pl = permuted_l(a.clone()).unwrap();
        // scipy.linalg.lu(a, permute_l=True)[0]
        let want = ndarray::array![[0.25, 7.0 / 9.0], [1.0, 0.0], [0.75, 1.0]];
        assert!((&pl - &want).iter().all(|d: &f64| d.abs() < 1e-15), "{pl}");
        // Exactly singular: scipy returns L anyway, so do we.
        let s = ndarray::array![[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]];
        let pl = permuted_l(s).unwrap();
        assert_eq!(pl, ndarray::array![[1.0, 0.0], [1.0, 1.0]]);
    }
}
