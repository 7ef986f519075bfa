//! One pass over a dense X for both products of a power iteration.
//!
//! scikit-learn's range finder alternates Q ← P·L(M·Q) and Q ← P·L(Mᵀ·Q)
//! (P·L the pivoted lower factor of `getrf`), two passes over X per
//! iteration. With Y = M·Q and getrf(Y) = P·L·U, the second product is
//! Mᵀ·(P·L) = Mᵀ·Y·U⁻¹ = (Mᵀ·Y)·U⁻¹, and Mᵀ·Y = Xᵀ·X·Q (or X·Xᵀ·Q,
//! see `randomized_svd`) is formed row block by row block while the block is
//! in cache: Y_b = X_b·V, then Z += X_bᵀ·Y_b. Likewise the last step:
//! Q = qr(Y) = Y·R⁻¹, so Qᵀ·M = (Mᵀ·Y·R⁻¹)ᵀ.
//!
//! Applying U⁻¹ (or R⁻¹) after the product instead of before changes the
//! rounding by about cond(U)·eps; [`small_cond`] lets the caller take the
//! exact two-pass product whenever that bound is not far below the
//! parity tolerance (a rank-deficient X gives a singular or nearly singular
//! U, and always takes the exact path).
//!
//! The dense products within a block run in row pieces small enough for
//! OpenBLAS's unpacked small-matrix kernels (see `rows_per_call`), the
//! block's rows shared among the rayon workers in chunks cut from the shape
//! alone; each chunk's Xᵀ·Y is summed in chunk order, so the result does not
//! depend on the number of threads.

use crate::float::NmfFloat;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, Axis, ShapeBuilder};
use rayon::prelude::*;
use std::any::TypeId;

extern "C" {
    fn dsyrk_(
        uplo: *const u8,
        trans: *const u8,
        n: *const i32,
        k: *const i32,
        alpha: *const f64,
        a: *const f64,
        lda: *const i32,
        beta: *const f64,
        c: *mut f64,
        ldc: *const i32,
    );
    fn ssyrk_(
        uplo: *const u8,
        trans: *const u8,
        n: *const i32,
        k: *const i32,
        alpha: *const f32,
        a: *const f32,
        lda: *const i32,
        beta: *const f32,
        c: *mut f32,
        ldc: *const i32,
    );
}

/// Rows per parallel chunk of an r×m block's Gram matrix: at least 256
/// rows and at least 2·m (each m×m partial sum at most half its chunk, so
/// the partials never outweigh the block), at most 4 chunks (their partial
/// sums are added in order).
fn gram_chunk_rows(r: usize, m: usize) -> usize {
    r.div_ceil(4).max(256).max(2 * m)
}

/// c (m×m, column-major, upper triangle) = dᵀ·d for a BLAS-readable r×m
/// view `d` (BLAS `syrk`: half the multiply-adds of a GEMM).
fn syrk_upper<F: NmfFloat>(d: ArrayView2<F>, c: &mut Array2<F>) {
    let (r, m) = d.dim();
    let st = d.strides();
    // Row-major d is the column-major m×r matrix dᵀ: c = A·Aᵀ ('N');
    // column-major d is A itself: c = Aᵀ·A ('T').
    let (trans, lda) = if st[1] == 1 || m <= 1 {
        (b'N', st[0].max(m.max(1) as isize))
    } else {
        (b'T', st[1].max(r.max(1) as isize))
    };
    let (n, k, lda, ldc) = (m as i32, r as i32, lda as i32, m.max(1) as i32);
    let uplo = b'U';
    debug_assert!(c.t().is_standard_layout() && c.dim() == (m, m));
    // SAFETY: `d` is readable with leading dimension `lda` in the layout
    // `trans` names, `c` is a contiguous m×m buffer, and the pointer casts
    // happen only when F is the routine's element type.
    unsafe {
        if TypeId::of::<F>() == TypeId::of::<f64>() {
            let (one, zero) = (1.0f64, 0.0f64);
            dsyrk_(
                &uplo,
                &trans,
                &n,
                &k,
                &one,
                d.as_ptr() as *const f64,
                &lda,
                &zero,
                c.as_mut_ptr() as *mut f64,
                &ldc,
            );
        } else {
            let (one, zero) = (1.0f32, 0.0f32);
            ssyrk_(
                &uplo,
                &trans,
                &n,
                &k,
                &one,
                d.as_ptr() as *const f32,
                &lda,
                &zero,
                c.as_mut_ptr() as *mut f32,
                &ldc,
            );
        }
    }
}

/// Multiply-adds per GEMM call below which OpenBLAS's small-matrix kernels
/// run (2^19, as measured for the solver's skinny products).
const SMALL_MNK: usize = 1 << 19;

/// Most chunks one block is shared into (their partial Xᵀ·Y sums are added
/// in order).
const MAX_CHUNKS: usize = 8;

/// Largest cond₁(U)·eps accepted for the fused product: the fused and the
/// exact product then differ by about 2e-12 relative (f64), more than two
/// orders below the tests' 1e-9 parity with scikit-learn. (Fashion-MNIST
/// shows cond₁(U) up to 4e2 at k = 10 and 4e3 at k = 50; rank-deficient
/// data gives 1e8 and more.)
const MAX_COND_EPS: f64 = 1e4 * f64::EPSILON;

/// Largest cond₁(U) accepted for the fused product of an f32 X. The passes
/// run in f32 (that is their speed); U⁻¹ is applied in f64
/// ([`right_solve_upper`]), so the only rounding the fused product adds is
/// that of Z = Xᵀ·Y itself: ‖E‖ ≲ eps₃₂·‖X‖·‖Y‖ against eps₃₂·‖X‖·‖P·L‖
/// for scikit-learn's Xᵀ·(P·L), and E·U⁻¹ is at most cond(U) times that.
/// Allowing a factor of FUSED_F32_MAX_COND keeps the fused range within a
/// few times scikit-learn's own f32 rounding of the same step.
const FUSED_F32_MAX_COND: f64 = 1e3;

/// Rows per GEMM call for rows of `width` columns times an l-wide factor.
fn rows_per_call(l: usize, width: usize) -> usize {
    (SMALL_MNK / (l.max(1) * width.max(1))).max(8)
}

/// Rows per parallel chunk of an r-row block: a whole number of GEMM calls,
/// at least max(64, l) rows (so the chunks' partial sums, m×l each, never
/// outweigh the block), at most [`MAX_CHUNKS`] chunks.
fn chunk_rows(r: usize, m: usize, l: usize) -> usize {
    let call = rows_per_call(l, m);
    let want = r.div_ceil(MAX_CHUNKS).max(64).max(l);
    want.div_ceil(call) * call
}

/// Partial sums reused across the passes of one SVD.
#[derive(Default)]
pub(crate) struct GramPass<F> {
    partials: Vec<Array2<F>>,
}

impl<F: NmfFloat> GramPass<F> {
    /// y = D·V (r×l, into `y`) and z += Dᵀ·y (m×l) for one dense block D
    /// (r×m, BLAS-readable), V m×l.
    pub(crate) fn block(
        &mut self,
        d: ArrayView2<F>,
        v: ArrayView2<F>,
        mut y: ArrayViewMut2<F>,
        z: &mut Array2<F>,
    ) {
        let (r, m) = d.dim();
        let l = v.ncols();
        debug_assert_eq!(y.dim(), (r, l));
        debug_assert_eq!(z.dim(), (m, l));
        if r == 0 {
            return;
        }
        let chunk = chunk_rows(r, m, l);
        let call = rows_per_call(l, m);
        let n_chunks = r.div_ceil(chunk);
        self.partials
            .resize_with(n_chunks, || Array2::zeros((0, 0)));
        for p in &mut self.partials[..n_chunks] {
            if p.dim() != (m, l) {
                *p = Array2::zeros((m, l));
            }
        }
        y.axis_chunks_iter_mut(Axis(0), chunk)
            .into_par_iter()
            .zip(self.partials[..n_chunks].par_iter_mut())
            .enumerate()
            .for_each(|(c, (mut yc, zc))| {
                let s0 = c * chunk;
                let dc = d.slice(s![s0..s0 + yc.nrows(), ..]);
                let mut first = true;
                let mut a = 0;
                while a < dc.nrows() {
                    let e = (a + call).min(dc.nrows());
                    let xs = dc.slice(s![a..e, ..]);
                    let mut ys = yc.slice_mut(s![a..e, ..]);
                    general_mat_mul(F::one(), &xs, &v, F::zero(), &mut ys);
                    let beta = if first { F::zero() } else { F::one() };
                    general_mat_mul(F::one(), &xs.t(), &ys.view(), beta, zc);
                    first = false;
                    a = e;
                }
            });
        for p in &self.partials[..n_chunks] {
            *z += p;
        }
    }
}

impl<F: NmfFloat> GramPass<F> {
    /// g += Dᵀ·D on g's upper triangle (g m×m column-major) for one dense
    /// block D (r×m, BLAS-readable): chunks of rows cut from the shape on
    /// the workers, their `syrk`s added in chunk order.
    pub(crate) fn gram_block(&mut self, d: ArrayView2<F>, g: &mut Array2<F>) {
        let (r, m) = d.dim();
        if r == 0 {
            return;
        }
        let chunk = gram_chunk_rows(r, m);
        let n_chunks = r.div_ceil(chunk);
        self.partials
            .resize_with(n_chunks, || Array2::zeros((0, 0)));
        for p in &mut self.partials[..n_chunks] {
            if p.dim() != (m, m) || !p.t().is_standard_layout() {
                *p = Array2::zeros((m, m).f());
            }
        }
        self.partials[..n_chunks]
            .par_iter_mut()
            .enumerate()
            .for_each(|(c, p)| {
                let s0 = c * chunk;
                syrk_upper(d.slice(s![s0..(s0 + chunk).min(r), ..]), p);
            });
        for p in &self.partials[..n_chunks] {
            for j in 0..m {
                for i in 0..=j {
                    g[[i, j]] += p[[i, j]];
                }
            }
        }
    }
}

impl<F> GramPass<F> {
    /// Frees the partial sums (m×m after a Gram pass).
    pub(crate) fn partials_clear(&mut self) {
        self.partials.clear();
    }
}

/// Copies the upper triangle of a square matrix onto its lower triangle.
pub(crate) fn symmetrise_upper<F: NmfFloat>(g: &mut Array2<F>) {
    let m = g.nrows();
    for j in 0..m {
        for i in 0..j {
            g[[j, i]] = g[[i, j]];
        }
    }
}

/// The l×l upper factor U of getrf's column-major LU `lu` (r×l, r ≥ l).
pub(crate) fn upper_of_lu<F: NmfFloat>(lu: &[F], r: usize, l: usize) -> Array2<F> {
    let mut u = Array2::zeros((l, l));
    for j in 0..l {
        for i in 0..=j {
            u[[i, j]] = lu[j * r + i];
        }
    }
    u
}

/// Whether the upper triangular `u` is well enough conditioned for the
/// fused product: every pivot finite and non-zero, and cond₁(U)·eps below
/// [`MAX_COND_EPS`]. cond₁ is computed exactly from U⁻¹ (l³/3 operations on
/// an l×l matrix, l = k + 10).
pub(crate) fn small_cond<F: NmfFloat>(u: &Array2<F>) -> bool {
    let l = u.nrows();
    let ud = u.mapv(|v| v.to_f64_());
    if ud.iter().any(|v| !v.is_finite()) || (0..l).any(|i| ud[[i, i]] == 0.0) {
        return false;
    }
    // U⁻¹ column by column (back substitution on unit vectors).
    let mut inv = Array2::<f64>::zeros((l, l));
    for c in 0..l {
        for i in (0..=c).rev() {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for j in i + 1..=c {
                s -= ud[[i, j]] * inv[[j, c]];
            }
            inv[[i, c]] = s / ud[[i, i]];
        }
    }
    let norm1 = |a: &Array2<f64>| {
        a.axis_iter(Axis(1))
            .map(|c| c.iter().map(|v| v.abs()).sum::<f64>())
            .fold(0.0f64, f64::max)
    };
    let cond = norm1(&ud) * norm1(&inv);
    if TypeId::of::<F>() != TypeId::of::<f64>() {
        return cond.is_finite() && cond <= FUSED_F32_MAX_COND;
    }
    let eps = F::epsilon().to_f64_();
    cond.is_finite() && cond * eps <= MAX_COND_EPS
}

/// z ← z·U⁻¹ in place, row by row (forward substitution against U's
/// columns), rows over the rayon workers; each row's result does not depend
/// on the others. The substitution runs in f64 whatever F (for f64 the same
/// operations as in place), each row rounded to F once at the end: for f32
/// X the solve adds no cond(U)·eps₃₂ error of its own.
pub(crate) fn right_solve_upper<F: NmfFloat>(z: &mut Array2<F>, u: &Array2<F>) {
    let l = u.nrows();
    debug_assert_eq!(z.ncols(), l);
    let ut = u
        .t()
        .mapv(|v| v.to_f64_())
        .as_standard_layout()
        .into_owned();
    z.axis_iter_mut(Axis(0))
        .into_par_iter()
        .with_min_len(64)
        .for_each_init(
            || vec![0.0f64; l],
            |buf, mut row| {
                for (b, v) in buf.iter_mut().zip(row.iter()) {
                    *b = v.to_f64_();
                }
                for j in 0..l {
                    let col = ut.row(j);
                    let mut s = buf[j];
                    for i in 0..j {
                        s -= buf[i] * col[i];
                    }
                    buf[j] = s / col[j];
                }
                for (v, b) in row.iter_mut().zip(buf.iter()) {
                    *v = F::from_f64_(*b);
                }
            },
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::linalg::lcg_matrix as sample;

    #[test]
    fn block_pass_is_x_dot_v_and_xt_dot_y() {
        for (r, m, l) in [(1, 3, 2), (700, 50, 7), (2100, 40, 20)] {
            let d = sample(r, m, 1);
            let v = sample(m, l, 2);
            let mut y = Array2::zeros((r, l));
            let mut z = Array2::ones((m, l));
            GramPass::default().block(d.view(), v.view(), y.view_mut(), &mut z);
            let y0 = d.dot(&v);
            let z0 = d.t().dot(&y0) + 1.0;
            let scale = z0.iter().fold(0.0f64, |a, b| a.max(b.abs()));
            assert!((&y - &y0).iter().all(|e| e.abs() < 1e-12 * m as f64));
            assert!((&z - &z0)
                .iter()
                .all(|e| e.abs() < 1e-13 * scale * r as f64));
        }
    }

    #[test]
    fn block_pass_does_not_depend_on_the_threads() {
        let d = sample(3000, 30, 3);
        let v = sample(30, 12, 4);
        let run = |t: usize| {
            let pool = crate::linalg::test_pool(t);
            pool.install(|| {
                let mut y = Array2::zeros((3000, 12));
                let mut z = Array2::zeros((30, 12));
                GramPass::default().block(d.view(), v.view(), y.view_mut(), &mut z);
                (y, z)
            })
        };
        let one = run(1);
        for t in [2, 3] {
            assert_eq!(run(t), one);
        }
    }

    #[test]
    fn gram_block_is_xt_x_on_any_threads_and_layout() {
        let d = sample(1500, 20, 6);
        let want = d.t().dot(&d);
        let run = |t: usize, x: ArrayView2<f64>| {
            let pool = crate::linalg::test_pool(t);
            pool.install(|| {
                let mut g = Array2::zeros((20, 20).f());
                GramPass::default().gram_block(x, &mut g);
                symmetrise_upper(&mut g);
                g
            })
        };
        let one = run(1, d.view());
        let scale = want.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        assert!((&one - &want).iter().all(|e| e.abs() < 1e-13 * scale));
        for t in [2, 3] {
            assert_eq!(run(t, d.view()), one);
        }
        // A column-major block gives the same matrix up to rounding.
        let mut f = Array2::zeros(d.raw_dim().f());
        f.assign(&d);
        assert!((&run(2, f.view()) - &want)
            .iter()
            .all(|e| e.abs() < 1e-13 * scale));
    }

    #[test]
    fn right_solve_and_condition() {
        let u = ndarray::array![[2.0, 1.0, -1.0], [0.0, 4.0, 0.5], [0.0, 0.0, 0.25]];
        let z = sample(10, 3, 5);
        let mut x = z.clone();
        right_solve_upper(&mut x, &u);
        assert!((x.dot(&u) - &z).iter().all(|e| e.abs() < 1e-14));
        assert!(small_cond::<f64>(&u));
        let singular = ndarray::array![[1.0, 2.0], [0.0, 0.0]];
        assert!(!small_cond::<f64>(&singular));
        let bad = ndarray::array![[1.0, 0.0], [0.0, 1e-14]];
        assert!(!small_cond::<f64>(&bad));
    }
}
