//! `random_state` given as a numpy generator state (a `RandomState`
//! instance): the initialisation draws from it as scikit-learn draws from
//! the instance, a fit moves it on (a second fit continues the stream), a
//! failed fit leaves it, and it survives `get_param`/`set_param` and saving.

use minibatchnmf::initialize;
use minibatchnmf::{Init, Input, MiniBatchNmf, MiniBatchNmfParams, RandomState};
use minibatchnmf::{MtState, NumpyRandomState};
use ndarray::Array2;

/// 30 x 6 uniform values in [0, 1).
fn data() -> Array2<f64> {
    let mut rs = NumpyRandomState::new(11);
    Array2::from_shape_fn((30, 6), |_| rs.random_sample())
}

/// `RandomState(seed)` after a few draws, with a cached Gaussian.
fn advanced(seed: u32) -> NumpyRandomState {
    let mut rs = NumpyRandomState::new(seed);
    rs.random_sample();
    rs.standard_normal();
    rs
}

fn params(init: Init, rs: &NumpyRandomState) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(3)
        .init(init)
        .max_iter(3)
        .batch_size(8)
        .random_state(rs.state())
}

fn state_of(est: &MiniBatchNmf<f64>) -> MtState {
    match est.params().get_random_state() {
        RandomState::State(s) => (**s).clone(),
        other => panic!("expected a generator state, got {other}"),
    }
}

#[test]
fn random_init_draws_from_the_state_and_a_fit_moves_it_on() {
    let x = data();
    let (n, m, k) = (30, 6, 3);
    let rs = advanced(4);
    // scikit-learn's random init draws H (k x m) then W (n x k) normals.
    let mut after = rs.clone();
    for _ in 0..k * m + n * k {
        after.standard_normal();
    }
    let mut est = MiniBatchNmf::<f64>::new(params(Init::Random, &rs)).unwrap();
    est.fit(x.view()).unwrap();
    assert_eq!(state_of(&est), after.state());

    // A second fit continues the stream: it equals a new estimator given the
    // advanced state, and differs from the first fit.
    let first = est.components().unwrap().to_owned();
    est.fit(x.view()).unwrap();
    let mut fresh = MiniBatchNmf::<f64>::new(params(Init::Random, &after)).unwrap();
    fresh.fit(x.view()).unwrap();
    assert_eq!(est.components().unwrap(), fresh.components().unwrap());
    assert_ne!(est.components().unwrap(), first.view());
    assert_eq!(state_of(&est), state_of(&fresh));
}

#[test]
fn nndsvdar_continues_the_svd_stream_where_a_seed_restarts() {
    let x = data();
    let input = Input::Dense(x.view());
    // From the state of a fresh RandomState(5) nndsvd (no fill) draws the
    // same as seed 5; nndsvdar's fill then differs: the instance continues.
    let fresh = NumpyRandomState::new(5);
    for init in [Init::Random, Init::Nndsvd, Init::Nndsvda] {
        let (w_seed, h_seed) = initialize(&input, 3, init, Some(5)).unwrap();
        let (w_state, h_state) = initialize(&input, 3, init, fresh.state()).unwrap();
        assert_eq!((&w_seed, &h_seed), (&w_state, &h_state), "{init:?}");
    }
    let (w_seed, h_seed) = initialize(&input, 3, Init::Nndsvdar, Some(5)).unwrap();
    let mut rs = RandomState::from(fresh.state());
    let (w_state, h_state) =
        minibatchnmf::initialize_from(&input, 3, Init::Nndsvdar, &mut rs).unwrap();
    assert!(w_seed != w_state || h_seed != h_state);
    assert_ne!(rs, RandomState::from(fresh.state()), "the state moved on");
    // Seeds and None are never changed.
    let mut seed = RandomState::Seed(5);
    minibatchnmf::initialize_from(&input, 3, Init::Nndsvdar, &mut seed).unwrap();
    assert_eq!(seed, RandomState::Seed(5));
}

#[test]
fn a_failed_fit_leaves_the_state() {
    let rs = advanced(9);
    let mut est = MiniBatchNmf::<f64>::new(params(Init::Random, &rs)).unwrap();
    let mut bad = data();
    bad[[0, 0]] = -1.0;
    assert!(est.fit(bad.view()).is_err());
    assert_eq!(state_of(&est), rs.state());
    // init = custom draws nothing.
    let x = data();
    let w = Array2::from_elem((30, 3), 0.5);
    let h = Array2::from_elem((3, 6), 0.5);
    let mut est = MiniBatchNmf::<f64>::new(params(Init::Custom, &rs)).unwrap();
    est.fit_transform_with(
        x.view(),
        minibatchnmf::FitArgs {
            w: Some(w.view()),
            h: Some(h.view()),
            feature_names: None,
        },
    )
    .unwrap();
    assert_eq!(state_of(&est), rs.state());
}

#[test]
fn a_state_survives_get_param_set_param_and_saving() {
    let rs = advanced(2);
    let p = params(Init::Nndsvdar, &rs);
    let text = p.get_param("random_state").unwrap();
    assert!(text.starts_with("mt19937:"), "{text}");
    let mut q = MiniBatchNmfParams::new();
    q.set_param("random_state", &text).unwrap();
    assert_eq!(q.get_random_state(), p.get_random_state());
    // Seeds keep their spelling.
    assert_eq!(
        MiniBatchNmfParams::new()
            .random_state(Some(7))
            .get_param("random_state")
            .unwrap(),
        "7"
    );

    let x = data();
    let mut est = MiniBatchNmf::<f64>::new(p).unwrap();
    est.fit(x.view()).unwrap();
    let loaded = MiniBatchNmf::<f64>::from_bytes(&est.to_bytes().unwrap()).unwrap();
    assert_eq!(loaded.params(), est.params());
    assert_eq!(state_of(&loaded), state_of(&est));
    // The loaded model's next fit continues the same stream.
    let (mut a, mut b) = (est.clone(), loaded);
    a.fit(x.view()).unwrap();
    b.fit(x.view()).unwrap();
    assert_eq!(a.components().unwrap(), b.components().unwrap());
}
