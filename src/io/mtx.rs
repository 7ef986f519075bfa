//! MatrixMarket coordinate files laid out by row, once, on disk.
//!
//! No well-kept crate streams MatrixMarket (`sprs::io::read_matrix_market`
//! builds the whole triplet matrix in memory), so the format's few rules are
//! read here: a `%%MatrixMarket matrix coordinate <field> general` banner
//! (`field` = real, integer or pattern), `%` comments, a size line
//! `n m nnz`, then `nnz` lines `i j [value]` with 1-based indices.
//!
//! Two passes over the text: the first counts each row's entries (and
//! checks every line); the second writes column indices (u64) and values
//! (f64) to anonymous temporary files at their CSR positions — sequentially
//! when the file is sorted by row, scattered otherwise. Memory: the row
//! offsets (8 bytes a row) and, for unsorted files, a fill counter per row.
//! Disk: 16 bytes per entry, removed when the source is dropped.

use super::{io_err, source_err};
use crate::error::Result;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// A MatrixMarket matrix laid out in CSR order in temporary files.
pub(crate) struct LaidOut {
    pub(crate) shape: (usize, usize),
    pub(crate) nnz: usize,
    pub(crate) indptr: Vec<usize>,
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

pub(crate) fn lay_out(path: &Path) -> Result<LaidOut> {
    // Pass 1: entries per row, and whether rows come in order.
    let mut counts: Vec<usize> = Vec::new();
    let mut sorted = true;
    let mut last_row = 0;
    let h = for_each_entry(path, |_, i, _, _| {
        if i >= counts.len() {
            counts.resize(i + 1, 0);
        }
        counts[i] += 1;
        sorted &= i >= last_row;
        last_row = i;
        Ok(())
    })?;
    counts.resize(h.n, 0);
    let mut indptr = Vec::with_capacity(h.n + 1);
    indptr.push(0usize);
    for c in &counts {
        indptr.push(indptr.last().expect("non-empty") + c);
    }
    drop(counts);
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
        let mut fill: Vec<usize> = indptr[..h.n].to_vec();
        for_each_entry(path, |_, i, j, v| {
            let at = (fill[i] * 8) as u64;
            fill[i] += 1;
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
