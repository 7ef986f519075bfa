//! Smoke test of the demo binary `minibatchnmf-topics`: option handling, and
//! a run end to end on a small dictd-format corpus written here.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn demo() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minibatchnmf-topics"))
}

fn tmp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mbnmf-demo-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

/// dictd's base64 (most significant digit first).
fn b64(mut v: usize) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = Vec::new();
    loop {
        s.push(A[v % 64]);
        v /= 64;
        if v == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8(s).unwrap()
}

/// A corpus of two unrelated themes, written as foldoc.dict + foldoc.index.
fn write_corpus(dir: &Path) {
    let themes = [
        ["compiler", "parser", "grammar", "syntax", "lexer", "token"],
        [
            "router", "packet", "ethernet", "protocol", "switch", "cable",
        ],
    ];
    let mut dict = String::from("00-database-short\n   Test dictionary\n");
    let mut index = format!("00-database-short\tA\t{}\n", b64(dict.len()));
    for i in 0..60 {
        let words = &themes[i % 2];
        let head = format!("entry{i}");
        let body = format!(
            "{head}\n\n   <{}> The {} uses a {} and a {}; see {{{}}} and {}.\n\n   (2001-02-{:02})\n\n",
            words[i % 6],
            words[(i / 2) % 6],
            words[(i / 3) % 6],
            words[(i + 1) % 6],
            words[(i + 4) % 6],
            words[(i / 5) % 6],
            1 + i % 28
        );
        index.push_str(&format!(
            "{head}\t{}\t{}\n",
            b64(dict.len()),
            b64(body.len())
        ));
        dict.push_str(&body);
    }
    fs::write(dir.join("foldoc.dict"), dict).unwrap();
    fs::write(dir.join("foldoc.index"), index).unwrap();
}

#[test]
fn help_and_bad_options() {
    let out = demo().arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--n-components"));
    let out = demo().arg("--no-such-option").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = demo().args(["--beta", "nonsense"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = demo()
        .args(["--dict", "/nonexistent/foldoc.dict"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn topics_on_a_small_corpus() {
    let dir = tmp_dir("topics");
    write_corpus(&dir);
    let out = demo()
        .arg("--dict")
        .arg(dir.join("foldoc.dict"))
        .args([
            "-k",
            "2",
            "--batch-size",
            "16",
            "--max-features",
            "0",
            "--top",
            "6",
            "--quiet",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("60 definitions"), "{stdout}");
    assert!(stdout.contains("60 documents x"), "{stdout}");
    // One Frobenius and one KL fit, each with two topics that separate the themes.
    let topics: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("Topic #"))
        .collect();
    assert_eq!(topics.len(), 4, "{stdout}");
    for t in &topics {
        let words: Vec<&str> = t.split(": ").nth(1).unwrap().split(' ').collect();
        assert_eq!(words.len(), 6);
        let software = words
            .iter()
            .filter(|w| ["compiler", "parser", "grammar", "syntax", "lexer", "token"].contains(w))
            .count();
        assert!(software == 6 || software == 0, "mixed topic: {t}\n{stdout}");
    }
    // Date stamps are not terms.
    assert!(!stdout.contains(" 2001"), "{stdout}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn progress_is_quiet_off_a_terminal_and_each_warning_printed_once() {
    let dir = tmp_dir("progress");
    write_corpus(&dir);
    let run = |extra: &[&str]| {
        let out = demo()
            .arg("--dict")
            .arg(dir.join("foldoc.dict"))
            // max_iter 2 with tol > 0: a ConvergenceWarning per fit.
            .args(["-k", "2", "--batch-size", "16", "--max-iter", "2"])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let count = |s: &str, what: &str| s.matches(what).count();
    // Default, stderr not a terminal: no bar, no per-step lines; the two
    // fits' warnings once each, on stdout with the fit's summary.
    let (stdout, stderr) = run(&[]);
    assert_eq!(count(&stderr, "Minibatch step"), 0, "{stderr}");
    assert_eq!(
        count(&stdout, "ConvergenceWarning") + count(&stderr, "ConvergenceWarning"),
        2
    );
    assert_eq!(count(&stdout, "fit in "), 2, "{stdout}");
    // --verbose: scikit-learn's lines (and its warning) on stderr, once.
    let (stdout, stderr) = run(&["--verbose"]);
    assert!(count(&stderr, "Minibatch step") >= 2, "{stderr}");
    assert_eq!(
        count(&stdout, "ConvergenceWarning") + count(&stderr, "ConvergenceWarning"),
        2
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn save_and_reload_the_matrix() {
    let dir = tmp_dir("save");
    write_corpus(&dir);
    let prefix = dir.join("x");
    let out = demo()
        .arg("--dict")
        .arg(dir.join("foldoc.dict"))
        .arg("--save-tfidf")
        .arg(&prefix)
        .args([
            "-k",
            "2",
            "--beta",
            "frobenius",
            "--batch-size",
            "16",
            "--quiet",
            "--f32",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out2 = demo()
        .arg("--mtx")
        .arg(dir.join("x.mtx"))
        .args([
            "-k",
            "2",
            "--beta",
            "frobenius",
            "--batch-size",
            "16",
            "--quiet",
            "--f32",
        ])
        .output()
        .unwrap();
    assert!(
        out2.status.success(),
        "{}",
        String::from_utf8_lossy(&out2.stderr)
    );
    // Same matrix, same seed: the same topics.
    let topics = |o: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(o)
            .lines()
            .filter(|l| l.starts_with("Topic #"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(topics(&out.stdout), topics(&out2.stdout));
    assert_eq!(topics(&out.stdout).len(), 2);
    let _ = fs::remove_dir_all(&dir);
}
