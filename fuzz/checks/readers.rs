//! The data-file readers (`.npy`, `.npz`, `.mtx`) on arbitrary bytes: opening
//! either fails with an error or gives a source whose first and last rows
//! can be read (each read an error or a block of the announced shape); never
//! a panic, and never an allocation sized by what a header claims (the fuzz
//! runs with `-rss_limit_mb`, and the readers get a 256 MiB budget).
//! Shared by the fuzz targets and tests/fuzz_regressions.rs.

use minibatchnmf::io::{self, RowSource};
use minibatchnmf::{Budget, MaxMemory};
use std::path::PathBuf;

/// A file of this process for the input (rewritten at each run).
fn scratch(ext: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "minibatchnmf-fuzz-{}-{:?}.{ext}",
        std::process::id(),
        std::thread::current().id()
    ))
}

/// Reads rows `a..b` by blocks of at most 64 rows.
fn read(src: &mut dyn RowSource<f64>, a: usize, b: usize) {
    let mut s = a;
    while s < b {
        let e = (s + 64).min(b);
        match src.rows(s, e) {
            Ok(block) => assert_eq!(block.shape(), (e - s, src.shape().1)),
            Err(_) => return,
        }
        s = e;
    }
}

/// One fuzz input as a file with extension `ext` ("npy", "npz" or "mtx").
pub fn run(ext: &str, bytes: &[u8]) {
    let path = scratch(ext);
    std::fs::write(&path, bytes).expect("scratch file");
    let budget = Budget::of(MaxMemory::Bytes(256 << 20));
    if let Ok(mut src) = io::open_with::<f64>(&path, &budget) {
        let (n, _) = src.shape();
        let _ = (src.nnz(), src.is_sparse(), src.describe());
        read(src.as_mut(), 0, n.min(256));
        read(src.as_mut(), n.saturating_sub(64).max(n.min(256)), n);
    }
    let _ = std::fs::remove_file(&path);
}
