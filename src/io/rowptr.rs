//! Row offsets (CSR `indptr`) of a file source, in memory proportional to
//! the rows that hold values rather than to the rows a header claims.
//!
//! A file may announce 10^12 rows with two entries: `indptr` would be 8 TB,
//! but only two rows are not empty. [`RowPtr::Sparse`] keeps the non-empty
//! rows and the offset after each (16 bytes per non-empty row);
//! [`RowPtr::Dense`] keeps the n + 1 offsets (8 bytes a row). The builder
//! starts sparse and turns dense when that is smaller, so the offsets cost
//! 8·min(n + 1, 2·non-empty rows) bytes, checked against the budget before
//! each allocation.

use crate::error::Result;
use crate::memory::{self, Budget};

/// `indptr` of an n-row CSR matrix.
#[derive(Debug, Clone)]
pub(crate) enum RowPtr {
    /// The n + 1 offsets.
    Dense(Vec<usize>),
    /// Non-empty rows (increasing) and the offset just after each.
    Sparse {
        n: usize,
        rows: Vec<usize>,
        ends: Vec<usize>,
    },
}

impl RowPtr {
    /// Rows.
    pub(crate) fn n(&self) -> usize {
        match self {
            RowPtr::Dense(p) => p.len() - 1,
            RowPtr::Sparse { n, .. } => *n,
        }
    }

    /// Stored values (the last offset).
    pub(crate) fn nnz(&self) -> usize {
        match self {
            RowPtr::Dense(p) => p[p.len() - 1],
            RowPtr::Sparse { ends, .. } => ends.last().copied().unwrap_or(0),
        }
    }

    /// Offset of row `i` (`i <= n`).
    pub(crate) fn get(&self, i: usize) -> usize {
        match self {
            RowPtr::Dense(p) => p[i],
            RowPtr::Sparse { rows, ends, .. } => {
                let k = rows.partition_point(|&r| r < i);
                if k == 0 {
                    0
                } else {
                    ends[k - 1]
                }
            }
        }
    }

    /// `out` = offsets of rows `start..=end`, relative to row `start`'s.
    pub(crate) fn block(&self, start: usize, end: usize, out: &mut Vec<usize>) {
        out.clear();
        match self {
            RowPtr::Dense(p) => {
                let p0 = p[start];
                out.extend(p[start..=end].iter().map(|&v| v - p0));
            }
            RowPtr::Sparse { rows, ends, .. } => {
                let mut k = rows.partition_point(|&r| r < start);
                let p0 = if k == 0 { 0 } else { ends[k - 1] };
                let mut cur = p0;
                for i in start..=end {
                    while k < rows.len() && rows[k] < i {
                        cur = ends[k];
                        k += 1;
                    }
                    out.push(cur - p0);
                }
            }
        }
    }

    /// Where the entries of each non-empty row start, by [`slot`](Self::slot)
    /// (for scattering an unsorted file's entries).
    pub(crate) fn starts(&self, budget: &Budget) -> Result<Vec<usize>> {
        match self {
            RowPtr::Dense(p) => {
                let n = p.len() - 1;
                budget.check(
                    format!("the fill counters of {n} rows"),
                    memory::bytes_of(&[n], 8),
                    HINT,
                )?;
                let mut v = Vec::new();
                memory::try_grow(&mut v, n, "row fill counters")?;
                v.extend_from_slice(&p[..n]);
                Ok(v)
            }
            RowPtr::Sparse { ends, .. } => {
                let mut v = Vec::new();
                memory::try_grow(&mut v, ends.len(), "row fill counters")?;
                v.push(0);
                v.extend_from_slice(&ends[..ends.len().saturating_sub(1)]);
                v.truncate(ends.len());
                Ok(v)
            }
        }
    }

    /// The index in [`starts`](Self::starts) of non-empty row `i`.
    pub(crate) fn slot(&self, i: usize) -> usize {
        match self {
            RowPtr::Dense(_) => i,
            RowPtr::Sparse { rows, .. } => rows.partition_point(|&r| r < i),
        }
    }
}

const HINT: &str = "the file announces more rows than the memory budget can index; check \
     the file's header, or raise max_memory (CLI --max-memory) if that much memory is free";

/// Builds a [`RowPtr`] from the non-empty rows in increasing order.
pub(crate) struct RowPtrBuilder<'b> {
    n: usize,
    budget: &'b Budget,
    what: String,
    rows: Vec<usize>,
    ends: Vec<usize>,
    dense: Option<Vec<usize>>,
    /// Offset after the last row pushed, and the next row allowed.
    total: usize,
    next: usize,
}

impl<'b> RowPtrBuilder<'b> {
    /// For `n` rows; `what` names the file in messages.
    pub(crate) fn new(n: usize, budget: &'b Budget, what: &str) -> Result<Self> {
        if n == usize::MAX {
            return Err(budget
                .check(format!("the row offsets of {what}"), None, HINT)
                .expect_err("None never fits"));
        }
        Ok(RowPtrBuilder {
            n,
            budget,
            what: what.to_string(),
            rows: Vec::new(),
            ends: Vec::new(),
            dense: None,
            total: 0,
            next: 0,
        })
    }

    /// Row `row` holds `count` values (rows strictly increasing, `row < n`;
    /// a zero count is skipped).
    pub(crate) fn push(&mut self, row: usize, count: usize) -> Result<()> {
        debug_assert!(row >= self.next && row < self.n);
        if count == 0 {
            return Ok(());
        }
        self.total += count;
        self.next = row + 1;
        if let Some(d) = &mut self.dense {
            let last = d[d.len() - 1];
            d.resize(row + 1, last);
            d.push(self.total);
            return Ok(());
        }
        if self.rows.len() == self.rows.capacity() {
            // Sparse would outgrow dense: switch.
            let want = (self.rows.len() + 1).max(4) * 2;
            if want.saturating_mul(2) > self.n + 1 {
                return self.switch_to_dense(row);
            }
            let needed = memory::bytes_of(&[want, 2], 8);
            self.budget.check(
                format!(
                    "the row offsets of {} ({} non-empty rows so far, of {})",
                    self.what,
                    self.rows.len(),
                    self.n
                ),
                needed,
                HINT,
            )?;
            let extra = want - self.rows.len();
            memory::try_grow(&mut self.rows, extra, "row offsets")?;
            memory::try_grow(&mut self.ends, extra, "row offsets")?;
        }
        self.rows.push(row);
        self.ends.push(self.total);
        Ok(())
    }

    fn switch_to_dense(&mut self, row: usize) -> Result<()> {
        let n = self.n;
        self.budget.check(
            format!("the row offsets of {} ({n} rows)", self.what),
            memory::bytes_of(&[n + 1], 8),
            HINT,
        )?;
        let mut d = Vec::new();
        memory::try_grow(&mut d, n + 1, "row offsets")?;
        d.push(0);
        for (&r, &e) in self.rows.iter().zip(&self.ends) {
            let last = d[d.len() - 1];
            d.resize(r + 1, last);
            d.push(e);
        }
        let last = d[d.len() - 1];
        d.resize(row + 1, last);
        d.push(self.total);
        self.rows = Vec::new();
        self.ends = Vec::new();
        self.dense = Some(d);
        Ok(())
    }

    /// The offsets (rows after the last pushed are empty).
    pub(crate) fn finish(self) -> RowPtr {
        match self.dense {
            Some(mut d) => {
                let last = d[d.len() - 1];
                d.resize(self.n + 1, last);
                RowPtr::Dense(d)
            }
            None => RowPtr::Sparse {
                n: self.n,
                rows: self.rows,
                ends: self.ends,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(n: usize, counts: &[(usize, usize)]) -> RowPtr {
        let b = Budget::unlimited();
        let mut p = RowPtrBuilder::new(n, &b, "t").unwrap();
        for &(r, c) in counts {
            p.push(r, c).unwrap();
        }
        p.finish()
    }

    #[test]
    fn sparse_and_dense_offsets_agree() {
        // Few non-empty rows of many: sparse; most rows: dense.
        let cases: [(usize, Vec<(usize, usize)>); 3] = [
            (1_000_000, vec![(3, 2), (999_999, 1)]),
            (10, (0..10).map(|r| (r, r % 3)).collect()),
            (7, vec![]),
        ];
        for (n, counts) in cases {
            let p = build(n, &counts);
            let mut dense = vec![0usize; n + 1];
            for &(r, c) in &counts {
                dense[r + 1] += c;
            }
            for i in 0..n {
                dense[i + 1] += dense[i];
            }
            assert_eq!(p.n(), n);
            assert_eq!(p.nnz(), dense[n]);
            for i in (0..=n).filter(|i| *i < 20 || *i + 20 > n || i % 99_991 == 0) {
                assert_eq!(p.get(i), dense[i], "row {i}");
            }
            let mut out = Vec::new();
            let (a, b) = (n.saturating_sub(5).min(2), n);
            if n < 100 {
                p.block(a, b, &mut out);
                let want: Vec<usize> = dense[a..=b].iter().map(|v| v - dense[a]).collect();
                assert_eq!(out, want);
            }
        }
        assert!(matches!(build(1_000_000, &[(3, 2)]), RowPtr::Sparse { .. }));
        assert!(matches!(
            build(10, &(0..10).map(|r| (r, 1)).collect::<Vec<_>>()),
            RowPtr::Dense(_)
        ));
    }

    #[test]
    fn offsets_over_budget_are_refused() {
        let b = Budget::of(crate::memory::MaxMemory::Bytes(1000));
        let mut p = RowPtrBuilder::new(1 << 40, &b, "t").unwrap();
        let r = (0..1000).try_for_each(|i| p.push(i * 2, 1));
        assert!(matches!(r, Err(crate::Error::OutOfMemory { .. })));
    }
}
