//! Parity with scikit-learn 1.9.1's `MiniBatchNMF` on the golden fixtures in
//! `tests/fixtures/cases` (made by `python tests/fixtures/generate.py`, which
//! documents the layout).
//!
//! For each case the estimator is built from `params.txt` through
//! `MiniBatchNmfParams::set_param` and run as sklearn was (`fit_transform`,
//! a `partial_fit` sequence over the recorded chunks, or `fit_transform` on
//! the first chunk then `partial_fit`), with the custom W0/H0 when
//! `init=custom`; then W, H, A, B (the online numerator/denominator), the
//! partial_fit snapshots of H, `transform` of held-out rows, its
//! `inverse_transform`, `reconstruction_err`, `n_iter`, `n_steps`,
//! `n_components`, the ConvergenceWarning flag and the stop reason are
//! compared with sklearn's. A second pass feeds the same numbers in another
//! layout (Fortran-order dense, CSR rows in reverse column order) to a model
//! that was already fitted once, so refits must reset all state.
//!
//! Every case is run and every discrepancy collected; a test fails once, at
//! the end, listing all failing cases (name, quantity, size of the
//! discrepancy). A panic inside the library is caught and reported as that
//! case's failure. `PARITY_CASE=substring` restricts the run to matching
//! cases; `--nocapture` prints a line per case with its worst discrepancy.
//!
//! # Tolerance policy
//!
//! Arrays (W, H, A, B, the transform of held-out rows Wt, inverse_transform
//! Xr, the partial_fit snapshots of H) are compared in f64, elementwise:
//!
//! ```text
//! |a - b| <= rtol · max(|b|, 1e-3 · max|B|)
//! ```
//!
//! where b is sklearn's value and max|B| the largest magnitude in sklearn's
//! array. This is a relative test for every element that matters, with an
//! absolute floor of rtol · 1e-3 · max|B| for elements near zero: those are
//! differences of quantities of the array's magnitude (multiplicative updates
//! shrink entries towards 0 but the arithmetic that produced them ran at the
//! array's scale), so a purely relative test on them would measure
//! cancellation noise, not parity. Exact zeros (sklearn zeroes entries below
//! machine epsilon when beta <= 1) fall under the same floor.
//!
//! * float64 cases: rtol = 1e-6 for arrays and for `reconstruction_err`
//!   (plain relative: |a - b| <= 1e-6 · |b|). Both computations run in f64
//!   and differ only in summation order, so this holds on every BLAS kernel.
//! * float32 cases are judged by the oracle's own f32 rounding. The same case
//!   is first run through our f64 solver (the f32 inputs are exact in f64;
//!   our f64 results equal sklearn's f64 ones to ~1e-13), which stands in for
//!   the exact result. sklearn's f32 result S differs from it by
//!   δ = ‖S − R64‖_F: that is how far f32 rounding moved the oracle on this
//!   case (it grows with the number of steps and the conditioning of the
//!   updates, which is why a fixed rtol cannot be right for every kernel).
//!   Our f32 result O is another f32 run of the same arithmetic with other
//!   summation orders (which depend on the CPU's BLAS kernel), so
//!   ‖O − R64‖ is of the same size as δ and ‖O − S‖ ≤ ‖O − R64‖ + δ ≈ 2δ;
//!   the test allows twice that, 4δ, for the spread between two runs of
//!   rounding, plus a floor of sqrt(N)·eps_f32·‖S‖ (one rounding per element,
//!   for cases where δ happens to be ~0):
//!
//!   ```text
//!   ‖O − S‖_F <= 4 · ‖S − R64‖_F + sqrt(N) · eps_f32 · ‖S‖_F
//!   ```
//!
//!   `reconstruction_err` is judged the same way (N = elements of X).
//!   inverse_transform against Wt·H is a single product of length k:
//!   elementwise within (k + 1)·eps_f32 relative (the standard dot-product
//!   bound, all terms non-negative).
//!
//! Counters must match exactly in both dtypes: `n_iter`, `n_steps`,
//! `n_components`, the ConvergenceWarning flag and the reason the loop
//! stopped. (The fixtures record how close sklearn's early-stopping tests
//! came to flipping, `min_tol_margin`/`min_ewa_margin` in expected.txt; a
//! counter mismatch message quotes them.)

mod common;

use common::{discrepancy, to_f64, Case, Matrix};
use minibatchnmf::FitArgs;
use minibatchnmf::{MiniBatchNmf, NmfFloat, StopReason, Warning};
use ndarray::{Array2, ArrayView2, ShapeBuilder};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Relative tolerance of float64 cases.
const RTOL_F64: f64 = 1e-6;
/// Absolute floor of the elementwise test, as a fraction of max |expected|.
const FLOOR_FRAC: f64 = 1e-3;
/// float32 cases: allowed multiple of the oracle's own f32 rounding effect
/// δ = ‖sklearn_f32 − ours_f64‖ (2δ by the triangle inequality, doubled
/// for the spread between two runs of rounding; see the module docs).
const F32_SPREAD: f64 = 4.0;
/// Unit roundoff of f32.
const EPS_F32: f64 = f32::EPSILON as f64;

/// Results of the f64 run of a float32 case, by quantity name.
#[derive(Default)]
struct Recorded {
    arrays: std::collections::HashMap<String, Array2<f64>>,
    scalars: std::collections::HashMap<String, f64>,
}

/// How a run's arrays and scalars are judged.
#[derive(Default)]
enum Judge {
    /// float64: elementwise, rtol 1e-6.
    #[default]
    F64,
    /// float32: norm-wise, against the oracle's f32 rounding measured with
    /// the f64 run of the same case.
    F32(Recorded),
    /// The f64 reference run of a float32 case: record, judge nothing.
    Record(Recorded),
}

/// The outcome of one case.
#[derive(Default)]
struct Report {
    judge: Judge,
    /// Failed checks: "quantity: detail".
    failures: Vec<String>,
    /// Worst discrepancy seen, as a fraction of what is allowed (for the
    /// summary line).
    worst: f64,
    worst_what: String,
}

impl Report {
    fn recorder() -> Self {
        Report {
            judge: Judge::Record(Recorded::default()),
            ..Report::default()
        }
    }

    fn f32_against(reference: Recorded) -> Self {
        Report {
            judge: Judge::F32(reference),
            ..Report::default()
        }
    }

    fn recording(&self) -> bool {
        matches!(self.judge, Judge::Record(_))
    }

    fn fail(&mut self, what: impl Into<String>) {
        if !self.recording() {
            self.failures.push(what.into());
        }
    }

    fn note_worst(&mut self, what: &str, fraction_of_allowed: f64) {
        if fraction_of_allowed > self.worst {
            self.worst = fraction_of_allowed;
            self.worst_what = what.to_string();
        }
    }

    /// An array against sklearn's.
    fn array(&mut self, what: &str, actual: ArrayView2<f64>, expected: ArrayView2<f64>) {
        match &mut self.judge {
            Judge::Record(rec) => {
                rec.arrays.insert(what.to_string(), actual.to_owned());
            }
            Judge::F64 => self.array_rel(what, actual, expected, RTOL_F64),
            Judge::F32(rec) => {
                let Some(r64) = rec.arrays.get(what).cloned() else {
                    return self.fail(format!("{what}: no f64 reference result"));
                };
                if actual.dim() != expected.dim() || r64.dim() != expected.dim() {
                    return self.fail(format!(
                        "{what}: shape {:?}, expected {:?} (f64 run {:?})",
                        actual.dim(),
                        expected.dim(),
                        r64.dim()
                    ));
                }
                if let Some(bad) = actual.iter().find(|v| !v.is_finite()) {
                    return self.fail(format!("{what}: non-finite value {bad}"));
                }
                let dist = fro_dist(actual, expected);
                let delta = fro_dist(r64.view(), expected);
                let floor = (expected.len() as f64).sqrt() * EPS_F32 * fro(expected);
                let allowed = F32_SPREAD * delta + floor;
                self.judge_f32(what, dist, delta, allowed);
            }
        }
    }

    /// Elementwise relative comparison with the floor of the module docs.
    fn array_rel(
        &mut self,
        what: &str,
        actual: ArrayView2<f64>,
        expected: ArrayView2<f64>,
        rtol: f64,
    ) {
        if self.recording() {
            return;
        }
        match discrepancy(actual, expected, FLOOR_FRAC) {
            Err(e) => self.fail(format!("{what}: {e}")),
            Ok(d) => {
                self.note_worst(what, d.max_scaled / rtol);
                if d.max_scaled > rtol {
                    self.fail(format!(
                        "{what}: max scaled diff {:.3e} > rtol {rtol:.1e} (max abs diff {:.3e}, worst at {:?}: got {:.17e}, expected {:.17e})",
                        d.max_scaled,
                        d.max_abs,
                        d.at,
                        actual[d.at],
                        expected[d.at]
                    ));
                }
            }
        }
    }

    /// A scalar against sklearn's; `n` is the number of terms summed into it.
    fn scalar(&mut self, what: &str, actual: f64, expected: f64, n: usize) {
        match &mut self.judge {
            Judge::Record(rec) => {
                rec.scalars.insert(what.to_string(), actual);
            }
            Judge::F64 => {
                let diff = (actual - expected).abs();
                let rel = if diff == 0.0 {
                    0.0
                } else {
                    diff / expected.abs()
                };
                self.note_worst(what, rel / RTOL_F64);
                // NaN (a non-finite result) fails too.
                if rel.is_nan() || rel > RTOL_F64 {
                    self.fail(format!(
                        "{what}: got {actual:?}, expected {expected:?} (rel diff {rel:.3e} > rtol {RTOL_F64:.0e})"
                    ));
                }
            }
            Judge::F32(rec) => {
                let Some(r64) = rec.scalars.get(what).copied() else {
                    return self.fail(format!("{what}: no f64 reference result"));
                };
                let delta = (r64 - expected).abs();
                let allowed = F32_SPREAD * delta + (n as f64).sqrt() * EPS_F32 * expected.abs();
                self.judge_f32(what, (actual - expected).abs(), delta, allowed);
            }
        }
    }

    fn judge_f32(&mut self, what: &str, dist: f64, delta: f64, allowed: f64) {
        self.note_worst(what, if dist == 0.0 { 0.0 } else { dist / allowed });
        // NaN fails too.
        if dist.is_nan() || dist > allowed {
            self.fail(format!(
                "{what}: distance to sklearn's f32 result {dist:.3e} > allowed {allowed:.3e} \
                 (sklearn's f32 result is {delta:.3e} from the f64 one)"
            ));
        }
    }

    fn exact<T: PartialEq + std::fmt::Debug>(
        &mut self,
        what: &str,
        actual: T,
        expected: T,
        note: &str,
    ) {
        if actual != expected {
            self.fail(format!(
                "{what}: got {actual:?}, expected {expected:?}{note}"
            ));
        }
    }
}

/// Frobenius norm.
fn fro(a: ArrayView2<f64>) -> f64 {
    a.iter().map(|v| v * v).sum::<f64>().sqrt()
}

/// Frobenius norm of a − b.
fn fro_dist(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

fn stop_reason_name(r: StopReason) -> &'static str {
    match r {
        StopReason::MaxIter => "max_iter",
        StopReason::SmallHChange => "small_h_change",
        StopReason::NoImprovement => "no_improvement",
        StopReason::Interrupted => "interrupted",
        other => unreachable!("a stop reason the fixtures do not know: {other:?}"),
    }
}

/// How the case's matrices are handed to the estimator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// As stored: C-order dense, CSR with sorted column indices.
    AsStored,
    /// The same numbers laid out differently: dense in Fortran order (a
    /// strided view), CSR with each row's entries in reverse column order.
    /// For fit cases the model is first fitted once on the stored layout, so
    /// the compared fit is a refit of a fitted model (its state must be reset).
    Permuted,
}

fn layout<F: NmfFloat>(m: &Matrix<F>, v: Variant) -> Matrix<F> {
    match (v, m) {
        (Variant::AsStored, _) => m.clone(),
        (Variant::Permuted, Matrix::Dense(a)) => {
            let mut f = Array2::zeros(a.raw_dim().f());
            f.assign(a);
            Matrix::Dense(f)
        }
        (Variant::Permuted, Matrix::Csr(c)) => {
            let mut c = c.clone();
            for i in 0..c.n_rows {
                let (s, e) = (c.indptr[i], c.indptr[i + 1]);
                c.indices[s..e].reverse();
                c.data[s..e].reverse();
            }
            Matrix::Csr(c)
        }
    }
}

fn custom_args<'a, F: NmfFloat>(
    w0: &'a Option<Array2<F>>,
    h0: &'a Option<Array2<F>>,
) -> FitArgs<'a, F> {
    FitArgs {
        w: w0.as_ref().map(|a| a.view()),
        h: h0.as_ref().map(|a| a.view()),
        feature_names: None,
    }
}

/// Run one case in dtype F; Err = the case could not be run to the end.
///
/// In the f64 reference run of a float32 case (`rep.recording()`), F is f64
/// and the case's f32 inputs are converted exactly.
fn run_case<F: NmfFloat>(case: &Case, variant: Variant, rep: &mut Report) -> Result<(), String> {
    if case.dtype()? != F::DTYPE && !rep.recording() {
        return Err(format!("dtype {} run as {}", case.dtype()?, F::DTYPE));
    }
    let params = case.build_params().map_err(|e| format!("set_param: {e}"))?;
    let custom = case.param("init") == Some("custom");
    let x: Matrix<F> = case.matrix("X")?;
    let xt: Matrix<F> = layout(&case.matrix("Xt")?, variant);
    let (w0, h0): (Option<Array2<F>>, Option<Array2<F>>) = if custom {
        (Some(case.array("W0")?), Some(case.array("H0")?))
    } else {
        (None, None)
    };
    let mut model = MiniBatchNmf::<F>::new(params).map_err(|e| format!("new: {e}"))?;
    // sklearn keeps float32 in float32: so must we (and the fixtures did).
    for f in ["H", "A", "B", "Wt"] {
        rep.exact(
            &format!("{f} dtype in fixture"),
            case.array_dtype(f)?,
            case.dtype()?,
            "",
        );
    }
    let note = format!(
        " (sklearn's early-stopping margins: tol {}, ewa {})",
        case.expected
            .get("min_tol_margin")
            .map_or("?", String::as_str),
        case.expected
            .get("min_ewa_margin")
            .map_or("?", String::as_str)
    );

    let method = case.method()?;
    let (n, _) = x.shape();
    let chunks = match method {
        "fit_transform" => vec![0, n],
        "partial_fit" | "fit_partial_fit" => case.chunks()?,
        other => return Err(format!("unknown method {other:?}")),
    };
    let fits = method != "partial_fit";
    let n_steps: usize = case.expect("n_steps")?;
    for (i, ab) in chunks.windows(2).enumerate() {
        let stored = x.rows(ab[0], ab[1]);
        let xi = layout(&stored, variant);
        let what = format!("chunk {i} (rows {}..{})", ab[0], ab[1]);
        if i == 0 && fits {
            if variant == Variant::Permuted {
                model
                    .fit_transform_with(stored.input(), custom_args(&w0, &h0))
                    .map_err(|e| format!("first fit_transform: {e}"))?;
            }
            let w: Array2<F> = model
                .fit_transform_with(xi.input(), custom_args(&w0, &h0))
                .map_err(|e| format!("fit_transform: {e}"))?;
            rep.array("W", to_f64(w.view()).view(), case.array_f64("W")?.view());
            let summary = model
                .last_fit()
                .cloned()
                .ok_or("last_fit() is None after fit_transform")?;
            let exp_err: f64 = case.expect("reconstruction_err")?;
            let (xn, xm) = x.shape();
            rep.scalar(
                "reconstruction_err",
                summary.reconstruction_err,
                exp_err,
                xn * xm,
            );
            rep.exact("n_iter", summary.n_iter, case.expect("n_iter")?, &note);
            // n_steps of the fit alone: each later chunk adds one step.
            let fit_steps = n_steps.checked_sub(chunks.len() - 2);
            rep.exact("n_steps", Some(summary.n_steps), fit_steps, &note);
            let warned = summary
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::Convergence { .. }));
            rep.exact(
                "convergence_warning",
                warned as u8,
                case.expect("convergence_warning")?,
                &note,
            );
            rep.exact(
                "stop_reason",
                stop_reason_name(summary.stop_reason).to_string(),
                case.expect::<String>("stop_reason")?,
                &note,
            );
        } else {
            let res = if i == 0 {
                model.partial_fit_with(xi.input(), custom_args(&w0, &h0))
            } else {
                model.partial_fit(xi.input())
            };
            res.map_err(|e| format!("partial_fit {what}: {e}"))?;
        }
        if method != "fit_transform" {
            let h = model.components().map_err(|e| e.to_string())?;
            rep.array(
                &format!("H_after_{i}"),
                to_f64(h).view(),
                case.array_f64(&format!("H_after_{i}"))?.view(),
            );
        }
    }

    // Fitted attributes. partial_fit sets neither n_iter_ nor
    // reconstruction_err_ and leaves those of an earlier fit as they were.
    rep.exact("n_steps()", model.n_steps(), Some(n_steps), &note);
    if fits {
        let last = model.last_fit().ok_or("last_fit() is None")?;
        rep.exact("n_iter()", model.n_iter(), Some(case.expect("n_iter")?), "");
        rep.exact(
            "reconstruction_err()",
            model.reconstruction_err(),
            Some(last.reconstruction_err),
            "",
        );
    } else {
        rep.exact("n_iter() after partial_fit", model.n_iter(), None, "");
        rep.exact(
            "reconstruction_err() after partial_fit",
            model.reconstruction_err(),
            None,
            "",
        );
        rep.exact(
            "last_fit() after partial_fit",
            model.last_fit().is_some(),
            false,
            "",
        );
    }
    rep.exact(
        "n_components()",
        model.n_components(),
        Some(case.expect("n_components")?),
        "",
    );
    let h = model.components().map_err(|e| e.to_string())?;
    rep.array("H", to_f64(h).view(), case.array_f64("H")?.view());
    let a = model.components_numerator().map_err(|e| e.to_string())?;
    rep.array("A", to_f64(a).view(), case.array_f64("A")?.view());
    let b = model.components_denominator().map_err(|e| e.to_string())?;
    rep.array("B", to_f64(b).view(), case.array_f64("B")?.view());

    let wt: Array2<F> = model
        .transform(xt.input())
        .map_err(|e| format!("transform: {e}"))?;
    rep.array(
        "Wt (transform)",
        to_f64(wt.view()).view(),
        case.array_f64("Wt")?.view(),
    );
    let xr: Array2<F> = model
        .inverse_transform(wt.view())
        .map_err(|e| format!("inverse_transform: {e}"))?;
    if case.has("Xr.npy") {
        rep.array(
            "Xr (inverse_transform)",
            to_f64(xr.view()).view(),
            case.array_f64("Xr")?.view(),
        );
    } else {
        // Xr is stored for partial_fit cases only; elsewhere check it is Wt·H.
        // One product of length k: elementwise within the dot-product
        // rounding bound (k + 1)·eps of the dtype (all terms non-negative),
        // 1e-6 in f64 as everywhere else.
        let expect = to_f64(wt.view()).dot(&to_f64(model.components().map_err(|e| e.to_string())?));
        let k = wt.ncols() as f64;
        let rtol = RTOL_F64.max((k + 1.0) * F::epsilon().to_f64_());
        rep.array_rel(
            "Xr (inverse_transform) vs Wt·H",
            to_f64(xr.view()).view(),
            expect.view(),
            rtol,
        );
    }
    Ok(())
}

/// Run every case of the given dtype; panic with the full list of failures.
fn run_all(root: &std::path::Path, dtype: &str, variant: Variant) {
    let filter = std::env::var("PARITY_CASE").ok();
    let mut failed = String::new();
    let (mut n_run, mut n_failed) = (0, 0);
    for dir in common::case_dirs_in(root) {
        let case = Case::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        if case.dtype().unwrap_or_else(|e| panic!("{e}")) != dtype {
            continue;
        }
        if let Some(f) = &filter {
            if !case.name.contains(f.as_str()) {
                continue;
            }
        }
        n_run += 1;
        let mut rep = Report::default();
        let outcome = catch_unwind(AssertUnwindSafe(|| match dtype {
            "float64" => {
                let mut r = Report::default();
                let res = run_case::<f64>(&case, variant, &mut r);
                (r, res)
            }
            "float32" => {
                // The f64 run of the same case first: the reference the f32
                // tolerance is derived from (module docs).
                let mut rec = Report::recorder();
                match run_case::<f64>(&case, variant, &mut rec) {
                    Err(e) => (Report::default(), Err(format!("f64 reference run: {e}"))),
                    Ok(()) => {
                        let Judge::Record(reference) = rec.judge else {
                            unreachable!("a recorder records")
                        };
                        let mut r = Report::f32_against(reference);
                        let res = run_case::<f32>(&case, variant, &mut r);
                        (r, res)
                    }
                }
            }
            other => (Report::default(), Err(format!("unsupported dtype {other}"))),
        }));
        match outcome {
            Ok((r, res)) => {
                rep = r;
                if let Err(e) = res {
                    rep.fail(format!("error: {e}"));
                }
            }
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "(non-string panic)".into());
                rep.fail(format!("PANIC: {msg}"));
            }
        }
        let status = if rep.failures.is_empty() {
            "ok  "
        } else {
            "FAIL"
        };
        println!(
            "{status} {:34} {variant:?}: worst diff {:.2e} of allowed ({})",
            case.name, rep.worst, rep.worst_what
        );
        if !rep.failures.is_empty() {
            n_failed += 1;
            writeln!(failed, "{} [{variant:?}]:", case.name).unwrap();
            for f in &rep.failures {
                writeln!(failed, "    {f}").unwrap();
            }
        }
    }
    assert!(
        n_run > 0 || filter.is_some(),
        "no {dtype} fixture cases found"
    );
    assert!(
        n_failed == 0,
        "{n_failed} of {n_run} {dtype} parity cases failed ({variant:?} layout):\n{failed}"
    );
}

#[test]
fn parity_float64() {
    run_all(&common::cases_dir(), "float64", Variant::AsStored);
}

#[test]
fn parity_float32() {
    run_all(&common::cases_dir(), "float32", Variant::AsStored);
}

/// Same fixtures, Fortran-order dense / reverse-ordered CSR rows, and every
/// fit a refit of an already fitted model.
#[test]
fn parity_permuted_layout_and_refit() {
    run_all(&common::cases_dir(), "float64", Variant::Permuted);
    run_all(&common::cases_dir(), "float32", Variant::Permuted);
}

/// Same fixtures on 1 and on 3 worker threads (the `split_*` cases are big
/// enough for the row ranges of a batch to be split across workers). The
/// thread count is global: tests running meanwhile in this binary may pick up
/// either pool, which is fine since every count must give sklearn's numbers.
#[test]
fn parity_thread_counts() {
    for n in [1, 3] {
        minibatchnmf::set_num_threads(n).unwrap();
        assert_eq!(minibatchnmf::num_threads(), n);
        run_all(&common::cases_dir(), "float64", Variant::AsStored);
        run_all(&common::cases_dir(), "float32", Variant::AsStored);
    }
    minibatchnmf::set_num_threads(0).unwrap();
}

/// Large cases written by `python tests/fixtures/generate.py --big DIR`
/// (not committed; tens of MB): run with
/// `MBNMF_BIG_FIXTURES=DIR cargo test --release --test parity -- --ignored`.
#[test]
#[ignore = "needs MBNMF_BIG_FIXTURES=DIR made by `generate.py --big DIR`"]
fn parity_big_fixtures() {
    let root = std::env::var("MBNMF_BIG_FIXTURES")
        .expect("set MBNMF_BIG_FIXTURES to the directory written by generate.py --big");
    let root = std::path::PathBuf::from(root);
    run_all(&root, "float64", Variant::AsStored);
    run_all(&root, "float32", Variant::AsStored);
}

#[test]
fn feature_names_out_names_components() {
    let case = Case::load(&common::cases_dir().join("grid_nndsvda_kl_dense")).unwrap();
    let x: Matrix<f64> = case.matrix("X").unwrap();
    let mut model = MiniBatchNmf::<f64>::new(case.build_params().unwrap()).unwrap();
    model.fit(x.input()).unwrap();
    let k: usize = case.expect("n_components").unwrap();
    let expected: Vec<String> = (0..k).map(|i| format!("minibatchnmf{i}")).collect();
    assert_eq!(model.feature_names_out(None).unwrap(), expected);
    // input_features of the right length are accepted, of the wrong length rejected.
    let m = x.shape().1;
    let names: Vec<String> = (0..m).map(|j| format!("x{j}")).collect();
    assert_eq!(model.feature_names_out(Some(&names)).unwrap(), expected);
    assert!(model.feature_names_out(Some(&names[..m - 1])).is_err());
}

#[test]
fn npy_reader_reads_all_fixture_dtypes() {
    // Header versions 1 and 2 and the four dtypes, on hand-made bytes.
    fn npy(version: u8, descr: &str, shape: &str, body: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        let pre = if version == 1 { 10 } else { 12 };
        while (pre + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.extend([version, 0]);
        if version == 1 {
            out.extend((header.len() as u16).to_le_bytes());
        } else {
            out.extend((header.len() as u32).to_le_bytes());
        }
        out.extend(header.as_bytes());
        out.extend(body);
        out
    }
    let f8: Vec<u8> = [1.5f64, -2.0, 3.25, 0.0, 5.0, 6.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let a = common::parse_npy(&npy(1, "<f8", "(2, 3)", &f8)).unwrap();
    assert_eq!(a.shape, vec![2, 3]);
    assert_eq!(
        a.to_array2::<f64>(),
        ndarray::array![[1.5, -2.0, 3.25], [0.0, 5.0, 6.0]]
    );
    let b = common::parse_npy(&npy(2, "<f8", "(2, 3)", &f8)).unwrap();
    assert_eq!(a, b);
    let f4: Vec<u8> = [0.5f32, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let c = common::parse_npy(&npy(1, "<f4", "(1, 2)", &f4)).unwrap();
    assert_eq!(c.to_array2::<f32>(), ndarray::array![[0.5f32, 1.0]]);
    let i8b: Vec<u8> = [0i64, 3, 7].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(
        common::parse_npy(&npy(1, "<i8", "(3,)", &i8b))
            .unwrap()
            .to_usize(),
        vec![0, 3, 7]
    );
    let i4b: Vec<u8> = [2i32, 9].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(
        common::parse_npy(&npy(1, "<i4", "(2,)", &i4b))
            .unwrap()
            .to_usize(),
        vec![2, 9]
    );
    assert!(
        common::parse_npy(&npy(1, "<f8", "(2, 2)", &f8)).is_err(),
        "length mismatch"
    );
    // Big-endian files are byte-swapped.
    let f8be: Vec<u8> = [1.5f64, -2.0]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect();
    assert_eq!(
        common::parse_npy(&npy(1, ">f8", "(1, 2)", &f8be))
            .unwrap()
            .to_array2::<f64>(),
        ndarray::array![[1.5, -2.0]]
    );
    assert!(
        common::parse_npy(&npy(1, "|u1", "(2,)", &[1, 2])).is_err(),
        "unsupported dtype"
    );
    // And a real fixture: CSR parts of a sparse case agree with its shape.
    let case = Case::load(&common::cases_dir().join("grid_nndsvda_kl_csr")).unwrap();
    let x: Matrix<f64> = case.matrix("X").unwrap();
    let (n, m) = x.shape();
    assert!(n > 0 && m > 0);
    if let Matrix::Csr(c) = &x {
        assert_eq!(c.to_dense().dim(), (n, m));
    } else {
        panic!("grid_nndsvda_kl_csr should be sparse");
    }
}

#[test]
fn w_and_h_without_custom_init_are_ignored_with_a_warning() {
    // sklearn: "When init!='custom', provided W or H are ignored" (RuntimeWarning).
    let case = Case::load(&common::cases_dir().join("grid_random_kl_dense")).unwrap();
    let x: Matrix<f64> = case.matrix("X").unwrap();
    let (n, m) = x.shape();
    let k: usize = case.expect("n_components").unwrap();
    let (w, h) = (
        Array2::from_elem((n, k), 7.0),
        Array2::from_elem((k, m), 7.0),
    );
    let mut model = MiniBatchNmf::<f64>::new(case.build_params().unwrap()).unwrap();
    let args = FitArgs {
        w: Some(w.view()),
        h: Some(h.view()),
        feature_names: None,
    };
    let got = model.fit_transform_with(x.input(), args).unwrap();
    let d = discrepancy(got.view(), case.array_f64("W").unwrap().view(), FLOOR_FRAC).unwrap();
    assert!(d.max_scaled <= RTOL_F64, "W differs from sklearn's: {d:?}");
    let warnings = &model.last_fit().unwrap().warnings;
    assert!(
        warnings.contains(&Warning::IgnoredInitialGuess),
        "{warnings:?}"
    );
}
