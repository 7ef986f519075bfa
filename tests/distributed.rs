//! A data-parallel fit over P workers (threads here, summing through a
//! barrier) equals the single-process fit of the concatenated shards: the
//! guarantee of `minibatchnmf::dist`, checked without MPI.

use minibatchnmf::dist::Reducer;
use minibatchnmf::{
    BetaLoss, CdStats, CsrView, Error, FitArgs, Init, Input, MiniBatchNmf, MiniBatchNmfParams,
    Missing, Solver,
};
use ndarray::{s, Array2, ArrayView2};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A barrier that gives up after a while, so that a test whose workers
/// disagree fails instead of hanging.
#[derive(Debug)]
struct Barrier {
    n: usize,
    state: Mutex<(usize, u64)>,
    cv: Condvar,
}

impl Barrier {
    fn new(n: usize) -> Self {
        Barrier {
            n,
            state: Mutex::new((0, 0)),
            cv: Condvar::new(),
        }
    }
    fn wait(&self) -> Result<(), String> {
        let mut st = self.state.lock().unwrap();
        let generation = st.1;
        st.0 += 1;
        if st.0 == self.n {
            *st = (0, generation + 1);
            self.cv.notify_all();
            return Ok(());
        }
        let (st, timeout) = self
            .cv
            .wait_timeout_while(st, Duration::from_secs(20), |s| s.1 == generation)
            .unwrap();
        drop(st);
        if timeout.timed_out() {
            Err("a worker did not reach the reduce within 20 s".into())
        } else {
            Ok(())
        }
    }
}

/// P workers' shared state: each deposits its buffer, all wait, each sums
/// the deposits in rank order (so every worker gets the same bits), all
/// wait again before the slots are reused.
#[derive(Debug)]
struct Group {
    barrier: Barrier,
    f64_slots: Mutex<Vec<Vec<f64>>>,
    f32_slots: Mutex<Vec<Vec<f32>>>,
    /// Every hook call fails after summing (a broken communicator).
    failing: bool,
}

#[derive(Debug)]
struct ThreadReducer {
    group: Arc<Group>,
    rank: usize,
    n_ranks: usize,
}

fn sum_through<T: Copy + std::ops::Add<Output = T>>(
    barrier: &Barrier,
    slots: &Mutex<Vec<Vec<T>>>,
    rank: usize,
    buf: &mut [T],
) -> Result<(), String> {
    slots.lock().unwrap()[rank] = buf.to_vec();
    barrier.wait()?;
    {
        let all = slots.lock().unwrap();
        if all.iter().any(|v| v.len() != buf.len()) {
            return Err("buffer lengths differ between ranks".into());
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let mut acc = all[0][i];
            for v in &all[1..] {
                acc = acc + v[i];
            }
            *b = acc;
        }
    }
    barrier.wait()
}

impl Reducer for ThreadReducer {
    fn rank(&self) -> usize {
        self.rank
    }
    fn n_ranks(&self) -> usize {
        self.n_ranks
    }
    fn sum_f64(&self, buf: &mut [f64]) -> Result<(), String> {
        sum_through(&self.group.barrier, &self.group.f64_slots, self.rank, buf)?;
        if self.group.failing {
            return Err("injected failure".into());
        }
        Ok(())
    }
    fn sum_f32(&self, buf: &mut [f32]) -> Result<(), String> {
        sum_through(&self.group.barrier, &self.group.f32_slots, self.rank, buf)
    }
}

fn reducers(p: usize, failing: bool) -> Vec<Arc<dyn Reducer>> {
    let group = Arc::new(Group {
        barrier: Barrier::new(p),
        f64_slots: Mutex::new(vec![Vec::new(); p]),
        f32_slots: Mutex::new(vec![Vec::new(); p]),
        failing,
    });
    (0..p)
        .map(|rank| {
            Arc::new(ThreadReducer {
                group: group.clone(),
                rank,
                n_ranks: p,
            }) as Arc<dyn Reducer>
        })
        .collect()
}

/// Deterministic non-negative data with ~35% exact zeros.
fn data(n: usize, m: usize, seed: u64) -> Array2<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_fn((n, m), |(i, j)| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        if u < 0.35 {
            0.0
        } else {
            // Some structure so the factorization has something to find.
            u * (1.0 + ((i % 5) as f64) * ((j % 3) as f64))
        }
    })
}

struct Csr {
    indptr: Vec<usize>,
    indices: Vec<usize>,
    data: Vec<f64>,
    n: usize,
    m: usize,
}

impl Csr {
    fn from_dense(x: ArrayView2<f64>) -> Self {
        let (mut indptr, mut indices, mut data) = (vec![0], vec![], vec![]);
        for row in x.rows() {
            for (j, &v) in row.iter().enumerate() {
                if v != 0.0 {
                    indices.push(j);
                    data.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Csr {
            indptr,
            indices,
            data,
            n: x.nrows(),
            m: x.ncols(),
        }
    }
    fn view(&self) -> CsrView<'_, f64> {
        CsrView::new(self.n, self.m, &self.indptr, &self.indices, &self.data).unwrap()
    }
}

/// Shard boundaries for `sizes` rows per rank.
fn bounds(sizes: &[usize]) -> Vec<(usize, usize)> {
    let mut at = 0;
    sizes
        .iter()
        .map(|&n| {
            at += n;
            (at - n, at)
        })
        .collect()
}

/// Largest |a − b| relative to the largest |b|.
fn rel(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b.iter())
        .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

struct Outcome {
    h: Array2<f64>,
    w: Array2<f64>,
    n_steps: usize,
    n_iter: usize,
    err: f64,
}

/// Fit on P threads, one shard each; returns every rank's outcome.
fn fit_distributed(
    params: &MiniBatchNmfParams,
    x: &Array2<f64>,
    sizes: &[usize],
    csr: bool,
) -> Vec<Result<Outcome, Error>> {
    let p = sizes.len();
    let reds = reducers(p, false);
    std::thread::scope(|sc| {
        let handles: Vec<_> = bounds(sizes)
            .into_iter()
            .zip(reds)
            .map(|((a, b), red)| {
                let params = params.clone();
                sc.spawn(move || {
                    let shard = x.slice(s![a..b, ..]);
                    let csr_shard = Csr::from_dense(shard);
                    let input = if csr {
                        Input::Csr(csr_shard.view())
                    } else {
                        Input::Dense(shard)
                    };
                    let mut model = MiniBatchNmf::<f64>::new(params)?;
                    model.set_reducer(Some(red));
                    let w = model.fit_transform(input)?;
                    let summary = model.last_fit().unwrap().clone();
                    Ok(Outcome {
                        h: model.components()?.to_owned(),
                        w,
                        n_steps: summary.n_steps,
                        n_iter: summary.n_iter,
                        err: summary.reconstruction_err,
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn fit_single(params: &MiniBatchNmfParams, x: &Array2<f64>, csr: bool) -> Outcome {
    let c = Csr::from_dense(x.view());
    let input = if csr {
        Input::Csr(c.view())
    } else {
        Input::Dense(x.view())
    };
    let mut model = MiniBatchNmf::<f64>::new(params.clone()).unwrap();
    let w = model.fit_transform(input).unwrap();
    let summary = model.last_fit().unwrap().clone();
    Outcome {
        h: model.components().unwrap().to_owned(),
        w,
        n_steps: summary.n_steps,
        n_iter: summary.n_iter,
        err: summary.reconstruction_err,
    }
}

const TOL: f64 = 1e-12;

fn check_equal(params: &MiniBatchNmfParams, x: &Array2<f64>, sizes: &[usize], csr: bool) {
    let single = fit_single(params, x, csr);
    let ranks = fit_distributed(params, x, sizes, csr);
    let what = format!(
        "shards {sizes:?} csr={csr} beta={:?} batch={}",
        params.get_beta_loss(),
        params.get_batch_size()
    );
    let mut w_rows = Vec::new();
    for (r, out) in ranks.into_iter().enumerate() {
        let out = out.unwrap_or_else(|e| panic!("{what}: rank {r} failed: {e}"));
        assert_eq!(out.n_steps, single.n_steps, "{what}: rank {r} n_steps");
        assert_eq!(out.n_iter, single.n_iter, "{what}: rank {r} n_iter");
        let dh = rel(out.h.view(), single.h.view());
        assert!(dh <= TOL, "{what}: rank {r} H differs by {dh:e}");
        let de = (out.err - single.err).abs() / single.err;
        assert!(
            de <= TOL,
            "{what}: rank {r} reconstruction_err differs by {de:e}"
        );
        w_rows.push(out.w);
    }
    let views: Vec<_> = w_rows.iter().map(|w| w.view()).collect();
    let w = ndarray::concatenate(ndarray::Axis(0), &views).unwrap();
    let dw = rel(w.view(), single.w.view());
    assert!(dw <= TOL, "{what}: W differs by {dw:e}");
    eprintln!(
        "{what}: n_steps {} equal; W differs by {dw:e}",
        single.n_steps
    );
}

fn params(beta: BetaLoss, batch: usize) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(4)
        .init(Init::Random)
        .random_state(Some(7))
        .beta_loss(beta)
        .batch_size(batch)
        .max_iter(30)
}

#[test]
fn p_workers_equal_one_process_dense_and_csr_frobenius_and_kl() {
    let x = data(97, 13, 1);
    for beta in [BetaLoss::Frobenius, BetaLoss::KullbackLeibler] {
        for csr in [false, true] {
            let p = params(beta, 16);
            check_equal(&p, &x, &[97], csr);
            check_equal(&p, &x, &[48, 49], csr);
            check_equal(&p, &x, &[25, 24, 24, 24], csr);
            // Uneven, with an empty shard and shards smaller than a batch.
            check_equal(&p, &x, &[3, 0, 70, 24], csr);
        }
    }
}

#[test]
fn p_workers_equal_one_process_generic_beta_penalties_and_early_stopping() {
    let x = data(120, 9, 2).mapv(|v| v + 0.01);
    let p = params(BetaLoss::Beta(1.5), 25)
        .alpha_w(0.01)
        .alpha_h(minibatchnmf::AlphaH::Value(0.02))
        .l1_ratio(0.3)
        .max_iter(200)
        .max_no_improvement(Some(3))
        .tol(1e-3);
    let single = fit_single(&p, &x, false);
    assert!(single.n_iter < 200, "early stopping must be exercised");
    for sizes in [&[60, 60][..], &[1, 50, 30, 39][..]] {
        check_equal(&p, &x, sizes, false);
        check_equal(&p, &x, sizes, true);
    }
}

#[test]
fn p_workers_equal_one_process_with_fresh_restarts() {
    let x = data(64, 10, 3);
    let p = params(BetaLoss::KullbackLeibler, 20)
        .fresh_restarts(true)
        .fresh_restarts_max_iter(15)
        .tol(1e-3)
        .max_iter(5);
    check_equal(&p, &x, &[30, 34], false);
    check_equal(&p, &x, &[10, 20, 0, 34], true);
}

#[test]
fn p_workers_equal_one_process_with_nndsvd_inits_tall_and_wide() {
    // Tall X (randomized SVD of X) and wide X (of Xᵀ), dense and CSR.
    for (n, m, seed) in [(90, 12, 21), (14, 40, 22)] {
        let x = data(n, m, seed);
        for init in [Init::Nndsvd, Init::Nndsvda, Init::Nndsvdar, Init::Auto] {
            let p = params(BetaLoss::KullbackLeibler, 8)
                .init(init)
                .n_components(3)
                .max_iter(10);
            for csr in [false, true] {
                check_equal(&p, &x, &[n / 2, n - n / 2], csr);
                check_equal(&p, &x, &[1, 0, n - 5, 4], csr);
            }
        }
    }
}

#[test]
fn p_workers_equal_one_process_with_custom_init() {
    let x = data(50, 8, 4);
    let k = 3;
    let w0 = data(50, k, 5).mapv(|v| v + 0.1);
    let h0 = data(k, 8, 6).mapv(|v| v + 0.1);
    let p = MiniBatchNmfParams::new()
        .n_components(k)
        .init(Init::Custom)
        .batch_size(12)
        .max_iter(10);
    let mut single = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
    single
        .fit_transform_with(
            &x,
            FitArgs {
                w: Some(w0.view()),
                h: Some(h0.view()),
                feature_names: None,
            },
        )
        .unwrap();
    let sizes = [20, 30];
    let reds = reducers(2, false);
    let hs: Vec<Array2<f64>> = std::thread::scope(|sc| {
        let hs: Vec<_> = bounds(&sizes)
            .into_iter()
            .zip(reds)
            .map(|((a, b), red)| {
                let (p, x, w0, h0) = (p.clone(), &x, &w0, &h0);
                sc.spawn(move || {
                    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
                    m.set_reducer(Some(red));
                    m.fit_transform_with(
                        x.slice(s![a..b, ..]),
                        FitArgs {
                            w: Some(w0.slice(s![a..b, ..])),
                            h: Some(h0.view()),
                            feature_names: None,
                        },
                    )
                    .unwrap();
                    m.components().unwrap().to_owned()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for h in hs {
        let d = rel(h.view(), single.components().unwrap());
        assert!(d <= TOL, "custom init: H differs by {d:e}");
    }
}

#[test]
fn p_workers_partial_fit_and_transform_equal_one_process() {
    check_partial_fit_and_transform(params(BetaLoss::KullbackLeibler, 30).tol(1e-4));
}

#[test]
fn p_workers_equal_one_process_cd_solver() {
    let x = data(97, 13, 1);
    for stats in [CdStats::Exact, CdStats::Decayed] {
        let p = params(BetaLoss::Frobenius, 16)
            .solver(Solver::Cd)
            .cd_stats(stats)
            .cd_w_sweeps(3)
            .cd_h_sweeps(2);
        for csr in [false, true] {
            check_equal(&p, &x, &[97], csr);
            check_equal(&p, &x, &[48, 49], csr);
            check_equal(&p, &x, &[3, 0, 70, 24], csr);
        }
        // Penalties, early stopping, an SVD init.
        let pe = p
            .clone()
            .init(Init::Nndsvda)
            .alpha_w(0.01)
            .alpha_h(minibatchnmf::AlphaH::Value(0.02))
            .l1_ratio(0.3)
            .max_iter(200)
            .max_no_improvement(Some(3))
            .tol(1e-3);
        check_equal(&pe, &x, &[25, 24, 24, 24], false);
        check_equal(&pe, &x, &[1, 50, 30, 16], true);
        // Fresh restarts (W solved from zeros for each batch).
        let pf = p
            .clone()
            .fresh_restarts(true)
            .fresh_restarts_max_iter(15)
            .tol(1e-3)
            .max_iter(5);
        check_equal(&pf, &x, &[30, 67], false);
        check_equal(&pf, &x, &[10, 20, 0, 67], true);
        check_partial_fit_and_transform(p.tol(1e-4));
    }
}

#[test]
fn p_workers_equal_one_process_with_missing_values_mu_and_cd() {
    // Dense X with NaN (a few whole rows and a column too), and the same X as
    // CSR with its NaN stored ('nan') or its zeros unstored ('unstored').
    let mut x = data(97, 13, 3).mapv(|v| v + 0.01);
    let mut s = 12345u64;
    for (i, row) in x.rows_mut().into_iter().enumerate() {
        for (j, v) in row.into_iter().enumerate() {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if (s >> 33) % 5 == 0 || i == 17 || (j == 4 && i < 60) {
                *v = f64::NAN;
            }
        }
    }
    let sparse = data(97, 13, 4);
    for solver in [Solver::Mu, Solver::Cd] {
        for stats in [CdStats::Exact, CdStats::Decayed] {
            if solver == Solver::Mu && stats == CdStats::Decayed {
                continue;
            }
            let p = params(BetaLoss::Frobenius, 16)
                .solver(solver)
                .cd_stats(stats)
                .cd_w_sweeps(3)
                .cd_h_sweeps(2)
                .missing(Missing::Nan);
            for csr in [false, true] {
                check_equal(&p, &x, &[97], csr);
                check_equal(&p, &x, &[48, 49], csr);
                check_equal(&p, &x, &[3, 0, 70, 24], csr);
            }
            let pu = p.clone().missing(Missing::Unstored);
            check_equal(&pu, &sparse, &[48, 49], true);
            check_equal(&pu, &sparse, &[3, 0, 70, 24], true);
            let pf = p
                .fresh_restarts(true)
                .fresh_restarts_max_iter(15)
                .tol(1e-3)
                .max_iter(5);
            check_equal(&pf, &x, &[30, 67], false);
        }
    }
}

fn check_partial_fit_and_transform(p: MiniBatchNmfParams) {
    let x = data(80, 11, 8).mapv(|v| v + 0.05);
    let chunks = [(0, 40), (40, 80)];
    let mut single = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
    for (a, b) in chunks {
        single.partial_fit(x.slice(s![a..b, ..])).unwrap();
    }
    let w_single = single.transform(&x).unwrap();
    // Each chunk split 15/25 (first) and 40/0 (second) over two workers.
    let splits = [[15usize, 25], [40, 0]];
    let reds = reducers(2, false);
    let outs: Vec<(Array2<f64>, Array2<f64>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = reds
            .into_iter()
            .enumerate()
            .map(|(r, red)| {
                let (p, x) = (p.clone(), &x);
                sc.spawn(move || {
                    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
                    m.set_reducer(Some(red));
                    for ((a, _), split) in chunks.iter().zip(splits) {
                        let lo = a + split[..r].iter().sum::<usize>();
                        m.partial_fit(x.slice(s![lo..lo + split[r], ..])).unwrap();
                    }
                    // transform on this worker's rows of X: [0, 33) / [33, 80).
                    let (lo, hi) = if r == 0 { (0, 33) } else { (33, 80) };
                    let w = m.transform(x.slice(s![lo..hi, ..])).unwrap();
                    (m.components().unwrap().to_owned(), w)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let w = ndarray::concatenate(ndarray::Axis(0), &[outs[0].1.view(), outs[1].1.view()]).unwrap();
    for (h, _) in &outs {
        let d = rel(h.view(), single.components().unwrap());
        assert!(d <= TOL, "partial_fit: H differs by {d:e}");
    }
    let d = rel(w.view(), w_single.view());
    assert!(d <= TOL, "transform: W differs by {d:e}");
}

#[test]
fn a_bad_shard_fails_every_worker_and_none_hangs() {
    let mut x = data(40, 6, 9);
    x[[25, 2]] = -1.0; // in rank 1's shard
    let p = params(BetaLoss::Frobenius, 10);
    let outs = fit_distributed(&p, &x, &[20, 20], false);
    assert!(
        matches!(outs[0], Err(Error::Reduce(_))),
        "rank 0: {:?}",
        outs[0].as_ref().err()
    );
    assert!(
        matches!(outs[1], Err(Error::Negative { .. })),
        "rank 1: {:?}",
        outs[1].as_ref().err()
    );
}

#[test]
fn inconsistent_configuration_is_an_error_on_every_worker() {
    let x = data(40, 6, 10);
    // Different parameters on the two ranks.
    let reds = reducers(2, false);
    let outs: Vec<Result<(), Error>> = std::thread::scope(|sc| {
        let hs: Vec<_> = reds
            .into_iter()
            .enumerate()
            .map(|(r, red)| {
                let x = &x;
                sc.spawn(move || {
                    let p = params(BetaLoss::Frobenius, 10 + r);
                    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
                    m.set_reducer(Some(red));
                    m.fit(x.slice(s![r * 20..(r + 1) * 20, ..])).map(|_| ())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in outs {
        assert!(matches!(o, Err(Error::Reduce(_))), "{o:?}");
    }
    // No seed: each rank would draw another H.
    let p = params(BetaLoss::Frobenius, 10).random_state(None);
    for o in fit_distributed(&p, &x, &[20, 20], false) {
        assert!(matches!(o, Err(Error::Init(_))));
    }
}

#[test]
fn a_failing_hook_is_an_error_and_leaves_the_model_unchanged() {
    let x = data(30, 5, 11);
    let p = params(BetaLoss::Frobenius, 10);
    let reds = reducers(2, true);
    let outs: Vec<(bool, Result<(), Error>)> = std::thread::scope(|sc| {
        let hs: Vec<_> = reds
            .into_iter()
            .enumerate()
            .map(|(r, red)| {
                let (x, p) = (&x, p.clone());
                sc.spawn(move || {
                    let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
                    m.set_reducer(Some(red));
                    let res = m.fit(x.slice(s![r * 15..(r + 1) * 15, ..])).map(|_| ());
                    (m.is_fitted(), res)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (fitted, res) in outs {
        assert!(matches!(res, Err(Error::Reduce(_))), "{res:?}");
        assert!(!fitted);
    }
}

#[test]
fn p_workers_equal_one_process_in_f32_to_f32_rounding() {
    let x = data(64, 10, 30).mapv(|v| v as f32);
    let p = params(BetaLoss::KullbackLeibler, 16).max_iter(5);
    let mut single = MiniBatchNmf::<f32>::new(p.clone()).unwrap();
    single.fit(&x).unwrap();
    let reds = reducers(2, false);
    let hs: Vec<(Array2<f32>, usize)> = std::thread::scope(|sc| {
        let hs: Vec<_> = [(0usize, 27usize), (27, 64)]
            .into_iter()
            .zip(reds)
            .map(|((a, b), red)| {
                let (p, x) = (p.clone(), &x);
                sc.spawn(move || {
                    let mut m = MiniBatchNmf::<f32>::new(p).unwrap();
                    m.set_reducer(Some(red));
                    let s = m.fit(x.slice(s![a..b, ..])).unwrap();
                    (m.components().unwrap().to_owned(), s.n_steps)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // The two runs differ only in how the f32 statistics of a batch (16
    // rows) are summed: each sum of 16 terms may differ by ~16 f32 ulps
    // (16 · 6e-8 ≈ 1e-6 relative) per step, over 20 steps of updates that
    // do not amplify such differences much; 1e-4 leaves a wide margin and
    // still fails on any real error (a missing or doubled shard changes H
    // at the 1e-1 level). The two ranks hold exactly the same H.
    let h1 = single.components().unwrap();
    let scale = h1.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (h, steps) in &hs {
        assert_eq!(*steps, single.n_steps().unwrap());
        let d = h
            .iter()
            .zip(h1.iter())
            .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()))
            / scale;
        assert!(d <= 1e-4, "f32: H differs by {d:e}");
        eprintln!("f32, 2 workers: H differs by {d:e}");
    }
    assert_eq!(hs[0].0, hs[1].0);
}

/// Each worker reads its shard from its own file (`.npy` dense, scipy
/// `.npz` CSR) through a row source: the fit (init's randomized SVD, the
/// steps, the final W solve, the reconstruction error) and transform are
/// those of one process holding the concatenated X in memory.
#[test]
fn p_workers_reading_their_shards_from_files_equal_one_process() {
    use minibatchnmf::io::{self as mio, NpyWriter};
    let dir = tempfile::tempdir().unwrap();
    let x = data(90, 12, 31).mapv(|v| v + 0.01);
    let cases = [
        (params(BetaLoss::Frobenius, 16).init(Init::Nndsvda), false),
        (
            params(BetaLoss::KullbackLeibler, 16).init(Init::Nndsvdar),
            true,
        ),
        (
            params(BetaLoss::KullbackLeibler, 20)
                .fresh_restarts(true)
                .fresh_restarts_max_iter(15)
                .tol(1e-3)
                .max_iter(5),
            false,
        ),
    ];
    for (case, (p, csr)) in cases.iter().enumerate() {
        let sizes = [30usize, 0, 45, 15];
        let mut paths = Vec::new();
        for (r, (a, b)) in bounds(&sizes).into_iter().enumerate() {
            let shard = x.slice(s![a..b, ..]);
            let path = if *csr {
                let path = dir.path().join(format!("case{case}_rank{r}.npz"));
                let c = Csr::from_dense(shard);
                mio::save_npz_csr(&path, (c.n, c.m), &c.indptr, &c.indices, &c.data, true).unwrap();
                path
            } else {
                let path = dir.path().join(format!("case{case}_rank{r}.npy"));
                let mut wr = NpyWriter::<f64>::create(&path, shard.dim()).unwrap();
                wr.write_rows(shard).unwrap();
                wr.finish().unwrap();
                path
            };
            paths.push(path);
        }
        let single = fit_single(p, &x, *csr);
        let mut model = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        model.fit(&x).unwrap();
        let t_single = model.transform(&x).unwrap();
        let reds = reducers(sizes.len(), false);
        let outs: Vec<(Outcome, Array2<f64>)> = std::thread::scope(|sc| {
            let hs: Vec<_> = paths
                .iter()
                .zip(reds)
                .map(|(path, red)| {
                    let p = p.clone();
                    sc.spawn(move || {
                        let mut src = mio::open::<f64>(path).unwrap();
                        let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
                        m.set_reducer(Some(red));
                        let w = m
                            .fit_transform_source_with(src.as_mut(), FitArgs::default())
                            .unwrap();
                        let t = m.transform_source(src.as_mut()).unwrap();
                        let s = m.last_fit().unwrap().clone();
                        let out = Outcome {
                            h: m.components().unwrap().to_owned(),
                            w,
                            n_steps: s.n_steps,
                            n_iter: s.n_iter,
                            err: s.reconstruction_err,
                        };
                        (out, t)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let what = format!("case {case} (csr={csr})");
        for (r, (out, _)) in outs.iter().enumerate() {
            assert_eq!(out.n_steps, single.n_steps, "{what}: rank {r} n_steps");
            assert_eq!(out.n_iter, single.n_iter, "{what}: rank {r} n_iter");
            let dh = rel(out.h.view(), single.h.view());
            assert!(dh <= TOL, "{what}: rank {r} H differs by {dh:e}");
            let de = (out.err - single.err).abs() / single.err;
            assert!(de <= TOL, "{what}: rank {r} error differs by {de:e}");
        }
        let ws: Vec<_> = outs.iter().map(|(o, _)| o.w.view()).collect();
        let w = ndarray::concatenate(ndarray::Axis(0), &ws).unwrap();
        let dw = rel(w.view(), single.w.view());
        assert!(dw <= TOL, "{what}: W differs by {dw:e}");
        let ts: Vec<_> = outs.iter().map(|(_, t)| t.view()).collect();
        let t = ndarray::concatenate(ndarray::Axis(0), &ts).unwrap();
        let dt = rel(t.view(), t_single.view());
        assert!(dt <= TOL, "{what}: transform W differs by {dt:e}");
    }
}

/// `random_state` given as a numpy generator state: every rank draws the
/// single-process start from it and leaves it where one process would
/// (random init draws all N rows of W on every rank; nndsvdar's fill
/// continues the SVD's stream), with the same H.
#[test]
fn p_workers_advance_a_generator_state_as_one_process() {
    use minibatchnmf::NumpyRandomState;
    use minibatchnmf::RandomState;
    let x = data(70, 9, 41);
    let mut rs = NumpyRandomState::new(5);
    rs.standard_normal();
    for init in [Init::Random, Init::Nndsvdar] {
        let p = params(BetaLoss::Frobenius, 16)
            .init(init)
            .n_components(3)
            .random_state(rs.state());
        let mut single = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        single.fit(&x).unwrap();
        let reds = reducers(3, false);
        let outs: Vec<(Array2<f64>, RandomState)> = std::thread::scope(|sc| {
            let hs: Vec<_> = bounds(&[20, 0, 50])
                .into_iter()
                .zip(reds)
                .map(|((a, b), red)| {
                    let (p, x) = (p.clone(), &x);
                    sc.spawn(move || {
                        let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
                        m.set_reducer(Some(red));
                        m.fit(x.slice(s![a..b, ..])).unwrap();
                        let state = m.params().get_random_state().clone();
                        (m.components().unwrap().to_owned(), state)
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (r, (h, state)) in outs.iter().enumerate() {
            let d = rel(h.view(), single.components().unwrap());
            assert!(d <= TOL, "{init:?}: rank {r} H differs by {d:e}");
            assert_eq!(
                state,
                single.params().get_random_state(),
                "{init:?}: rank {r} left the generator elsewhere"
            );
        }
        assert_ne!(
            single.params().get_random_state(),
            &RandomState::from(rs.state())
        );
    }
}

/// A distributed fit's nndsvd initialisation holds blocks of the rows of
/// all ranks on every rank (the randomized SVD of the whole X, the whole
/// W): over any rank's budget, every rank refuses it up front with
/// `OutOfMemory` naming the initialisation and init='random' as the way
/// out, and stays unfitted; with init='random' the same shards fit under
/// the same budget. 4000 × 6 on two ranks of 2000 rows, k = 2: each rank's
/// own share (W's 2000 rows, pass buffers, workspaces) is about 1.1 MiB,
/// the initialisation about 2.6 MiB.
#[test]
fn a_distributed_init_over_a_ranks_budget_is_refused_on_every_rank() {
    let x = data(4000, 6, 23);
    let run = |init: Init, budgets: [&'static str; 2]| -> Vec<Result<(), Error>> {
        let reds = reducers(2, false);
        std::thread::scope(|sc| {
            let hs: Vec<_> = reds
                .into_iter()
                .enumerate()
                .map(|(r, red)| {
                    let x = &x;
                    sc.spawn(move || {
                        let p = params(BetaLoss::Frobenius, 100)
                            .n_components(2)
                            .init(init)
                            .max_iter(3);
                        let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
                        m.set_param("max_memory", budgets[r]).unwrap();
                        m.set_reducer(Some(red));
                        let res = m.fit(x.slice(s![r * 2000..(r + 1) * 2000, ..]));
                        assert_eq!(m.is_fitted(), res.is_ok());
                        res.map(|_| ())
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        })
    };
    for budgets in [["2M", "2M"], ["2M", "1G"], ["1G", "2M"]] {
        for init in [Init::Nndsvda, Init::Nndsvd, Init::Auto] {
            for (r, out) in run(init, budgets).into_iter().enumerate() {
                let e = out.expect_err("refused");
                let msg = e.to_string();
                assert!(
                    matches!(e, Error::OutOfMemory { .. })
                        && msg.contains("distributed")
                        && msg.contains("init='random'"),
                    "{init:?} {budgets:?} rank {r}: {msg}"
                );
                if budgets[r] == "1G" {
                    assert!(msg.contains("on 1 other rank(s)"), "{msg}");
                }
            }
        }
        for out in run(Init::Random, budgets) {
            out.unwrap();
        }
    }
    // With room on both ranks, the nndsvd initialisation runs.
    for out in run(Init::Nndsvda, ["1G", "1G"]) {
        out.unwrap();
    }
}
