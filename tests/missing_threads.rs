//! Masked fits give the same bits for any number of threads (the masked
//! kernels cut batches into fixed blocks and add partial sums in block
//! order).

use minibatchnmf::{BetaLoss, Init, Input, MiniBatchNmf, MiniBatchNmfParams, Missing};
use ndarray::Array2;

fn fit_in_pool(threads: usize, beta: BetaLoss, x: &Array2<f64>) -> (Array2<f64>, f64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let p = MiniBatchNmfParams::new()
            .n_components(4)
            .init(Init::Random)
            .random_state(Some(0))
            .beta_loss(beta)
            .batch_size(300)
            .max_iter(5)
            .tol(0.0)
            .max_no_improvement(None)
            .missing(Missing::Nan);
        let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
        m.fit(Input::Dense(x.view())).unwrap();
        (
            m.components().unwrap().to_owned(),
            m.reconstruction_err().unwrap(),
        )
    })
}

#[test]
fn masked_fit_independent_of_thread_count() {
    let mut s = 7u64;
    let mut u = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    // 700 rows (several 64-row tasks, a ragged last batch), 150 columns
    // (several 64-column blocks), 20 % NaN.
    let x = Array2::from_shape_fn((700, 150), |_| {
        let v = u() * 3.0 + 0.1;
        if u() < 0.2 {
            f64::NAN
        } else {
            v
        }
    });
    for beta in [
        BetaLoss::Frobenius,
        BetaLoss::KullbackLeibler,
        BetaLoss::Beta(1.5),
    ] {
        let (h1, e1) = fit_in_pool(1, beta, &x);
        let (h3, e3) = fit_in_pool(3, beta, &x);
        assert!(e1.is_finite() && h1.iter().all(|v| v.is_finite()));
        assert_eq!(h1, h3, "{beta:?}: H differs between 1 and 3 threads");
        assert_eq!(
            e1.to_bits(),
            e3.to_bits(),
            "{beta:?}: reconstruction_err differs"
        );
    }
}
