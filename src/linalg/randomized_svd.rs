//! scikit-learn's `randomized_svd` with its defaults (n_oversamples=10,
//! n_iter='auto', LU power-iteration normaliser, transpose='auto',
//! flip_sign=True), reproducing its random draws.
//!
//! The algorithm (Halko, Martinsson & Tropp), as scikit-learn 1.9 runs it:
//!
//! 1. M = X, or Xᵀ when X has fewer rows than columns;
//! 2. Q = Gaussian matrix (cols(M) × (k + 10)) drawn row by row from the
//!    generator, in X's dtype;
//! 3. `n_iter` times: Q = PL(M·Q), Q = PL(Mᵀ·Q), where PL(A) is the P·L
//!    factor of A's LU factorisation with partial pivoting (`getrf`);
//! 4. Q = economic QR basis of M·Q (`geqrf` + `orgqr`);
//! 5. B = Qᵀ·M, thin SVD B = Û·S·Vᵀ (`gesdd`), U = Q·Û;
//! 6. signs made deterministic (`svd_flip`), results cut to k components
//!    and transposed back if M was Xᵀ.
//!
//! Every LAPACK routine receives column-major copies, exactly the matrices
//! scipy hands to LAPACK, so both sides run the same factorisations.
//!
//! Dense f64 X: the two products of a power iteration share one pass over X
//! (`fused_power`: Mᵀ·P·L(Y) = (Mᵀ·Y)·U⁻¹ with getrf(Y) = P·L·U, and
//! Qᵀ·M = (Mᵀ·Y·R⁻¹)ᵀ for Q·R = Y), n_iter + 1 or + 2 passes instead of
//! 2·n_iter + 2, as long as U and R are well conditioned (cond₁·eps ≤
//! 1e4·eps); the first ill-conditioned U (a rank-deficient X) sends the rest
//! through scikit-learn's two passes. A tall X with few columns (m below
//! 2·n_iter·(k + 10)) iterates on G = Xᵀ·X instead (one `syrk` pass; the
//! same subspaces as the LU-normalised passes, Q ← P·L(G·Q)), then one fused
//! pass. Sparse X always takes scikit-learn's two passes; in f64 it
//! normalises them with a basis of the same span from GEMMs on all cores (`span_basis`:
//! Y·R⁻¹ with RᵀR = YᵀY; the final basis the same twice) instead of
//! single-threaded LAPACK, where that basis is well conditioned, one per
//! iteration (of Mᵀ·M·Q: M·Q goes on un-normalised, see `two_pass_range`).
//!
//! Dense f32 X takes the fused passes too, in f32 (their speed), with U⁻¹
//! applied in f64 and a guard on cond(U) of its own (`fused_power`), but
//! B = Qᵀ·X exactly (one pass more: no later iteration damps B's error),
//! and neither the Gram path (G squares the condition number, which f32's
//! eps does not allow).

use crate::dist::{Comm, Shard};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
#[cfg(test)]
use crate::io::InMemory;
use crate::io::{for_each_block, RowSource};
use crate::linalg::csr_transpose::CsrBothWays;
use crate::linalg::fused_power::{
    right_solve_upper, small_cond, symmetrise_upper, upper_of_lu, GramPass,
};
use crate::linalg::row_chunks::{gemm_rows_into, rows_dot, transposed};
use crate::linalg::small_lapack::{
    lu_factor, permuted_l_from, permuted_l_into, qr_basis, qr_basis_r, thin_svd,
};
use crate::linalg::span_basis::gram_basis_in_place;
use crate::linalg::sparse::{csc_t_dot_dense_with, csr_dot_dense, CscIndex};
use crate::linalg::svd_flip::{flip_signs_by_columns, flip_signs_by_rows};
use crate::rng::NumpyRandomState;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;
use std::any::TypeId;

/// Oversampling used by scikit-learn's NMF initialisation.
pub const N_OVERSAMPLES: usize = 10;

/// Smallest σ_k/σ₁ for which the Gram path's result is kept (see
/// `randomized_svd_source`).
const GRAM_MIN_RATIO: f64 = 1e-3;

/// Truncated SVD: (U n×k, S k, Vt k×m).
///
/// `rng` is consumed exactly as scikit-learn consumes its `RandomState`:
/// `cols(M) × (k + 10)` standard normals in row-major order.
#[cfg(test)]
pub fn randomized_svd<F: NmfFloat>(
    x: &Input<F>,
    n_components: usize,
    rng: &mut NumpyRandomState,
) -> Result<(Array2<F>, Array1<F>, Array2<F>)> {
    let shard = Shard::local(x.shape(), 0.0);
    randomized_svd_source(
        &mut InMemory::new(*x),
        n_components,
        rng,
        Comm::single(),
        &shard,
    )
}

/// [`randomized_svd`] of X read from a row source: every product with X
/// (X·Q, Xᵀ·Q) is a pass over its row blocks ([`for_each_block`]); X·Q is
/// assembled block by block, Xᵀ·Q summed over the blocks in order.
///
/// Distributed, the source is this worker's shard of a global X (`shard`
/// places it): the same algorithm on the same random start (every worker
/// draws it from the same seed). The products with X are the only steps
/// that touch X: X·B is computed on each shard's rows and gathered (a
/// sum-all-reduce of a zero-padded N×c buffer, exact: the other ranks add
/// zeros), Xᵀ·B is a sum over the shards (all-reduced, equal to one process
/// up to rounding). The LU/QR/SVD steps then run on the same N×(k+10) or
/// m×(k+10) matrices on every worker, which all return the whole U (N×k),
/// S and Vt. One process: `Comm::single()` and [`Shard::local`].
pub fn randomized_svd_source<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    n_components: usize,
    rng: &mut NumpyRandomState,
    comm: Comm,
    shard: &Shard,
) -> Result<(Array2<F>, Array1<F>, Array2<F>)> {
    let (n_samples, n_features) = (shard.n_total, shard.n_features);
    if n_samples == 0 || n_features == 0 {
        return Err(Error::Linalg(format!(
            "randomized_svd of an empty {n_samples}×{n_features} matrix"
        )));
    }
    if n_components == 0 || n_components > n_samples.min(n_features) {
        return Err(Error::Linalg(format!(
            "randomized_svd: n_components = {n_components} must be in 1..={}",
            n_samples.min(n_features)
        )));
    }
    let n_random = n_components + N_OVERSAMPLES;
    // Compared in floating point, as Python does (0.1 * 30 > 3).
    let n_iter = if (n_components as f64) < 0.1 * (n_samples.min(n_features) as f64) {
        7
    } else {
        4
    };
    let mut op = Operator::new(x, comm, shard);
    let (_, m_cols) = op.shape();

    // Gaussian start, drawn in f64 then cast to X's dtype.
    let q: Array2<F> = rng
        .standard_normal_array(m_cols, n_random)
        .mapv(F::from_f64_);

    // Sparse X (where a pass has no packing to save) keeps scikit-learn's
    // two passes; f32 fuses under its own guard (`fused_power::small_cond`)
    // but skips the Gram path.
    let fused = !op.src.is_sparse();
    let gram = fused
        && TypeId::of::<F>() == TypeId::of::<f64>()
        && !op.transpose
        && gram_pays(&op, n_random, n_iter);
    // The Gram path's start, kept to redo the range with the fused passes
    // if the Gram result turns out too ill-conditioned (below).
    let q_start = if gram { Some(q.clone()) } else { None };
    let (mut q, b) = if !fused {
        two_pass_range(&mut op, q, n_iter)?
    } else if op.transpose {
        fused_range_wide(&mut op, q, n_iter)?
    } else if gram {
        gram_range_tall(&mut op, q, n_iter)?
    } else {
        fused_range_tall(&mut op, q, n_iter)?
    };
    let (mut u_hat, mut s, mut vt) = thin_svd(b)?;
    let k = n_components;
    // G = XᵀX squares X's condition number: the direction of singular value
    // σ_j keeps a relative accuracy of about eps·(σ₁/σ_j)² through G,
    // against eps·σ₁/σ_j through X. Keep the Gram result only when the k-th
    // singular value (the smallest the initialisation uses) is at least
    // GRAM_MIN_RATIO·σ₁, i.e. that error is at most 1e6·eps ≈ 2e-10; else
    // redo the range from the same start with the fused passes (which have
    // their own guard).
    if let Some(q0) = q_start {
        let ratio = s[k - 1].to_f64_() / s[0].to_f64_();
        if ratio.is_nan() || ratio < GRAM_MIN_RATIO {
            let (q2, b2) = fused_range_tall(&mut op, q0, n_iter)?;
            q = q2;
            (u_hat, s, vt) = thin_svd(b2)?;
        }
    }
    let mut u = rows_dot(q, u_hat.view());
    drop(u_hat);

    if op.transpose {
        flip_signs_by_rows(&mut u, &mut vt);
        let vt_k = transposed(vt.slice(ndarray::s![..k, ..]));
        drop(vt);
        let u_k = transposed(u.slice(ndarray::s![.., ..k]));
        Ok((vt_k, s.slice(ndarray::s![..k]).to_owned(), u_k))
    } else {
        flip_signs_by_columns(&mut u, &mut vt);
        Ok((
            standard(u.slice(ndarray::s![.., ..k])),
            s.slice(ndarray::s![..k]).to_owned(),
            standard(vt.slice(ndarray::s![..k, ..])),
        ))
    }
}

/// The range finder as scikit-learn writes it: Q ← P·L(M·Q), Q ← P·L(Mᵀ·Q)
/// `n_iter` times, Q = qr(M·Q), B = Qᵀ·M (two passes over X per iteration;
/// sparse X, where a pass has no packing to save).
fn two_pass_range<F: NmfFloat>(
    op: &mut Operator<'_, '_, F>,
    mut q: Array2<F>,
    n_iter: usize,
) -> Result<(Array2<F>, Array2<F>)> {
    // The power iterations reuse their buffers: M·Q (normalised in place)
    // and Mᵀ·Q written over the previous Q (normalised in place); LAPACK's
    // P·L goes through a spare buffer of the same shape.
    let mut prod_m = Array2::zeros((0, 0));
    let mut spare_m = Array2::zeros((0, 0));
    let mut spare_t = Array2::zeros((0, 0));
    let mut lu = Vec::new();
    // Sparse f64 X: the normaliser and the final basis from GEMMs on both
    // cores (`span_basis`: the same spans, written over Y), LAPACK's where
    // its guard refuses (and for f32).
    let gemm_basis = op.src.is_sparse() && TypeId::of::<F>() == TypeId::of::<f64>();
    let mut pass = GramPass::default();
    let normalise =
        |y: &mut Array2<F>, pass: &mut GramPass<F>, lu: &mut Vec<F>, spare: &mut Array2<F>| {
            if gemm_basis && gram_basis_in_place(y, pass) {
                count_gemm_basis();
                return Ok(());
            }
            permuted_l_into(y.view(), lu, spare)?;
            std::mem::swap(y, spare);
            Ok::<(), Error>(())
        };
    for _ in 0..n_iter {
        op.dot_into(q.view(), &mut prod_m)?;
        // With the GEMM basis, Mᵀ·(M·Q) straight from the M·Q the product
        // gave, without its basis: the span of Mᵀ·P·L(M·Q) (P·L(Y) = Y·U⁻¹),
        // so one basis per iteration, of the m-row Mᵀ·Y, and none of the
        // (longer) M·Q. The product's rounding then reaches the span
        // multiplied by cond(M·Q) instead of cond(P·L(M·Q)), at most
        // cond(Mᵀ·M·Q): `span_basis`'s guard on that basis (cond₁·eps ≤
        // 1e4·eps) bounds it as it bounds the fused dense passes; where it
        // refuses, M·Q gets its basis and the product is taken again.
        if gemm_basis {
            op.t_dot_into(prod_m.view(), &mut q)?;
            if gram_basis_in_place(&mut q, &mut pass) {
                count_gemm_basis();
                continue;
            }
        }
        normalise(&mut prod_m, &mut pass, &mut lu, &mut spare_m)?;
        op.t_dot_into(prod_m.view(), &mut q)?;
        normalise(&mut q, &mut pass, &mut lu, &mut spare_t)?;
    }
    drop((spare_m, spare_t, lu));
    op.dot_into(q.view(), &mut prod_m)?;
    drop(q);
    // Cholesky QR twice (the span of Y, orthonormal to rounding), over Y;
    // LAPACK's QR of Y where the first pass refuses it, of the first basis
    // (the same span: the same U, S, Vt up to the signs svd_flip fixes)
    // where only the second does.
    let q = if gemm_basis && gram_basis_in_place(&mut prod_m, &mut pass) {
        if gram_basis_in_place(&mut prod_m, &mut pass) {
            prod_m
        } else {
            qr_basis(prod_m)?
        }
    } else {
        qr_basis(prod_m)?
    };
    let b = op.q_t_dot(q.view())?;
    Ok((q, b))
}

/// Dense X with M = X: one pass per iteration gives Y = X·Q and Z = Xᵀ·Y;
/// getrf(Y) = P·L·U, so Mᵀ·(P·L) = Z·U⁻¹ (`fused_power`). The last pass
/// gives Y = X·Q and Z again: Q = qr(Y) = Y·R⁻¹ and B = Qᵀ·X = (Z·R⁻¹)ᵀ.
/// n_iter + 1 passes instead of 2·n_iter + 2. At the first ill-conditioned
/// U the iteration takes the exact product and the rest runs as
/// [`two_pass_range`] (a rank-deficient X costs half a pass more, not one
/// per iteration); an ill-conditioned R takes the exact Qᵀ·X.
fn fused_range_tall<F: NmfFloat>(
    op: &mut Operator<'_, '_, F>,
    mut q: Array2<F>,
    n_iter: usize,
) -> Result<(Array2<F>, Array2<F>)> {
    let mut y = Array2::zeros((0, 0));
    let mut z = Array2::zeros((0, 0));
    let mut lu = Vec::new();
    for it in 0..n_iter {
        op.gram_pass(q.view(), &mut y, &mut z)?;
        // Q may have fewer than k + 10 columns (P·L of a matrix with fewer rows).
        let (n, l) = y.dim();
        let ipiv = lu_factor(y.view(), &mut lu)?;
        match (n >= l).then(|| upper_of_lu(&lu, n, l)) {
            Some(u) if small_cond(&u) => {
                count_fused();
                right_solve_upper(&mut z, &u);
                permuted_l_into(z.view(), &mut lu, &mut q)?;
            }
            _ => {
                let mut q_m = Array2::zeros((0, 0));
                permuted_l_from(&lu, n, l, &ipiv, &mut q_m);
                drop((y, lu));
                op.t_dot_into(q_m.view(), &mut z)?;
                permuted_l_into(z.view(), &mut Vec::new(), &mut q)?;
                return two_pass_range(op, q, n_iter - it - 1);
            }
        }
    }
    drop(lu);
    last_fused_pass(op, q, y, z)
}

/// The last sample of a tall range finder in one pass: Y = X·Q, Z = Xᵀ·Y,
/// Q·R = Y and B = (Z·R⁻¹)ᵀ, or B = Qᵀ·X exactly when R is ill-conditioned.
fn last_fused_pass<F: NmfFloat>(
    op: &mut Operator<'_, '_, F>,
    q: Array2<F>,
    mut y: Array2<F>,
    mut z: Array2<F>,
) -> Result<(Array2<F>, Array2<F>)> {
    if TypeId::of::<F>() != TypeId::of::<f64>() {
        // f32: B = Qᵀ·X is the result itself (no later power iteration damps
        // its error), and (Z·R⁻¹)ᵀ would carry cond(R) times the f32
        // rounding of Z into it; the exact product costs one pass more.
        drop((y, z));
        let mut y = Array2::zeros((0, 0));
        op.dot_into(q.view(), &mut y)?;
        let q = qr_basis(y)?;
        let b = op.q_t_dot(q.view())?;
        return Ok((q, b));
    }
    op.gram_pass(q.view(), &mut y, &mut z)?;
    let (q, r) = qr_basis_r(y)?;
    let b = if r.is_square() && small_cond(&r) {
        count_fused();
        right_solve_upper(&mut z, &r);
        z.reversed_axes()
    } else {
        op.q_t_dot(q.view())?
    };
    Ok((q, b))
}

/// Whether the power iterations of a tall dense X cost less through
/// G = Xᵀ·X (one pass of n·m²/2 multiply-adds with `syrk`, then m²·l per
/// iteration) than through n_iter fused passes (2·n·m·l each): m below
/// 4·n_iter·l, taken below 2·n_iter·l for margin (Fashion-MNIST, m = 784:
/// k = 50 iterates on G, k = 10 fuses), and G (m×m, with up to four partial
/// sums) small.
fn gram_pays<F: NmfFloat>(op: &Operator<'_, '_, F>, l: usize, n_iter: usize) -> bool {
    const MAX_GRAM_COLS: usize = 2048;
    let m = op.src.shape().1;
    m <= MAX_GRAM_COLS && m < 2 * n_iter * l
}

/// [`fused_range_tall`] with the power iterations on G = Xᵀ·X: Q ← P·L(G·Q)
/// (the same subspace as scikit-learn's Q ← P·L(Xᵀ·P·L(X·Q)): the two differ
/// by an invertible l×l factor, U⁻¹ of `fused_power`), then the last fused
/// pass Y = X·Q, Z = Xᵀ·Y, Q·R = Y, B = (Z·R⁻¹)ᵀ: two passes over X.
fn gram_range_tall<F: NmfFloat>(
    op: &mut Operator<'_, '_, F>,
    mut q: Array2<F>,
    n_iter: usize,
) -> Result<(Array2<F>, Array2<F>)> {
    let g = op.gram()?;
    let mut z = Array2::zeros((0, 0));
    let mut lu = Vec::new();
    for _ in 0..n_iter {
        let shape = (g.nrows(), q.ncols());
        if z.dim() != shape {
            z = Array2::zeros(shape);
        }
        ndarray::linalg::general_mat_mul(F::one(), &g, &q, F::zero(), &mut z);
        permuted_l_into(z.view(), &mut lu, &mut q)?;
    }
    drop((g, lu));
    last_fused_pass(op, q, Array2::zeros((0, 0)), z)
}

/// Dense X with M = Xᵀ: a pass from V (m×l) gives Y = X·V = Mᵀ·V and
/// Z = Xᵀ·Y. The iterations are paired across: A = M·Q (one pass), then
/// per iteration V = P·L(A), Y = Mᵀ·V, and the next M·P·L(Y) = Z·U⁻¹ with
/// getrf(Y) = P·L·U. Q = qr(A), B = Qᵀ·M = (X·Q)ᵀ: n_iter + 2 passes. At
/// the first ill-conditioned U the rest runs as [`two_pass_range`].
fn fused_range_wide<F: NmfFloat>(
    op: &mut Operator<'_, '_, F>,
    q: Array2<F>,
    n_iter: usize,
) -> Result<(Array2<F>, Array2<F>)> {
    let mut a = Array2::zeros((0, 0));
    op.dot_into(q.view(), &mut a)?;
    drop(q);
    let mut v = Array2::zeros((0, 0));
    let mut y = Array2::zeros((0, 0));
    let mut lu = Vec::new();
    for it in 0..n_iter {
        permuted_l_into(a.view(), &mut lu, &mut v)?;
        op.gram_pass(v.view(), &mut y, &mut a)?;
        let (n, l) = y.dim();
        let ipiv = lu_factor(y.view(), &mut lu)?;
        match (n >= l).then(|| upper_of_lu(&lu, n, l)) {
            Some(u) if small_cond(&u) => {
                count_fused();
                right_solve_upper(&mut a, &u)
            }
            _ => {
                let mut q = Array2::zeros((0, 0));
                permuted_l_from(&lu, n, l, &ipiv, &mut q);
                drop((a, v, y, lu));
                return two_pass_range(op, q, n_iter - it - 1);
            }
        }
    }
    drop((v, y, lu));
    let q = qr_basis(a)?;
    let b = op.q_t_dot(q.view())?;
    Ok((q, b))
}

#[cfg(test)]
thread_local! {
    /// Fused products taken on this thread (tests check the path runs).
    static FUSED_STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one fused product (tests only).
fn count_fused() {
    #[cfg(test)]
    FUSED_STEPS.with(|c| c.set(c.get() + 1));
}

#[cfg(test)]
thread_local! {
    /// Normalisations by `span_basis` taken on this thread (tests).
    static GEMM_BASIS_STEPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one normalisation by `span_basis` (tests only).
fn count_gemm_basis() {
    #[cfg(test)]
    GEMM_BASIS_STEPS.with(|c| c.set(c.get() + 1));
}

/// A row-major copy.
fn standard<F: NmfFloat>(a: ArrayView2<F>) -> Array2<F> {
    a.as_standard_layout().into_owned()
}

/// The matrix M the range finder works on: X, or Xᵀ when X is wide (X of
/// all workers: this worker's source holds rows [offset, offset + rows)).
struct Operator<'s, 'c, F> {
    src: &'s mut dyn RowSource<F>,
    transpose: bool,
    comm: Comm<'c>,
    offset: usize,
    n_total: usize,
    /// Column index of the current CSR block (buffers reused by the passes).
    csc: CscIndex,
    /// The block `csc` indexes: (first row, rows, non-zeros, values' address).
    csc_of: Option<(usize, usize, usize, usize)>,
    /// Partial sums of the fused dense passes.
    gram: GramPass<F>,
    /// A one-block CSR X (all of this worker's rows) and its transpose,
    /// gathered row by row both ways.
    both: CsrBothWays<F>,
}

impl<'s, 'c, F: NmfFloat> Operator<'s, 'c, F> {
    fn new(src: &'s mut dyn RowSource<F>, comm: Comm<'c>, shard: &Shard) -> Self {
        let (n, m) = (shard.n_total, shard.n_features);
        Operator {
            src,
            transpose: n < m,
            comm,
            offset: shard.offset,
            n_total: n,
            csc: CscIndex::default(),
            csc_of: None,
            gram: GramPass::default(),
            both: CsrBothWays::default(),
        }
    }

    /// Shape of M.
    fn shape(&self) -> (usize, usize) {
        let (n, m) = (self.n_total, self.src.shape().1);
        if self.transpose {
            (m, n)
        } else {
            (n, m)
        }
    }

    /// X·B (`x_side` = true; N×c) or Xᵀ·B (B has N rows), one pass over
    /// this worker's row blocks, summed over the workers.
    fn x_dot(&mut self, b: ArrayView2<F>, x_side: bool) -> Result<Array2<F>> {
        let mut out = Array2::zeros((0, 0));
        self.x_dot_into(b, x_side, &mut out)?;
        Ok(out)
    }

    /// [`Self::x_dot`] into `out` (row-major; reshaped, and so reallocated,
    /// only when its shape differs).
    fn x_dot_into(&mut self, b: ArrayView2<F>, x_side: bool, out: &mut Array2<F>) -> Result<()> {
        self.local_x_dot(b, x_side, out)?;
        if self.comm.is_single() {
            return Ok(());
        }
        // Row-major, so that every worker lays the sum out the same way.
        self.comm
            .sum(out.as_slice_mut().expect("standard layout is contiguous"))?;
        Ok(())
    }

    /// X·B or Xᵀ·B over this worker's rows: X·B in an N×c buffer of zeros
    /// but for this shard's rows (the sum over the workers is the whole
    /// product), Xᵀ·B with B's rows of this shard.
    fn local_x_dot(&mut self, b: ArrayView2<F>, x_side: bool, out: &mut Array2<F>) -> Result<()> {
        let (n, m) = (self.n_total, self.src.shape().1);
        let off = self.offset;
        let c = b.ncols();
        let shape = if x_side { (n, c) } else { (m, c) };
        // X in one block: the products through `both`, whose transposed
        // copy is built once per SVD (a multi-block X sums the blocks'
        // Xᵀ·B in order through the column index of each block).
        let local_rows = self.src.shape().0;
        let both = &mut self.both;
        if out.dim() != shape || !out.is_standard_layout() {
            *out = Array2::zeros(shape);
        } else {
            out.fill(F::zero());
        }
        if x_side {
            for_each_block(self.src, |s0, xb| {
                let o = out.slice_mut(ndarray::s![off + s0..off + s0 + xb.n_rows(), ..]);
                match xb {
                    Input::Dense(d) => with_blas_view(*d, |d| par_dot_into(d, b, o)),
                    Input::Csr(x) if x.n_rows() == local_rows => both.dot_into(x, b, o),
                    Input::Csr(x) => csr_dot_dense(x, b, o),
                }
                Ok(())
            })?;
            Ok(())
        } else {
            let mut first = true;
            let (csc, csc_of) = (&mut self.csc, &mut self.csc_of);
            for_each_block(self.src, |s0, xb| {
                let bb = b.slice(ndarray::s![off + s0..off + s0 + xb.n_rows(), ..]);
                match xb {
                    Input::Dense(d) => {
                        let p = with_blas_view(*d, |d| par_t_dot(d, bb));
                        if first {
                            out.assign(&p);
                        } else {
                            *out += &p;
                        }
                    }
                    Input::Csr(x) if x.n_rows() == local_rows => {
                        both.t_dot_into(x, bb, out.view_mut())
                    }
                    // Each row of `out` adds its column's non-zeros in row
                    // order onto the previous blocks' sum: the same sums as
                    // one sequential pass over all of X, whatever the blocks
                    // and the threads (and those of the one-block copy).
                    Input::Csr(x) => {
                        // The same rows of the same source: the same index.
                        let key = (s0, x.n_rows(), x.nnz(), x.values().as_ptr() as usize);
                        if *csc_of != Some(key) {
                            csc.build(x);
                            *csc_of = Some(key);
                        }
                        csc_t_dot_dense_with(csc, x.values(), bb, out.view_mut(), true)
                    }
                }
                first = false;
                Ok(())
            })?;
            Ok(())
        }
    }

    /// One pass over a dense X from V (m×l): Y = X·V (N×l, gathered over
    /// the workers) and Z = Xᵀ·Y (m×l, summed over the workers), each block's
    /// Xᵀ·Y formed while the block is in cache ([`GramPass`]).
    fn gram_pass(&mut self, v: ArrayView2<F>, y: &mut Array2<F>, z: &mut Array2<F>) -> Result<()> {
        let (n, m) = (self.n_total, self.src.shape().1);
        let off = self.offset;
        let l = v.ncols();
        for (buf, shape) in [(&mut *y, (n, l)), (&mut *z, (m, l))] {
            if buf.dim() != shape || !buf.is_standard_layout() {
                *buf = Array2::zeros(shape);
            } else {
                buf.fill(F::zero());
            }
        }
        let pass = &mut self.gram;
        for_each_block(self.src, |s0, xb| match xb {
            Input::Dense(d) => {
                let yb = y.slice_mut(ndarray::s![off + s0..off + s0 + xb.n_rows(), ..]);
                with_blas_view(*d, |d| pass.block(d, v, yb, z));
                Ok(())
            }
            Input::Csr(_) => Err(Error::Linalg(
                "randomized_svd: a dense pass over a sparse block".into(),
            )),
        })?;
        if !self.comm.is_single() {
            self.comm
                .sum(y.as_slice_mut().expect("standard layout is contiguous"))?;
            self.comm
                .sum(z.as_slice_mut().expect("standard layout is contiguous"))?;
        }
        Ok(())
    }

    /// G = Xᵀ·X (m×m, symmetric, summed over the workers), one pass.
    fn gram(&mut self) -> Result<Array2<F>> {
        let m = self.src.shape().1;
        let mut g = Array2::zeros((m, m).f());
        let pass = &mut self.gram;
        for_each_block(self.src, |_, xb| match xb {
            Input::Dense(d) => {
                with_blas_view(*d, |d| pass.gram_block(d, &mut g));
                Ok(())
            }
            Input::Csr(_) => Err(Error::Linalg(
                "randomized_svd: a dense pass over a sparse block".into(),
            )),
        })?;
        pass.partials_clear();
        symmetrise_upper(&mut g);
        if !self.comm.is_single() {
            self.comm
                .sum(g.as_slice_memory_order_mut().expect("contiguous"))?;
        }
        Ok(g)
    }

    /// M·B into `out`.
    fn dot_into(&mut self, b: ArrayView2<F>, out: &mut Array2<F>) -> Result<()> {
        let x_side = !self.transpose;
        self.x_dot_into(b, x_side, out)
    }

    /// Mᵀ·B into `out`.
    fn t_dot_into(&mut self, b: ArrayView2<F>, out: &mut Array2<F>) -> Result<()> {
        let x_side = self.transpose;
        self.x_dot_into(b, x_side, out)
    }

    /// Mᵀ·B.
    fn t_dot(&mut self, b: ArrayView2<F>) -> Result<Array2<F>> {
        let x_side = self.transpose;
        self.x_dot(b, x_side)
    }

    /// Qᵀ·M = (Mᵀ·Q)ᵀ (dense: the GEMM numpy runs, transposed; sparse: as
    /// scipy computes it).
    fn q_t_dot(&mut self, q: ArrayView2<F>) -> Result<Array2<F>> {
        Ok(self.t_dot(q)?.reversed_axes())
    }
}

/// Calls `f` with a BLAS-compatible view of `d` (a row-major copy if its
/// strides are not).
fn with_blas_view<F: NmfFloat, T>(d: ArrayView2<F>, f: impl FnOnce(ArrayView2<F>) -> T) -> T {
    if blas_friendly(&d) {
        f(d)
    } else {
        let owned = d.as_standard_layout().into_owned();
        f(owned.view())
    }
}

/// Row ranges of `n` rows, one per worker (BLAS is single-threaded; the
/// workers supply the parallelism).
/// Small products stay in one piece (one GEMM, numpy's summation order).
fn row_parts(n: usize, work: usize) -> Vec<(usize, usize)> {
    const MIN_WORK_TO_SPLIT: usize = 1 << 22;
    let parts = if work < MIN_WORK_TO_SPLIT {
        1
    } else {
        rayon::current_num_threads().clamp(1, n.max(1))
    };
    let chunk = n.div_ceil(parts).max(1);
    (0..n)
        .step_by(chunk)
        .map(|s| (s, (s + chunk).min(n)))
        .collect()
}

/// out = D·B, rows of D split across the workers.
fn par_dot_into<F: NmfFloat>(d: ArrayView2<F>, b: ArrayView2<F>, out: ArrayViewMut2<F>) {
    let parts = row_parts(d.nrows(), d.len() * b.ncols());
    let chunk = parts.first().map_or(1, |p| p.1 - p.0);
    gemm_rows_into(d, b, out, chunk);
}

/// Dᵀ·B: the products of row blocks of D computed on the workers, then
/// summed in block order (a fixed order: the same sums on every run).
fn par_t_dot<F: NmfFloat>(d: ArrayView2<F>, b: ArrayView2<F>) -> Array2<F> {
    let parts: Vec<Array2<F>> = row_parts(d.nrows(), d.len() * b.ncols())
        .into_par_iter()
        .map(|(s, e)| {
            d.slice(ndarray::s![s..e, ..])
                .t()
                .dot(&b.slice(ndarray::s![s..e, ..]))
        })
        .collect();
    let mut parts = parts.into_iter();
    let mut sum = parts
        .next()
        .unwrap_or_else(|| Array2::zeros((d.ncols(), b.ncols())));
    for p in parts {
        sum += &p;
    }
    sum
}

/// Whether BLAS can read the view directly (unit stride along one axis).
fn blas_friendly<F>(a: &ArrayView2<F>) -> bool {
    let (r, c) = a.dim();
    let s = a.strides();
    let row_major = (s[1] == 1 || c <= 1) && s[0] >= c.max(1) as isize;
    let col_major = (s[0] == 1 || r <= 1) && s[1] >= r.max(1) as isize;
    row_major || col_major
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::CsrView;
    use crate::rng::test_npy;

    /// Largest |a - b| relative to the largest |b|.
    fn rel_diff<'a>(a: impl Iterator<Item = &'a f64>, b: &[f64]) -> f64 {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.zip(b).fold(0.0f64, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// U, S, Vt against sklearn's `_randomized_svd(X, k, random_state=0)`.
    fn check(name: &str) {
        let x = test_npy::read_matrix(&format!("x_{name}.npy"));
        let (n, m) = x.dim();
        let (indptr, indices, data) = test_npy::csr_parts(&x);
        let csr = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
        for (fmt, input) in [("dense", Input::Dense(x.view())), ("csr", Input::Csr(csr))] {
            let (_, want) = test_npy::read_f64(&format!("svd_{name}_{fmt}.npy"));
            let (mut at, mut worst) = (0, 0.0f64);
            for k in [3usize, 5] {
                let mut rng = NumpyRandomState::new(0);
                let (u, s, vt) = randomized_svd(&input, k, &mut rng).unwrap();
                assert_eq!((u.dim(), s.len(), vt.dim()), ((n, k), k, (k, m)));
                let parts: [(&str, Vec<f64>); 3] = [
                    ("U", u.iter().copied().collect()),
                    ("S", s.to_vec()),
                    ("Vt", vt.iter().copied().collect()),
                ];
                for (what, got) in parts {
                    let len = got.len();
                    let d = rel_diff(got.iter(), &want[at..at + len]);
                    at += len;
                    worst = worst.max(d);
                    assert!(d < 1e-10, "{name} {fmt} k={k} {what}: rel diff {d:e}");
                }
            }
            assert_eq!(at, want.len());
            eprintln!("randomized_svd x_{name} {fmt}: worst scaled diff {worst:e}");
        }
    }

    #[test]
    fn matches_sklearn_tall() {
        check("a");
    }

    #[test]
    fn matches_sklearn_wide_transposed() {
        check("b");
    }

    /// Full-rank X (tall, and wide: M = Xᵀ) whose LU factors are well
    /// conditioned: the dense SVD takes the fused one-pass products and
    /// still matches scikit-learn's two-pass products to 1e-10. x_d (250×190)
    /// at k = 3 runs n_iter + 1 = 8 fused steps; at k = 5 (l = 15, 190 < 2·7·15)
    /// it iterates on Xᵀ·X and fuses the last step only; x_e (40×200, wide)
    /// fuses every iteration (7 at k = 3, 4 at k = 5).
    #[test]
    fn fused_passes_match_sklearn_tall_and_wide() {
        for (name, steps) in [("d", 8 + 1), ("e", 7 + 4)] {
            FUSED_STEPS.with(|c| c.set(0));
            check(name);
            assert_eq!(FUSED_STEPS.with(|c| c.get()), steps, "x_{name}");
        }
    }

    /// Sparse f64 X normalises every power iteration with `span_basis`
    /// when X has full rank: one GEMM basis per iteration (of Mᵀ·M·Q; a
    /// refused one would add the basis of M·Q and count two), and still
    /// matches scikit-learn's P·L products to 1e-10 (`check`); a
    /// rank-deficient X (x_a) falls back to LAPACK's factorisations where
    /// the guard refuses.
    #[test]
    fn sparse_power_iterations_take_the_gemm_basis() {
        for (name, want_steps) in [("d", 7 + 7), ("e", 7 + 4)] {
            let x = test_npy::read_matrix(&format!("x_{name}.npy"));
            let (n, m) = x.dim();
            let (indptr, indices, data) = test_npy::csr_parts(&x);
            let csr = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
            GEMM_BASIS_STEPS.with(|c| c.set(0));
            for k in [3usize, 5] {
                randomized_svd(&Input::Csr(csr), k, &mut NumpyRandomState::new(0)).unwrap();
            }
            let steps = GEMM_BASIS_STEPS.with(|c| c.get());
            assert_eq!(steps, want_steps, "x_{name}: GEMM bases");
            check(name);
        }
    }

    /// Rank-deficient X (x_a: rank 11 < k + 10; 12 columns, so its power
    /// iterations run on Xᵀ·X) leaves R ill-conditioned: B = Qᵀ·X is the
    /// exact product (and matches scikit-learn, `matches_sklearn_tall`).
    #[test]
    fn rank_deficient_x_takes_the_exact_products() {
        let x = test_npy::read_matrix("x_a.npy");
        FUSED_STEPS.with(|c| c.set(0));
        randomized_svd(&Input::Dense(x.view()), 3, &mut NumpyRandomState::new(0)).unwrap();
        assert_eq!(FUSED_STEPS.with(|c| c.get()), 0);
    }

    #[test]
    fn any_strides_and_f32() {
        let x = test_npy::read_matrix("x_a.npy");
        // A column-major copy and a strided view give the same result.
        let xf = {
            let mut f = Array2::zeros(x.raw_dim().f());
            f.assign(&x);
            f
        };
        let mut tiled = Array2::zeros((x.nrows(), 2 * x.ncols()));
        tiled.slice_mut(ndarray::s![.., ..;2]).assign(&x);
        let strided = tiled.slice(ndarray::s![.., ..;2]);
        let run = |v: ArrayView2<f64>| {
            randomized_svd(&Input::Dense(v), 3, &mut NumpyRandomState::new(0)).unwrap()
        };
        let (u0, s0, v0) = run(x.view());
        for (u, s, v) in [run(xf.view()), run(strided)] {
            assert!((&u - &u0).iter().all(|d| d.abs() < 1e-12));
            assert!((&s - &s0).iter().all(|d| d.abs() < 1e-12));
            assert!((&v - &v0).iter().all(|d| d.abs() < 1e-12));
        }
        // f32 runs in f32 and lands within f32 rounding of the f64 result.
        // X is stored with relative error eps_f32 and every product of the
        // power iterations and the small SVD is backward stable, so the f32
        // factors are exact for X + E with ‖E‖ <= sqrt(n·m)·eps_f32·‖X‖₂ (the
        // usual growth of a sum's rounding, taken as the bound). Weyl: each
        // singular value moves by at most ‖E‖; Davis–Kahan: each singular
        // vector by at most √2·‖E‖/gap_i, gap_i the distance from s_i to the
        // other singular values of X (x_a has 12; 3 + oversampling >= 12
        // columns make the randomized SVD exact up to rounding here).
        assert_f32_within_rounding(&x, 3, (&u0, &s0, &v0));
    }

    /// Dense f32 X with well-conditioned LU factors takes the fused passes
    /// (x_d, 250×190, k = 3: the 7 power iterations fused, B = Qᵀ·X exact),
    /// and lands within f32 rounding of the f64 result (the bound of
    /// `any_strides_and_f32`).
    #[test]
    fn f32_fuses_and_stays_within_f32_rounding() {
        let x = test_npy::read_matrix("x_d.npy");
        let (u0, s0, v0) =
            randomized_svd(&Input::Dense(x.view()), 3, &mut NumpyRandomState::new(0)).unwrap();
        FUSED_STEPS.with(|c| c.set(0));
        assert_f32_within_rounding(&x, 3, (&u0, &s0, &v0));
        assert_eq!(FUSED_STEPS.with(|c| c.get()), 7);
    }

    /// The f32 SVD of x (rounded to f32) against the f64 one, (u0, s0, v0).
    fn assert_f32_within_rounding(
        x: &Array2<f64>,
        k: usize,
        (u0, s0, v0): (&Array2<f64>, &Array1<f64>, &Array2<f64>),
    ) {
        let x32 = x.mapv(|v| v as f32);
        let (u, s, v) =
            randomized_svd(&Input::Dense(x32.view()), k, &mut NumpyRandomState::new(0)).unwrap();
        let all = {
            use ndarray_linalg::SVD;
            x.svd(false, false).unwrap().1
        };
        let e = ((x.len()) as f64).sqrt() * f32::EPSILON as f64 * all[0];
        for i in 0..k {
            assert!((s[i] as f64 - s0[i]).abs() <= e, "s[{i}]");
            let gap = all
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, &sj)| (sj - s0[i]).abs())
                .fold(f64::INFINITY, f64::min);
            let bound = std::f64::consts::SQRT_2 * e / gap;
            let dist = |a: ndarray::ArrayView1<f32>, b: ndarray::ArrayView1<f64>| {
                a.iter()
                    .zip(b)
                    .map(|(p, q)| (*p as f64 - q).powi(2))
                    .sum::<f64>()
                    .sqrt()
            };
            let (du, dv) = (dist(u.column(i), u0.column(i)), dist(v.row(i), v0.row(i)));
            assert!(
                du <= bound && dv <= bound,
                "vector {i}: {du:e}, {dv:e} > {bound:e}"
            );
        }
    }

    #[test]
    fn rejects_bad_rank() {
        let x = Array2::<f64>::ones((4, 3));
        let mut rng = NumpyRandomState::new(0);
        assert!(matches!(
            randomized_svd(&Input::Dense(x.view()), 4, &mut rng),
            Err(Error::Linalg(_))
        ));
        assert!(randomized_svd(&Input::Dense(x.view()), 0, &mut rng).is_err());
    }
}
