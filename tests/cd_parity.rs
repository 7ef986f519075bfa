//! The exactness anchor of the cd solver: with one mini-batch covering
//! every row, one W sweep and one H sweep per batch, forget_factor = 0,
//! tol = 0 and no early stopping, `MiniBatchNmf` with `solver = "cd"` is
//! scikit-learn 1.9.1's `NMF(solver="cd", shuffle=False, tol=0)` iteration
//! for iteration: W, H and `reconstruction_err_` within 1e-9 relative
//! (Frobenius norm) in f64, the same `n_iter_`, and `transform` (W from
//! zeros by coordinate descent, violation rule) likewise. f32 cases are
//! judged by the oracle's own f32 rounding, as tests/parity.rs does:
//! ‖O − S‖_F ≤ 4·‖S − R64‖_F + sqrt(N)·eps_f32·‖S‖_F, R64 our f64 run of
//! the same (exactly converted) case.
//!
//! Fixtures: tests/fixtures/cases_cd, from tests/fixtures/generate_cd.py.

mod common;

use common::{case_dirs_in, params_from_pairs, Case};
use minibatchnmf::{FitArgs, Init, MiniBatchNmf, NmfFloat};
use ndarray::Array2;
use std::path::Path;

const RTOL_F64: f64 = 1e-9;
const EPS_F32: f64 = f32::EPSILON as f64;

/// What one run produced, in f64 for comparisons.
struct Run {
    w: Array2<f64>,
    h: Array2<f64>,
    wt: Array2<f64>,
    err: f64,
    n_iter: usize,
}

fn to64<F: NmfFloat>(a: &Array2<F>) -> Array2<f64> {
    a.mapv(|v| v.to_f64_())
}

fn norm(a: &Array2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

fn dist(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

fn run<F: NmfFloat>(case: &Case) -> Run {
    let pairs: Vec<(String, String)> = case
        .params
        .iter()
        .filter(|(k, _)| k != "reference" && k != "transform_tol")
        .cloned()
        .collect();
    let x = case.matrix::<F>("X").unwrap();
    let xt = case.matrix::<F>("Xt").unwrap();
    let n = x.shape().0;
    let params = params_from_pairs(&pairs)
        .unwrap()
        .batch_size(n)
        .forget_factor(0.0)
        .tol(0.0)
        .max_no_improvement(None)
        .cd_w_sweeps(1)
        .cd_h_sweeps(1);
    let custom = params.get_init() == Init::Custom;
    let (w0, h0) = if custom {
        (
            Some(case.array::<F>("W0").unwrap()),
            Some(case.array::<F>("H0").unwrap()),
        )
    } else {
        (None, None)
    };
    let mut model = MiniBatchNmf::<F>::new(params).unwrap();
    let args = FitArgs {
        w: w0.as_ref().map(|a| a.view()),
        h: h0.as_ref().map(|a| a.view()),
        feature_names: None,
    };
    let w = model.fit_transform_with(x.input(), args).unwrap();
    let h = model.components().unwrap().to_owned();
    let err = model.reconstruction_err().unwrap();
    let n_iter = model.n_iter().unwrap();
    let tol = case.param("transform_tol").unwrap();
    model.set_param("tol", tol).unwrap();
    let wt = model.transform(xt.input()).unwrap();
    Run {
        w: to64(&w),
        h: to64(&h),
        wt: to64(&wt),
        err,
        n_iter,
    }
}

fn check_case(dir: &Path) -> Vec<String> {
    let case = Case::load(dir).unwrap();
    assert_eq!(case.param("reference"), Some("NMF"), "{}", case.name);
    let mut failures = Vec::new();
    let expected = [
        ("W", case.array_f64("W").unwrap()),
        ("H", case.array_f64("H").unwrap()),
        ("Wt", case.array_f64("Wt").unwrap()),
    ];
    let err_s: f64 = case.expect("reconstruction_err").unwrap();
    let n_iter_s: usize = case.expect("n_iter").unwrap();
    let r64 = run::<f64>(&case);
    let (ours, f32_ref) = if case.dtype().unwrap() == "float32" {
        (run::<f32>(&case), Some(&r64))
    } else {
        (run::<f64>(&case), None)
    };
    let got = [("W", &ours.w), ("H", &ours.h), ("Wt", &ours.wt)];
    for ((what, s), (_, o)) in expected.iter().zip(got) {
        let d = dist(o, s);
        let allowed = match f32_ref {
            None => RTOL_F64 * norm(s),
            Some(r) => {
                let r = match *what {
                    "W" => &r.w,
                    "H" => &r.h,
                    _ => &r.wt,
                };
                4.0 * dist(s, r) + (s.len() as f64).sqrt() * EPS_F32 * norm(s)
            }
        };
        eprintln!(
            "{} {what}: rel {:.2e} (allowed {:.2e})",
            case.name,
            d / norm(s),
            allowed / norm(s)
        );
        if d > allowed {
            failures.push(format!(
                "{}: {what}: ‖ours − sklearn‖ = {d:.3e} > {allowed:.3e} (‖sklearn‖ = {:.3e})",
                case.name,
                norm(s)
            ));
        }
    }
    let allowed_err = match f32_ref {
        None => RTOL_F64 * err_s,
        Some(r) => {
            let (m, k) = (ours.h.ncols(), ours.w.nrows());
            4.0 * (err_s - r.err).abs() + ((m * k) as f64).sqrt() * EPS_F32 * err_s
        }
    };
    if (ours.err - err_s).abs() > allowed_err {
        failures.push(format!(
            "{}: reconstruction_err {} vs sklearn {err_s} (allowed {allowed_err:.3e})",
            case.name, ours.err
        ));
    }
    if ours.n_iter != n_iter_s {
        failures.push(format!(
            "{}: n_iter {} vs sklearn {n_iter_s}",
            case.name, ours.n_iter
        ));
    }
    failures
}

fn cases_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases_cd")
}

#[test]
fn cd_one_full_batch_is_sklearn_nmf_cd_iteration_for_iteration() {
    let dirs = case_dirs_in(&cases_root());
    assert!(dirs.len() >= 15, "cd fixtures missing");
    let failures: Vec<String> = dirs.iter().flat_map(|d| check_case(d)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn cd_fixtures_cover_every_init_dense_csr_f32_f64_and_penalties() {
    let mut seen = std::collections::BTreeSet::new();
    for d in case_dirs_in(&cases_root()) {
        let c = Case::load(&d).unwrap();
        let pen = c
            .param("alpha_W")
            .is_some_and(|a| a.parse::<f64>().unwrap() > 0.0);
        seen.insert(format!(
            "{} {} {}",
            c.param("init").unwrap(),
            if c.is_sparse() { "csr" } else { "dense" },
            c.dtype().unwrap()
        ));
        seen.insert(format!("pen {pen}"));
    }
    for init in ["random", "nndsvd", "nndsvda", "nndsvdar", "custom"] {
        for layout in ["dense", "csr"] {
            assert!(
                seen.contains(&format!("{init} {layout} float64")),
                "no {init} {layout} f64 case"
            );
        }
    }
    assert!(seen.iter().any(|s| s.ends_with("float32")));
    assert!(seen.contains("pen true") && seen.contains("pen false"));
}
