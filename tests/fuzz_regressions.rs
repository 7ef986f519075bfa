//! Every input the fuzz targets (fuzz/, run with `cargo +nightly fuzz`)
//! ever crashed on, replayed on stable through the same checks: each file
//! under fuzz/regressions/<target>/ must now pass. The model loader, which
//! has no crash input on record, replays its seed corpus (real model files)
//! and damaged copies of it instead.

#[allow(dead_code)]
#[path = "../fuzz/checks/csr_validation.rs"]
mod csr_validation;

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    replay_dir("regressions", target, run)
}

/// Run `run` on every file of fuzz/<kind>/<target>/; the number of files.
fn replay_dir(kind: &str, target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue; // .keep
        }
        let bytes = std::fs::read(&path).unwrap();
        eprintln!("replaying {}", path.display());
        run(&bytes);
        n += 1;
    }
    n
}

#[test]
fn csr_validation_crash_inputs_are_rejected_cleanly() {
    assert!(replay("csr_validation", csr_validation::run) > 0);
}

#[allow(dead_code)]
#[path = "../fuzz/checks/load_model.rs"]
mod load_model;

#[allow(dead_code)]
#[path = "../fuzz/checks/ffi_calls.rs"]
mod ffi_calls;

/// The seeds as they are, then each truncated and with a byte flipped at a
/// few places: every one loads into a consistent model or fails with an
/// error, never a panic.
fn load_model_seed_and_damaged_copies(bytes: &[u8]) {
    load_model::run(bytes);
    let n = bytes.len();
    for cut in [0, 1, 7, 8, 9, n / 4, n / 2, n.saturating_sub(1)] {
        load_model::run(&bytes[..cut.min(n)]);
    }
    for at in [0, 3, 8, n / 3, n / 2, n.saturating_sub(1)] {
        let mut damaged = bytes.to_vec();
        if let Some(b) = damaged.get_mut(at) {
            *b ^= 0x5a;
        }
        load_model::run(&damaged);
    }
}

#[test]
fn load_model_crash_inputs_and_damaged_seeds_are_rejected_cleanly() {
    replay("load_model", load_model::run);
    assert!(replay_dir("seeds", "load_model", load_model_seed_and_damaged_copies) > 0);
}

#[test]
fn ffi_call_sequence_crash_inputs_run_cleanly() {
    replay("ffi_calls", ffi_calls::run);
}
