//! Atomic file replacement: write a temporary file in the target's folder,
//! fsync it, rename it over the target, fsync the folder. A crash at any
//! point leaves either the previous file or the new one, never a mix, and a
//! failed write removes its temporary file.

use crate::error::{Error, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

fn io_error(path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        action: "write",
        path: path.to_path_buf(),
        source: e,
    }
}

/// A temporary name next to `path`, unique in this process and across
/// processes (pid + counter; `create_new` refuses an existing file).
fn temp_path(path: &Path) -> Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| Error::Io {
        action: "write",
        path: path.to_path_buf(),
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the path does not name a file",
        ),
    })?;
    let mut tmp = std::ffi::OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(path.with_file_name(tmp))
}

/// Replace `path` with `bytes` atomically.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path)?;
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(io_error(path, e));
    }
    // The rename is durable once the folder's entry is on disk.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_write_keeps_the_previous_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("mbnmf-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let target = dir.join("m.safetensors");
        write(&target, b"first").unwrap();
        write(&target, b"second").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        // Writing into a missing folder fails cleanly.
        let missing = dir.join("no-such-dir").join("m.safetensors");
        let err = write(&missing, b"x").unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err}");
        // A directory in the way of the rename: the old content stays.
        let blocked = dir.join("blocked");
        fs::create_dir_all(blocked.join("inner")).unwrap();
        assert!(write(&blocked, b"x").is_err());
        assert!(blocked.is_dir());
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        assert_eq!(fs::read(&target).unwrap(), b"second");
        fs::remove_dir_all(&dir).unwrap();
    }
}
