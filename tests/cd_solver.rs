//! The cd solver's guarantees beyond the exactness anchor (tests/cd_parity.rs):
//! clear errors for what it cannot do, a refused call changes nothing, the
//! solver stays with the fitted model, and partial_fit, early stopping and
//! fresh restarts run with it.

use minibatchnmf::{
    BetaLoss, CdStats, Error, Init, MiniBatchNmf, MiniBatchNmfParams, Solver, StopReason,
};
use ndarray::Array2;

fn data(n: usize, m: usize, seed: u64) -> Array2<f64> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(1);
    // A noisy rank-3 non-negative matrix.
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let w = Array2::from_shape_simple_fn((n, 3), &mut u);
    let h = Array2::from_shape_simple_fn((3, m), &mut u);
    let noise = Array2::from_shape_simple_fn((n, m), &mut u);
    w.dot(&h) + noise * 0.1
}

fn cd() -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(3)
        .init(Init::Random)
        .random_state(Some(0))
        .solver(Solver::Cd)
        .batch_size(32)
}

fn err(x: &Array2<f64>, w: &Array2<f64>, h: ndarray::ArrayView2<f64>) -> f64 {
    (x - &w.dot(&h)).iter().map(|v| v * v).sum::<f64>().sqrt()
}

#[test]
fn cd_refuses_other_losses_and_zero_sweeps_with_a_clear_error() {
    for beta in [
        BetaLoss::KullbackLeibler,
        BetaLoss::ItakuraSaito,
        BetaLoss::Beta(1.5),
    ] {
        let e = cd().beta_loss(beta).check().unwrap_err().to_string();
        assert!(e.contains("solver") && e.contains("Frobenius"), "{e}");
    }
    let e = cd().cd_w_sweeps(0).check().unwrap_err().to_string();
    assert!(e.contains("cd_w_sweeps") && e.contains(">= 1"), "{e}");
    let e = cd().cd_h_sweeps(0).check().unwrap_err().to_string();
    assert!(e.contains("cd_h_sweeps"), "{e}");
    let mut p = MiniBatchNmfParams::new();
    let e = p.set_param("solver", "als").unwrap_err().to_string();
    assert!(e.contains("'mu' or 'cd'"), "{e}");
    let e = p.set_param("cd_stats", "approx").unwrap_err().to_string();
    assert!(e.contains("'exact' or 'decayed'"), "{e}");
    assert!(p.set_param("cd_w_sweeps", "-1").is_err());
    // MU with any beta stays valid; the sweep counts are validated for it too.
    assert!(MiniBatchNmfParams::new().beta(1.0).check().is_ok());
}

#[test]
fn a_refused_parameter_leaves_the_model_unchanged() {
    let x = data(60, 7, 1);
    let mut m = MiniBatchNmf::<f64>::new(cd().max_iter(3)).unwrap();
    m.fit(&x).unwrap();
    let (params, h) = (m.params().clone(), m.components().unwrap().to_owned());
    assert!(matches!(
        m.set_param("beta_loss", "kullback-leibler"),
        Err(Error::Param(_))
    ));
    assert!(m.set_param("cd_h_sweeps", "0").is_err());
    assert!(m.set_param("solver", "").is_err());
    assert_eq!(m.params(), &params);
    assert_eq!(m.components().unwrap(), h);
}

#[test]
fn extension_parameters_read_back_and_stay_out_of_sklearns_list() {
    let mut p = MiniBatchNmfParams::new();
    for (name, value) in [
        ("solver", "cd"),
        ("cd_w_sweeps", "7"),
        ("cd_h_sweeps", "2"),
        ("cd_stats", "decayed"),
    ] {
        p.set_param(name, value).unwrap();
        assert_eq!(p.get_param(name).unwrap(), value);
    }
    assert_eq!(p.get_solver(), Solver::Cd);
    assert_eq!(p.get_cd_stats(), CdStats::Decayed);
    let names: Vec<_> = p.get_params().into_iter().map(|(n, _)| n).collect();
    assert!(!names.contains(&"solver") && names.len() == 16);
    let ext: Vec<_> = p.extension_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        ext,
        [
            "solver",
            "cd_w_sweeps",
            "cd_h_sweeps",
            "cd_stats",
            "max_memory",
            "missing"
        ]
    );
    let d = MiniBatchNmfParams::new();
    assert_eq!(d.get_solver(), Solver::Mu);
    assert_eq!(d.get_cd_stats(), CdStats::Exact);
}

#[test]
fn the_solver_stays_with_the_fitted_model() {
    // Switching `solver` after a fit applies from the next fit; partial_fit
    // and transform keep the fitted model's solver (its statistics are
    // cd's A and B).
    let x = data(80, 9, 2);
    let mut m = MiniBatchNmf::<f64>::new(cd().max_iter(5)).unwrap();
    m.fit(&x).unwrap();
    assert_eq!(m.components_denominator().unwrap().dim(), (3, 3));
    m.set_param("solver", "mu").unwrap();
    m.partial_fit(&x).unwrap();
    assert_eq!(m.components_denominator().unwrap().dim(), (3, 3));
    let w = m.transform(&x).unwrap();
    assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0));
    m.fit(&x).unwrap();
    assert_eq!(m.components_denominator().unwrap().dim(), (3, 9));
}

#[test]
fn cd_fits_better_than_mu_in_as_many_epochs_with_both_statistics_forms() {
    let x = data(200, 12, 3);
    let mut mu = MiniBatchNmf::<f64>::new(cd().solver(Solver::Mu).max_iter(10).tol(0.0)).unwrap();
    let w = mu.fit_transform(&x).unwrap();
    let e_mu = err(&x, &w, mu.components().unwrap());
    for stats in [CdStats::Exact, CdStats::Decayed] {
        let p = cd().cd_stats(stats).max_iter(10).tol(0.0);
        let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
        let w = m.fit_transform(&x).unwrap();
        let e = err(&x, &w, m.components().unwrap());
        assert!(e < e_mu, "{stats:?}: cd {e} vs mu {e_mu} after 10 epochs");
        assert!(w.iter().all(|v| *v >= 0.0));
        assert!((m.reconstruction_err().unwrap() - e).abs() <= 1e-9 * e);
    }
}

#[test]
fn cd_early_stopping_by_h_change_and_by_no_improvement() {
    let x = data(150, 10, 4);
    let mut m = MiniBatchNmf::<f64>::new(cd().max_iter(500).tol(1e-3)).unwrap();
    let s = m.fit(&x).unwrap();
    assert!(s.n_iter < 500);
    assert_eq!(s.stop_reason, StopReason::SmallHChange);
    let p = cd().max_iter(500).tol(0.0).max_no_improvement(Some(2));
    let s = MiniBatchNmf::<f64>::new(p).unwrap().fit(&x).unwrap();
    assert!(s.n_iter < 500);
    assert_eq!(s.stop_reason, StopReason::NoImprovement);
}

#[test]
fn cd_partial_fit_stream_learns_and_transforms() {
    let x = data(240, 10, 5);
    for stats in [CdStats::Exact, CdStats::Decayed] {
        let mut m = MiniBatchNmf::<f64>::new(cd().cd_stats(stats).tol(1e-4)).unwrap();
        m.partial_fit(x.slice(ndarray::s![0..40, ..])).unwrap();
        let w = m.transform(&x).unwrap();
        let first = err(&x, &w, m.components().unwrap());
        for _epoch in 0..3 {
            for c in 0..6 {
                m.partial_fit(x.slice(ndarray::s![c * 40..(c + 1) * 40, ..]))
                    .unwrap();
            }
        }
        assert_eq!(m.n_steps(), Some(19));
        let w = m.transform(&x).unwrap();
        let last = err(&x, &w, m.components().unwrap());
        assert!(last < first, "{stats:?}: {last} vs {first}");
        assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0));
    }
}

#[test]
fn cd_fresh_restarts_solve_each_batch_from_zero() {
    let x = data(120, 8, 6);
    for stats in [CdStats::Exact, CdStats::Decayed] {
        let p = cd()
            .cd_stats(stats)
            .fresh_restarts(true)
            .fresh_restarts_max_iter(20)
            .max_iter(10)
            .tol(1e-4);
        let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
        let w = m.fit_transform(&x).unwrap();
        // The final W is transform's (W from zeros, same H, same rule).
        assert_eq!(w, m.transform(&x).unwrap());
        let e = err(&x, &w, m.components().unwrap());
        assert!(
            e < 0.2 * (x.iter().map(|v| v * v).sum::<f64>()).sqrt(),
            "{e}"
        );
    }
}

#[test]
fn cd_in_f32() {
    let x = data(100, 9, 7).mapv(|v| v as f32);
    let mut m = MiniBatchNmf::<f32>::new(cd().max_iter(20)).unwrap();
    let w = m.fit_transform(&x).unwrap();
    assert!(w.iter().all(|v| v.is_finite() && *v >= 0.0));
    let x64 = x.mapv(f64::from);
    let mut m64 = MiniBatchNmf::<f64>::new(cd().max_iter(20)).unwrap();
    m64.fit(&x64).unwrap();
    let e32 = m.reconstruction_err().unwrap();
    let e64 = m64.reconstruction_err().unwrap();
    assert!((e32 - e64).abs() <= 1e-3 * e64, "{e32} vs {e64}");
}

#[test]
fn cd_final_error_from_the_exact_statistics_matches_the_direct_error_on_a_long_fit() {
    // With cd_stats="exact" the final reconstruction_err_ comes from A, B
    // and ||X||² (no pass over X) when its rounding bound allows: after
    // 2400 steps of incremental updates it must still be the direct
    // ||X − W·H|| within 1e-10 (dense and CSR, and for a fit stopped in its
    // first pass, whose statistics do not hold every row yet).
    let x = data(400, 30, 9) * 0.5 + data(400, 30, 10).mapv(|v| v * v);
    let (indptr, indices, values) = {
        let mut p = vec![0usize];
        let (mut j, mut v) = (Vec::new(), Vec::new());
        for row in x.rows() {
            for (c, &e) in row.iter().enumerate() {
                if e > 0.3 {
                    j.push(c);
                    v.push(e);
                }
            }
            p.push(j.len());
        }
        (p, j, v)
    };
    let csr = minibatchnmf::CsrView::new(400, 30, &indptr, &indices, &values).unwrap();
    let xs = {
        let mut d = Array2::zeros((400, 30));
        for i in 0..400 {
            for t in indptr[i]..indptr[i + 1] {
                d[[i, indices[t]]] = values[t];
            }
        }
        d
    };
    for epochs in [1, 2, 200] {
        let p = cd()
            .cd_stats(CdStats::Exact)
            .max_iter(epochs)
            .tol(0.0)
            .max_no_improvement(None);
        let mut m = MiniBatchNmf::<f64>::new(p.clone()).unwrap();
        let w = m.fit_transform(&x).unwrap();
        let e = err(&x, &w, m.components().unwrap());
        let r = m.reconstruction_err().unwrap();
        assert!(
            (r - e).abs() <= 1e-10 * e,
            "dense, {epochs} epochs: {r} vs {e}"
        );
        let mut m = MiniBatchNmf::<f64>::new(p).unwrap();
        let w = m.fit_transform(csr).unwrap();
        let e = err(&xs, &w, m.components().unwrap());
        let r = m.reconstruction_err().unwrap();
        assert!(
            (r - e).abs() <= 1e-10 * e,
            "CSR, {epochs} epochs: {r} vs {e}"
        );
    }
}
