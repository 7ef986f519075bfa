//! The steps of a fit allocate nothing: a fit of 40 epochs makes as many
//! heap allocations as a fit of 2 (workspaces are sized once per fit), for
//! one process and for a distributed fit through a reducer, for both
//! solvers (MU and cd with either statistics form, dense and CSR; the cd
//! CSR case is wide enough for several column blocks of H's sweeps and
//! has a partial block of rows and of columns).

mod common;

use common::masked::csr_observed;
use minibatchnmf::dist::SingleProcess;
use minibatchnmf::{BetaLoss, CdStats, CsrView, Init, MiniBatchNmf, MiniBatchNmfParams, Solver};
use ndarray::Array2;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations(beta: BetaLoss, epochs: usize, reducer: bool) -> usize {
    allocations_with(beta, None, epochs, reducer)
}

fn allocations_with(beta: BetaLoss, cd: Option<CdStats>, epochs: usize, reducer: bool) -> usize {
    let x = Array2::from_shape_fn((200, 30), |(i, j)| ((i * 7 + j * 3) % 11) as f64 + 0.5);
    let p = MiniBatchNmfParams::new()
        .n_components(5)
        .init(Init::Random)
        .random_state(Some(0))
        .beta_loss(beta)
        .batch_size(32)
        .tol(0.0)
        .max_no_improvement(None)
        .max_iter(epochs);
    let p = match cd {
        None => p,
        Some(stats) => p
            .solver(Solver::Cd)
            .cd_stats(stats)
            .cd_w_sweeps(3)
            .cd_h_sweeps(2),
    };
    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
    if reducer {
        m.set_reducer(Some(Arc::new(SingleProcess)));
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    m.fit(&x).unwrap();
    ALLOCS.load(Ordering::Relaxed) - before
}

/// A cd fit of CSR X (300×2500, ~3 % stored, batch 100: 3 steps per
/// epoch) for `epochs` epochs: its allocations.
fn cd_csr_allocations(stats: CdStats, epochs: usize, reducer: bool) -> usize {
    let (n, m) = (300usize, 2500usize);
    let (mut indptr, mut indices, mut data) = (vec![0usize], Vec::new(), Vec::new());
    for i in 0..n {
        for j in 0..m {
            if (i * 31 + j * 17) % 33 == 0 {
                indices.push(j);
                data.push(((i + 3 * j) % 7) as f64 + 0.25);
            }
        }
        indptr.push(indices.len());
    }
    let x = CsrView::new(n, m, &indptr, &indices, &data).unwrap();
    let p = MiniBatchNmfParams::new()
        .n_components(6)
        .init(Init::Random)
        .random_state(Some(0))
        .batch_size(100)
        .tol(0.0)
        .max_no_improvement(None)
        .max_iter(epochs)
        .solver(Solver::Cd)
        .cd_stats(stats)
        .cd_w_sweeps(2)
        .cd_h_sweeps(2);
    let mut model = MiniBatchNmf::<f64>::new(p).unwrap();
    if reducer {
        model.set_reducer(Some(Arc::new(SingleProcess)));
    }
    let before = ALLOCS.load(Ordering::Relaxed);
    model.fit(x).unwrap();
    ALLOCS.load(Ordering::Relaxed) - before
}

#[test]
fn steps_allocate_nothing_one_process_and_distributed() {
    // One thread (rayon's work stealing would make the count vary), and a
    // first fit to let the pool and thread-locals set themselves up.
    minibatchnmf::set_num_threads(1).unwrap();
    allocations(BetaLoss::Frobenius, 1, false);
    for beta in [
        BetaLoss::Frobenius,
        BetaLoss::KullbackLeibler,
        BetaLoss::Beta(1.5),
    ] {
        for reducer in [false, true] {
            let short = allocations(beta, 2, reducer);
            let long = allocations(beta, 40, reducer);
            assert_eq!(
                short, long,
                "{beta:?} reducer={reducer}: 2 epochs {short} allocations, 40 epochs {long}"
            );
        }
    }
    for stats in [CdStats::Exact, CdStats::Decayed] {
        for reducer in [false, true] {
            let short = allocations_with(BetaLoss::Frobenius, Some(stats), 2, reducer);
            let long = allocations_with(BetaLoss::Frobenius, Some(stats), 40, reducer);
            assert_eq!(
                short, long,
                "cd {stats:?} reducer={reducer}: 2 epochs {short} allocations, 40 epochs {long}"
            );
        }
    }
    for stats in [CdStats::Exact, CdStats::Decayed] {
        for reducer in [false, true] {
            let short = cd_csr_allocations(stats, 2, reducer);
            let long = cd_csr_allocations(stats, 40, reducer);
            assert_eq!(
                short, long,
                "cd CSR {stats:?} reducer={reducer}: 2 epochs {short} allocations, 40 epochs {long}"
            );
        }
    }
    masked_steps_allocate_nothing();
}

fn masked_allocations(beta: BetaLoss, epochs: usize, csr: bool, cd: bool) -> usize {
    use minibatchnmf::{CsrView, Input, Missing};
    let x = Array2::from_shape_fn((200, 30), |(i, j)| {
        if (i * 31 + j * 17) % 7 == 0 {
            f64::NAN
        } else {
            ((i * 7 + j * 3) % 11) as f64 + 0.5
        }
    });
    // CSR with the NaN entries unstored ("unstored").
    let (ip, ix, dv) = csr_observed(&x);
    let p = MiniBatchNmfParams::new()
        .n_components(5)
        .init(Init::Random)
        .random_state(Some(0))
        .beta_loss(beta)
        .batch_size(32)
        .tol(0.0)
        .max_no_improvement(None)
        .max_iter(epochs)
        .missing(if csr { Missing::Unstored } else { Missing::Nan })
        .solver(if cd { Solver::Cd } else { Solver::Mu });
    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
    let csr_view = CsrView::new(200, 30, &ip, &ix, &dv).unwrap();
    let input = if csr {
        Input::Csr(csr_view)
    } else {
        Input::Dense(x.view())
    };
    let before = ALLOCS.load(Ordering::Relaxed);
    m.fit(input).unwrap();
    ALLOCS.load(Ordering::Relaxed) - before
}

/// Masked steps (missing values), called from the test above: the
/// counter is global, so the checks run one after the other.
fn masked_steps_allocate_nothing() {
    masked_allocations(BetaLoss::Frobenius, 1, false, false);
    // The dense Frobenius step's two paths (per-missing-entry corrections,
    // GEMM), forced, then chosen by the cost model.
    for path in [Some(false), Some(true), None] {
        minibatchnmf::force_masked_frobenius_path(path);
        let short = masked_allocations(BetaLoss::Frobenius, 2, false, false);
        let long = masked_allocations(BetaLoss::Frobenius, 40, false, false);
        assert_eq!(
            short, long,
            "Frobenius path {path:?}: 2 epochs {short} allocations, 40 epochs {long}"
        );
    }
    for beta in [
        BetaLoss::Frobenius,
        BetaLoss::KullbackLeibler,
        BetaLoss::Beta(1.5),
    ] {
        for csr in [false, true] {
            let short = masked_allocations(beta, 2, csr, false);
            let long = masked_allocations(beta, 40, csr, false);
            assert_eq!(
                short, long,
                "{beta:?} csr={csr}: 2 epochs {short} allocations, 40 epochs {long}"
            );
        }
    }
    // Masked cd (dense 'nan', CSR 'unstored').
    for csr in [false, true] {
        let short = masked_allocations(BetaLoss::Frobenius, 2, csr, true);
        let long = masked_allocations(BetaLoss::Frobenius, 40, csr, true);
        assert_eq!(
            short, long,
            "masked cd csr={csr}: 2 epochs {short} allocations, 40 epochs {long}"
        );
    }
}
