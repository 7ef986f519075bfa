//! The H update of a masked step: scikit-learn's online update
//! A ← ρA + H^(1/γ)∘num, B ← ρB + den, H ← (A/B)^γ from the masked
//! statistics, except where the batch has no data: an entry of H whose
//! masked denominator is 0 (its column has no observed entry in the batch,
//! or the observed rows' W is 0 there) is left as it is, with its A and B.
//! A column of X never observed keeps its initial H.

use crate::float::{NmfFloat, EPSILON_F64};
use crate::kernels::elementwise::{npow, EPS};
use crate::kernels::workspace::HStats;
use crate::kernels::{Loss, Penalty};
use ndarray::{Array2, Zip};

/// Apply the update in place; returns ||H_new − H_old|| / ||H_new||.
pub(crate) fn apply<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    stats: &HStats<F>,
    loss: &Loss,
    pen: &Penalty,
    rho: f64,
) -> f64 {
    let l1 = F::from_f64_(pen.l1);
    let l2 = F::from_f64_(pen.l2);
    let eps = F::from_f64_(EPS);
    let rho = F::from_f64_(rho);
    let gamma = loss.gamma;
    let zero_small = loss.beta <= 1.0;
    let tiny = F::from_f64_(EPSILON_F64);
    let (d2, n2) = Zip::from(h)
        .and(a)
        .and(b)
        .and(&stats.num)
        .and(&stats.den)
        .fold((0.0, 0.0), |(d2, n2), hv, av, bv, &nv, &dv| {
            let old = *hv;
            if dv == F::zero() {
                let o = old.to_f64_();
                return (d2, n2 + o * o);
            }
            let mut den = dv;
            if pen.l1 > 0.0 {
                den += l1;
            }
            if pen.l2 > 0.0 {
                den += l2 * old;
            }
            if den == F::zero() {
                den = eps;
            }
            let hg = if gamma != 1.0 {
                npow(old, 1.0 / gamma)
            } else {
                old
            };
            *av = *av * rho + nv * hg;
            *bv = *bv * rho + den;
            let mut new = *av / *bv;
            if gamma != 1.0 {
                new = npow(new, gamma);
            }
            if zero_small && new < tiny {
                new = F::zero();
            }
            *hv = new;
            let d = (new - old).to_f64_();
            (d2 + d * d, n2 + new.to_f64_() * new.to_f64_())
        });
    d2.sqrt() / n2.sqrt()
}
