//! NNDSVD from the streamed randomized SVD ([`streamed_svd`]): U = X·T is
//! never stored; the column norms of its positive and negative parts come
//! with the SVD, and W is written straight into its place (RAM or a mapped
//! file, the pages released behind each block) in one more pass over X,
//! with the same arithmetic, in X's dtype, as the in-RAM `nndsvd` and the
//! zero filling of nndsvda / nndsvdar (W's zeros in row order, then H's).

use super::{norm, normalized, NNDSVD_EPS};
use crate::error::Result;
use crate::float::NmfFloat;
use crate::io::RowSource;
use crate::linalg::streamed_svd::{for_each_u_block, StreamedSvd};
use crate::memory::{Matrix, Placement};
use crate::rng::NumpyRandomState;
use ndarray::{Array1, Array2, ArrayView1};
use num_traits::Float;

/// How NNDSVD's zeros are filled.
#[derive(Debug, Clone, Copy)]
pub(super) enum Fill<F> {
    /// nndsvd: kept.
    None,
    /// nndsvda: mean(X).
    Mean(F),
    /// nndsvdar: |mean(X)·N(0, 1) / 100| (mean(X) given in f64).
    Draws(f64),
}

impl<F: NmfFloat> Fill<F> {
    fn apply(&self, v: &mut F, rng: &mut NumpyRandomState) {
        if *v != F::zero() {
            return;
        }
        match *self {
            Fill::None => {}
            Fill::Mean(avg) => *v = avg,
            Fill::Draws(avg) => *v = F::from_f64_((avg * rng.standard_normal() / 100.0).abs()),
        }
    }
}

/// How column j of W is formed from column j of U: w = scale·part(u),
/// part the absolute value (j = 0), the positive or the negative part.
#[derive(Clone, Copy)]
enum Part {
    Abs,
    Pos,
    Neg,
}

/// W (all rows, where `place_w` says) and H of NNDSVD with `fill`.
pub(super) fn nndsvd_streamed<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    svd: &StreamedSvd,
    fill: Fill<F>,
    rng: &mut NumpyRandomState,
    place_w: &Placement,
) -> Result<(Matrix<F>, Array2<F>)> {
    let (n, m) = x.shape();
    let k = svd.s.len();
    let s: Array1<F> = svd.s.mapv(F::from_f64_);
    let vt: Array2<F> = svd.vt.mapv(F::from_f64_);
    let mut h = Array2::zeros((k, m));
    let mut parts = Vec::with_capacity(k);

    let s0 = Float::sqrt(s[0]);
    h.row_mut(0).assign(&vt.row(0).mapv(|v| s0 * Float::abs(v)));
    parts.push((Part::Abs, s0, None));
    let pos = |a: ArrayView1<F>| a.mapv(|v| if v > F::zero() { v } else { F::zero() });
    let neg = |a: ArrayView1<F>| a.mapv(|v| if v < F::zero() { -v } else { F::zero() });
    // A norm as `super::norm` gives it: the sum in U's dtype, sqrt in f64.
    let x_norm = |sq: f64| F::from_f64_(sq).to_f64_().sqrt();
    for j in 1..k {
        let yr = vt.row(j);
        let (y_p, y_n) = (pos(yr), neg(yr));
        let (x_p_nrm, y_p_nrm) = (x_norm(svd.pos_sq[j]), norm(&y_p));
        let (x_n_nrm, y_n_nrm) = (x_norm(svd.neg_sq[j]), norm(&y_n));
        let (m_p, m_n) = (x_p_nrm * y_p_nrm, x_n_nrm * y_n_nrm);
        let (part, x_nrm, vv, sigma) = if m_p > m_n {
            (Part::Pos, x_p_nrm, normalized(y_p, y_p_nrm), m_p)
        } else {
            (Part::Neg, x_n_nrm, normalized(y_n, y_n_nrm), m_n)
        };
        let lbd = Float::sqrt(s[j] * F::from_f64_(sigma));
        h.row_mut(j).assign(&vv.mapv(|v| lbd * v));
        // `normalized`: a zero norm gives zeros.
        let div = (x_nrm != 0.0).then(|| F::from_f64_(x_nrm));
        parts.push((part, lbd, div));
    }

    let eps = F::from_f64_(NNDSVD_EPS);
    let mut w = Matrix::zeros((n, k), place_w, "W")?;
    let pager = w.pager();
    {
        let mut wv = w.view_mut();
        for_each_u_block(x, &svd.t, |s0, u| {
            let rows = u.nrows();
            let mut wb = wv.slice_mut(ndarray::s![s0..s0 + rows, ..]);
            for (urow, mut wrow) in u.rows().into_iter().zip(wb.rows_mut()) {
                for (j, (&uv, wv)) in urow.iter().zip(wrow.iter_mut()).enumerate() {
                    let (part, scale, div) = parts[j];
                    let mut v = match (part, div) {
                        (Part::Abs, _) => scale * Float::abs(uv),
                        (_, None) => F::zero(),
                        (Part::Pos, Some(d)) if uv > F::zero() => scale * (uv / d),
                        (Part::Neg, Some(d)) if uv < F::zero() => scale * (-uv / d),
                        _ => F::zero(),
                    };
                    if v < eps {
                        v = F::zero();
                    }
                    fill.apply(&mut v, rng);
                    *wv = v;
                }
            }
            pager.release_rows_of::<F>(s0, s0 + rows, k);
            Ok(())
        })?;
    }
    for v in h.iter_mut() {
        if *v < eps {
            *v = F::zero();
        }
    }
    for v in h.iter_mut() {
        fill.apply(v, rng);
    }
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::super::initialize_source;
    use crate::dist::{Comm, Shard};
    use crate::input::{CsrView, Input};
    use crate::io::InMemory;
    use crate::memory::Placement;
    use crate::params::Init;
    use crate::rng::{test_npy, RandomState};

    /// Largest |a − b| relative to the largest |b|.
    fn rel(a: &[f64], b: &[f64]) -> f64 {
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        a.iter()
            .zip(b)
            .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
            / scale
    }

    /// The streamed NNDSVD equals the in-RAM one within 1e-9 (relative to
    /// the largest entry) on the tall fixtures, dense and CSR, for every
    /// nndsvd variant and a seed and a generator state; the generator is
    /// left where the in-RAM path leaves it.
    #[test]
    fn streamed_nndsvd_matches_the_in_ram_path() {
        let mut worst = 0.0f64;
        for name in ["a", "d"] {
            let x = test_npy::read_matrix(&format!("x_{name}.npy"));
            let (n, m) = x.dim();
            let (indptr, indices, data) = test_npy::csr_parts(&x);
            let csr = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
            let shard = Shard::local((n, m), x.sum());
            for input in [Input::Dense(x.view()), Input::Csr(csr)] {
                for k in [3usize, 5] {
                    for init in [Init::Nndsvd, Init::Nndsvda, Init::Nndsvdar] {
                        for rs in [RandomState::Seed(0), RandomState::Seed(7)] {
                            let run = |streamed: bool| {
                                let mut rs = rs.clone();
                                let (w, h) = initialize_source(
                                    &mut InMemory::new(input),
                                    k,
                                    init,
                                    &mut rs,
                                    Comm::single(),
                                    &shard,
                                    &Placement::Ram,
                                    streamed,
                                )
                                .unwrap();
                                (w.into_array().unwrap(), h)
                            };
                            let ((w0, h0), (w1, h1)) = (run(false), run(true));
                            let dw = rel(w1.as_slice().unwrap(), w0.as_slice().unwrap());
                            let dh = rel(h1.as_slice().unwrap(), h0.as_slice().unwrap());
                            worst = worst.max(dw).max(dh);
                            assert!(
                                dw < 1e-9 && dh < 1e-9,
                                "x_{name} sparse={} k={k} {init:?}: W {dw:e}, H {dh:e}",
                                input.is_sparse()
                            );
                        }
                    }
                }
            }
        }
        eprintln!("streamed vs in-RAM NNDSVD: worst relative difference {worst:e}");
    }

    /// A rank-deficient X (rank 2 < k = 3): the streamed SVD drops X·Q's
    /// null directions; the third component is zero, filled by nndsvda.
    #[test]
    fn rank_deficient_x_gives_zero_components() {
        let mut x = ndarray::Array2::<f64>::zeros((50, 4));
        x[[0, 0]] = 1.0;
        x[[1, 1]] = 2.0;
        let shard = Shard::local((50, 4), x.sum());
        let (w, h) = initialize_source(
            &mut InMemory::new(Input::Dense(x.view())),
            3,
            Init::Nndsvda,
            &mut RandomState::Seed(0),
            Comm::single(),
            &shard,
            &Placement::Ram,
            true,
        )
        .unwrap();
        let w = w.into_array().unwrap();
        assert!(w.iter().chain(h.iter()).all(|v| v.is_finite() && *v > 0.0));
        // The third singular value is 0: its column of W and row of H are
        // all zeros, filled with mean(X).
        let avg = 3.0 / 200.0;
        assert!(w.column(2).iter().chain(h.row(2)).all(|&v| v == avg));
        // The two non-zero rows carry the two components.
        assert!(w[[1, 0]] > 1.0 && w[[0, 1]] > 0.5, "{w}");
    }
}
