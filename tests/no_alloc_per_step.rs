//! The steps of a fit allocate nothing: a fit of 40 epochs makes as many
//! heap allocations as a fit of 2 (workspaces are sized once per fit), for
//! one process and for a distributed fit through a reducer, for both
//! solvers (MU and cd with either statistics form).

use minibatchnmf::dist::SingleProcess;
use minibatchnmf::{BetaLoss, CdStats, Init, MiniBatchNmf, MiniBatchNmfParams, Solver};
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
    masked_steps_allocate_nothing();
}

fn masked_allocations(beta: BetaLoss, epochs: usize, csr: bool) -> usize {
    use minibatchnmf::{CsrView, Input, Missing};
    let x = Array2::from_shape_fn((200, 30), |(i, j)| {
        if (i * 31 + j * 17) % 7 == 0 {
            f64::NAN
        } else {
            ((i * 7 + j * 3) % 11) as f64 + 0.5
        }
    });
    // CSR with the NaN entries unstored ("unstored").
    let (mut ip, mut ix, mut dv) = (vec![0], vec![], vec![]);
    for row in x.rows() {
        for (j, &v) in row.iter().enumerate() {
            if !v.is_nan() {
                ix.push(j);
                dv.push(v);
            }
        }
        ip.push(ix.len());
    }
    let p = MiniBatchNmfParams::new()
        .n_components(5)
        .init(Init::Random)
        .random_state(Some(0))
        .beta_loss(beta)
        .batch_size(32)
        .tol(0.0)
        .max_no_improvement(None)
        .max_iter(epochs)
        .missing(if csr { Missing::Unstored } else { Missing::Nan });
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
    masked_allocations(BetaLoss::Frobenius, 1, false);
    for beta in [
        BetaLoss::Frobenius,
        BetaLoss::KullbackLeibler,
        BetaLoss::Beta(1.5),
    ] {
        for csr in [false, true] {
            let short = masked_allocations(beta, 2, csr);
            let long = masked_allocations(beta, 40, csr);
            assert_eq!(
                short, long,
                "{beta:?} csr={csr}: 2 epochs {short} allocations, 40 epochs {long}"
            );
        }
    }
}
