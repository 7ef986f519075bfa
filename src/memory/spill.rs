//! A memory-mapped scratch file: bytes that live in a file instead of RAM.
//!
//! The file is created in the temporary folder and unlinked right after it
//! is opened (nothing is left behind, whatever happens to the process), or
//! destined for a path the caller names (the CLI's `--w-out`): then it is
//! written as a hidden sibling of that path and renamed onto it by
//! [`Mapped::keep`], so a file already at the path (even the input the fit
//! reads) is replaced only by a complete result, as `write_atomic` does;
//! without `keep` the sibling is removed on drop. Its space is
//! reserved up front (`posix_fallocate`), so a full disk is an error here,
//! not a `SIGBUS` later. Pages a caller is done with are given back with
//! [`Mapped::release`] (`MADV_DONTNEED`: for a shared file mapping the data
//! stays in the file and the page cache, and is read back on the next
//! access), which keeps the process's resident set bounded.

use crate::error::{Error, Result};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// `len` bytes of a file mapped shared, read-write, from offset 0; the
/// first `offset` bytes are a header the caller wrote.
pub(crate) struct Mapped {
    ptr: *mut u8,
    len: usize,
    offset: usize,
    /// The named file to remove on drop (None: unlinked already, or kept).
    remove: Option<PathBuf>,
    /// Where a kept named file goes (renamed from `remove`).
    dest: Option<PathBuf>,
}

// SAFETY: the mapping is owned by this value alone (like a Vec's buffer);
// shared references only read through `data`, writes need `&mut self`.
unsafe impl Send for Mapped {}
// SAFETY: as above: `&Mapped` gives read-only access.
unsafe impl Sync for Mapped {}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::OutOfMemory {
        what: format!("{what} (spilled to {})", path.display()),
        needed: "room in that folder".into(),
        budget: "what the file system grants".into(),
        hint: format!(
            "{e}; free space there, set TMPDIR to a folder with room, or raise max_memory"
        ),
    }
}

impl Mapped {
    /// A scratch file of `bytes` zero bytes in the temporary folder.
    pub(crate) fn scratch(what: &str, bytes: usize) -> Result<Mapped> {
        let dir = std::env::temp_dir();
        let mut last = None;
        for attempt in 0..16u32 {
            let path = dir.join(format!(
                ".minibatchnmf-spill-{}-{}-{attempt}",
                std::process::id(),
                next_id()
            ));
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    // Unlinked at once: the file lives as long as the mapping.
                    let _ = std::fs::remove_file(&path);
                    return Mapped::map(what, &path, file, &[], bytes, None);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => last = Some((path, e)),
            }
        }
        let (path, e) = last.unwrap_or_else(|| {
            (
                dir.clone(),
                std::io::Error::other("no free scratch file name"),
            )
        });
        Err(io_error(what, &path, e))
    }

    /// A file for `path` holding `header` followed by `bytes` zero bytes:
    /// a new sibling of `path`, renamed onto it by [`Mapped::keep`] and
    /// removed on drop otherwise (`path` itself is untouched until then).
    pub(crate) fn named(what: &str, path: &Path, header: &[u8], bytes: usize) -> Result<Mapped> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut attempt = 0u32;
        let (tmp, file) = loop {
            let tmp = dir.join(format!(
                ".{name}.partial-{}-{}-{attempt}",
                std::process::id(),
                next_id()
            ));
            match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(file) => break (tmp, file),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                    attempt += 1
                }
                Err(e) => return Err(io_error(what, path, e)),
            }
        };
        let mut m = Mapped::map(what, &tmp, file, header, bytes, Some(tmp.clone()))?;
        m.dest = Some(path.to_path_buf());
        Ok(m)
    }

    fn map(
        what: &str,
        path: &Path,
        file: File,
        header: &[u8],
        bytes: usize,
        remove: Option<PathBuf>,
    ) -> Result<Mapped> {
        use std::io::Write;
        let cleanup = |e: Error| {
            if let Some(p) = &remove {
                let _ = std::fs::remove_file(p);
            }
            e
        };
        let len = header
            .len()
            .checked_add(bytes)
            .filter(|&l| l <= i64::MAX as usize)
            .ok_or_else(|| cleanup(io_error(what, path, std::io::Error::other("too large"))))?;
        (&file)
            .write_all(header)
            .map_err(|e| cleanup(io_error(what, path, e)))?;
        if len == 0 {
            return Ok(Mapped {
                ptr: std::ptr::NonNull::dangling().as_ptr(),
                len,
                offset: 0,
                remove,
                dest: None,
            });
        }
        let fd = file.as_raw_fd();
        // SAFETY: plain system calls on a file descriptor this function owns.
        let rc = unsafe { libc::posix_fallocate(fd, 0, len as libc::off_t) };
        if rc != 0 {
            return Err(cleanup(io_error(
                what,
                path,
                std::io::Error::from_raw_os_error(rc),
            )));
        }
        // SAFETY: a new shared mapping of `len` bytes of a file of that size;
        // the result is checked against MAP_FAILED.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(cleanup(io_error(
                what,
                path,
                std::io::Error::last_os_error(),
            )));
        }
        // The mapping keeps the file alive; the descriptor can go.
        drop(file);
        Ok(Mapped {
            ptr: ptr.cast(),
            len,
            offset: header.len(),
            remove,
            dest: None,
        })
    }

    /// The data bytes (after the header).
    pub(crate) fn as_ptr(&self) -> *const u8 {
        // SAFETY: offset <= len, inside the mapping (or the dangling
        // pointer of an empty one, offset 0).
        unsafe { self.ptr.add(self.offset) }
    }

    /// The data bytes, writable.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut u8 {
        // SAFETY: as in `as_ptr`.
        unsafe { self.ptr.add(self.offset) }
    }

    /// A handle that can give pages back while views of the data are out.
    pub(crate) fn pager(&self) -> Pager {
        Pager {
            base: self.ptr as usize,
            len: self.len,
            offset: self.offset,
        }
    }

    /// Writes the data to the file and keeps the file on drop (a named
    /// file is renamed onto its destination).
    pub(crate) fn keep(&mut self) -> Result<()> {
        let p = self.remove.clone().unwrap_or_default();
        if self.len > 0 {
            // SAFETY: the whole mapping, owned by self.
            if unsafe { libc::msync(self.ptr.cast(), self.len, libc::MS_SYNC) } != 0 {
                let e = std::io::Error::last_os_error();
                return Err(io_error("writing W", &p, e));
            }
        }
        if let (Some(tmp), Some(dest)) = (&self.remove, &self.dest) {
            std::fs::rename(tmp, dest).map_err(|e| io_error("writing W", dest, e))?;
            self.dest = None;
        }
        self.remove = None;
        Ok(())
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: the mapping made in `map`, unmapped once.
            unsafe { libc::munmap(self.ptr.cast(), self.len) };
        }
        if let Some(p) = self.remove.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Gives pages of a [`Mapped`] back to the system (see the module's
/// documentation). Copy and free of borrows, so it can be used while views
/// of the data are out: releasing never changes the data.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pager {
    base: usize,
    len: usize,
    offset: usize,
}

impl Pager {
    /// Releases the pages holding data bytes `a..b` (whole pages around
    /// them: harmless, they are read back from the file when used).
    pub(crate) fn release(&self, a: usize, b: usize) {
        let page = page_size();
        let start = (self.offset + a) / page * page;
        let end = (self.offset + b).min(self.len).div_ceil(page) * page;
        let end = end.min(self.len.div_ceil(page) * page);
        if end > start {
            // SAFETY: a page-aligned range inside the mapping; on a shared
            // file mapping MADV_DONTNEED drops the resident copies only.
            unsafe {
                libc::madvise(
                    (self.base + start) as *mut libc::c_void,
                    end - start,
                    libc::MADV_DONTNEED,
                )
            };
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_files_leave_nothing_behind() {
        let mut m = Mapped::scratch("t", 3 * 4096 + 5).unwrap();
        // SAFETY: inside the mapping.
        unsafe { *m.as_mut_ptr().add(3 * 4096 + 4) = 7 };
        m.pager().release(0, 3 * 4096 + 5);
        // SAFETY: inside the mapping; the released page is read back.
        assert_eq!(unsafe { *m.as_ptr().add(3 * 4096 + 4) }, 7);
        // SAFETY: inside the mapping.
        assert_eq!(unsafe { *m.as_ptr() }, 0);
    }

    #[test]
    fn named_files_replace_their_path_only_when_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.bin");
        let files = || std::fs::read_dir(dir.path()).unwrap().count();
        drop(Mapped::named("t", &p, b"HEAD", 10).unwrap());
        assert!(!p.exists());
        assert_eq!(files(), 0);
        // A file already there (an older W, or the very input being read)
        // stays whole until the new one is kept.
        std::fs::write(&p, b"old").unwrap();
        let mut m = Mapped::named("t", &p, b"HEAD", 10).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        drop(Mapped::named("t", &p, b"HEAD", 10).unwrap());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        // SAFETY: inside the mapping.
        unsafe { *m.as_mut_ptr().add(9) = 1 };
        m.keep().unwrap();
        drop(m);
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(&bytes[..4], b"HEAD");
        assert_eq!(bytes.len(), 14);
        assert_eq!(bytes[13], 1);
        assert_eq!(files(), 1);
    }
}
