//! The randomized SVD of a tall X without any n_samples×(k+10) block in
//! RAM (issue 20): what stays in memory is m×m or m×(k+10), whatever the
//! number of rows; X is read by row chunks, each pass over its row blocks.
//!
//! The same algorithm as `randomized_svd`'s Gram path, with the steps that
//! need X·Q (n×l) recast as passes:
//!
//! 1. G = Xᵀ·X (m×m, in f64), one pass;
//! 2. the same Gaussian start Q (m×l, drawn as scikit-learn draws it) and
//!    the same power iterations Q ← P·L(G·Q), `n_iter` times;
//! 3. an orthonormal basis of range(X·Q) without forming X·Q: passes give
//!    C = (X·P)ᵀ(X·P) and Z = Xᵀ·X·P for the current coefficients P (m×r,
//!    starting at Q); P ← P·R⁻¹ with Rᵀ·R = C (Cholesky, CholeskyQR2:
//!    the second pass's C is the identity to rounding), or, when C is
//!    singular to working precision (a rank-deficient X), P ← P·V·Λ^(-1/2)
//!    on C's eigenvectors of eigenvalue above `EIG_FLOOR`·λ_max; until a
//!    pass finds C within `ORTHO_TOL` of the identity (2 passes for a
//!    well-conditioned X·Q, at most `MAX_PASSES`);
//! 4. B = (X·P)ᵀ·X = (Z·R⁻¹)ᵀ (r×m), thin SVD B = Û·S·Vt, so that
//!    U = X·P·Û = X·T with T = P·Û (m×k): U is never stored, its row
//!    blocks are X's row blocks times T ([`for_each_u_block`]);
//! 5. svd_flip's signs from a pass over U (the first entry of largest
//!    magnitude of each column), in the same pass as the squared norms of
//!    each column's positive and negative parts (what NNDSVD needs).
//!
//! Results equal scikit-learn's to the accuracy of the Gram path (the
//! power iterations on G: see `randomized_svd`); unlike the in-RAM path,
//! there is no fallback to passes over X when σ_k/σ₁ < 1e-3 (it would need
//! the n×l blocks), so for such an X the start is accurate to about
//! eps·(σ₁/σ_k)² only. Every computation is in f64 (an f32 X is widened,
//! rounded back to f32 where U's values are handed out), dense and CSR X
//! alike; one process only (a distributed fit keeps the in-RAM path).

use crate::dist::Shard;
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{for_each_block, RowSource};
use crate::linalg::small_lapack::{permuted_l_into, thin_svd};
use crate::rng::NumpyRandomState;
use ndarray::linalg::general_mat_mul;
use ndarray::{Array1, Array2, ArrayView2};
use ndarray_linalg::{Cholesky, Eigh, UPLO};

/// Values of X (as f64) per chunk: 8 MiB.
const CHUNK_VALUES: usize = 1 << 20;
/// Largest number of columns the streamed path takes (G is m×m).
pub const MAX_COLS: usize = 2048;
/// A pass whose C = (X·P)ᵀ(X·P) is this close to the identity (largest
/// |C − I|) ends the orthonormalisation: one more Cholesky factor, applied
/// without checking, leaves X·P orthonormal to rounding.
const ORTHO_TOL: f64 = 1e-8;
/// Eigenvalues of C below this fraction of the largest are dropped (a
/// rank-deficient X·Q).
const EIG_FLOOR: f64 = 1e-14;
/// Largest ratio of Cholesky diagonal entries taken as well conditioned.
const CHOL_MAX_RATIO: f64 = 1e6;
/// Passes of step 3 at most.
const MAX_PASSES: usize = 5;

/// The streamed SVD: U = X·`t` (m×k) with svd_flip's signs applied,
/// `s` (k) and `vt` (k×m), and the squared norms of the positive and
/// negative parts of each column of U (in U's dtype, summed in f64).
#[derive(Debug, Clone)]
pub struct StreamedSvd {
    /// U = X·t.
    pub t: Array2<f64>,
    /// Singular values (zeros past X's numerical rank).
    pub s: Array1<f64>,
    /// Right singular vectors (k×m).
    pub vt: Array2<f64>,
    /// Σ of squares of U's positive entries, per column.
    pub pos_sq: Vec<f64>,
    /// Σ of squares of U's negative entries, per column.
    pub neg_sq: Vec<f64>,
}

/// RAM the streamed SVD of an n×m X with k components takes besides the
/// row blocks of X (G, the m×(k+10) and (k+10)² matrices, three chunks).
pub fn ram_bytes(m: usize, k: usize) -> Option<u64> {
    let l = k.checked_add(super::randomized_svd::N_OVERSAMPLES)? as u64;
    let m = m as u64;
    let small = m
        .checked_mul(m)?
        .checked_add(m.checked_mul(l)?.checked_mul(8)?)?
        .checked_add(l.checked_mul(l)?.checked_mul(4)?)?;
    small
        .checked_mul(8)?
        .checked_add(3 * 8 * CHUNK_VALUES as u64)
}

/// Whether the streamed path takes an n×m X (tall, m ≤ [`MAX_COLS`]).
pub fn applies((n, m): (usize, usize)) -> bool {
    n >= m && m <= MAX_COLS
}

/// Calls `f(first row, chunk)` on X's rows as dense f64 chunks of at most
/// [`CHUNK_VALUES`] values, in row order.
/// The chunks have at most [`CHUNK_VALUES`] / max(m, `width`) rows, so
/// that products of `width` columns are that small too.
fn for_each_chunk<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    width: usize,
    mut f: impl FnMut(usize, ArrayView2<f64>) -> Result<()>,
) -> Result<()> {
    let m = src.shape().1;
    let rows = (CHUNK_VALUES / m.max(width).max(1)).max(1);
    let mut buf: Vec<f64> = Vec::new();
    for_each_block(src, |s0, xb| {
        let nb = xb.n_rows();
        let mut a = 0;
        while a < nb {
            let b = (a + rows).min(nb);
            buf.clear();
            buf.resize((b - a) * m, 0.0);
            match xb {
                Input::Dense(d) => {
                    let part = d.slice(ndarray::s![a..b, ..]);
                    for (row, out) in part.rows().into_iter().zip(buf.chunks_exact_mut(m)) {
                        for (o, v) in out.iter_mut().zip(row) {
                            *o = v.to_f64_();
                        }
                    }
                }
                Input::Csr(c) => {
                    for (i, out) in (a..b).zip(buf.chunks_exact_mut(m)) {
                        let (idx, vals) = c.row(i);
                        for (&j, v) in idx.iter().zip(vals) {
                            out[j] = v.to_f64_();
                        }
                    }
                }
            }
            let chunk = ArrayView2::from_shape((b - a, m), &buf).expect("chunk shape");
            f(s0 + a, chunk)?;
            a = b;
        }
        Ok(())
    })
}

/// y = d·p into a buffer reused across chunks.
fn chunk_dot(d: ArrayView2<f64>, p: &Array2<f64>, y: &mut Array2<f64>) {
    let shape = (d.nrows(), p.ncols());
    if y.dim() != shape {
        *y = Array2::zeros(shape);
    }
    general_mat_mul(1.0, &d, p, 0.0, y);
}

/// The inverse of an upper triangular r×r matrix (back substitution).
fn inv_upper(r: &Array2<f64>) -> Array2<f64> {
    let n = r.nrows();
    let mut inv = Array2::zeros((n, n));
    for j in 0..n {
        inv[[j, j]] = 1.0 / r[[j, j]];
        for i in (0..j).rev() {
            let s: f64 = (i + 1..=j).map(|p| r[[i, p]] * inv[[p, j]]).sum();
            inv[[i, j]] = -s / r[[i, i]];
        }
    }
    inv
}

/// The streamed randomized SVD of X (one process: `shard` holds all rows)
/// with `k` components; consumes `rng` as scikit-learn does (m×(k+10)
/// standard normals).
pub fn streamed_svd<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    k: usize,
    rng: &mut NumpyRandomState,
    shard: &Shard,
) -> Result<StreamedSvd> {
    let (n, m) = (shard.n_total, shard.n_features);
    if shard.n_ranks > 1 || !applies((n, m)) {
        return Err(Error::Linalg(format!(
            "the streamed randomized SVD takes one process's tall X with at most {MAX_COLS} \
             columns, not {n}×{m}"
        )));
    }
    if k == 0 || k > m {
        return Err(Error::Linalg(format!(
            "randomized_svd: n_components = {k} must be in 1..={m}"
        )));
    }
    let l = k + super::randomized_svd::N_OVERSAMPLES;
    let n_iter = if (k as f64) < 0.1 * (n.min(m) as f64) {
        7
    } else {
        4
    };
    // The start in X's dtype, as scikit-learn draws it.
    let mut q: Array2<f64> = rng
        .standard_normal_array(m, l)
        .mapv(|v| F::from_f64_(v).to_f64_());
    if shard.sum_x == 0.0 {
        // X is all zeros (non-negative, summing to 0; with missing values,
        // the observed entries and so the mean they are filled with): its
        // SVD is zero, and NNDSVD gives W = 0 and H = 0 whatever the
        // singular vectors, as the in-RAM path and scikit-learn do. No pass.
        drop(q);
        return Ok(StreamedSvd {
            t: Array2::zeros((m, k)),
            s: Array1::zeros(k),
            vt: Array2::zeros((k, m)),
            pos_sq: vec![0.0; k],
            neg_sq: vec![0.0; k],
        });
    }

    let mut g = Array2::<f64>::zeros((m, m));
    for_each_chunk(x, m, |_, d| {
        general_mat_mul(1.0, &d.t(), &d, 1.0, &mut g);
        Ok(())
    })?;
    let mut lu = Vec::new();
    for _ in 0..n_iter {
        let z = g.dot(&q);
        permuted_l_into(z.view(), &mut lu, &mut q)?;
    }
    drop(g);

    let (p, z) = orthonormal_basis(x, q)?;
    // B = (X·P)ᵀ·X = Zᵀ (r×m).
    let r = p.ncols();
    let (u_hat, s, vt) = thin_svd(z.reversed_axes())?;
    let kk = k.min(r);
    let mut t = Array2::zeros((m, k));
    t.slice_mut(ndarray::s![.., ..kk])
        .assign(&p.dot(&u_hat.slice(ndarray::s![.., ..kk])));
    let mut s_k = Array1::zeros(k);
    s_k.slice_mut(ndarray::s![..kk])
        .assign(&s.slice(ndarray::s![..kk]));
    let mut vt_k = Array2::zeros((k, m));
    vt_k.slice_mut(ndarray::s![..kk, ..])
        .assign(&vt.slice(ndarray::s![..kk, ..]));

    // svd_flip and the part norms, one pass over U.
    let mut best: Vec<(f64, f64)> = vec![(0.0, f64::NAN); k]; // (|v|, v)
    let (mut pos_sq, mut neg_sq) = (vec![0.0f64; k], vec![0.0f64; k]);
    for_each_u_block(x, &t, |_, u| {
        for row in u.rows() {
            for (j, v) in row.iter().enumerate() {
                let v = v.to_f64_();
                if best[j].1.is_nan() || v.abs() > best[j].0 {
                    best[j] = (v.abs(), v);
                }
                if v > 0.0 {
                    pos_sq[j] += v * v;
                } else if v < 0.0 {
                    neg_sq[j] += v * v;
                }
            }
        }
        Ok(())
    })?;
    for (j, &(_, v)) in best.iter().enumerate() {
        if v < 0.0 {
            t.column_mut(j).mapv_inplace(|e| -e);
            vt_k.row_mut(j).mapv_inplace(|e| -e);
            std::mem::swap(&mut pos_sq[j], &mut neg_sq[j]);
        }
    }
    Ok(StreamedSvd {
        t,
        s: s_k,
        vt: vt_k,
        pos_sq,
        neg_sq,
    })
}

/// Step 3: coefficients P (m×r) with X·P orthonormal and span(X·P) =
/// span(X·q), and Z = Xᵀ·X·P.
fn orthonormal_basis<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    mut p: Array2<f64>,
) -> Result<(Array2<f64>, Array2<f64>)> {
    let m = p.nrows();
    let mut y = Array2::zeros((0, 0));
    for pass in 0..MAX_PASSES {
        let r = p.ncols();
        let mut c = Array2::<f64>::zeros((r, r));
        let mut z = Array2::<f64>::zeros((m, r));
        for_each_chunk(x, r, |_, d| {
            chunk_dot(d, &p, &mut y);
            general_mat_mul(1.0, &y.t(), &y, 1.0, &mut c);
            general_mat_mul(1.0, &d.t(), &y, 1.0, &mut z);
            Ok(())
        })?;
        let dev = c
            .indexed_iter()
            .map(|((i, j), &v)| (v - if i == j { 1.0 } else { 0.0 }).abs())
            .fold(0.0f64, f64::max);
        let chol = c.cholesky(UPLO::Upper).ok().filter(|rr| {
            let d = rr.diag();
            let (lo, hi) = d
                .iter()
                .fold((f64::INFINITY, 0.0f64), |(a, b), &v| (a.min(v), b.max(v)));
            lo > 0.0 && hi / lo < CHOL_MAX_RATIO
        });
        let step = match chol {
            Some(rr) => inv_upper(&rr),
            None => {
                let (lam, v) = c
                    .eigh(UPLO::Upper)
                    .map_err(|e| Error::Linalg(format!("streamed SVD: eigh: {e}")))?;
                let top = lam.iter().fold(0.0f64, |a, &b| a.max(b));
                let keep: Vec<usize> = (0..r)
                    .rev()
                    .filter(|&i| top > 0.0 && lam[i] > EIG_FLOOR * top)
                    .collect();
                if keep.is_empty() {
                    return Err(Error::Linalg(
                        "randomized_svd: X·Q is zero (X has no non-zero entry?)".into(),
                    ));
                }
                let mut step = Array2::zeros((r, keep.len()));
                for (c_out, &i) in keep.iter().enumerate() {
                    let scale = 1.0 / lam[i].sqrt();
                    step.column_mut(c_out)
                        .assign(&v.column(i).mapv(|e| e * scale));
                }
                step
            }
        };
        p = p.dot(&step);
        let z = z.dot(&step);
        if dev < ORTHO_TOL || pass + 1 == MAX_PASSES {
            return Ok((p, z));
        }
    }
    unreachable!("the last pass returns")
}

/// Calls `f(first row, U's rows)` for U = X·`t`, in row order, U's
/// values in X's dtype.
pub fn for_each_u_block<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    t: &Array2<f64>,
    mut f: impl FnMut(usize, ArrayView2<F>) -> Result<()>,
) -> Result<()> {
    let mut y = Array2::zeros((0, 0));
    let mut u: Array2<F> = Array2::zeros((0, 0));
    for_each_chunk(x, t.ncols(), |s0, d| {
        chunk_dot(d, t, &mut y);
        if u.dim() != y.dim() {
            u = Array2::zeros(y.dim());
        }
        u.zip_mut_with(&y, |o, &v| *o = F::from_f64_(v));
        f(s0, u.view())
    })
}
