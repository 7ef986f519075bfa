//! The `minibatchnmf` command on the vendored real data (tests/data): fit →
//! info → transform → inverse-transform → topics → partial-fit, the same
//! model from a file as from the library in memory, one-line errors with
//! exit status 2 on bad input, and Ctrl-C during a fit saving a resumable
//! checkpoint and exiting with 130, which `fit --resume` finishes exactly
//! as the uninterrupted fit.

use minibatchnmf::io::save_npz_csr;
use minibatchnmf::persist::load_any;
use minibatchnmf::{Init, MiniBatchNmf, MiniBatchNmfParams};
use ndarray::{Array1, Array2};
use ndarray_npy::{read_npy, write_npy};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn cli(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_minibatchnmf"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The FOLDOC slice as a scipy .npz (CSR) file.
fn foldoc_npz(dir: &Path) -> PathBuf {
    let indptr: Array1<i32> = read_npy(data("foldoc1000_indptr.npy")).unwrap();
    let indices: Array1<i32> = read_npy(data("foldoc1000_indices.npy")).unwrap();
    let values: Array1<f64> = read_npy(data("foldoc1000_data.npy")).unwrap();
    let path = dir.join("foldoc.npz");
    let ip: Vec<usize> = indptr.iter().map(|&v| v as usize).collect();
    let ix: Vec<usize> = indices.iter().map(|&v| v as usize).collect();
    save_npz_csr(
        &path,
        (1000, 8958),
        &ip,
        &ix,
        values.as_slice().unwrap(),
        true,
    )
    .unwrap();
    path
}

#[test]
fn fit_info_transform_topics_on_real_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let digits = data("digits.npy");
    let digits = digits.to_str().unwrap();
    // fit (digits, uint8 → float64) and the same model from the library.
    let args = [
        "fit",
        digits,
        "-k",
        "8",
        "--init",
        "nndsvda",
        "--batch-size",
        "300",
        "--max-iter",
        "4",
        "--random-state",
        "0",
        "-o",
        "digits.safetensors",
        "--w-out",
        "w_fit.npy",
    ];
    ok(&cli(&args, d));
    let x: Array2<u8> = read_npy(data("digits.npy")).unwrap();
    let x = x.mapv(f64::from);
    let mut lib = MiniBatchNmf::<f64>::new(
        MiniBatchNmfParams::new()
            .n_components(8)
            .init(Init::Nndsvda)
            .batch_size(300)
            .max_iter(4)
            .random_state(Some(0)),
    )
    .unwrap();
    let w_lib = lib.fit_transform(&x).unwrap();
    let model = match load_any(d.join("digits.safetensors")).unwrap() {
        minibatchnmf::persist::AnyModel::F64(m) => m,
        _ => panic!("f64 model expected"),
    };
    assert!(model.components().unwrap() == lib.components().unwrap());
    assert_eq!(model.reconstruction_err(), lib.reconstruction_err());
    let w_fit: Array2<f64> = read_npy(d.join("w_fit.npy")).unwrap();
    assert!(w_fit == w_lib);

    // info
    let info = ok(&cli(&["info", "digits.safetensors"], d));
    assert!(
        info.contains("n_components: 8") && info.contains("n_features_in: 64"),
        "{info}"
    );
    assert!(
        info.contains("dtype: float64") && info.contains("n_iter: 4"),
        "{info}"
    );

    // transform = the library's transform; inverse-transform = W·H.
    ok(&cli(
        &["transform", "digits.safetensors", digits, "-o", "w.npy"],
        d,
    ));
    let w: Array2<f64> = read_npy(d.join("w.npy")).unwrap();
    assert!(w == lib.transform(&x).unwrap());
    ok(&cli(
        &[
            "inverse-transform",
            "digits.safetensors",
            "w.npy",
            "-o",
            "xr.npy",
        ],
        d,
    ));
    let xr: Array2<f64> = read_npy(d.join("xr.npy")).unwrap();
    assert_eq!(xr.dim(), (1797, 64));
    let want = lib.inverse_transform(w.view()).unwrap();
    assert!(xr
        .iter()
        .zip(&want)
        .all(|(a, b)| (a - b).abs() <= 1e-12 * (1.0 + b.abs())));

    // partial-fit continues the model: one more online step per 500 rows.
    ok(&cli(
        &[
            "partial-fit",
            "digits.safetensors",
            digits,
            "--batch-size",
            "500",
            "-o",
            "more.safetensors",
        ],
        d,
    ));
    let info = ok(&cli(&["info", "more.safetensors"], d));
    let steps_before = 4 * 1797usize.div_ceil(300);
    assert!(
        info.contains(&format!("n_steps: {}", steps_before + 4)),
        "{info}"
    );

    // topics on the FOLDOC TF-IDF slice (sparse, float32).
    let npz = foldoc_npz(d);
    let args = [
        "fit",
        npz.to_str().unwrap(),
        "-k",
        "5",
        "--beta-loss",
        "kullback-leibler",
        "--batch-size",
        "200",
        "--max-iter",
        "10",
        "--random-state",
        "1",
        "--dtype",
        "f32",
        "-o",
        "foldoc.safetensors",
        "--quiet",
    ];
    let out = cli(&args, d);
    ok(&out);
    assert!(out.stderr.is_empty(), "--quiet prints nothing");
    let vocab = data("foldoc1000_vocab.txt");
    let topics = ok(&cli(
        &[
            "topics",
            "foldoc.safetensors",
            "--vocab",
            vocab.to_str().unwrap(),
            "--top",
            "6",
        ],
        d,
    ));
    let lines: Vec<&str> = topics.lines().collect();
    assert_eq!(lines.len(), 5, "{topics}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with("Topic #") && l.split(' ').count() == 8),
        "{topics}"
    );
}

/// Exit status 2 and one line on stderr starting with the program's name.
fn assert_bad_input(args: &[&str], dir: &Path, needle: &str) {
    let out = cli(args, dir);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("minibatchnmf: error: ") && last.contains(needle),
        "{args:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_is_one_line_and_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_bad_input(&["fit", "missing.npy", "-k", "2"], d, "No such file");
    std::fs::write(d.join("x.csv"), "1,2\n").unwrap();
    assert_bad_input(&["fit", "x.csv", "-k", "2"], d, "unknown format");
    std::fs::write(d.join("text.npy"), "not numpy").unwrap();
    assert_bad_input(&["fit", "text.npy", "-k", "2"], d, "not a valid .npy");
    let mut x = Array2::<f64>::ones((20, 4));
    x[[13, 2]] = -0.5;
    write_npy(d.join("neg.npy"), &x).unwrap();
    assert_bad_input(&["fit", "neg.npy", "-k", "2"], d, "row 13, column 2");
    x[[13, 2]] = f64::NAN;
    write_npy(d.join("nan.npy"), &x).unwrap();
    assert_bad_input(&["fit", "nan.npy", "-k", "2"], d, "row 13, column 2");
    let bytes = std::fs::read(data("digits.npy")).unwrap();
    std::fs::write(d.join("cut.npy"), &bytes[..bytes.len() / 2]).unwrap();
    assert_bad_input(&["fit", "cut.npy", "-k", "2"], d, "truncated");
    assert_bad_input(&["info", "cut.npy"], d, "model file");
    assert_bad_input(
        &["fit", "neg.npy", "-k", "2", "--beta-loss", "nope"],
        d,
        "beta_loss",
    );
    // A model with another number of features than the data.
    x[[13, 2]] = 1.0;
    write_npy(d.join("ok.npy"), &x).unwrap();
    ok(&cli(
        &[
            "fit",
            "ok.npy",
            "-k",
            "1",
            "--max-iter",
            "2",
            "-o",
            "m.safetensors",
            "-q",
        ],
        d,
    ));
    let digits = data("digits.npy");
    assert_bad_input(
        &[
            "transform",
            "m.safetensors",
            digits.to_str().unwrap(),
            "-o",
            "w.npy",
        ],
        d,
        "expecting 4 features",
    );
    // Arguments clap rejects also exit with 2.
    let out = cli(&["fit"], d);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_subcommand_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for sub in [
        "fit",
        "partial-fit",
        "transform",
        "inverse-transform",
        "topics",
        "info",
        "rank",
    ] {
        let out = ok(&cli(&[sub, "--help"], dir.path()));
        assert!(out.contains("Usage: minibatchnmf"), "{sub}: {out}");
    }
    let fit = ok(&cli(&["fit", "--help"], dir.path()));
    for flag in [
        "--init",
        "--beta-loss",
        "--batch-size",
        "--max-iter",
        "--tol",
        "--max-no-improvement",
        "--alpha-w",
        "--alpha-h",
        "--l1-ratio",
        "--forget-factor",
        "--fresh-restarts",
        "--fresh-restarts-max-iter",
        "--transform-max-iter",
        "--random-state",
        "--dtype",
        "--threads",
        "--checkpoint",
        "--resume",
        "--quiet",
        "--verbose",
    ] {
        assert!(fit.contains(flag), "fit --help lacks {flag}");
    }
}

#[test]
fn ctrl_c_saves_a_resumable_checkpoint_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let digits = data("digits.npy");
    // A fit that would run for minutes: no early stopping.
    let mut child = Command::new(env!("CARGO_BIN_EXE_minibatchnmf"))
        .args([
            "fit",
            digits.to_str().unwrap(),
            "-k",
            "6",
            "--batch-size",
            "64",
            "--max-iter",
            "100000",
            "--tol",
            "0",
            "--max-no-improvement",
            "none",
            "--random-state",
            "0",
            "--checkpoint",
            "ckpt.safetensors",
            "-o",
            "never.safetensors",
        ])
        .current_dir(d)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first progress line (stderr is not a terminal: plain lines).
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("epoch") {
        line.clear();
        assert!(err.read_line(&mut line).unwrap() > 0, "no progress line");
    }
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("checkpoint saved"), "{rest}");
    assert!(!d.join("never.safetensors").exists());
    // The checkpoint is a model that partial-fit continues.
    let info = ok(&cli(&["info", "ckpt.safetensors"], d));
    assert!(info.contains("n_components: 6"), "{info}");
    ok(&cli(
        &[
            "partial-fit",
            "ckpt.safetensors",
            digits.to_str().unwrap(),
            "-q",
        ],
        d,
    ));
}

/// The two model files hold the same model, bit for bit (the files' bytes
/// may differ only in the order of their metadata keys).
fn assert_same_model(a: &Path, b: &Path) {
    fn same<F: minibatchnmf::NmfFloat>(a: &MiniBatchNmf<F>, b: &MiniBatchNmf<F>) {
        let bits = |v: ndarray::ArrayView2<F>| -> Vec<f64> {
            v.iter().map(|x| x.to_f64().unwrap()).collect()
        };
        assert_eq!(bits(a.components().unwrap()), bits(b.components().unwrap()));
        assert_eq!(
            bits(a.components_numerator().unwrap()),
            bits(b.components_numerator().unwrap())
        );
        assert_eq!(
            bits(a.components_denominator().unwrap()),
            bits(b.components_denominator().unwrap())
        );
        assert_eq!(a.n_steps(), b.n_steps());
        assert_eq!(a.n_iter(), b.n_iter());
        assert_eq!(
            a.reconstruction_err().map(f64::to_bits),
            b.reconstruction_err().map(f64::to_bits)
        );
        assert_eq!(a.last_fit(), b.last_fit());
        assert_eq!(a.params().get_params(), b.params().get_params());
        assert_eq!(a.params().extension_params(), b.params().extension_params());
    }
    match (load_any(a).unwrap(), load_any(b).unwrap()) {
        (minibatchnmf::persist::AnyModel::F64(x), minibatchnmf::persist::AnyModel::F64(y)) => {
            same(&x, &y)
        }
        (minibatchnmf::persist::AnyModel::F32(x), minibatchnmf::persist::AnyModel::F32(y)) => {
            same(&x, &y)
        }
        _ => panic!("dtypes differ"),
    }
}

fn fail_with(out: &Output, status: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(status), "{err}");
    err
}

#[test]
fn fit_resumed_from_a_checkpoint_equals_the_uninterrupted_fit_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let digits = data("digits.npy");
    let x = digits.to_str().unwrap();
    // Early stopping on (its smoothed cost and counters travel in the
    // cursor); float64 and float32; fresh restarts (W is re-solved); the
    // cd solver (its statistics A, B and their rows travel in the model,
    // W's rows' contribution to them in W), with early stopping in f32,
    // with fresh restarts and penalties, and with decayed statistics.
    let cases: [&[&str]; 6] = [
        &[
            "-k",
            "6",
            "--batch-size",
            "64",
            "--max-iter",
            "30",
            "--tol",
            "0",
            "--max-no-improvement",
            "8",
            "--random-state",
            "0",
        ],
        &[
            "-k",
            "5",
            "--batch-size",
            "100",
            "--max-iter",
            "20",
            "--beta-loss",
            "kullback-leibler",
            "--init",
            "random",
            "--random-state",
            "3",
            "--dtype",
            "f32",
        ],
        &[
            "-k",
            "4",
            "--batch-size",
            "256",
            "--max-iter",
            "6",
            "--tol",
            "0",
            "--fresh-restarts",
            "--random-state",
            "1",
            "--alpha-w",
            "0.01",
        ],
        &[
            "-k",
            "6",
            "--batch-size",
            "64",
            "--max-iter",
            "20",
            "--tol",
            "1e-3",
            "--max-no-improvement",
            "8",
            "--random-state",
            "0",
            "--solver",
            "cd",
            "--dtype",
            "f32",
        ],
        &[
            "-k",
            "4",
            "--batch-size",
            "256",
            "--max-iter",
            "6",
            "--tol",
            "0",
            "--fresh-restarts",
            "--random-state",
            "1",
            "--alpha-w",
            "0.01",
            "--l1-ratio",
            "0.5",
            "--solver",
            "cd",
        ],
        &[
            "-k",
            "5",
            "--batch-size",
            "100",
            "--max-iter",
            "8",
            "--tol",
            "0",
            "--random-state",
            "2",
            "--alpha-h",
            "0.02",
            "--solver",
            "cd",
            "--cd-stats",
            "decayed",
            "--cd-w-sweeps",
            "3",
        ],
    ];
    for (ci, params) in cases.iter().enumerate() {
        let run = |extra: &[&str]| {
            let mut a = vec!["fit", x, "--threads", "1", "-q"];
            a.extend_from_slice(params);
            a.extend_from_slice(extra);
            cli(&a, d)
        };
        ok(&run(&["-o", "full.safetensors", "--w-out", "full_w.npy"]));
        let full = load_any(d.join("full.safetensors")).unwrap();
        let total = with_steps(&full);
        let solver = match &full {
            minibatchnmf::persist::AnyModel::F32(m) => m.params().get_param("solver"),
            minibatchnmf::persist::AnyModel::F64(m) => m.params().get_param("solver"),
        };
        let cd = params.contains(&"cd");
        assert_eq!(solver.unwrap(), if cd { "cd" } else { "mu" }, "case {ci}");
        // Interrupted after the first step (no smoothed cost yet), the
        // second, at an epoch's end, mid-epoch, and at the very last step.
        let steps_per_epoch = 1797usize.div_ceil([64, 100, 256, 64, 256, 100][ci]);
        for stop in [1, 2, steps_per_epoch, steps_per_epoch + 3, total - 1, total] {
            if stop == 0 || stop > total {
                continue;
            }
            let _ = std::fs::remove_file(d.join("res.safetensors"));
            let _ = std::fs::remove_file(d.join("never.safetensors"));
            let stop_s = stop.to_string();
            let out = run(&[
                "-o",
                "never.safetensors",
                "--checkpoint",
                "ck.safetensors",
                "--stop-after-steps",
                &stop_s,
            ]);
            if stop == total && out.status.success() {
                // The fit converged at that step: no interruption. (At
                // max_iter's last step the stop is an interruption, with
                // nothing left for the resumed fit to do.)
                continue;
            }
            fail_with(&out, 130);
            assert!(
                d.join("ck.safetensors.cursor").exists() && d.join("ck.safetensors.w.npy").exists()
            );
            assert!(!d.join("never.safetensors").exists());
            let resumed = cli(
                &[
                    "fit",
                    x,
                    "--threads",
                    "1",
                    "-q",
                    "--resume",
                    "ck.safetensors",
                    "-o",
                    "res.safetensors",
                    "--w-out",
                    "res_w.npy",
                ],
                d,
            );
            ok(&resumed);
            assert_same_model(&d.join("full.safetensors"), &d.join("res.safetensors"));
            assert_eq!(
                std::fs::read(d.join("full_w.npy")).unwrap(),
                std::fs::read(d.join("res_w.npy")).unwrap(),
                "case {ci}, stopped after {stop}"
            );
        }
        // Interrupted twice: the resumed fit checkpoints again.
        if total > 12 {
            fail_with(
                &run(&["--checkpoint", "ck.safetensors", "--stop-after-steps", "5"]),
                130,
            );
            fail_with(
                &cli(
                    &[
                        "fit",
                        x,
                        "--threads",
                        "1",
                        "-q",
                        "--resume",
                        "ck.safetensors",
                        "--checkpoint",
                        "ck2.safetensors",
                        "--stop-after-steps",
                        "11",
                    ],
                    d,
                ),
                130,
            );
            ok(&cli(
                &[
                    "fit",
                    x,
                    "--threads",
                    "1",
                    "-q",
                    "--resume",
                    "ck2.safetensors",
                    "-o",
                    "res.safetensors",
                    "--w-out",
                    "res_w.npy",
                ],
                d,
            ));
            assert_same_model(&d.join("full.safetensors"), &d.join("res.safetensors"));
            assert_eq!(
                std::fs::read(d.join("full_w.npy")).unwrap(),
                std::fs::read(d.join("res_w.npy")).unwrap()
            );
        }
    }
    // Clear errors: parameters with --resume, another data file, no cursor.
    fail_with(
        &cli(
            &[
                "fit",
                x,
                "--threads",
                "1",
                "-q",
                "-k",
                "6",
                "--stop-after-steps",
                "3",
                "--checkpoint",
                "ck.safetensors",
            ],
            d,
        ),
        130,
    );
    let err = fail_with(
        &cli(&["fit", x, "--resume", "ck.safetensors", "-k", "3"], d),
        2,
    );
    assert!(err.contains("leave out --n-components"), "{err}");
    let err = fail_with(
        &cli(
            &["fit", x, "--resume", "ck.safetensors", "--dtype", "f32"],
            d,
        ),
        2,
    );
    assert!(err.contains("float64"), "{err}");
    let other = data("foldoc1000_indptr.npy");
    let err = fail_with(
        &cli(
            &["fit", other.to_str().unwrap(), "--resume", "ck.safetensors"],
            d,
        ),
        2,
    );
    assert!(
        err.contains("--resume") || err.contains("expected a 2-D"),
        "{err}"
    );
    std::fs::remove_file(d.join("ck.safetensors.cursor")).unwrap();
    let err = fail_with(&cli(&["fit", x, "--resume", "ck.safetensors"], d), 2);
    assert!(err.contains("ck.safetensors.cursor"), "{err}");
}

fn with_steps(m: &minibatchnmf::persist::AnyModel) -> usize {
    match m {
        minibatchnmf::persist::AnyModel::F32(m) => m.n_steps().unwrap(),
        minibatchnmf::persist::AnyModel::F64(m) => m.n_steps().unwrap(),
    }
}

#[test]
fn ctrl_c_at_several_points_then_resume_equals_the_uninterrupted_fit() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let digits = data("digits.npy");
    let x = digits.to_str().unwrap();
    // A fit of a few seconds (900 steps per pass), no early stopping.
    let params = [
        "fit",
        x,
        "--threads",
        "1",
        "-k",
        "6",
        "--batch-size",
        "2",
        "--max-iter",
        "600",
        "--tol",
        "0",
        "--max-no-improvement",
        "none",
        "--random-state",
        "0",
    ];
    let mut full = params.to_vec();
    full.extend_from_slice(&["-q", "-o", "full.safetensors", "--w-out", "full_w.npy"]);
    ok(&cli(&full, d));
    for after_epochs in [1usize, 20, 150] {
        let mut args = params.to_vec();
        args.extend_from_slice(&["--checkpoint", "ck.safetensors", "-o", "never.safetensors"]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_minibatchnmf"))
            .args(&args)
            .current_dir(d)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        let mut seen = 0;
        while seen < after_epochs {
            line.clear();
            assert!(err.read_line(&mut line).unwrap() > 0, "no progress line");
            if line.starts_with("epoch") {
                seen += 1;
            }
        }
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(130), "{rest}");
        assert!(rest.contains("checkpoint saved"), "{rest}");
        ok(&cli(
            &[
                "fit",
                x,
                "--threads",
                "1",
                "-q",
                "--resume",
                "ck.safetensors",
                "-o",
                "res.safetensors",
                "--w-out",
                "res_w.npy",
            ],
            d,
        ));
        assert_same_model(&d.join("full.safetensors"), &d.join("res.safetensors"));
        assert_eq!(
            std::fs::read(d.join("full_w.npy")).unwrap(),
            std::fs::read(d.join("res_w.npy")).unwrap(),
            "interrupted after {after_epochs} epoch lines"
        );
    }
}

#[test]
fn solver_cd_from_the_command_line_equals_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let digits = data("digits.npy");
    let args = [
        "fit",
        digits.to_str().unwrap(),
        "-k",
        "6",
        "--init",
        "random",
        "--batch-size",
        "400",
        "--max-iter",
        "3",
        "--random-state",
        "1",
        "--solver",
        "cd",
        "--cd-w-sweeps",
        "4",
        "--cd-h-sweeps",
        "2",
        "-o",
        "cd.safetensors",
    ];
    ok(&cli(&args, d));
    let x: Array2<u8> = read_npy(data("digits.npy")).unwrap();
    let x = x.mapv(f64::from);
    let mut lib = MiniBatchNmf::<f64>::new(
        MiniBatchNmfParams::new()
            .n_components(6)
            .init(Init::Random)
            .batch_size(400)
            .max_iter(3)
            .random_state(Some(1))
            .solver(minibatchnmf::Solver::Cd)
            .cd_w_sweeps(4)
            .cd_h_sweeps(2),
    )
    .unwrap();
    lib.fit(&x).unwrap();
    let model = match load_any(d.join("cd.safetensors")).unwrap() {
        minibatchnmf::persist::AnyModel::F64(m) => m,
        _ => panic!("f64 model expected"),
    };
    assert!(model.components().unwrap() == lib.components().unwrap());
    let info = ok(&cli(&["info", "cd.safetensors"], d));
    assert!(info.contains("param solver: cd"), "{info}");
    assert!(info.contains("param cd_w_sweeps: 4"), "{info}");
    // cd with another loss: one clear line, exit status 2.
    let mut bad = args[..args.len() - 2].to_vec();
    bad.extend(["--beta-loss", "kullback-leibler"]);
    assert_bad_input(&bad, d, "solver");
    assert_bad_input(
        &[
            "fit",
            digits.to_str().unwrap(),
            "-k",
            "2",
            "--solver",
            "cd",
            "--cd-w-sweeps",
            "0",
        ],
        d,
        "cd_w_sweeps",
    );
}

/// A uniform number in [0, 1) from (stream, i, j) (splitmix64).
fn unit(stream: u64, i: usize, j: usize) -> f64 {
    let mut z = stream
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add((i as u64) << 32 | j as u64)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / 2f64.powi(64)
}

/// A 240 × 30 matrix of rank 3 plus noise of about 1 % of its values,
/// with NaN at about 15 % of the entries when `holes`.
fn low_rank(holes: bool) -> Array2<f64> {
    let w = Array2::from_shape_fn((240, 3), |(i, j)| unit(1, i, j));
    let h = Array2::from_shape_fn((3, 30), |(i, j)| unit(2, i, j));
    let mut x = w.dot(&h);
    for ((i, j), v) in x.indexed_iter_mut() {
        *v += 0.01 * (unit(3, i, j) - 0.5);
        if holes && unit(4, i, j) < 0.15 {
            *v = f64::NAN;
        }
    }
    x
}

#[test]
fn missing_nan_fit_and_transform_equal_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = low_rank(true);
    write_npy(d.join("holes.npy"), &x).unwrap();
    // the default refuses NaN; --missing nan fits over the observed entries
    assert_bad_input(&["fit", "holes.npy", "-k", "3"], d, "NaN");
    let args = [
        "fit",
        "holes.npy",
        "-k",
        "3",
        "--init",
        "nndsvda",
        "--random-state",
        "0",
        "--max-iter",
        "50",
        "--batch-size",
        "64",
        "--missing",
        "nan",
        "-o",
        "m.safetensors",
        "--w-out",
        "w.npy",
        "-q",
    ];
    ok(&cli(&args, d));
    let params = MiniBatchNmfParams::new()
        .n_components(3)
        .init(Init::Nndsvda)
        .random_state(Some(0))
        .max_iter(50)
        .batch_size(64)
        .missing(minibatchnmf::Missing::Nan);
    let mut lib = MiniBatchNmf::<f64>::new(params).unwrap();
    let w_lib = lib.fit_transform(&x).unwrap();
    let w_cli: Array2<f64> = read_npy(d.join("w.npy")).unwrap();
    assert_eq!(w_cli, w_lib);
    let info = ok(&cli(&["info", "m.safetensors"], d));
    assert!(info.contains("param missing: nan"), "{info}");
    // transform: the model's mode, or --missing for this call
    ok(&cli(
        &[
            "transform",
            "m.safetensors",
            "holes.npy",
            "-o",
            "t.npy",
            "-q",
        ],
        d,
    ));
    let t: Array2<f64> = read_npy(d.join("t.npy")).unwrap();
    assert_eq!(t, lib.transform(&x).unwrap());
    assert_bad_input(
        &[
            "transform",
            "m.safetensors",
            "holes.npy",
            "-o",
            "t.npy",
            "--missing",
            "error",
        ],
        d,
        "NaN",
    );
    assert_bad_input(
        &[
            "transform",
            "m.safetensors",
            "holes.npy",
            "-o",
            "t.npy",
            "--missing",
            "maybe",
        ],
        d,
        "missing",
    );
    // unstored needs a sparse file
    assert_bad_input(
        &["fit", "holes.npy", "-k", "3", "--missing", "unstored"],
        d,
        "unstored",
    );
}

#[test]
fn rank_prints_the_librarys_table_and_draws_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = low_rank(true);
    write_npy(d.join("holes.npy"), &x).unwrap();
    let out = ok(&cli(
        &[
            "rank",
            "holes.npy",
            "-k",
            "1,2,3,5,8",
            "--seed",
            "7",
            "--repeats",
            "2",
            "--test-fraction",
            "0.15",
            "--missing",
            "nan",
            "--init",
            "nndsvda",
            "--max-iter",
            "300",
            "--plot",
            "rank.png",
            "-q",
        ],
        d,
    ));
    let params = MiniBatchNmfParams::new()
        .init(Init::Nndsvda)
        .max_iter(300)
        .random_state(Some(7))
        .missing(minibatchnmf::Missing::Nan);
    let opts = minibatchnmf::CvOptions {
        test_fraction: 0.15,
        n_repeats: 2,
        seed: 7,
    };
    let cv = minibatchnmf::cross_validate_rank(
        &mut minibatchnmf::io::InMemory::new(&x),
        &params,
        &[1, 2, 3, 5, 8],
        &opts,
    )
    .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert!(
        lines[0]
            .split_whitespace()
            .eq(["k", "mean", "std", "chosen"]),
        "{out}"
    );
    for (i, line) in lines[1..6].iter().enumerate() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f[0].parse::<usize>().unwrap(), cv.ks[i], "{out}");
        let mean: f64 = f[1].parse().unwrap();
        assert!(
            (mean - cv.mean[i]).abs() <= 1e-6 * cv.mean[i].abs(),
            "{out}"
        );
        assert_eq!(f.get(3) == Some(&"*"), cv.ks[i] == cv.best_k, "{out}");
    }
    assert_eq!(cv.best_k, 3, "{out}");
    assert!(lines[6].starts_with("chosen k = 3"), "{out}");
    // the plot: a 640 × 420 RGB PNG with the chosen point circled in red
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(d.join("rank.png")).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    assert_eq!((frame.width, frame.height), (640, 420));
    let px = &buf[..frame.buffer_size()];
    let red = px.chunks(3).filter(|p| p == &[214, 39, 40]).count();
    let blue = px.chunks(3).filter(|p| p == &[31, 119, 180]).count();
    assert!(red > 50 && blue > 200, "red {red}, blue {blue}");
}

#[test]
fn rank_on_a_sparse_file_with_unstored_entries_missing_and_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let npz = foldoc_npz(d);
    let npz = npz.to_str().unwrap();
    let out = ok(&cli(
        &[
            "rank",
            npz,
            "-k",
            "2,4",
            "--seed",
            "1",
            "--repeats",
            "2",
            "--missing",
            "unstored",
            "--max-iter",
            "5",
            "-q",
        ],
        d,
    ));
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(out.contains("chosen k = "), "{out}");
    assert_bad_input(&["rank", npz, "-k", "0,2"], d, "ks");
    assert_bad_input(
        &["rank", npz, "-k", "2", "--test-fraction", "1.5"],
        d,
        "test_fraction",
    );
    assert_bad_input(&["rank", npz, "-k", "2", "--repeats", "0"], d, "n_repeats");
    assert_bad_input(
        &["rank", npz, "-k", "2", "--missing", "sometimes"],
        d,
        "missing",
    );
    let help = ok(&cli(&["rank", "--help"], d));
    for flag in [
        "--ks",
        "--test-fraction",
        "--repeats",
        "--seed",
        "--plot",
        "--missing",
        "--beta-loss",
    ] {
        assert!(help.contains(flag), "rank --help lacks {flag}");
    }
    let fit = ok(&cli(&["fit", "--help"], d));
    assert!(fit.contains("--missing"));
}
