//! The final reconstruction error of a cd fit from its exact statistics.
//!
//! With `cd_stats="exact"` the fit keeps A = WᵀW and B = WᵀX of the
//! current W, so ||X − W·H||² = ||X||² − 2⟨B, H⟩ + ⟨A, H·Hᵀ⟩ costs
//! O(k²·m) instead of a pass over X (||X||² comes from the checking pass).
//! It cancels: A and B carry the rounding of every update that built them,
//! so the formula is used only when a bound on that rounding, relative to
//! the result, is far below the 1e-9 of the parity tests; otherwise the
//! caller takes the direct pass.

use crate::float::NmfFloat;
use ndarray::ArrayView2;

/// The largest rounding bound, relative to the error ||X − W·H|| itself,
/// the formula is used with (the parity tests ask for 1e-9).
const MAX_REL: f64 = 1e-10;

/// The rounding multiplier λ of the probabilistic model: a sum of r
/// terms is off by at most λ·√r·u·Σ|terms| (Higham & Mary, 2019), with
/// λ = 4 far in the tail.
const LAMBDA: f64 = 4.0;

/// How A and B were built: the sums behind them.
#[derive(Debug, Clone, Copy)]
pub(super) struct History {
    /// Passes of products over X (the initial exact statistics and every
    /// step's batch products), each a sum over `inner` rows at most.
    pub(super) passes: f64,
    /// The longest sum of one product (the rows of a batch or of the
    /// initial pass).
    pub(super) inner: f64,
    /// Additions into A and B (one per step, plus the start).
    pub(super) updates: f64,
}

impl History {
    /// The bound on the rounding of ||X||² − 2⟨B, H⟩ + ⟨A, H·Hᵀ⟩, in units
    /// of u·||X||²: A and B each carry, per pass, the rounding of sums of
    /// `inner` non-negative terms whose total is of the order of ||X||²
    /// (⟨WᵀX, H⟩ and ⟨WᵀW, H·Hᵀ⟩ both approach ||X||² as W·H fits X), and
    /// per update that of one addition.
    fn units(&self) -> f64 {
        2.0 * LAMBDA * (self.passes * self.inner.max(1.0).sqrt() + self.updates)
    }
}

/// ||X − W·H||² / 2 (the Frobenius divergence) from ||X||² (`sq_x`, all
/// rows), A = WᵀW (k×k), B = WᵀX (k×m) of the final W, and the final H;
/// None when the rounding bound relative to the error exceeds [`MAX_REL`]
/// (or the result is not positive). Sums in f64 in a fixed order: the
/// same statistics give the same bits.
pub(super) fn divergence_from_stats<F: NmfFloat>(
    sq_x: f64,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    h: ArrayView2<F>,
    history: History,
) -> Option<f64> {
    let (k, m) = h.dim();
    if a.dim() != (k, k) || b.dim() != (k, m) || !sq_x.is_finite() {
        return None;
    }
    let rows: Option<Vec<&[F]>> = h.rows().into_iter().map(|r| r.to_slice()).collect();
    let rows = rows?;
    // ⟨B, H⟩.
    let mut bh = 0.0;
    for (t, ht) in rows.iter().enumerate() {
        let bt = b.row(t);
        bh += dot(bt.as_slice()?, ht);
    }
    // ⟨A, H·Hᵀ⟩ (A symmetric: the off-diagonal pairs twice).
    let mut ahh = 0.0;
    for t in 0..k {
        let mut row = a[[t, t]].to_f64_() * dot(rows[t], rows[t]);
        for q in t + 1..k {
            let g = dot(rows[t], rows[q]);
            row += (a[[t, q]].to_f64_() + a[[q, t]].to_f64_()) * g;
        }
        ahh += row;
    }
    let err2 = sq_x - 2.0 * bh + ahh;
    let bound = history.units() * F::epsilon().to_f64_() * sq_x;
    // Relative to the error itself (its square root): half the relative
    // bound on its square.
    (err2.is_finite() && err2 > 0.0 && bound / err2 / 2.0 <= MAX_REL).then_some(err2 / 2.0)
}

/// Σ x·y in f64 over four interleaved lanes (a fixed order).
fn dot<F: NmfFloat>(x: &[F], y: &[F]) -> f64 {
    let mut acc = [0.0f64; 4];
    let mut cx = x.chunks_exact(4);
    let mut cy = y.chunks_exact(4);
    for (a, b) in (&mut cx).zip(&mut cy) {
        for i in 0..4 {
            acc[i] += a[i].to_f64_() * b[i].to_f64_();
        }
    }
    let mut tail = 0.0;
    for (a, b) in cx.remainder().iter().zip(cy.remainder()) {
        tail += a.to_f64_() * b.to_f64_();
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3]) + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array2, ArrayView2};

    fn direct(x: ArrayView2<f64>, w: ArrayView2<f64>, h: ArrayView2<f64>) -> f64 {
        let r = &x - &w.dot(&h);
        r.iter().map(|v| v * v).sum::<f64>() / 2.0
    }

    fn data() -> (Array2<f64>, Array2<f64>, Array2<f64>) {
        let (n, m, k) = (60, 23, 3);
        let w = Array2::from_shape_fn((n, k), |(i, t)| ((i * 7 + t * 3) % 11) as f64 / 10.0);
        let h = Array2::from_shape_fn((k, m), |(t, j)| ((t * 5 + j * 2) % 7) as f64 / 6.0);
        let noise = Array2::from_shape_fn((n, m), |(i, j)| ((i * 13 + j * 17) % 19) as f64 / 40.0);
        let x = w.dot(&h) + noise;
        (x, w, h)
    }

    #[test]
    fn the_formula_is_the_direct_error_when_the_bound_allows_it() {
        let (x, w, h) = data();
        let a = w.t().dot(&w);
        let b = w.t().dot(&x);
        let sq = x.iter().map(|v| v * v).sum::<f64>();
        let hist = History {
            passes: 30.0,
            inner: 1024.0,
            updates: 600.0,
        };
        let f = divergence_from_stats(sq, a.view(), b.view(), h.view(), hist).expect("in bounds");
        let d = direct(x.view(), w.view(), h.view());
        assert!((f - d).abs() <= 1e-12 * d, "{f} vs {d}");
        // f32: u is too large for the 1e-9 of the parity tests.
        let (a32, b32, h32) = (
            a.mapv(|v| v as f32),
            b.mapv(|v| v as f32),
            h.mapv(|v| v as f32),
        );
        assert!(divergence_from_stats(sq, a32.view(), b32.view(), h32.view(), hist).is_none());
    }

    #[test]
    fn a_near_exact_fit_or_a_long_history_takes_the_direct_pass() {
        let (_, w, h) = data();
        // X = W·H up to 1e-7: the error is far below ||X||, the cancellation
        // too strong.
        let x = w.dot(&h) + 1e-7;
        let a = w.t().dot(&w);
        let b = w.t().dot(&x);
        let sq = x.iter().map(|v| v * v).sum::<f64>();
        let hist = History {
            passes: 1.0,
            inner: 60.0,
            updates: 1.0,
        };
        assert!(divergence_from_stats(sq, a.view(), b.view(), h.view(), hist).is_none());
        // A reasonable fit but 1e9 updates behind A and B.
        let (x, w, h) = data();
        let (a, b) = (w.t().dot(&w), w.t().dot(&x));
        let sq = x.iter().map(|v| v * v).sum::<f64>();
        let long = History {
            passes: 1e6,
            inner: 1024.0,
            updates: 1e9,
        };
        assert!(divergence_from_stats(sq, a.view(), b.view(), h.view(), long).is_none());
    }
}
