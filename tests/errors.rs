//! Invalid inputs and parameters return `Err` (never panic), with the error
//! naming what is wrong, and a failed call leaves the estimator unchanged.

mod common;

use minibatchnmf::FitArgs;
use minibatchnmf::{CsrError, CsrView, Error, Init, MiniBatchNmf, MiniBatchNmfParams, ParamError};
use ndarray::{array, Array2};

/// A small strictly positive 8 × 4 matrix.
fn x_pos() -> Array2<f64> {
    Array2::from_shape_fn((8, 4), |(i, j)| 1.0 + ((i * 7 + j * 3) % 5) as f64 * 0.5)
}

fn params(k: usize) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(k)
        .init(Init::Random)
        .random_state(Some(0))
        .batch_size(3)
        .max_iter(5)
}

fn model(k: usize) -> MiniBatchNmf<f64> {
    MiniBatchNmf::new(params(k)).expect("valid parameters")
}

/// Assert `$e` is `Err` matching `$pat`, with the error in the message.
macro_rules! assert_err {
    ($e:expr, $pat:pat) => {{
        match $e {
            Err(e) => assert!(matches!(e, $pat), "unexpected error kind: {e:?}"),
            Ok(_) => panic!("expected an error from `{}`", stringify!($e)),
        }
    }};
}

/// H, A, B, n_steps, n_iter, reconstruction_err.
type Snapshot = (
    Array2<f64>,
    Array2<f64>,
    Array2<f64>,
    Option<usize>,
    Option<usize>,
    Option<f64>,
);

/// Everything observable of a fitted model, to check a failed call changed nothing.
fn snapshot(m: &MiniBatchNmf<f64>) -> Snapshot {
    (
        m.components().unwrap().to_owned(),
        m.components_numerator().unwrap().to_owned(),
        m.components_denominator().unwrap().to_owned(),
        m.n_steps(),
        m.n_iter(),
        m.reconstruction_err(),
    )
}

// ---------------------------------------------------------------------------
// X: sign, finiteness, zeros with beta <= 0, emptiness
// ---------------------------------------------------------------------------

#[test]
fn negative_x_is_rejected() {
    let mut x = x_pos();
    x[[2, 1]] = -1e-3;
    assert_err!(model(2).fit_transform(&x), Error::Negative { .. });
    assert_err!(model(2).partial_fit(&x), Error::Negative { .. });
    // CSR
    let (indptr, indices, data) = (vec![0usize, 2, 3], vec![0usize, 2, 1], vec![1.0, -2.0, 3.0]);
    let csr = CsrView::new(2, 3, &indptr, &indices, &data).unwrap();
    assert_err!(model(1).fit(csr), Error::Negative { .. });
}

#[test]
fn non_finite_x_is_rejected() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = x_pos();
        x[[5, 3]] = bad;
        assert_err!(model(2).fit_transform(&x), Error::NotFinite { .. });
        assert_err!(model(2).partial_fit(&x), Error::NotFinite { .. });
        let (indptr, indices, data) = (vec![0usize, 2, 3], vec![0usize, 2, 1], vec![1.0, bad, 3.0]);
        let csr = CsrView::new(2, 3, &indptr, &indices, &data).unwrap();
        assert_err!(model(1).fit(csr), Error::NotFinite { .. });
    }
}

#[test]
fn zeros_with_non_positive_beta_are_rejected() {
    for beta in ["itakura-saito", "0", "-0.5"] {
        let mut p = params(2);
        p.set_param("beta_loss", beta).unwrap();
        // dense with one zero
        let mut x = x_pos();
        x[[0, 0]] = 0.0;
        let mut m = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        assert_err!(m.fit_transform(&x), Error::ZerosWithNonPositiveBeta);
        assert_err!(m.partial_fit(&x), Error::ZerosWithNonPositiveBeta);
        assert!(!m.is_fitted());
        // CSR with implicit zeros (all stored values positive)
        let (indptr, indices, data) = (vec![0usize, 2, 3], vec![0usize, 2, 1], vec![1.0, 2.0, 3.0]);
        let csr = CsrView::new(2, 3, &indptr, &indices, &data).unwrap();
        assert_err!(
            MiniBatchNmf::<f64>::new(p.clone().n_components(1))
                .unwrap()
                .fit(csr),
            Error::ZerosWithNonPositiveBeta
        );
        // CSR fully stored but with an explicit zero
        let (indptr, indices, data) = (
            vec![0usize, 2, 4],
            vec![0usize, 1, 0, 1],
            vec![1.0, 0.0, 3.0, 4.0],
        );
        let csr = CsrView::new(2, 2, &indptr, &indices, &data).unwrap();
        assert_err!(
            MiniBatchNmf::<f64>::new(p.clone().n_components(1))
                .unwrap()
                .fit(csr),
            Error::ZerosWithNonPositiveBeta
        );
    }
}

#[test]
fn zeros_are_fine_with_positive_beta() {
    // The zero rule applies to beta <= 0 only.
    let mut x = x_pos();
    x[[0, 0]] = 0.0;
    for beta in ["0.5", "kullback-leibler", "frobenius"] {
        let mut p = params(2);
        p.set_param("beta_loss", beta).unwrap();
        MiniBatchNmf::<f64>::new(p).unwrap().fit(&x).unwrap();
    }
}

#[test]
fn empty_x_is_rejected() {
    let x = Array2::<f64>::zeros((0, 4));
    assert_err!(model(2).fit_transform(&x), Error::Empty { .. });
    let x = Array2::<f64>::zeros((3, 0));
    assert_err!(model(2).fit_transform(&x), Error::Empty { .. });
}

// ---------------------------------------------------------------------------
// Custom W and H
// ---------------------------------------------------------------------------

fn custom_model(k: usize) -> MiniBatchNmf<f64> {
    MiniBatchNmf::new(params(k).init(Init::Custom)).unwrap()
}

#[test]
fn custom_init_checks_w_and_h() {
    let x = x_pos(); // 8 × 4
    let w = Array2::from_elem((8, 2), 0.5);
    let h = Array2::from_elem((2, 4), 0.5);
    let run = |w: &Array2<f64>, h: &Array2<f64>| {
        custom_model(2).fit_transform_with(
            &x,
            FitArgs {
                w: Some(w.view()),
                h: Some(h.view()),
                feature_names: None,
            },
        )
    };
    // wrong shapes, each dimension
    assert_err!(
        run(&Array2::from_elem((7, 2), 0.5), &h),
        Error::Shape { .. }
    );
    assert_err!(
        run(&Array2::from_elem((8, 3), 0.5), &h),
        Error::Shape { .. }
    );
    assert_err!(
        run(&w, &Array2::from_elem((3, 4), 0.5)),
        Error::Shape { .. }
    );
    assert_err!(
        run(&w, &Array2::from_elem((2, 5), 0.5)),
        Error::Shape { .. }
    );
    // negative values
    let mut wn = w.clone();
    wn[[3, 1]] = -0.1;
    assert_err!(run(&wn, &h), Error::Negative { .. });
    let mut hn = h.clone();
    hn[[1, 2]] = -0.1;
    assert_err!(run(&w, &hn), Error::Negative { .. });
    // non-finite values
    let mut hnan = h.clone();
    hnan[[0, 0]] = f64::NAN;
    assert_err!(run(&w, &hnan), Error::NotFinite { .. });
    // all-zero H and W
    assert_err!(run(&w, &Array2::zeros((2, 4))), Error::AllZeros { .. });
    assert_err!(run(&Array2::zeros((8, 2)), &h), Error::AllZeros { .. });
    // custom W/H at partial_fit are checked the same way
    assert_err!(
        custom_model(2).partial_fit_with(
            &x,
            FitArgs {
                w: Some(w.view()),
                h: Some(Array2::<f64>::zeros((2, 4)).view()),
                feature_names: None
            }
        ),
        Error::AllZeros { .. }
    );
}

#[test]
fn custom_init_requires_w_and_h() {
    let x = x_pos();
    let w = Array2::from_elem((8, 2), 0.5);
    let h = Array2::from_elem((2, 4), 0.5);
    assert_err!(custom_model(2).fit_transform(&x), Error::Init(_));
    assert_err!(
        custom_model(2).fit_transform_with(
            &x,
            FitArgs {
                w: Some(w.view()),
                h: None,
                feature_names: None
            }
        ),
        Error::Init(_)
    );
    assert_err!(
        custom_model(2).fit_transform_with(
            &x,
            FitArgs {
                w: None,
                h: Some(h.view()),
                feature_names: None
            }
        ),
        Error::Init(_)
    );
    assert_err!(custom_model(2).partial_fit(&x), Error::Init(_));
}

#[test]
fn nndsvd_needs_k_at_most_min_dims() {
    let x = x_pos(); // min(8, 4) = 4
    for init in [Init::Nndsvd, Init::Nndsvda, Init::Nndsvdar] {
        let mut m = MiniBatchNmf::<f64>::new(params(5).init(init)).unwrap();
        assert_err!(m.fit_transform(&x), Error::Init(_));
        assert_err!(m.partial_fit(&x), Error::Init(_));
        assert!(!m.is_fitted());
        // through set_param spellings too
        let mut p = params(5);
        p.set_param("init", init.as_str()).unwrap();
        assert_err!(MiniBatchNmf::<f64>::new(p).unwrap().fit(&x), Error::Init(_));
    }
}

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

#[test]
fn invalid_parameter_values_are_rejected() {
    let cases: &[(&str, &str)] = &[
        ("batch_size", "0"),
        ("forget_factor", "1.5"),
        ("forget_factor", "-0.1"),
        ("l1_ratio", "-0.1"),
        ("l1_ratio", "1.5"),
        ("tol", "-1"),
        ("tol", "nan"),
        ("max_iter", "0"),
        ("alpha_W", "-1"),
        ("alpha_H", "-1"),
        ("n_components", "0"),
        ("transform_max_iter", "0"),
        ("fresh_restarts_max_iter", "0"),
        ("max_no_improvement", "0"),
        ("beta_loss", "inf"),
    ];
    for &(name, value) in cases {
        let mut p = MiniBatchNmfParams::new();
        // Either set_param rejects the value, or check()/new() do.
        match p.set_param(name, value) {
            Err(e) => assert!(
                matches!(&e, ParamError::Invalid { name: n, .. } if *n == name),
                "{name}={value}: {e:?}"
            ),
            Ok(()) => {
                match p.check() {
                    Err(ParamError::Invalid { name: n, .. }) => {
                        assert_eq!(n, name, "{name}={value}")
                    }
                    other => panic!("{name}={value}: check() gave {other:?}"),
                }
                assert_err!(MiniBatchNmf::<f64>::new(p.clone()), Error::Param(_));
                assert_err!(MiniBatchNmf::<f32>::new(p.clone()), Error::Param(_));
            }
        }
        // On an existing estimator, an invalid set_param keeps the old parameters.
        let mut m = MiniBatchNmf::<f64>::new(MiniBatchNmfParams::new()).unwrap();
        let before = m.params().clone();
        assert_err!(m.set_param(name, value), Error::Param(_));
        assert_eq!(m.params(), &before, "{name}={value} changed the parameters");
    }
}

#[test]
fn unparsable_and_unknown_parameters_are_rejected() {
    let mut p = MiniBatchNmfParams::new();
    assert!(matches!(
        p.set_param("batch_sise", "3"),
        Err(ParamError::Unknown(_))
    ));
    assert!(matches!(
        p.set_param("solvr", "mu"),
        Err(ParamError::Unknown(_))
    ));
    for (name, value) in [
        ("batch_size", "abc"),
        ("batch_size", "-3"),
        ("max_iter", "1.5"),
        ("init", "svd"),
        ("beta_loss", "euclid"),
        ("fresh_restarts", "yes"),
        ("random_state", "-1"),
        ("alpha_H", "different"),
    ] {
        assert!(
            matches!(p.set_param(name, value), Err(ParamError::Invalid { .. })),
            "{name}={value} accepted"
        );
    }
    assert_eq!(
        p,
        MiniBatchNmfParams::new(),
        "failed set_param calls changed the parameters"
    );
    let mut m = model(2);
    assert_err!(
        m.set_param("batch_sise", "3"),
        Error::Param(ParamError::Unknown(_))
    );
}

// ---------------------------------------------------------------------------
// Unfitted models, feature counts
// ---------------------------------------------------------------------------

#[test]
fn unfitted_model_errors() {
    let m = model(2);
    assert_err!(m.transform(&x_pos()), Error::NotFitted);
    assert_err!(
        m.inverse_transform(Array2::<f64>::ones((3, 2)).view()),
        Error::NotFitted
    );
    assert_err!(m.components(), Error::NotFitted);
    assert_err!(m.components_numerator(), Error::NotFitted);
    assert_err!(m.components_denominator(), Error::NotFitted);
    assert_err!(m.feature_names_out(None), Error::NotFitted);
    assert_eq!(m.n_components(), None);
    assert_eq!(m.n_steps(), None);
    assert_eq!(m.n_iter(), None);
    assert_eq!(m.reconstruction_err(), None);
    assert!(m.last_fit().is_none());
}

#[test]
fn feature_count_mismatch_in_transform_and_partial_fit() {
    let x = x_pos();
    let mut m = model(2);
    m.partial_fit(&x).unwrap();
    let x5 = Array2::from_elem((3, 5), 1.0);
    assert_err!(
        m.transform(&x5),
        Error::FeatureMismatch {
            expected: 4,
            got: 5
        }
    );
    let before = snapshot(&m);
    assert_err!(
        m.partial_fit(&x5),
        Error::FeatureMismatch {
            expected: 4,
            got: 5
        }
    );
    assert_eq!(snapshot(&m), before);
    // CSR with the wrong number of columns
    let (indptr, indices, data) = (vec![0usize, 1], vec![2usize], vec![1.0]);
    let csr = CsrView::new(1, 3, &indptr, &indices, &data).unwrap();
    assert_err!(
        m.transform(csr),
        Error::FeatureMismatch {
            expected: 4,
            got: 3
        }
    );
    // inverse_transform with the wrong number of components, or non-finite W
    assert_err!(
        m.inverse_transform(Array2::<f64>::ones((3, 3)).view()),
        Error::Shape { .. }
    );
    assert_err!(
        m.inverse_transform(array![[1.0, f64::NAN]].view()),
        Error::NotFinite { .. }
    );
}

#[test]
fn transform_checks_its_input() {
    let x = x_pos();
    let mut m = model(2);
    m.fit(&x).unwrap();
    let mut bad = x.clone();
    bad[[0, 0]] = -1.0;
    assert_err!(m.transform(&bad), Error::Negative { .. });
    bad[[0, 0]] = f64::NAN;
    assert_err!(m.transform(&bad), Error::NotFinite { .. });
}

// ---------------------------------------------------------------------------
// Malformed CSR
// ---------------------------------------------------------------------------

#[test]
fn malformed_csr_is_rejected() {
    let data = [1.0f64, 2.0, 3.0];
    // indptr of the wrong length
    assert!(matches!(
        CsrView::new(3, 3, &[0, 2, 3], &[0, 2, 1], &data),
        Err(CsrError::IndptrLength {
            got: 3,
            expected: 4
        })
    ));
    // indptr not starting at 0, decreasing, or not ending at nnz
    assert!(matches!(
        CsrView::new(2, 3, &[1, 2, 3], &[0, 2, 1], &data),
        Err(CsrError::Indptr(_))
    ));
    assert!(matches!(
        CsrView::new(2, 3, &[0, 3, 2], &[0, 2, 1], &data),
        Err(CsrError::Indptr(_))
    ));
    assert!(matches!(
        CsrView::new(2, 3, &[0, 2, 2], &[0, 2, 1], &data),
        Err(CsrError::Indptr(_))
    ));
    assert!(matches!(
        CsrView::new(2, 3, &[0, 2, 4], &[0, 2, 1], &data),
        Err(CsrError::Indptr(_))
    ));
    // indices and data of different lengths
    assert!(matches!(
        CsrView::new(2, 3, &[0, 2, 3], &[0, 2], &data),
        Err(CsrError::Lengths {
            indices: 2,
            data: 3
        })
    ));
    // column out of range
    assert!(matches!(
        CsrView::new(2, 3, &[0, 2, 3], &[0, 3, 1], &data),
        Err(CsrError::ColumnOutOfRange {
            index: 3,
            pos: 1,
            n_cols: 3
        })
    ));
    // duplicate column in a row (but the same column in different rows is fine)
    assert!(matches!(
        CsrView::new(2, 3, &[0, 2, 3], &[1, 1, 0], &data),
        Err(CsrError::DuplicateColumn { row: 0, col: 1 })
    ));
    assert!(CsrView::new(2, 3, &[0, 2, 3], &[1, 0, 1], &data).is_ok());
    // unsorted columns within a row are allowed
    assert!(CsrView::new(2, 3, &[0, 2, 3], &[2, 0, 1], &data).is_ok());
    // the error converts into the crate's Error
    let e: Error = CsrView::new(2, 3, &[0, 2, 3], &[0, 3, 1], &data)
        .unwrap_err()
        .into();
    assert!(matches!(e, Error::Csr(CsrError::ColumnOutOfRange { .. })));
}

// ---------------------------------------------------------------------------
// Failed calls leave the model unchanged
// ---------------------------------------------------------------------------

#[test]
fn failed_partial_fit_leaves_model_unchanged() {
    let x = x_pos();
    let mut m = model(2);
    m.partial_fit(x.slice(ndarray::s![0..5, ..])).unwrap();
    let before = snapshot(&m);
    let mut neg = x.clone();
    neg[[1, 1]] = -2.0;
    assert_err!(m.partial_fit(&neg), Error::Negative { .. });
    let mut nan = x.clone();
    nan[[1, 1]] = f64::NAN;
    assert_err!(m.partial_fit(&nan), Error::NotFinite { .. });
    assert_err!(
        m.partial_fit(Array2::<f64>::zeros((0, 4)).view()),
        Error::Empty { .. }
    );
    assert_err!(
        m.partial_fit(&Array2::from_elem((2, 3), 1.0)),
        Error::FeatureMismatch { .. }
    );
    assert_eq!(
        snapshot(&m),
        before,
        "a failed partial_fit changed the model"
    );
    // and the model still works
    m.partial_fit(x.slice(ndarray::s![5..8, ..])).unwrap();
    assert_eq!(m.n_steps(), Some(2));
}

#[test]
fn failed_fit_leaves_fitted_model_unchanged() {
    let x = x_pos();
    let mut m = model(2);
    m.fit(&x).unwrap();
    let before = snapshot(&m);
    let summary = m.last_fit().cloned();
    let mut neg = x.clone();
    neg[[0, 0]] = -1.0;
    assert_err!(m.fit(&neg), Error::Negative { .. });
    assert_err!(
        m.fit_transform(&Array2::<f64>::zeros((0, 4))),
        Error::Empty { .. }
    );
    // k > min(n, m) with nndsvd after a successful fit
    m.set_params(params(2).init(Init::Nndsvd).n_components(6))
        .unwrap();
    assert_err!(m.fit(&x), Error::Init(_));
    assert_eq!(snapshot(&m), before, "a failed fit changed the model");
    assert_eq!(m.last_fit().cloned(), summary);
}

// ---------------------------------------------------------------------------
// Later calls: beta <= 0 zeros, feature names, inverse_transform inputs
// ---------------------------------------------------------------------------

#[test]
fn zeros_after_fitting_with_non_positive_beta_are_rejected() {
    // sklearn checks the zero rule at fit only; we check it in partial_fit
    // and transform too (the updates would divide by zero all the same).
    let mut p = params(2);
    p.set_param("beta_loss", "itakura-saito").unwrap();
    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
    m.partial_fit(&x_pos()).unwrap();
    let before = snapshot(&m);
    let mut z = x_pos();
    z[[3, 2]] = 0.0;
    assert_err!(m.partial_fit(&z), Error::ZerosWithNonPositiveBeta);
    assert_err!(m.transform(&z), Error::ZerosWithNonPositiveBeta);
    let (indptr, indices, data) = (
        vec![0usize, 4, 7],
        vec![0usize, 1, 2, 3, 0, 1, 2],
        vec![1.0; 7],
    );
    let csr = CsrView::new(2, 4, &indptr, &indices, &data).unwrap();
    assert_err!(m.transform(csr), Error::ZerosWithNonPositiveBeta);
    assert_eq!(snapshot(&m), before);
    // A strictly positive fully stored CSR is fine.
    let (indptr, indices, data) = (
        vec![0usize, 4, 8],
        vec![0usize, 1, 2, 3, 3, 2, 1, 0],
        vec![1.0; 8],
    );
    let csr = CsrView::new(2, 4, &indptr, &indices, &data).unwrap();
    assert_eq!(m.transform(csr).unwrap().dim(), (2, 2));
}

#[test]
fn feature_names_are_checked() {
    let x = x_pos();
    let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let other: Vec<String> = ["a", "b", "d", "c"].iter().map(|s| s.to_string()).collect();
    // wrong number of names at fit
    assert_err!(
        model(2).fit_transform_with(
            &x,
            FitArgs {
                w: None,
                h: None,
                feature_names: Some(&names[..3])
            }
        ),
        Error::FeatureNames(_)
    );
    let mut m = model(2);
    m.fit_transform_with(
        &x,
        FitArgs {
            w: None,
            h: None,
            feature_names: Some(&names),
        },
    )
    .unwrap();
    assert_eq!(m.feature_names_in(), Some(&names[..]));
    assert!(m.transform_named(&x, &names).is_ok());
    assert_err!(m.transform_named(&x, &other), Error::FeatureNames(_));
    assert_err!(m.feature_names_out(Some(&other)), Error::FeatureNames(_));
    assert_eq!(
        m.feature_names_out(Some(&names)).unwrap(),
        vec!["minibatchnmf0", "minibatchnmf1"]
    );
    let before = snapshot(&m);
    assert_err!(
        m.partial_fit_with(
            &x,
            FitArgs {
                w: None,
                h: None,
                feature_names: Some(&other)
            }
        ),
        Error::FeatureNames(_)
    );
    assert_eq!(snapshot(&m), before);
}

#[test]
fn inverse_transform_accepts_negative_w_like_sklearn() {
    // sklearn's inverse_transform is X @ components_ whatever X holds; only
    // non-finite values are rejected here.
    let mut m = model(2);
    m.fit(&x_pos()).unwrap();
    let w = array![[1.0, -1.0], [0.0, 2.0]];
    let xr = m.inverse_transform(w.view()).unwrap();
    let h = m.components().unwrap();
    assert_eq!(xr, w.dot(&h));
    assert_err!(
        m.inverse_transform(array![[f64::INFINITY, 0.0]].view()),
        Error::NotFinite { .. }
    );
}
