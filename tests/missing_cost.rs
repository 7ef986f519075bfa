//! What missing values cost (run by hand; prints ratios measured in one
//! run): `cargo test --release --test missing_cost -- --ignored --nocapture`.
//! Dense: the masked fit (5 % and 20 % NaN) against the unmasked fit of
//! the same matrix. CSR "unstored": the fit against the unmasked CSR fit of
//! the same matrix, and at the same number of stored entries for 10× the
//! columns (O(stored): the time should not grow with n·m). Wall and CPU
//! time (all threads) both: on the shared machine the CPU ratio is the
//! steadier one.

mod common;

use common::masked::uniform;
use minibatchnmf::{BetaLoss, CsrView, Init, Input, MiniBatchNmf, MiniBatchNmfParams, Missing};
use ndarray::Array2;
use std::time::Instant;

/// CPU seconds (user + system, all threads) of this process so far: on a
/// shared machine the wall time mostly measures the other processes.
fn cpu_secs() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}

/// Best wall time and best CPU time of `reps` fits.
fn time_fit(p: MiniBatchNmfParams, x: Input<f64>, reps: usize) -> (f64, f64) {
    let (mut best, mut cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..reps {
        let mut m = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        let (t, c) = (Instant::now(), cpu_secs());
        m.fit(x).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        cpu = cpu.min(cpu_secs() - c);
    }
    (best, cpu)
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
    for beta in [
        BetaLoss::Frobenius,
        BetaLoss::KullbackLeibler,
        BetaLoss::Beta(0.5),
        BetaLoss::Beta(1.5),
    ] {
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
                "dense {n}x{m} k=10 {beta:?}: unmasked {:.3}s (cpu {:.3}s), {:.0}% NaN {:.3}s (cpu {:.3}s), ratio wall {:.2} cpu {:.2}",
                base.0,
                base.1,
                share * 100.0,
                t.0,
                t.1,
                t.0 / base.0,
                t.1 / base.1
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
            "csr {n}x{m} nnz {} k=10 Frobenius: unmasked (zeros observed) {:.3}s (cpu {:.3}s), unstored missing {:.3}s (cpu {:.3}s), ratio wall {:.2} cpu {:.2}",
            dv.len(),
            base.0,
            base.1,
            t.0,
            t.1,
            t.0 / base.0,
            t.1 / base.1
        );
    }
}

/// The dense masked Frobenius fit at Fashion-MNIST's size (20000×784,
/// k = 10, batch 1024, 3 passes, best of 3) against the unmasked fit: the
/// per-missing-entry corrections and the GEMM path forced, at several
/// missing shares, and the path the cost model chooses (the crossover
/// `SCALAR_COST` in src/kernels/masked/fro_gemm.rs is read off this).
#[test]
#[ignore]
fn frobenius_paths() {
    let (n, m) = (20000, 784);
    let mut u = uniform(5);
    let x = Array2::from_shape_fn((n, m), |_| u());
    let p = || params(BetaLoss::Frobenius).max_iter(3);
    let base = time_fit(p(), Input::Dense(x.view()), 3);
    let nonan = time_fit(p().missing(Missing::Nan), Input::Dense(x.view()), 3);
    eprintln!(
        "dense {n}x{m} k=10 Frobenius: unmasked {:.3}s (cpu {:.3}s); missing=nan without NaN {:.3}s (cpu {:.3}s), ratio wall {:.2} cpu {:.2}",
        base.0,
        base.1,
        nonan.0,
        nonan.1,
        nonan.0 / base.0,
        nonan.1 / base.1
    );
    for share in [0.02, 0.05, 0.1, 0.3, 0.5] {
        let mut u = uniform(6);
        let xm = x.mapv(|v| if u() < share { f64::NAN } else { v });
        for (name, path) in [
            ("corrections", Some(false)),
            ("gemm", Some(true)),
            ("auto", None),
        ] {
            minibatchnmf::force_masked_frobenius_path(path);
            let t = time_fit(p().missing(Missing::Nan), Input::Dense(xm.view()), 3);
            eprintln!(
                "  {:.0}% NaN, {name:12}: {:.3}s (cpu {:.3}s), ratio wall {:.2} cpu {:.2}",
                share * 100.0,
                t.0,
                t.1,
                t.0 / base.0,
                t.1 / base.1
            );
        }
        minibatchnmf::force_masked_frobenius_path(None);
    }
}

/// Rank cross-validation with the candidates run at once (X in memory)
/// against one after the other (the same X behind a one-reader source):
/// 3000×200 of rank 6, 20 % NaN, ks 2..8, 2 repeats. The scores are the
/// same (tests/missing.rs); this prints the two wall and CPU times.
#[test]
#[ignore]
fn rank_cv_parallel() {
    use common::masked::OneReader;
    use minibatchnmf::io::InMemory;
    use minibatchnmf::{cross_validate_rank, CvOptions};
    let mut u = uniform(7);
    let w = Array2::from_shape_fn((3000, 6), |_| u());
    let h = Array2::from_shape_fn((6, 200), |_| u());
    let mut u = uniform(8);
    let x = w.dot(&h).mapv(|v| if u() < 0.2 { f64::NAN } else { v });
    let p = params(BetaLoss::Frobenius).init(Init::Nndsvda).max_iter(30);
    let opts = CvOptions {
        test_fraction: 0.1,
        n_repeats: 2,
        seed: 1,
    };
    let ks = [2, 3, 4, 5, 6, 7, 8];
    for _ in 0..2 {
        let (t, c) = (Instant::now(), cpu_secs());
        let par = cross_validate_rank(&mut InMemory::new(&x), &p, &ks, &opts).unwrap();
        let (tp, cp) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
        let (t, c) = (Instant::now(), cpu_secs());
        let seq = cross_validate_rank(&mut OneReader(InMemory::new(&x)), &p, &ks, &opts).unwrap();
        let (ts, cs) = (t.elapsed().as_secs_f64(), cpu_secs() - c);
        assert_eq!(par, seq);
        eprintln!(
            "rank CV 3000x200, 7 ks x 2 repeats: concurrent {tp:.3}s (cpu {cp:.3}s), one at a time {ts:.3}s (cpu {cs:.3}s), ratio wall {:.2}",
            tp / ts
        );
    }
}
