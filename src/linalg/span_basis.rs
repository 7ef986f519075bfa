//! A basis of span(Y) from GEMMs: Q = Y·R⁻¹ with RᵀR = YᵀY (Cholesky QR),
//! for the randomized SVD of a sparse f64 X.
//!
//! scikit-learn normalises each power iteration with P·L of Y's LU
//! factorisation and takes the final range from a Householder QR. Both are
//! single-threaded LAPACK calls on tall N×(k+10) blocks (and LAPACK's QR of
//! so few columns is its unblocked level-2 loop); the other core waits. The
//! randomized SVD's result depends only on the spans the iteration passes
//! along (P·L(Y) = Y·U⁻¹ and Y·R⁻¹ span the same space), so here the Gram
//! matrix YᵀY comes from `syrk` on row chunks and Y·R⁻¹ from GEMMs on row
//! chunks, both over the rayon workers. The chunks are cut from the shape
//! alone, so the bits do not depend on the number of threads.
//!
//! The rounding of Y·R⁻¹ moves the span by about eps·cond(R) = eps·cond(Y);
//! the same guard as the fused passes ([`small_cond`], cond₁(R)·eps ≤ 1e4·eps)
//! keeps that far inside the 1e-9 parity bound, and a Y that fails it
//! (rank-deficient X, a zero Y) takes scikit-learn's factorisation instead.
//! Applied twice (`orthonormal`), the basis is orthonormal to rounding:
//! after the first pass its columns are orthogonal to about
//! eps·cond(Y)² ≤ 1e8·eps, and the second pass starts from cond ≈ 1.

use crate::float::NmfFloat;
use crate::linalg::fused_power::{small_cond, GramPass};
#[cfg(test)]
use crate::linalg::row_chunks::gemm_rows_into;
use crate::linalg::row_chunks::{gemm_rows_in_place, CHUNK_ROWS};
use ndarray::{Array2, ArrayView2, ShapeBuilder};
use std::any::TypeId;

/// The upper Cholesky factor R of the symmetric `g` (upper triangle read):
/// g = RᵀR. None when a pivot is not positive and finite.
fn cholesky_upper(g: &Array2<f64>) -> Option<Array2<f64>> {
    let l = g.nrows();
    let mut r = Array2::<f64>::zeros((l, l));
    for j in 0..l {
        for i in 0..j {
            let mut s = g[[i, j]];
            for p in 0..i {
                s -= r[[p, i]] * r[[p, j]];
            }
            r[[i, j]] = s / r[[i, i]];
        }
        let mut d = g[[j, j]];
        for p in 0..j {
            d -= r[[p, j]] * r[[p, j]];
        }
        if !(d > 0.0 && d.is_finite()) {
            return None;
        }
        r[[j, j]] = d.sqrt();
    }
    Some(r)
}

/// R⁻¹ of an upper triangular R with non-zero pivots (back substitution).
fn upper_inverse(r: &Array2<f64>) -> Array2<f64> {
    let l = r.nrows();
    let mut inv = Array2::<f64>::zeros((l, l));
    for c in 0..l {
        for i in (0..=c).rev() {
            let mut s = if i == c { 1.0 } else { 0.0 };
            for j in i + 1..=c {
                s -= r[[i, j]] * inv[[j, c]];
            }
            inv[[i, c]] = s / r[[i, i]];
        }
    }
    inv
}

/// R⁻¹ (in F) with RᵀR = YᵀY; None for an f32 Y, when Y has fewer rows
/// than columns, its Gram matrix is not positive definite in floating
/// point, or cond₁(R) fails [`small_cond`].
fn gram_factor<F: NmfFloat>(y: ArrayView2<F>, pass: &mut GramPass<F>) -> Option<Array2<F>> {
    let (n, l) = y.dim();
    if l == 0 || n < l {
        return None;
    }
    // f32: the Gram matrix squares cond(Y), which f32's eps does not allow
    // (and a basis computed in f64, then rounded, moved the f32 parity
    // fixture f32_fro_csr_nndsvd past its bound in the permuted layout).
    if TypeId::of::<F>() != TypeId::of::<f64>() {
        return None;
    }
    let mut g = Array2::<F>::zeros((l, l).f());
    let y_std = y.as_standard_layout();
    pass.gram_block(y_std.view(), &mut g);
    let g = g.mapv(|v| v.to_f64_());
    let r = cholesky_upper(&g)?;
    if !small_cond(&r) {
        return None;
    }
    Some(upper_inverse(&r).mapv(F::from_f64_))
}

/// `q` (reshaped when needed) = Y·R⁻¹ with RᵀR = YᵀY, a basis of span(Y)
/// with orthonormal columns up to eps·cond(Y)². Returns false, `q`
/// untouched, where [`gram_factor`] refuses Y. (The tests' reference of
/// [`gram_basis_in_place`].)
#[cfg(test)]
pub(crate) fn gram_basis_into<F: NmfFloat>(
    y: ArrayView2<F>,
    pass: &mut GramPass<F>,
    q: &mut Array2<F>,
) -> bool {
    let Some(rinv) = gram_factor(y, pass) else {
        return false;
    };
    let (n, l) = y.dim();
    let y_std = y.as_standard_layout();
    if q.dim() != (n, l) || !q.is_standard_layout() {
        *q = Array2::zeros((n, l));
    }
    gemm_rows_into(y_std.view(), rinv.view(), q.view_mut(), CHUNK_ROWS);
    true
}

/// Y ← Y·R⁻¹ with RᵀR = YᵀY, a basis of span(Y) with orthonormal columns
/// up to eps·cond(Y)², written over Y itself (row-major): each chunk of
/// CHUNK_ROWS rows is copied aside and multiplied back into place (no
/// second n×l buffer). Returns false, Y untouched, where [`gram_factor`]
/// refuses Y (or Y is not row-major).
pub(crate) fn gram_basis_in_place<F: NmfFloat>(y: &mut Array2<F>, pass: &mut GramPass<F>) -> bool {
    if !y.is_standard_layout() {
        return false;
    }
    let Some(rinv) = gram_factor(y.view(), pass) else {
        return false;
    };
    gemm_rows_in_place(y.view_mut(), rinv.view(), CHUNK_ROWS);
    true
}

/// An orthonormal basis of span(Y) (Cholesky QR twice), or None when
/// [`gram_basis_into`] refuses Y (the tests' reference of the last step of
/// `randomized_svd`'s two-pass range finder, which writes the second pass
/// over Y).
#[cfg(test)]
pub(crate) fn orthonormal<F: NmfFloat>(
    y: ArrayView2<F>,
    pass: &mut GramPass<F>,
) -> Option<Array2<F>> {
    let mut q1 = Array2::zeros((0, 0));
    if !gram_basis_into(y, pass, &mut q1) {
        return None;
    }
    let mut q = Array2::zeros((0, 0));
    gram_basis_into(q1.view(), pass, &mut q).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Axis;

    use crate::linalg::lcg_matrix as sample;

    #[test]
    fn orthonormal_basis_of_the_same_span_on_any_thread_count() {
        // 5000×23 with column scales 1..1e2 (cond ≈ 1e2).
        let (n, l) = (5000, 23);
        let mut y = sample(n, l, 7);
        for (j, mut col) in y.axis_iter_mut(Axis(1)).enumerate() {
            col *= 1.0 + 99.0 * j as f64 / (l - 1) as f64;
        }
        let mut runs = Vec::new();
        for threads in [1, 2, 3] {
            let pool = crate::linalg::test_pool(threads);
            let q = pool
                .install(|| orthonormal(y.view(), &mut GramPass::default()))
                .expect("well conditioned");
            runs.push(q);
        }
        assert_eq!(runs[0], runs[1]);
        assert_eq!(runs[0], runs[2]);
        let q = &runs[0];
        // QᵀQ = I to rounding.
        let qtq = q.t().dot(q);
        let off = (&qtq - &Array2::<f64>::eye(l))
            .iter()
            .fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(off < 1e-13, "QᵀQ − I up to {off:e}");
        // Y lies in span(Q): Y − Q·QᵀY is rounding.
        let resid = &y - &q.dot(&q.t().dot(&y));
        let rel = resid.iter().fold(0.0f64, |a, v| a.max(v.abs()))
            / y.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        assert!(rel < 1e-13, "Y off span(Q) by {rel:e}");
    }

    /// The in-place basis has the bits of the out-of-place one, and a
    /// refused Y is left as it was.
    #[test]
    fn in_place_basis_has_the_same_bits() {
        let y = sample(5000, 23, 11);
        let mut q = Array2::zeros((0, 0));
        assert!(gram_basis_into(y.view(), &mut GramPass::default(), &mut q));
        let mut y2 = y.clone();
        assert!(gram_basis_in_place(&mut y2, &mut GramPass::default()));
        assert_eq!(y2, q);
        let mut bad = sample(300, 6, 3);
        let c0 = bad.column(0).to_owned();
        bad.column_mut(5).assign(&(&c0 * 2.0));
        let keep = bad.clone();
        assert!(!gram_basis_in_place(&mut bad, &mut GramPass::default()));
        assert_eq!(bad, keep);
    }

    #[test]
    fn refuses_rank_deficient_and_short_blocks() {
        let mut y = sample(300, 6, 3);
        let c0 = y.column(0).to_owned();
        y.column_mut(5).assign(&(&c0 * 2.0));
        let mut q = Array2::zeros((0, 0));
        assert!(!gram_basis_into(y.view(), &mut GramPass::default(), &mut q));
        let zero = Array2::<f64>::zeros((50, 4));
        assert!(!gram_basis_into(
            zero.view(),
            &mut GramPass::default(),
            &mut q
        ));
        let short = sample(3, 5, 1);
        assert!(!gram_basis_into(
            short.view(),
            &mut GramPass::default(),
            &mut q
        ));
    }
}
