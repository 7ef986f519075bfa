//! Edge cases that must end in a result or a clean error, never a panic or a
//! silently wrong (NaN) model.

use minibatchnmf::{BetaLoss, CsrView, Error, Init, MiniBatchNmf, MiniBatchNmfParams};
use ndarray::{array, Array2};

fn inits() -> [Init; 5] {
    [
        Init::Auto,
        Init::Random,
        Init::Nndsvd,
        Init::Nndsvda,
        Init::Nndsvdar,
    ]
}

#[test]
fn all_zero_x_is_an_error_not_a_nan_model() {
    let x = Array2::<f64>::zeros((6, 4));
    for init in inits() {
        let mut m = MiniBatchNmf::<f64>::new(
            MiniBatchNmfParams::new()
                .n_components(2)
                .init(init)
                .random_state(Some(0)),
        )
        .unwrap();
        match m.fit(&x) {
            Ok(_) => {
                assert!(m.components().unwrap().iter().all(|v| v.is_finite()));
            }
            Err(e) => assert!(matches!(e, Error::Diverged(_)), "{init:?}: {e}"),
        }
        // A failed fit leaves the model unfitted.
        if m.components().is_err() {
            assert!(!m.is_fitted());
        }
    }
}

#[test]
fn tiny_shapes_fit() {
    for (n, m) in [(1, 1), (1, 5), (5, 1), (2, 2)] {
        let x = Array2::from_shape_fn((n, m), |(i, j)| 1.0 + (i * m + j) as f64);
        for init in inits() {
            for k in [1, 3] {
                let p = MiniBatchNmfParams::new()
                    .n_components(k)
                    .init(init)
                    .random_state(Some(3))
                    .max_iter(20);
                let mut model = MiniBatchNmf::<f64>::new(p).unwrap();
                match model.fit_transform(&x) {
                    Ok(w) => {
                        assert_eq!(w.dim(), (n, k));
                        assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0));
                        let back = model.inverse_transform(w.view()).unwrap();
                        assert_eq!(back.dim(), (n, m));
                    }
                    Err(Error::Init(_)) => {
                        assert!(k > n.min(m) && !matches!(init, Init::Random | Init::Auto))
                    }
                    Err(e) => panic!("{n}x{m} k={k} {init:?}: unexpected {e}"),
                }
            }
        }
    }
}

#[test]
fn batch_larger_than_data_and_every_beta() {
    let x = array![
        [1.0, 2.0, 0.5],
        [0.1, 3.0, 1.0],
        [2.0, 0.2, 0.3],
        [0.4, 0.5, 4.0],
        [1.5, 1.5, 1.5]
    ];
    for beta in [2.0, 1.0, 0.0, 0.5, 1.5, 3.0, -1.0, 4.5] {
        let p = MiniBatchNmfParams::new()
            .n_components(2)
            .init(Init::Random)
            .beta_loss(BetaLoss::Beta(beta))
            .batch_size(100)
            .random_state(Some(1))
            .max_iter(30);
        let mut model = MiniBatchNmf::<f64>::new(p).unwrap();
        let s = model.fit(&x).unwrap_or_else(|e| panic!("beta {beta}: {e}"));
        assert!(s.reconstruction_err.is_finite(), "beta {beta}");
        assert_eq!(s.n_steps, s.n_iter, "one batch per epoch");
    }
}

#[test]
fn csr_with_empty_rows_and_columns() {
    // Rows 1 and 3 empty; column 2 never used.
    let indptr = [0usize, 2, 2, 4, 4, 5];
    let indices = [0usize, 3, 1, 3, 0];
    let data = [1.0f64, 2.0, 0.5, 1.5, 3.0];
    let x = CsrView::new(5, 4, &indptr, &indices, &data).unwrap();
    for beta in [2.0, 1.0, 1.5] {
        for init in inits() {
            let p = MiniBatchNmfParams::new()
                .n_components(2)
                .init(init)
                .beta(beta)
                .batch_size(2)
                .random_state(Some(0));
            let mut model = MiniBatchNmf::<f64>::new(p).unwrap();
            let w = model
                .fit_transform(x)
                .unwrap_or_else(|e| panic!("beta {beta} {init:?}: {e}"));
            assert!(w.iter().all(|v| v.is_finite()));
            let wt = model.transform(x).unwrap();
            assert!(wt.iter().all(|v| v.is_finite()));
        }
    }
}

#[test]
fn huge_values_do_not_produce_a_silent_nan_model() {
    let x = Array2::from_shape_fn((8, 5), |(i, j)| 1e300 * (1.0 + (i + j) as f64));
    let mut m = MiniBatchNmf::<f64>::new(
        MiniBatchNmfParams::new()
            .n_components(2)
            .init(Init::Random)
            .random_state(Some(0)),
    )
    .unwrap();
    match m.fit(&x) {
        Ok(_) => assert!(m.components().unwrap().iter().all(|v| v.is_finite())),
        Err(e) => assert!(
            matches!(e, Error::Diverged(_) | Error::NotFinite { .. }),
            "{e}"
        ),
    }
}

#[test]
fn f32_result_is_within_f32_rounding_of_f64() {
    let x64 = Array2::from_shape_fn((30, 6), |(i, j)| ((i * 7 + j * 3) % 11) as f64 / 3.0);
    let x32 = x64.mapv(|v| v as f32);
    let p = MiniBatchNmfParams::new()
        .n_components(3)
        .init(Init::Nndsvda)
        .random_state(Some(0))
        .max_iter(50);
    let mut m64 = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
    let mut m32 = MiniBatchNmf::<f32>::new(p).unwrap();
    let w64 = m64.fit_transform(&x64).unwrap();
    let w32: Array2<f32> = m32.fit_transform(&x32).unwrap();
    let rel = (m32.reconstruction_err().unwrap() - m64.reconstruction_err().unwrap()).abs()
        / m64.reconstruction_err().unwrap();
    // Derived from f32 rounding, not measured: each of the n_steps steps
    // perturbs W and H by rounding of sums over the data (at most
    // sqrt(N)·eps_f32 relative, N = elements of X, for random-like rounding),
    // and the perturbations of successive steps add up at worst linearly.
    let n_steps = m32.n_steps().unwrap() as f64;
    let bound = n_steps * (x64.len() as f64).sqrt() * f32::EPSILON as f64;
    assert!(
        rel <= bound,
        "f32 vs f64 reconstruction error differ by {rel} > {bound}"
    );
    assert_eq!(w32.dim(), w64.dim());
}

#[test]
fn estimator_is_send_and_sync_and_usable_across_threads() {
    let x = Array2::from_shape_fn((20, 4), |(i, j)| 1.0 + ((i + 2 * j) % 5) as f64);
    let mut m = MiniBatchNmf::<f64>::new(
        MiniBatchNmfParams::new()
            .n_components(2)
            .random_state(Some(0)),
    )
    .unwrap();
    m.fit(&x).unwrap();
    let shared = std::sync::Arc::new(m);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let m = shared.clone();
            let x = x.clone();
            std::thread::spawn(move || m.transform(&x).unwrap())
        })
        .collect();
    let outs: Vec<Array2<f64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(outs[0], outs[1]);
}
