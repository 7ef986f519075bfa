//! What missing values cost (run by hand; prints ratios measured in one
//! run): `cargo test --release --test missing_cost -- --ignored --nocapture`.
//! Dense: the masked fit (5 % and 20 % NaN) against the unmasked fit of
//! the same matrix. CSR "unstored": the fit against the unmasked CSR fit of
//! the same matrix, and at the same number of stored entries for 10× the
//! columns (O(stored): the time should not grow with n·m).

use minibatchnmf::{BetaLoss, CsrView, Init, Input, MiniBatchNmf, MiniBatchNmfParams, Missing};
use ndarray::Array2;
use std::time::Instant;

fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn time_fit(p: MiniBatchNmfParams, x: Input<f64>, reps: usize) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        let mut m = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        let t = Instant::now();
        m.fit(x).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn params(beta: BetaLoss) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(10)
        .init(Init::Random)
        .random_state(Some(0))
        .beta_loss(beta)
        .batch_size(1024)
        .max_iter(10)
        .tol(0.0)
        .max_no_improvement(None)
}

#[test]
#[ignore]
fn masked_fit_cost() {
    let (n, m) = (8192, 400);
    let mut u = uniform(1);
    let x = Array2::from_shape_fn((n, m), |_| u() * 3.0 + 0.1);
    for beta in [BetaLoss::Frobenius, BetaLoss::KullbackLeibler] {
        let base = time_fit(params(beta), Input::Dense(x.view()), 3);
        for share in [0.05, 0.2] {
            let mut u = uniform(2);
            let xm = x.mapv(|v| if u() < share { f64::NAN } else { v });
            let t = time_fit(
                params(beta).missing(Missing::Nan),
                Input::Dense(xm.view()),
                3,
            );
            eprintln!(
                "dense {n}x{m} k=10 {beta:?}: unmasked {base:.3}s, {:.0}% NaN {t:.3}s, ratio {:.2}",
                share * 100.0,
                t / base
            );
        }
    }
    // CSR, 1 % stored.
    for m in [2000usize, 20000] {
        let n = 20000;
        let nnz_row = 20;
        let mut u = uniform(3);
        let (mut ip, mut ix, mut dv) = (vec![0], vec![], vec![]);
        for _ in 0..n {
            let mut cols: Vec<usize> = (0..nnz_row).map(|_| (u() * m as f64) as usize).collect();
            cols.sort_unstable();
            cols.dedup();
            for c in cols {
                ix.push(c);
                dv.push(1.0 + 4.0 * u());
            }
            ip.push(ix.len());
        }
        let csr = CsrView::new(n, m, &ip, &ix, &dv).unwrap();
        let p = params(BetaLoss::Frobenius);
        let base = time_fit(p.clone(), Input::Csr(csr), 3);
        let t = time_fit(p.missing(Missing::Unstored), Input::Csr(csr), 3);
        eprintln!(
            "csr {n}x{m} nnz {} k=10 Frobenius: unmasked (zeros observed) {base:.3}s, unstored missing {t:.3}s, ratio {:.2}",
            dv.len(),
            t / base
        );
    }
}
