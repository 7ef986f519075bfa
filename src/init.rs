//! Initial W and H: random, NNDSVD, NNDSVDa, NNDSVDar (scikit-learn's
//! `_initialize_nmf`).
//!
//! * random: H (k×m) then W (n×k) are standard normals from
//!   `RandomState(random_state)`, scaled by sqrt(mean(X) / k), in absolute
//!   value;
//! * nndsvd: the positive/negative-part split of a rank-k randomized SVD
//!   (Boutsidis & Gallopoulos, 2008) with a generator `RandomState(seed)`,
//!   entries below 1e-6 set to zero;
//! * nndsvda: nndsvd with its zeros replaced by mean(X);
//! * nndsvdar: nndsvd with its zeros replaced by |mean(X)·N(0, 1) / 100|,
//!   drawn from a fresh `RandomState(seed)` (W's zeros first, then H's, each
//!   in row-major order).
//!
//! A `random_state` given as a generator state (a numpy `RandomState`
//! instance) is drawn from throughout instead, as scikit-learn draws from an
//! instance: nndsvdar's fill continues the SVD's stream.
//!
//! Scalars follow numpy's promotion rules, so the f32 path rounds where
//! scikit-learn rounds.

mod streamed;

use crate::dist::{Comm, Shard};
use crate::error::{Error, Result};
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{InMemory, RowSource};
use crate::linalg::randomized_svd::randomized_svd_source;
use crate::linalg::streamed_svd;
use crate::memory::{Matrix, Placement};
use crate::params::Init;
use crate::rng::{NumpyRandomState, RandomState};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use num_traits::Float;
use rayon::prelude::*;
use streamed::Fill;

/// Entries of the NNDSVD factors below this are set to zero.
pub const NNDSVD_EPS: f64 = 1e-6;

/// Mean of all entries of X (implicit zeros of a CSR matrix included), in f64.
pub fn mean<F: NmfFloat>(x: &Input<F>) -> f64 {
    let (n, m) = x.shape();
    crate::validation::sum_f64(0.0, x) / (n as f64 * m as f64)
}

/// W (n×k) and H (k×m) for any `init` but `Custom`. `Init::Auto` resolves to
/// Nndsvda when k <= min(n, m), else Random. `random_state`: a seed
/// (`Some(s)`), `None` (entropy) or a [`RandomState`]; see
/// [`initialize_from`] to get back where a generator state was left.
///
/// ```
/// use minibatchnmf::{initialize, Init, Input};
/// use ndarray::array;
/// let x = array![[1.0, 0.0, 2.0], [0.5, 3.0, 0.0], [0.0, 1.0, 1.0], [2.0, 2.0, 0.5]];
/// let (w, h) = initialize(&Input::Dense(x.view()), 2, Init::Nndsvda, Some(0))?;
/// assert_eq!((w.dim(), h.dim()), ((4, 2), (2, 3)));
/// assert!(w.iter().chain(h.iter()).all(|&v| v > 0.0));
/// # Ok::<(), minibatchnmf::Error>(())
/// ```
pub fn initialize<F: NmfFloat>(
    x: &Input<F>,
    n_components: usize,
    init: Init,
    random_state: impl Into<RandomState>,
) -> Result<(Array2<F>, Array2<F>)> {
    initialize_from(x, n_components, init, &mut random_state.into())
}

/// [`initialize`] that leaves a [`RandomState::State`] where the draws left
/// the generator (as scikit-learn leaves a `RandomState` instance); a seed
/// or `Entropy` is left as it is. On error `random_state` is unchanged.
pub fn initialize_from<F: NmfFloat>(
    x: &Input<F>,
    n_components: usize,
    init: Init,
    random_state: &mut RandomState,
) -> Result<(Array2<F>, Array2<F>)> {
    // On the library's pool, after its OpenBLAS set-up (single-threaded
    // BLAS), as the estimator's calls run: the same bits whether or not a
    // fit ran first.
    crate::parallel::install(|| {
        let shard = Shard::local(x.shape(), crate::validation::sum_f64(0.0, x));
        let (w, h) = initialize_source(
            &mut InMemory::new(*x),
            n_components,
            init,
            random_state,
            Comm::single(),
            &shard,
            &Placement::Ram,
            false,
        )?;
        Ok((w.into_array()?, h))
    })
}

/// [`initialize`] over a row source holding one worker's shard of X (for
/// one process, all of X: [`Shard::local`]). `shard` places the source's
/// rows in the global X and carries mean(X) (from the checking pass,
/// [`crate::validation::scan`], reduced over the workers by
/// [`crate::dist::preflight`]). Returns W's rows of the shard and the H
/// every worker gets.
///
/// * random: H and then W of the *global* X are drawn from the same seed on
///   every worker, each keeping its rows of W (the draws of the other rows
///   are made and dropped, without storing them), with the global mean(X):
///   exactly the single-process start; X itself is not read;
/// * nndsvd, nndsvda, nndsvdar: the randomized SVD of the global X
///   ([`randomized_svd_source`]: its products with X are passes over the
///   source's row blocks, reduced over the workers through `comm`; the rest
///   runs on the same small matrices everywhere); every worker builds the
///   whole N×k W (the zero filling of nndsvdar draws over all of W, then H)
///   and keeps its rows, with the global mean(X).
///
/// `streamed`: the nndsvd variants take the streamed randomized SVD
/// ([`streamed_svd`]: nothing of n×(k+10) in RAM) and write W straight
/// into its place, row block by row block (one process, tall X with at
/// most [`streamed_svd::MAX_COLS`] columns; the preflight chooses it when
/// the in-RAM SVD blocks do not fit the budget).
#[allow(clippy::too_many_arguments)]
pub fn initialize_source<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    n_components: usize,
    init: Init,
    random_state: &mut RandomState,
    comm: Comm,
    shard: &Shard,
    place_w: &Placement,
    streamed: bool,
) -> Result<(Matrix<F>, Array2<F>)> {
    let (n, m) = (shard.n_total, shard.n_features);
    let mean = shard.mean();
    if n == 0 || m == 0 {
        return Err(Error::Empty {
            whom: "NMF initialization".into(),
            n_samples: n,
            n_features: m,
        });
    }
    if n_components == 0 {
        return Err(Error::Init("n_components must be at least 1".into()));
    }
    let k = n_components;
    let fits = k <= n.min(m);
    let init = match init {
        Init::Auto if fits => Init::Nndsvda,
        Init::Auto => Init::Random,
        Init::Custom => {
            return Err(Error::Init(
                "init = 'custom' needs W and H supplied by the caller".into(),
            ))
        }
        Init::Nndsvd | Init::Nndsvda | Init::Nndsvdar if !fits => {
            return Err(Error::Init(format!(
                "init = '{}' can only be used when n_components <= min(n_samples, n_features)",
                init.as_str()
            )))
        }
        other => other,
    };
    // scikit-learn's check_random_state: an int seed restarts the stream at
    // every call; an instance (a state) is drawn from, so its stream goes on.
    let mut rng = random_state.generator();
    let generator = |rng: NumpyRandomState| match random_state {
        RandomState::State(_) => rng,
        _ => random_state.generator(),
    };
    if init == Init::Random {
        let wh = random_init(shard, mean, k, &mut rng, place_w)?;
        random_state.advance_to(&rng);
        return Ok(wh);
    }
    if streamed {
        let svd = streamed_svd::streamed_svd(x, k, &mut rng, shard)?;
        let fill = match init {
            Init::Nndsvda => Fill::Mean(F::from_f64_(mean)),
            Init::Nndsvdar => {
                rng = generator(rng);
                Fill::Draws(F::from_f64_(mean).to_f64_())
            }
            _ => Fill::None,
        };
        let wh = streamed::nndsvd_streamed(x, &svd, fill, &mut rng, place_w)?;
        random_state.advance_to(&rng);
        return Ok(wh);
    }

    let (mut w, mut h) = nndsvd(x, k, &mut rng, comm, shard)?;
    match init {
        Init::Nndsvda => {
            let avg = F::from_f64_(mean);
            let fill = |v: &mut F| {
                if *v == F::zero() {
                    *v = avg;
                }
            };
            w.par_map_inplace(fill);
            h.par_map_inplace(fill);
        }
        Init::Nndsvdar => {
            rng = generator(rng);
            // numpy: (float scalar of X's dtype) * float64 draws -> float64,
            // stored back into W/H's dtype.
            let avg = F::from_f64_(mean).to_f64_();
            // W's zeros are all filled before H's.
            for v in w.iter_mut().chain(h.iter_mut()) {
                if *v == F::zero() {
                    *v = F::from_f64_((avg * rng.standard_normal() / 100.0).abs());
                }
            }
        }
        _ => {}
    }
    if shard.n_ranks > 1 || shard.n_local != shard.n_total {
        let rows = shard.offset..shard.offset + shard.n_local;
        w = w.slice(ndarray::s![rows, ..]).to_owned();
    }
    random_state.advance_to(&rng);
    Ok((Matrix::from_array(w, place_w, "W")?, h))
}

/// Normals per chunk of the random init's W.
const W_CHUNK: usize = 1 << 16;

/// Random init: H first, then W (all N rows drawn, the shard's kept, so
/// that every worker leaves the generator where one process would),
/// scaled normals in absolute value.
fn random_init<F: NmfFloat>(
    shard: &Shard,
    mean: f64,
    k: usize,
    rng: &mut NumpyRandomState,
    place_w: &Placement,
) -> Result<(Matrix<F>, Array2<F>)> {
    let m = shard.n_features;
    let avg = Float::sqrt(F::from_f64_(mean) / F::from_usize(k).expect("k fits"));
    let h = rng
        .standard_normal_array(k, m)
        .mapv(|g| Float::abs(avg * F::from_f64_(g)));
    for _ in 0..shard.offset * k {
        rng.standard_normal();
    }
    // W's normals drawn in chunks (each a parallel fill), exactly as many
    // as W takes: the generator ends where one call per value leaves it.
    let (mut buf, mut at, mut left) = (Vec::new(), 0, shard.n_local * k);
    let w = Matrix::from_fn((shard.n_local, k), place_w, "W", || {
        if at == buf.len() {
            let c = left.min(W_CHUNK);
            buf.resize(c, 0.0);
            rng.fill_standard_normal(&mut buf);
            (left, at) = (left - c, 0);
        }
        at += 1;
        Float::abs(avg * F::from_f64_(buf[at - 1]))
    })?;
    for _ in 0..(shard.n_total - shard.offset - shard.n_local) * k {
        rng.standard_normal();
    }
    Ok((w, h))
}

/// Euclidean norm as scikit-learn's `norm`: dot product in the array's
/// dtype, square root in f64.
fn norm<F: NmfFloat>(v: &Array1<F>) -> f64 {
    v.dot(v).to_f64_().sqrt()
}

/// `v / nrm` in the array's dtype; a zero norm (an all-zero part, where
/// scikit-learn would divide 0 by 0) gives zeros.
fn normalized<F: NmfFloat>(v: Array1<F>, nrm: f64) -> Array1<F> {
    if nrm == 0.0 {
        return Array1::zeros(v.len());
    }
    let d = F::from_f64_(nrm);
    v.mapv(|e| e / d)
}

/// NNDSVD: W (all N rows), H before any zero filling.
fn nndsvd<F: NmfFloat>(
    x: &mut dyn RowSource<F>,
    k: usize,
    rng: &mut NumpyRandomState,
    comm: Comm,
    shard: &Shard,
) -> Result<(Array2<F>, Array2<F>)> {
    let (n, m) = (shard.n_total, shard.n_features);
    let (u, s, vt) = randomized_svd_source(x, k, rng, comm, shard)?;
    let mut w = Array2::zeros((n, k));
    let mut h = Array2::zeros((k, m));

    // Component j of W and H from U's column j and Vt's row j alone: the
    // components are computed on the rayon workers (each exactly as one
    // thread computes it, so the bits do not depend on the threads).
    let pos = |a: ArrayView1<F>| a.mapv(|v| if v > F::zero() { v } else { F::zero() });
    let neg = |a: ArrayView1<F>| a.mapv(|v| if v < F::zero() { -v } else { F::zero() });
    let eps = F::from_f64_(NNDSVD_EPS);
    // Entries below NNDSVD_EPS are set to zero as they are written.
    let cut = |v: F| if v < eps { F::zero() } else { v };
    w.axis_iter_mut(Axis(1))
        .into_par_iter()
        .zip(h.axis_iter_mut(Axis(0)).into_par_iter())
        .enumerate()
        .for_each(|(j, (mut wc, mut hr))| {
            let (xc, yr) = (u.column(j), vt.row(j));
            if j == 0 {
                // The leading singular pair of a non-negative matrix is
                // non-negative.
                let s0 = Float::sqrt(s[0]);
                wc.zip_mut_with(&xc, |o, &v| *o = cut(s0 * Float::abs(v)));
                hr.zip_mut_with(&yr, |o, &v| *o = cut(s0 * Float::abs(v)));
                return;
            }
            let (x_p, y_p, x_n, y_n) = (pos(xc), pos(yr), neg(xc), neg(yr));
            let (x_p_nrm, y_p_nrm) = (norm(&x_p), norm(&y_p));
            let (x_n_nrm, y_n_nrm) = (norm(&x_n), norm(&y_n));
            let (m_p, m_n) = (x_p_nrm * y_p_nrm, x_n_nrm * y_n_nrm);
            let (uu, vv, sigma) = if m_p > m_n {
                (normalized(x_p, x_p_nrm), normalized(y_p, y_p_nrm), m_p)
            } else {
                (normalized(x_n, x_n_nrm), normalized(y_n, y_n_nrm), m_n)
            };
            let lbd = Float::sqrt(s[j] * F::from_f64_(sigma));
            wc.zip_mut_with(&uu, |o, &v| *o = cut(lbd * v));
            hr.zip_mut_with(&vv, |o, &v| *o = cut(lbd * v));
        });
    Ok((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::CsrView;
    use crate::rng::test_npy;

    const KS: [usize; 2] = [3, 5];
    const INITS: [Init; 4] = [Init::Random, Init::Nndsvd, Init::Nndsvda, Init::Nndsvdar];
    const SEEDS: [u32; 2] = [0, 7];

    /// Largest elementwise |a - b| / |b| (|b| floored at 1e-300), and the
    /// largest |a - b| relative to the largest |b|.
    fn diffs(a: &[f64], b: &[f64]) -> (f64, f64) {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (mut elem, mut abs) = (0.0f64, 0.0f64);
        for (x, y) in a.iter().zip(b) {
            let d = (x - y).abs();
            abs = abs.max(d);
            elem = elem.max(d / y.abs().max(1e-300));
        }
        (elem, abs / scale)
    }

    /// How one fixture array is judged.
    enum Tol<'a> {
        /// f64: elementwise relative (`max_elem`) and relative to the
        /// array's largest value (`max_scaled`), zero patterns equal.
        F64 { max_elem: f64, max_scaled: f64 },
        /// f32, norm-wise against the oracle's own f32 rounding: sklearn's
        /// f32 result S lies δ = ‖S − S64‖ from its f64 result S64 (given
        /// here, same order as the f32 file). Ours is another f32 run of the
        /// same arithmetic in other summation orders (they depend on the
        /// CPU's BLAS kernel), so ‖ours − S‖ ≤ ‖ours − S64‖ + δ ≈ 2δ; we
        /// allow 4δ for the spread between two runs of rounding, plus
        /// sqrt(N)·eps_f32·‖S‖ (one rounding per element) for cases where δ
        /// happens to be ~0. An elementwise test cannot be derived: entries
        /// near zero of the singular vectors are pure rounding noise, and
        /// NNDSVD's zero pattern follows their signs.
        F32 { refs64: &'a [f64] },
    }

    /// Every (k, init, seed) of one fixture file against `initialize`.
    /// Returns the worst measure seen (for f64: elementwise and scaled
    /// diffs; for f32: fraction of the allowed distance, 0).
    fn check<F: NmfFloat>(name: &str, fmt: &str, refs: &[f64], tol: Tol) -> (f64, f64) {
        let x = test_npy::read_matrix(&format!("x_{name}.npy")).mapv(F::from_f64_);
        let (n, m) = x.dim();
        let (indptr, indices, data) = test_npy::csr_parts(&x);
        let input = if fmt == "csr" {
            Input::Csr(CsrView::new(n, m, &indptr, &indices, &data).unwrap())
        } else {
            Input::Dense(x.view())
        };
        let (mut at, mut worst) = (0, (0.0f64, 0.0f64));
        for k in KS {
            for init in INITS {
                for seed in SEEDS {
                    let (w, h) = initialize(&input, k, init, Some(seed)).unwrap();
                    assert_eq!((w.dim(), h.dim()), ((n, k), (k, m)));
                    for (what, got) in [("W", w), ("H", h)] {
                        let got: Vec<f64> = got.iter().map(|v| v.to_f64_()).collect();
                        let want = &refs[at..at + got.len()];
                        let case = format!(
                            "{name} {fmt} {} k={k} {init:?} seed={seed} {what}",
                            F::DTYPE
                        );
                        match tol {
                            Tol::F64 {
                                max_elem,
                                max_scaled,
                            } => {
                                let (e, s) = diffs(&got, want);
                                worst = (worst.0.max(e), worst.1.max(s));
                                assert!(
                                    e <= max_elem && s <= max_scaled,
                                    "{case}: elementwise rel diff {e:e}, scaled diff {s:e}"
                                );
                                // Zero patterns agree exactly (nndsvd keeps zeros).
                                for (a, b) in got.iter().zip(want) {
                                    assert_eq!(*a == 0.0, *b == 0.0, "{case}: zero pattern");
                                }
                            }
                            Tol::F32 { refs64 } => {
                                let want64 = &refs64[at..at + got.len()];
                                let dist = norm_dist(&got, want);
                                let delta = norm_dist(want, want64);
                                let norm = norm_dist(want, &vec![0.0; want.len()]);
                                let allowed = 4.0 * delta
                                    + (got.len() as f64).sqrt() * f32::EPSILON as f64 * norm;
                                worst.0 = worst.0.max(dist / allowed);
                                assert!(
                                    dist <= allowed,
                                    "{case}: ‖ours − sklearn‖ = {dist:e} > allowed {allowed:e} \
                                     (sklearn's f32 result is {delta:e} from its f64 one)"
                                );
                            }
                        }
                        at += got.len();
                    }
                }
            }
        }
        assert_eq!(at, refs.len(), "fixture length");
        worst
    }

    /// ‖a − b‖₂.
    fn norm_dist(a: &[f64], b: &[f64]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y) * (x - y))
            .sum::<f64>()
            .sqrt()
    }

    fn check_f64(name: &str, fmt: &str) {
        let (_, refs) = test_npy::read_f64(&format!("init_{name}_{fmt}_f64.npy"));
        let tol = Tol::F64 {
            max_elem: 1e-9,
            max_scaled: 1e-9,
        };
        let worst = check::<f64>(name, fmt, &refs, tol);
        eprintln!(
            "f64 {name} {fmt}: worst elementwise {:e}, scaled {:e}",
            worst.0, worst.1
        );
    }

    fn check_f32(name: &str, fmt: &str) {
        let (_, refs) = test_npy::read_f32(&format!("init_{name}_{fmt}_f32.npy"));
        let refs: Vec<f64> = refs.iter().map(|&v| v as f64).collect();
        let (_, refs64) = test_npy::read_f64(&format!("init_{name}_{fmt}_f64.npy"));
        let worst = check::<f32>(name, fmt, &refs, Tol::F32 { refs64: &refs64 });
        eprintln!("f32 {name} {fmt}: worst distance {:.3} of allowed", worst.0);
    }

    #[test]
    fn matches_sklearn_tall_dense_f64() {
        check_f64("a", "dense");
    }

    #[test]
    fn matches_sklearn_tall_csr_f64() {
        check_f64("a", "csr");
    }

    #[test]
    fn matches_sklearn_wide_dense_f64() {
        check_f64("b", "dense");
    }

    #[test]
    fn matches_sklearn_wide_csr_f64() {
        check_f64("b", "csr");
    }

    #[test]
    fn matches_sklearn_dense_f32() {
        check_f32("a", "dense");
        check_f32("b", "dense");
    }

    #[test]
    fn matches_sklearn_csr_f32() {
        check_f32("a", "csr");
        check_f32("b", "csr");
    }

    /// k = min(n, m): Q shrinks in the power iterations; x_c is rank 3 with
    /// k = 5, so its LU factors are exactly singular and two singular pairs
    /// are null (their factors fall below eps and become zeros).
    #[test]
    fn matches_sklearn_full_rank_edge_cases() {
        let (_, refs) = test_npy::read_f64("init_edge.npy");
        let mut at = 0;
        for (name, k) in [("a", 12usize), ("c", 5)] {
            let x = test_npy::read_matrix(&format!("x_{name}.npy"));
            let (n, m) = x.dim();
            let (indptr, indices, data) = test_npy::csr_parts(&x);
            let csr = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
            for input in [Input::Dense(x.view()), Input::Csr(csr)] {
                for init in [Init::Nndsvd, Init::Nndsvdar] {
                    let (w, h) = initialize(&input, k, init, Some(1)).unwrap();
                    for (what, got) in [("W", w), ("H", h)] {
                        let got: Vec<f64> = got.iter().copied().collect();
                        let want = &refs[at..at + got.len()];
                        at += got.len();
                        let (e, sc) = diffs(&got, want);
                        assert!(
                            e < 1e-9 && sc < 1e-9,
                            "x_{name} k={k} sparse={} {init:?} {what}: {e:e} {sc:e}",
                            input.is_sparse()
                        );
                    }
                }
            }
        }
        assert_eq!(at, refs.len());
    }

    #[test]
    fn auto_resolves_like_sklearn() {
        let x = test_npy::read_matrix("x_a.npy");
        let input = Input::Dense(x.view());
        let auto = initialize(&input, 3, Init::Auto, Some(4)).unwrap();
        assert_eq!(auto, initialize(&input, 3, Init::Nndsvda, Some(4)).unwrap());
        // k > min(n, m): random.
        let auto = initialize(&input, 13, Init::Auto, Some(4)).unwrap();
        assert_eq!(auto, initialize(&input, 13, Init::Random, Some(4)).unwrap());
    }

    #[test]
    fn errors_instead_of_panics() {
        let x = test_npy::read_matrix("x_a.npy");
        let input = Input::Dense(x.view());
        for init in [Init::Nndsvd, Init::Nndsvda, Init::Nndsvdar] {
            assert!(matches!(
                initialize(&input, 13, init, Some(0)),
                Err(Error::Init(_))
            ));
        }
        assert!(matches!(
            initialize(&input, 3, Init::Custom, Some(0)),
            Err(Error::Init(_))
        ));
        assert!(initialize(&input, 0, Init::Random, Some(0)).is_err());
        let empty = Array2::<f64>::zeros((0, 3));
        assert!(initialize(&Input::Dense(empty.view()), 1, Init::Random, None).is_err());
    }

    #[test]
    fn entropy_seeding_gives_valid_factors() {
        let x = test_npy::read_matrix("x_b.npy");
        let input = Input::Dense(x.view());
        for init in INITS {
            let (w, h) = initialize(&input, 4, init, None).unwrap();
            assert!(w.iter().chain(h.iter()).all(|v| v.is_finite() && *v >= 0.0));
        }
        let a = initialize(&input, 4, Init::Random, None).unwrap();
        let b = initialize(&input, 4, Init::Random, None).unwrap();
        assert_ne!(a, b);
    }
}
