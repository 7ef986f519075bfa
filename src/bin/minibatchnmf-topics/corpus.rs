//! Reading the corpus: FOLDOC in dictd format (`foldoc.index` +
//! `foldoc.dict[.dz]`), or an already-vectorised MatrixMarket matrix with its
//! vocabulary.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One document per dictionary definition.
pub struct Corpus {
    /// Headword of each definition (the first of its aliases in the index).
    pub headwords: Vec<String>,
    /// Text of each definition, cleaned (see [`clean`]).
    pub docs: Vec<String>,
}

/// dictd's base64 number (alphabet `A-Za-z0-9+/`, most significant digit
/// first, no padding).
pub fn dictd_b64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 10 {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, c| {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        Some(acc * 64 + d as u64)
    })
}

/// The bytes of a dictd data file. Dictzip (`.dz`) is gzip-compatible and is
/// decompressed by piping it through `gzip -dc` (gzip is an essential Debian
/// package), which keeps a decoder crate out of the build.
pub fn read_dict_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let bytes = fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run `gzip -dc {}`: {e}", path.display()))?;
        if !out.status.success() {
            return Err(format!(
                "`gzip -dc {}` failed: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        return Ok(out.stdout);
    }
    Ok(bytes)
}

/// Read FOLDOC: every distinct (offset, length) of the index is one
/// definition (aliases share an entry), in the order of the data file;
/// dictd's `00-database-*` metadata entries are skipped.
pub fn read_foldoc(dict: &Path, index: &Path) -> Result<Corpus, String> {
    let data = read_dict_bytes(dict)?;
    let index_text =
        fs::read_to_string(index).map_err(|e| format!("cannot read {}: {e}", index.display()))?;
    let mut entries: Vec<(u64, u64, &str)> = Vec::new();
    for (lineno, line) in index_text.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let mut f = line.split('\t');
        let (Some(head), Some(off), Some(len)) = (f.next(), f.next(), f.next()) else {
            return Err(format!(
                "{}:{}: expected headword<TAB>offset<TAB>length",
                index.display(),
                lineno + 1
            ));
        };
        if head.starts_with("00-database") || head.starts_with("00database") {
            continue;
        }
        let bad = || format!("{}:{}: bad base64 number", index.display(), lineno + 1);
        entries.push((
            dictd_b64(off).ok_or_else(bad)?,
            dictd_b64(len).ok_or_else(bad)?,
            head,
        ));
    }
    // Stable sort by offset: the first alias listed names the entry.
    entries.sort_by_key(|&(off, len, _)| (off, len));
    let mut seen = HashSet::new();
    let mut corpus = Corpus {
        headwords: Vec::new(),
        docs: Vec::new(),
    };
    for (off, len, head) in entries {
        if !seen.insert((off, len)) {
            continue;
        }
        let (a, b) = (off as usize, (off + len) as usize);
        if b > data.len() {
            return Err(format!(
                "entry {head:?} ({a}..{b}) lies past the end of {} ({} bytes)",
                dict.display(),
                data.len()
            ));
        }
        corpus.headwords.push(head.to_string());
        corpus
            .docs
            .push(clean(&String::from_utf8_lossy(&data[a..b])));
    }
    if corpus.docs.is_empty() {
        return Err(format!("no entries in {}", index.display()));
    }
    Ok(corpus)
}

/// Remove what is not content: the `(YYYY-MM-DD)` last-update stamp of each
/// definition and bracketed citations (`[Jargon File]`, `["Title", Author,
/// Proc ..., 1994]`). Each is replaced by a space. Without this the topics
/// fill up with years, months and days.
pub fn clean(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    // First pass: date stamps.
    let mut no_dates = String::with_capacity(text.len());
    while i < b.len() {
        if b[i] == b'(' && i + 12 <= b.len() && is_date_stamp(&b[i..i + 12]) {
            no_dates.push_str(&text[copied..i]);
            no_dates.push(' ');
            i += 12;
            copied = i;
        } else {
            i += 1;
        }
    }
    no_dates.push_str(&text[copied..]);
    // Second pass: [...] spans (an unmatched '[' is kept).
    let t = no_dates.as_str();
    let mut rest = t;
    while let Some(open) = rest.find('[') {
        match rest[open + 1..].find(']') {
            Some(close) => {
                out.push_str(&rest[..open]);
                out.push(' ');
                rest = &rest[open + 1 + close + 1..];
            }
            None => break,
        }
    }
    out.push_str(rest);
    out
}

/// `(dddd-dd-dd)` in ASCII.
fn is_date_stamp(s: &[u8]) -> bool {
    let d = |i: usize| s[i].is_ascii_digit();
    s[0] == b'('
        && d(1)
        && d(2)
        && d(3)
        && d(4)
        && s[5] == b'-'
        && d(6)
        && d(7)
        && s[8] == b'-'
        && d(9)
        && d(10)
        && s[11] == b')'
}

/// A sparse matrix in CSR form with its column names.
pub struct CsrMatrix {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<usize>,
    pub data: Vec<f64>,
}

/// Read a MatrixMarket coordinate file (1-based; real, integer or pattern,
/// general) into CSR with the library's streaming reader
/// ([`minibatchnmf::io::CsrFile`]), which checks every entry (indices in
/// range, no duplicates, finite values).
pub fn read_mtx(path: &Path) -> Result<CsrMatrix, String> {
    use minibatchnmf::io::{CsrFile, RowSource};
    use minibatchnmf::Input;
    let mut src = CsrFile::<f64>::open_mtx(path).map_err(|e| e.to_string())?;
    let (n_rows, n_cols) = src.shape();
    let mut m = CsrMatrix {
        n_rows,
        n_cols,
        indptr: Vec::with_capacity(n_rows + 1),
        indices: Vec::with_capacity(src.nnz()),
        data: Vec::with_capacity(src.nnz()),
    };
    m.indptr.push(0);
    if n_rows > 0 {
        let Input::Csr(x) = src.rows(0, n_rows).map_err(|e| e.to_string())? else {
            return Err(format!("{}: not read as CSR", path.display()));
        };
        for i in 0..n_rows {
            let (idx, val) = x.row(i);
            m.indices.extend_from_slice(idx);
            m.data.extend_from_slice(val);
            m.indptr.push(m.indices.len());
        }
    }
    Ok(m)
}

/// Write CSR as MatrixMarket (1-based).
pub fn write_mtx(path: &Path, m: &CsrMatrix) -> Result<(), String> {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(m.data.len() * 28 + 100);
    s.push_str("%%MatrixMarket matrix coordinate real general\n");
    let _ = writeln!(s, "{} {} {}", m.n_rows, m.n_cols, m.data.len());
    for i in 0..m.n_rows {
        for p in m.indptr[i]..m.indptr[i + 1] {
            let _ = writeln!(s, "{} {} {:?}", i + 1, m.indices[p] + 1, m.data[p]);
        }
    }
    fs::write(path, s).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// One term per line.
/// The FOLDOC TF-IDF slice vendored in `tests/data/` (see its README):
/// `foldoc1000_{indptr,indices,data}.npy` (int32, int32, float64) and
/// `foldoc1000_vocab.txt`; checked as CSR before use.
pub fn read_vendored_slice(dir: &Path) -> Result<(CsrMatrix, Vec<String>), String> {
    use ndarray::Array1;
    use ndarray_npy::read_npy;
    let part = |name: &str| dir.join(format!("foldoc1000_{name}"));
    let npy_err =
        |p: PathBuf, e: ndarray_npy::ReadNpyError| format!("cannot read {}: {e}", p.display());
    let indptr: Array1<i32> =
        read_npy(part("indptr.npy")).map_err(|e| npy_err(part("indptr.npy"), e))?;
    let indices: Array1<i32> =
        read_npy(part("indices.npy")).map_err(|e| npy_err(part("indices.npy"), e))?;
    let data: Array1<f64> = read_npy(part("data.npy")).map_err(|e| npy_err(part("data.npy"), e))?;
    let vocab = read_lines(&part("vocab.txt"))?;
    let to_usize = |v: &Array1<i32>| -> Result<Vec<usize>, String> {
        v.iter()
            .map(|&i| {
                usize::try_from(i).map_err(|_| format!("negative index {i} in {}", dir.display()))
            })
            .collect()
    };
    let m = CsrMatrix {
        n_rows: indptr.len().saturating_sub(1),
        n_cols: vocab.len(),
        indptr: to_usize(&indptr)?,
        indices: to_usize(&indices)?,
        data: data.to_vec(),
    };
    minibatchnmf::CsrView::new(m.n_rows, m.n_cols, &m.indptr, &m.indices, &m.data)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok((m, vocab))
}

pub fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    Ok(fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .lines()
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_numbers() {
        assert_eq!(dictd_b64("A"), Some(0));
        assert_eq!(dictd_b64("B"), Some(1));
        assert_eq!(dictd_b64("BA"), Some(64));
        assert_eq!(dictd_b64("/"), Some(63));
        assert_eq!(dictd_b64("Gb9L"), Some(((6 * 64 + 27) * 64 + 61) * 64 + 11));
        assert_eq!(dictd_b64("a=b"), None);
        assert_eq!(dictd_b64(""), None);
    }

    #[test]
    fn cleaning() {
        assert_eq!(clean("text (1995-03-16)\n"), "text  \n");
        assert_eq!(clean("a [Jargon File] b"), "a   b");
        assert_eq!(clean("a [x] b [y"), "a   b [y");
        assert_eq!(
            clean("(1995-03-1) and (19950316)"),
            "(1995-03-1) and (19950316)"
        );
        assert_eq!(clean("é [\"Ü\", 1994] ü (2001-01-01)"), "é   ü  ");
    }

    #[test]
    fn foldoc_from_files() {
        let dir = std::env::temp_dir().join(format!("mbnmf-corpus-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let body = "00-database-short\n FOLDOC\nalpha\n   first letter (1999-01-01)\nbeta\n   second [cite]\n";
        // Offsets: metadata 0..19, alpha 19..55, beta 55..
        let a0 = body.find("alpha").unwrap();
        let b0 = body.find("beta").unwrap();
        let enc = |mut v: usize| {
            let alpha = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            let mut s = Vec::new();
            loop {
                s.push(alpha[v % 64]);
                v /= 64;
                if v == 0 {
                    break;
                }
            }
            s.reverse();
            String::from_utf8(s).unwrap()
        };
        let index = format!(
            "00-database-short\t{}\t{}\nalpha\t{}\t{}\nb\t{}\t{}\nbeta\t{}\t{}\n",
            enc(0),
            enc(a0),
            enc(a0),
            enc(b0 - a0),
            enc(b0),
            enc(body.len() - b0),
            enc(b0),
            enc(body.len() - b0),
        );
        fs::write(dir.join("t.dict"), body).unwrap();
        fs::write(dir.join("t.index"), index).unwrap();
        let c = read_foldoc(&dir.join("t.dict"), &dir.join("t.index")).unwrap();
        assert_eq!(c.headwords, ["alpha", "b"]);
        assert_eq!(c.docs[0], "alpha\n   first letter  \n");
        assert_eq!(c.docs[1], "beta\n   second  \n");
        // The same through gzip.
        let gz = Command::new("gzip")
            .arg("-kf")
            .arg(dir.join("t.dict"))
            .status()
            .unwrap();
        assert!(gz.success());
        let c2 = read_foldoc(&dir.join("t.dict.gz"), &dir.join("t.index")).unwrap();
        assert_eq!(c2.docs, c.docs);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn mtx_roundtrip() {
        let m = CsrMatrix {
            n_rows: 3,
            n_cols: 4,
            indptr: vec![0, 2, 2, 3],
            indices: vec![1, 3, 0],
            data: vec![0.5, 1.25, 3.0],
        };
        let p = std::env::temp_dir().join(format!("mbnmf-mtx-{}.mtx", std::process::id()));
        write_mtx(&p, &m).unwrap();
        let r = read_mtx(&p).unwrap();
        fs::remove_file(&p).unwrap();
        assert_eq!((r.n_rows, r.n_cols), (3, 4));
        assert_eq!(r.indptr, m.indptr);
        assert_eq!(r.indices, m.indices);
        assert_eq!(r.data, m.data);
    }
}
