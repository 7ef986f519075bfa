//! MatrixMarket coordinate files laid out by row, once, on disk.
//!
//! No well-kept crate streams MatrixMarket (`sprs::io::read_matrix_market`
//! builds the whole triplet matrix in memory), so the format's few rules are
//! read here: a `%%MatrixMarket matrix coordinate <field> general` banner
//! (`field` = real, integer or pattern), `%` comments, a size line
//! `n m nnz`, then `nnz` lines `i j [value]` with 1-based indices.
//!
//! The size line is checked against the file's size first (each announced
//! entry needs at least 4 bytes of text). Two passes over the text: the
//! first counts each row's entries (and checks every line); the second
//! writes column indices (u64) and values (f64) to anonymous temporary
//! files at their CSR positions — sequentially when the file is sorted by
//! row, scattered otherwise. Memory: the row offsets, for the non-empty rows
//! only (see [`super::rowptr`]; a header may claim 10^12 rows for two
//! entries), and for unsorted files the rows of all entries (8 bytes each,
//! sorted) and a fill counter per non-empty row, each checked against the
//! budget first. Disk: 16 bytes per entry, removed when the source is
//! dropped.

use super::rowptr::{RowPtr, RowPtrBuilder};
use super::{io_err, source_err};
use crate::error::Result;
use crate::memory::{self, Budget};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A MatrixMarket matrix laid out in CSR order in temporary files.
pub(crate) struct LaidOut {
    pub(crate) shape: (usize, usize),
    pub(crate) nnz: usize,
    pub(crate) indptr: RowPtr,
    pub(crate) indices: File,
    pub(crate) data: File,
}

struct Header {
    pattern: bool,
    n: usize,
    m: usize,
    nnz: usize,
    /// Lines before the first entry.
    lines: usize,
}

fn read_header(reader: &mut impl BufRead, path: &Path) -> Result<Header> {
    let mut line = String::new();
    let mut lines = 0;
    let mut next = |line: &mut String| -> Result<bool> {
        line.clear();
        lines += 1;
        Ok(reader.read_line(line).map_err(|e| io_err(path, e))? > 0)
    };
    if !next(&mut line)? {
        return Err(source_err(path, "empty file: not a MatrixMarket file"));
    }
    let banner: Vec<String> = line
        .split_whitespace()
        .map(|t| t.to_ascii_lowercase())
        .collect();
    if banner.first().map(String::as_str) != Some("%%matrixmarket") || banner.len() < 5 {
        return Err(source_err(
            path,
            "not a MatrixMarket file (no '%%MatrixMarket matrix coordinate ...' banner)",
        ));
    }
    if banner[1] != "matrix" || banner[2] != "coordinate" {
        return Err(source_err(
            path,
            format!(
                "MatrixMarket '{} {}' is not supported: only 'matrix coordinate'",
                banner[1], banner[2]
            ),
        ));
    }
    let pattern = match banner[3].as_str() {
        "real" | "integer" => false,
        "pattern" => true,
        f => {
            return Err(source_err(
                path,
                format!("MatrixMarket field '{f}' is not supported (real, integer or pattern)"),
            ))
        }
    };
    if banner[4] != "general" {
        return Err(source_err(
            path,
            format!(
                "MatrixMarket symmetry '{}' is not supported: only 'general'",
                banner[4]
            ),
        ));
    }
    loop {
        if !next(&mut line)? {
            return Err(source_err(path, "file is truncated: no size line"));
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('%') {
            continue;
        }
        let v: Vec<usize> = t
            .split_whitespace()
            .map(|s| s.parse())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| source_err(path, format!("bad size line {t:?}")))?;
        if v.len() != 3 {
            return Err(source_err(
                path,
                format!("bad size line {t:?}: expected 'rows columns entries'"),
            ));
        }
        return Ok(Header {
            pattern,
            n: v[0],
            m: v[1],
            nnz: v[2],
            lines,
        });
    }
}

/// Calls `f(line_number, row, col, value)` (0-based row and column) for each
/// entry, checking the count and ranges.
fn for_each_entry(
    path: &Path,
    mut f: impl FnMut(usize, usize, usize, f64) -> Result<()>,
) -> Result<Header> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let h = read_header(&mut reader, path)?;
    let mut line = String::new();
    let mut lineno = h.lines;
    let mut seen = 0;
    while seen < h.nnz {
        line.clear();
        lineno += 1;
        if reader.read_line(&mut line).map_err(|e| io_err(path, e))? == 0 {
            return Err(source_err(
                path,
                format!(
                    "file is truncated: {seen} entries of the {} announced",
                    h.nnz
                ),
            ));
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('%') {
            continue;
        }
        let bad = || source_err(path, format!("line {lineno}: bad entry {t:?}"));
        let mut it = t.split_whitespace();
        let i: usize = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let j: usize = it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let v: f64 = if h.pattern {
            1.0
        } else {
            it.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?
        };
        if i == 0 || i > h.n || j == 0 || j > h.m {
            return Err(source_err(
                path,
                format!(
                    "line {lineno}: entry ({i}, {j}) outside the {}×{} matrix (indices are 1-based)",
                    h.n, h.m
                ),
            ));
        }
        f(lineno, i - 1, j - 1, v)?;
        seen += 1;
    }
    Ok(h)
}

/// Shortest text of an entry: "i j" and a line break (a pattern file's).
const MIN_ENTRY_BYTES: u64 = 4;

pub(crate) fn lay_out(path: &Path, budget: &Budget) -> Result<LaidOut> {
    // The size line is checked against the file before anything is sized
    // by it: `nnz` entries need at least 4 bytes each.
    let n = {
        let file = File::open(path).map_err(|e| io_err(path, e))?;
        let len = file.metadata().map_err(|e| io_err(path, e))?.len();
        let h = read_header(&mut BufReader::new(file), path)?;
        if h.nnz as u64 > len / MIN_ENTRY_BYTES + 1 {
            return Err(source_err(
                path,
                format!(
                    "the size line announces {} entries, more than the file's {len} bytes can hold: \
                     the header is wrong or the file is truncated",
                    h.nnz
                ),
            ));
        }
        h.n
    };
    let name = path.display().to_string();
    // Pass 1: entries per non-empty row, while the rows come in order.
    let mut builder = RowPtrBuilder::new(n, budget, &name)?;
    let (mut row, mut count, mut sorted) = (0usize, 0usize, true);
    let h = for_each_entry(path, |_, i, _, _| {
        if !sorted {
            return Ok(());
        }
        if i < row {
            sorted = false;
            return Ok(());
        }
        if i > row {
            builder.push(row, count)?;
            (row, count) = (i, 0);
        }
        count += 1;
        Ok(())
    })?;
    if sorted && count > 0 {
        builder.push(row, count)?;
    }
    let indptr = if sorted {
        builder.finish()
    } else {
        drop(builder);
        unsorted_rows(path, &h, budget, &name)?
    };
    let tmp = || {
        tempfile::tempfile()
            .map_err(|e| source_err(path, format!("cannot create a temporary file: {e}")))
    };
    let (indices, data) = (tmp()?, tmp()?);
    let werr = |e: std::io::Error| source_err(path, format!("writing the row layout: {e}"));
    // Pass 2: values at their CSR positions.
    if sorted {
        let mut wi = BufWriter::with_capacity(1 << 20, &indices);
        let mut wd = BufWriter::with_capacity(1 << 20, &data);
        for_each_entry(path, |_, _, j, v| {
            wi.write_all(&(j as u64).to_le_bytes()).map_err(werr)?;
            wd.write_all(&v.to_le_bytes()).map_err(werr)
        })?;
        wi.flush().map_err(werr)?;
        wd.flush().map_err(werr)?;
    } else {
        let mut fill = indptr.starts(budget)?;
        for_each_entry(path, |_, i, j, v| {
            let s = indptr.slot(i);
            let at = (fill[s] * 8) as u64;
            fill[s] += 1;
            indices
                .write_all_at(&(j as u64).to_le_bytes(), at)
                .map_err(werr)?;
            data.write_all_at(&v.to_le_bytes(), at).map_err(werr)
        })?;
    }
    Ok(LaidOut {
        shape: (h.n, h.m),
        nnz: h.nnz,
        indptr,
        indices,
        data,
    })
}

/// Row offsets of a file whose entries are not sorted by row: the rows of
/// all entries (8 bytes each; `nnz` is bounded by the file's size), sorted.
fn unsorted_rows(path: &Path, h: &Header, budget: &Budget, name: &str) -> Result<RowPtr> {
    budget.check(
        format!("sorting the rows of the {} entries of {name}", h.nnz),
        memory::bytes_of(&[h.nnz], 8),
        "sort the file by row first (e.g. scipy.io.mmwrite of a CSR matrix), \
         or raise max_memory (CLI --max-memory) if that much memory is free",
    )?;
    let mut rows: Vec<usize> = Vec::new();
    memory::try_grow(&mut rows, h.nnz, "the rows of a MatrixMarket file")?;
    for_each_entry(path, |_, i, _, _| {
        rows.push(i);
        Ok(())
    })?;
    rows.sort_unstable();
    let mut b = RowPtrBuilder::new(h.n, budget, name)?;
    let mut k = 0;
    while k < rows.len() {
        let r = rows[k];
        let c = rows[k..].partition_point(|&x| x == r);
        b.push(r, c)?;
        k += c;
    }
    Ok(b.finish())
}
