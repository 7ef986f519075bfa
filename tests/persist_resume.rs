//! Exact resume across processes: a partial_fit stream interrupted, saved,
//! loaded in a *fresh process* and continued equals the uninterrupted
//! stream bit for bit (H, both online statistics, n_steps), for f32 and
//! f64, dense and CSR, beta 2, 1, 0 and 1.5 (and the cd solver, with both
//! statistics forms); a loaded fit model transforms exactly as the
//! original (both solvers).
//!
//! The fresh process is this test binary run again with
//! `MBNMF_RESUME_CHILD=<folder>`: its `child_process_entry_point` test then
//! does the loading and continuing (and is a no-op in a normal run).

mod gen;

use gen::{Csr, TempDir};
use minibatchnmf::{CdStats, Init, MiniBatchNmf, MiniBatchNmfParams, NmfFloat, Solver};
use ndarray::{s, Array2};
use std::path::Path;
use std::process::Command;

const CHILD_ENV: &str = "MBNMF_RESUME_CHILD";
const N: usize = 60;
const M: usize = 8;
const CHUNK: usize = 10;
const CHUNKS: usize = 6;
const SPLIT: usize = 3;
const BETAS: [f64; 4] = [2.0, 1.0, 0.0, 1.5];

/// A case: dtype, layout, beta (named in file names as `f64-csr-1`).
#[derive(Clone, Copy, Debug)]
struct Case {
    f32: bool,
    csr: bool,
    beta_index: usize,
    /// None: MU; Some(stats): cd (beta 2).
    cd: Option<CdStats>,
}

impl Case {
    fn all() -> Vec<Case> {
        let mut v = Vec::new();
        for f32 in [false, true] {
            for csr in [false, true] {
                for beta_index in 0..BETAS.len() {
                    v.push(Case {
                        f32,
                        csr,
                        beta_index,
                        cd: None,
                    });
                }
                for stats in [CdStats::Exact, CdStats::Decayed] {
                    v.push(Case {
                        f32,
                        csr,
                        beta_index: 0,
                        cd: Some(stats),
                    });
                }
            }
        }
        v
    }
    fn name(&self) -> String {
        format!(
            "{}-{}-{}{}",
            if self.f32 { "f32" } else { "f64" },
            if self.csr { "csr" } else { "dense" },
            self.beta_index,
            self.cd
                .map_or(String::new(), |s| format!("-cd-{}", s.as_str()))
        )
    }
    fn beta(&self) -> f64 {
        BETAS[self.beta_index]
    }
    fn params(&self) -> MiniBatchNmfParams {
        let p = MiniBatchNmfParams::new()
            .n_components(3)
            .init(Init::Random)
            .random_state(Some(7))
            .beta(self.beta())
            .alpha_w(0.01)
            .l1_ratio(0.3)
            .fresh_restarts_max_iter(5);
        match self.cd {
            None => p,
            Some(stats) => p.solver(Solver::Cd).cd_stats(stats).cd_w_sweeps(2),
        }
    }
    fn data(&self) -> Array2<f64> {
        // beta <= 0 needs strictly positive X.
        gen::matrix(N, M, 11 + self.beta_index as u64, 0.3, self.beta() <= 0.0)
    }
}

fn step<F: NmfFloat>(model: &mut MiniBatchNmf<F>, case: Case, x: &Array2<F>, chunk: usize) {
    let block = x
        .slice(s![chunk * CHUNK..(chunk + 1) * CHUNK, ..])
        .to_owned();
    if case.csr {
        let c = Csr::from_dense(&block);
        model.partial_fit(c.view()).unwrap();
    } else {
        model.partial_fit(&block).unwrap();
    }
}

fn start<F: NmfFloat>(case: Case, dir: &Path) -> Vec<u8> {
    let x = gen::cast::<F>(&case.data());
    let mut model = MiniBatchNmf::<F>::new(case.params()).unwrap();
    for c in 0..SPLIT {
        step(&mut model, case, &x, c);
    }
    model
        .save(dir.join(format!("{}.in.safetensors", case.name())))
        .unwrap();
    for c in SPLIT..CHUNKS {
        step(&mut model, case, &x, c);
    }
    model.to_bytes().unwrap()
}

fn resume<F: NmfFloat>(case: Case, dir: &Path) {
    let x = gen::cast::<F>(&case.data());
    let mut model =
        MiniBatchNmf::<F>::load(dir.join(format!("{}.in.safetensors", case.name()))).unwrap();
    for c in SPLIT..CHUNKS {
        step(&mut model, case, &x, c);
    }
    model
        .save(dir.join(format!("{}.out.safetensors", case.name())))
        .unwrap();
}

/// A fit model saved here, transformed there.
fn fit_params(solver: Solver) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(2)
        .batch_size(16)
        .max_iter(20)
        .random_state(Some(1))
        .solver(solver)
}

fn fit_case<F: NmfFloat>(csr: bool, solver: Solver, dir: &Path) -> Array2<F> {
    let x = gen::cast::<F>(&gen::matrix(40, 6, 3, 0.4, false));
    let mut model = MiniBatchNmf::<F>::new(fit_params(solver)).unwrap();
    let tag = format!("fit-{}-{}-{}", F::DTYPE, csr, solver.as_str());
    if csr {
        let c = Csr::from_dense(&x);
        model.fit(c.view()).unwrap();
        model.save(dir.join(format!("{tag}.model"))).unwrap();
        model.transform(c.view()).unwrap()
    } else {
        model.fit(&x).unwrap();
        model.save(dir.join(format!("{tag}.model"))).unwrap();
        model.transform(&x).unwrap()
    }
}

fn fit_case_child<F: NmfFloat>(csr: bool, solver: Solver, dir: &Path) {
    let x = gen::cast::<F>(&gen::matrix(40, 6, 3, 0.4, false));
    let tag = format!("fit-{}-{}-{}", F::DTYPE, csr, solver.as_str());
    let model = MiniBatchNmf::<F>::load(dir.join(format!("{tag}.model"))).unwrap();
    assert_eq!(
        model.params(),
        &fit_params(solver).check().unwrap().into_inner()
    );
    let w = if csr {
        model.transform(Csr::from_dense(&x).view()).unwrap()
    } else {
        model.transform(&x).unwrap()
    };
    let bytes: Vec<u8> = w.iter().flat_map(|v| v.to_f64_().to_le_bytes()).collect();
    std::fs::write(dir.join(format!("{tag}.w")), bytes).unwrap();
}

#[test]
fn child_process_entry_point() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return; // a normal run: nothing to do
    };
    let dir = Path::new(&dir);
    for case in Case::all() {
        if case.f32 {
            resume::<f32>(case, dir);
        } else {
            resume::<f64>(case, dir);
        }
    }
    for csr in [false, true] {
        for solver in [Solver::Mu, Solver::Cd] {
            fit_case_child::<f64>(csr, solver, dir);
            fit_case_child::<f32>(csr, solver, dir);
        }
    }
}

fn run_child(dir: &Path) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([
            "--exact",
            "child_process_entry_point",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child process failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The child really ran the resumes (not a filtered-out no-op).
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}

#[test]
fn resume_in_a_fresh_process_is_bit_identical_and_loaded_transform_is_identical() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = TempDir::new("resume");
    let mut uninterrupted = Vec::new();
    for case in Case::all() {
        let bytes = if case.f32 {
            start::<f32>(case, &dir.0)
        } else {
            start::<f64>(case, &dir.0)
        };
        uninterrupted.push((case, bytes));
    }
    let mut fit_w = Vec::new();
    for csr in [false, true] {
        for solver in [Solver::Mu, Solver::Cd] {
            let w64: Vec<f64> = fit_case::<f64>(csr, solver, &dir.0)
                .iter()
                .copied()
                .collect();
            let w32: Vec<f64> = fit_case::<f32>(csr, solver, &dir.0)
                .iter()
                .map(|v| *v as f64)
                .collect();
            let s = solver.as_str();
            fit_w.push((format!("fit-float64-{csr}-{s}"), w64));
            fit_w.push((format!("fit-float32-{csr}-{s}"), w32));
        }
    }

    run_child(&dir.0);

    for (case, expected) in uninterrupted {
        let resumed = std::fs::read(dir.path(&format!("{}.out.safetensors", case.name()))).unwrap();
        let (a, b) = (gen::tensor_bytes(&expected), gen::tensor_bytes(&resumed));
        let names: Vec<_> = a.iter().map(|t| t.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "components",
                "components_denominator",
                "components_numerator"
            ],
            "{case:?}"
        );
        assert_eq!(a, b, "{case:?}: H or the statistics differ after resuming");
        let (ma, mb) = (gen::metadata(&expected), gen::metadata(&resumed));
        assert_eq!(mb["n_steps"], CHUNKS.to_string(), "{case:?}");
        assert_eq!(ma["n_steps"], mb["n_steps"], "{case:?}");
        // Sanity: the stream did move H (the comparison is not of constants).
        let first = MiniBatchNmf::<f64>::load(dir.path(&format!("{}.in.safetensors", case.name())));
        if !case.f32 {
            let first = first.unwrap();
            let last = MiniBatchNmf::<f64>::from_bytes(&resumed).unwrap();
            assert_ne!(first.components().unwrap(), last.components().unwrap());
        }
    }
    for (tag, w) in fit_w {
        let bytes = std::fs::read(dir.path(&format!("{tag}.w"))).unwrap();
        let got: Vec<u64> = bytes
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        let want: Vec<u64> = w.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{tag}: transform of the loaded model differs");
        assert!(w.iter().any(|v| *v > 0.0));
    }
}
