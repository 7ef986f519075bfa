//! Property tests (proptest): random small problems, few cases, so the
//! suite stays fast. Each property is a guarantee of the library:
//! dense and CSR inputs give the same model; f32 stays within a derived
//! tolerance of f64; W and H are finite and non-negative for any valid
//! input (or the fit refuses with `Diverged`, never returns a bad model);
//! save → load is the identity.

mod gen;

use gen::Csr;
use minibatchnmf::{Error, FitArgs, Init, MiniBatchNmf, MiniBatchNmfParams, NmfFloat};
use ndarray::Array2;
use proptest::prelude::*;

const CASES: u32 = 48;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        // Shrinking re-runs fits; keep a failure's report quick.
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    }
}

/// An n × m matrix of values in [0, 4) with some exact zeros, every value
/// exactly representable in f32 (so the f32 and f64 fits see the same X).
fn matrix(max_n: usize, max_m: usize) -> impl Strategy<Value = Array2<f64>> {
    (1..=max_n, 1..=max_m).prop_flat_map(|(n, m)| {
        proptest::collection::vec(prop_oneof![1 => Just(0u16), 4 => 1u16..4096], n * m)
            .prop_map(move |v| Array2::from_shape_fn((n, m), |(i, j)| v[i * m + j] as f64 / 1024.0))
    })
}

/// Relative Frobenius difference ||a - b|| / max(||b||, tiny).
fn rel_diff<F: NmfFloat>(a: &Array2<F>, b: &Array2<f64>) -> f64 {
    let num: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(x, y)| (x.to_f64_() - y).powi(2))
        .sum::<f64>()
        .sqrt();
    let den = b
        .iter()
        .map(|y| y * y)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    num / den
}

/// The rounding bound of a fit of `n_steps` mini-batch steps on a k × m H
/// (and n × k W) in a dtype of machine epsilon `eps`: one step computes
/// each entry of H from sums of O(n·m·k) products, whose rounding errors
/// (in whatever summation order) grow like sqrt(size)·eps relative to the
/// entry; multiplicative updates carry the relative error of the previous
/// step forward, so over n_steps it grows at most linearly. The constant
/// 64 covers the inner W solve (up to fresh_restarts_max_iter = 5 passes
/// per step here) and the ratio of two such sums in each update.
fn rounding_bound(eps: f64, size: usize, n_steps: usize) -> f64 {
    64.0 * (size as f64).sqrt() * eps * n_steps as f64
}

fn params(k: usize, beta: f64, seed: u32) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(k)
        .init(Init::Random)
        .random_state(Some(seed))
        .beta(beta)
        .batch_size(4)
        .max_iter(3)
        .tol(0.0)
        .max_no_improvement(None)
        .fresh_restarts_max_iter(5)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn dense_and_csr_inputs_give_the_same_model(
        x in matrix(10, 6),
        k in 1usize..4,
        beta in prop_oneof![Just(2.0), Just(1.0), Just(1.5)],
        seed in 0u32..1000,
    ) {
        // A column or row of zeros only is fine; X all zeros is refused by
        // both alike (tested below), so skip it here.
        prop_assume!(x.iter().any(|&v| v > 0.0));
        let p = params(k, beta, seed);
        let mut dense = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        let mut sparse = MiniBatchNmf::<f64>::new(p).unwrap();
        let rd = dense.fit(&x);
        let c = Csr::from_dense(&x);
        let rs = sparse.fit(c.view());
        prop_assert_eq!(rd.is_ok(), rs.is_ok(), "{:?} vs {:?}", rd, rs);
        if rd.is_ok() {
            let (n, m) = x.dim();
            let steps = dense.n_steps().unwrap();
            prop_assert_eq!(steps, sparse.n_steps().unwrap());
            let bound = rounding_bound(f64::EPSILON, n * m * k, steps);
            let hd = dense.components().unwrap().to_owned();
            let hs = sparse.components().unwrap().to_owned();
            let d = rel_diff(&hs, &hd);
            prop_assert!(d <= bound, "H differs by {} > {}", d, bound);
            let wd = dense.transform(&x).unwrap();
            let ws = sparse.transform(c.view()).unwrap();
            let dw = rel_diff(&ws, &wd);
            // transform runs up to max_iter (3) W passes on top.
            prop_assert!(dw <= 4.0 * bound, "W differs by {} > {}", dw, 4.0 * bound);
        }
    }

    #[test]
    fn f32_fit_is_within_the_derived_rounding_tolerance_of_f64(
        x in matrix(10, 6),
        k in 1usize..4,
        beta in prop_oneof![Just(2.0), Just(1.0)],
        seed in 0u32..1000,
    ) {
        prop_assume!(x.iter().filter(|&&v| v > 0.0).count() >= x.len() / 2);
        let p = params(k, beta, seed);
        let mut m64 = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        let mut m32 = MiniBatchNmf::<f32>::new(p).unwrap();
        let x32 = gen::cast::<f32>(&x);
        if m64.fit(&x).is_ok() && m32.fit(&x32).is_ok() {
            let (n, m) = x.dim();
            let steps = m64.n_steps().unwrap();
            prop_assert_eq!(steps, m32.n_steps().unwrap());
            // The f32 fit rounds at f32's epsilon where f64 rounds at f64's;
            // the f64 result stands in for the exact one.
            let bound = rounding_bound(f32::EPSILON as f64, n * m * k, steps);
            let h64 = m64.components().unwrap().to_owned();
            let h32 = m32.components().unwrap().to_owned();
            let d = rel_diff(&h32, &h64);
            prop_assert!(d <= bound, "H(f32) differs by {} > {}", d, bound);
        }
    }

    #[test]
    fn w_and_h_are_finite_and_non_negative_for_any_valid_input(
        x in matrix(8, 5),
        zero_row in proptest::option::of(0usize..8),
        zero_col in proptest::option::of(0usize..5),
        scale in prop_oneof![Just(1e-30), Just(1.0), Just(1e30)],
        k in 1usize..8,
        beta in prop_oneof![Just(2.0), Just(1.0), Just(1.5), Just(0.5), Just(3.0)],
        f32 in any::<bool>(),
        seed in 0u32..1000,
    ) {
        let mut x = x * scale;
        if let Some(r) = zero_row { if r < x.nrows() { x.row_mut(r).fill(0.0); } }
        if let Some(c) = zero_col { if c < x.ncols() { x.column_mut(c).fill(0.0); } }
        // k may exceed n_features: init random allows it.
        let p = params(k, beta, seed);
        fn check<F: NmfFloat>(x: &Array2<f64>, p: MiniBatchNmfParams) -> Result<(), TestCaseError> {
            let x = gen::cast::<F>(x);
            let mut model = MiniBatchNmf::<F>::new(p).unwrap();
            match model.fit_transform(&x) {
                Ok(w) => {
                    let h = model.components().unwrap();
                    prop_assert!(w.iter().chain(h.iter()).all(|v| v.is_finite() && *v >= F::zero()));
                    let w2 = model.transform(&x).unwrap();
                    prop_assert!(w2.iter().all(|v| v.is_finite() && *v >= F::zero()));
                    // A fitted model keeps resuming cleanly.
                    match model.partial_fit(&x) {
                        Ok(()) => prop_assert!(model.components().unwrap().iter().all(|v| v.is_finite() && *v >= F::zero())),
                        Err(e) => prop_assert!(matches!(e, Error::Diverged(_)), "{}", e),
                    }
                }
                // All-zero X or values beyond the dtype: a clear refusal, the
                // model unchanged (unfitted).
                Err(e) => {
                    prop_assert!(matches!(e, Error::Diverged(_)), "{}", e);
                    prop_assert!(!model.is_fitted());
                }
            }
            Ok(())
        }
        if f32 { check::<f32>(&x, p)?; } else { check::<f64>(&x, p)?; }
    }

    #[test]
    fn save_then_load_is_the_identity(
        x in matrix(8, 5),
        k in 1usize..4,
        partial in any::<bool>(),
        f32 in any::<bool>(),
        forget_factor in 0.0f64..=1.0,
        alpha in prop_oneof![Just(0.0), 0.0f64..2.0],
        l1_ratio in 0.0f64..=1.0,
        tol in prop_oneof![Just(0.0), 1e-12f64..1.0],
        names in proptest::option::of(proptest::collection::vec("\\PC{0,6}", 5)),
        seed in 0u32..1000,
    ) {
        prop_assume!(x.iter().any(|&v| v > 0.0));
        let p = params(k, 2.0, seed)
            .forget_factor(forget_factor)
            .alpha_w(alpha)
            .l1_ratio(l1_ratio)
            .tol(tol);
        let names: Option<Vec<String>> = names.map(|v| v[..x.ncols()].to_vec());
        fn check<F: NmfFloat>(
            x: &Array2<f64>, p: MiniBatchNmfParams, partial: bool, names: Option<Vec<String>>,
        ) -> Result<(), TestCaseError> {
            let x = gen::cast::<F>(x);
            let mut m = MiniBatchNmf::<F>::new(p).unwrap();
            let args = FitArgs { feature_names: names.as_deref(), ..Default::default() };
            let ok = if partial { m.partial_fit_with(&x, args).is_ok() } else { m.fit_transform_with(&x, args).is_ok() };
            if !ok { return Ok(()); }
            let back = MiniBatchNmf::<F>::from_bytes(&m.to_bytes().unwrap()).unwrap();
            let bits = |a: ndarray::ArrayView2<F>| a.iter().map(|v| v.to_f64_().to_bits()).collect::<Vec<_>>();
            prop_assert_eq!(bits(back.components().unwrap()), bits(m.components().unwrap()));
            prop_assert_eq!(bits(back.components_numerator().unwrap()), bits(m.components_numerator().unwrap()));
            prop_assert_eq!(bits(back.components_denominator().unwrap()), bits(m.components_denominator().unwrap()));
            prop_assert_eq!(back.params(), m.params());
            prop_assert_eq!(back.params().get_params(), m.params().get_params());
            prop_assert_eq!(back.n_steps(), m.n_steps());
            prop_assert_eq!(back.n_iter(), m.n_iter());
            prop_assert_eq!(back.reconstruction_err().map(f64::to_bits), m.reconstruction_err().map(f64::to_bits));
            prop_assert_eq!(back.feature_names_in(), m.feature_names_in());
            prop_assert_eq!(back.last_fit(), m.last_fit());
            prop_assert_eq!(bits(back.transform(&x).unwrap().view()), bits(m.transform(&x).unwrap().view()));
            Ok(())
        }
        if f32 { check::<f32>(&x, p, partial, names)?; } else { check::<f64>(&x, p, partial, names)?; }
    }
}

#[test]
fn all_zero_input_is_refused_alike_dense_and_csr() {
    let x = Array2::<f64>::zeros((4, 3));
    let p = params(2, 2.0, 0);
    let dense = MiniBatchNmf::<f64>::new(p.clone())
        .unwrap()
        .fit(&x)
        .map(|_| ());
    let c = Csr::from_dense(&x);
    let sparse = MiniBatchNmf::<f64>::new(p)
        .unwrap()
        .fit(c.view())
        .map(|_| ());
    assert_eq!(dense.is_ok(), sparse.is_ok(), "{dense:?} vs {sparse:?}");
}
