//! Missing values for the cd solver: HALS with a 0/1 mask, i.e. weighted
//! least squares per row of W and per column of H.
//!
//! - W row i: sweeps on (G_i + l2·I, c_i − l1) with G_i = Σ_{j observed in
//!   row i} h_j h_jᵀ and c_i = Σ_{j observed} x_ij h_j. G_i is formed one row
//!   at a time (k×k scratch per block of rows, never stored for all rows):
//!   dense rows mostly observed as H·Hᵀ − Σ_{j missing} h_j h_jᵀ, others
//!   summed directly; CSR with "unstored" over the stored entries
//!   (O(stored·k²)); CSR with "nan" as H·Hᵀ − Σ_{stored NaN} h_j h_jᵀ.
//!   A row without an observed entry gets W = 0.
//! - H column j: per-column statistics A_j = Σ_{i observed in col j}
//!   w_i w_iᵀ (stored as row j of an m × k² matrix: m·k² numbers) and B
//!   (k×m, B_j = Σ_{i observed} x_ij w_i), kept exact (incremental) or
//!   decayed as the unmasked A, B are; sweeps of column j on (A_j + l2·I,
//!   B_j − l1). A column whose A_j has a zero diagonal (never observed, or
//!   only by rows with W = 0) keeps its H.
//!
//! A fit takes this path for all its steps when X has a missing entry
//! (decided once per fit); otherwise the unmasked cd path runs, so
//! `missing="nan"` on data without NaN is the unmasked fit bit for bit.

use crate::float::NmfFloat;
use crate::input::Input;
use crate::kernels::workspace::Buf;
use crate::kernels::Penalty;
use crate::params::Missing;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Rows of W per parallel task.
const ROWS: usize = 64;
/// Columns of H per parallel task.
const COLS: usize = 256;

/// Scratch of the masked cd kernels (grown on first use, reused).
#[derive(Default)]
pub(crate) struct MaskedCdBufs<F> {
    /// The batch's per-column Gram statistics (m × k²): A_b, reduced over
    /// the workers as they are.
    pub(crate) grams: Buf<F>,
    /// Per-block scratch of the row and column sweeps.
    pub(crate) scratch: Buf<F>,
    /// Per-block results (violation or H change, cost).
    pub(crate) parts: Vec<(f64, f64)>,
    /// Missing entries per column of the batch.
    pub(crate) col_missing: Vec<usize>,
    /// CSR 'nan': the columns whose A_j is summed directly (mostly NaN).
    pub(crate) direct_cols: Vec<usize>,
    /// CSR 'nan': the current row's NaN columns (m flags, cleared after
    /// each row; one set of m per block of rows in [`update_rows`]).
    pub(crate) nan_mark: Vec<bool>,
    /// W·Wᵀ-type k×k products.
    pub(crate) kk: Buf<F>,
}

/// How many sweeps a row gets.
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowSweeps {
    /// Exactly this many from the row's current W.
    Fixed(usize),
    /// From zeros until the row's violation ≤ tol × its first, at most
    /// `max_iter` sweeps.
    Solve { max_iter: usize, tol: f64 },
}

/// Calls `f(j, x_ij)` for every *observed* entry of row `i` that is read
/// from the data (dense: every non-NaN entry; CSR: the stored non-NaN
/// entries; the unstored zeros of CSR under "nan" are observed zeros and
/// contribute nothing to sums weighted by x).
#[inline]
fn for_observed<F: NmfFloat>(x: &Input<F>, i: usize, mut f: impl FnMut(usize, F)) {
    match x {
        Input::Dense(d) => {
            for (j, &v) in d.row(i).iter().enumerate() {
                if !v.is_nan() {
                    f(j, v);
                }
            }
        }
        Input::Csr(c) => {
            let (idx, val) = c.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                if !v.is_nan() {
                    f(j, v);
                }
            }
        }
    }
}

/// Calls `f(j)` for every missing entry of row `i` that is read from the
/// data (NaN entries; not the unstored entries of "unstored").
#[inline]
fn for_nan<F: NmfFloat>(x: &Input<F>, i: usize, mut f: impl FnMut(usize)) {
    match x {
        Input::Dense(d) => {
            for (j, &v) in d.row(i).iter().enumerate() {
                if v.is_nan() {
                    f(j);
                }
            }
        }
        Input::Csr(c) => {
            let (idx, val) = c.row(i);
            for (&j, &v) in idx.iter().zip(val) {
                if v.is_nan() {
                    f(j);
                }
            }
        }
    }
}

/// g += s · v vᵀ (k×k, row-major).
#[inline]
fn add_outer<F: NmfFloat>(g: &mut [F], v: &[F], s: F) {
    let k = v.len();
    for (a, &va) in v.iter().enumerate() {
        let sa = s * va;
        for (gb, &vb) in g[a * k..(a + 1) * k].iter_mut().zip(v) {
            *gb += sa * vb;
        }
    }
}

/// Row `i`'s Gram matrix over its observed entries into `g` (k×k) and its
/// linear term into `c` (k); returns the number of observed entries.
/// `mark` (m flags, all false; left so) serves CSR 'nan' rows summed
/// directly.
#[allow(clippy::too_many_arguments)]
fn row_gram<F: NmfFloat>(
    x: &Input<F>,
    mode: Missing,
    i: usize,
    ht: ArrayView2<F>,
    hht: &[F],
    g: &mut [F],
    c: &mut [F],
    mark: &mut [bool],
) -> usize {
    let m = ht.nrows();
    let h = |j: usize| ht.row(j).to_slice().expect("rows of Hᵀ are contiguous");
    c.fill(F::zero());
    let mut observed = 0;
    for_observed(x, i, |j, v| {
        observed += 1;
        for (ct, &hj) in c.iter_mut().zip(h(j)) {
            *ct += v * hj;
        }
    });
    let mut nan = 0;
    for_nan(x, i, |_| nan += 1);
    let subtract = match (x, mode) {
        (Input::Csr(_), Missing::Unstored) => false,
        (Input::Csr(_), _) => true,
        (Input::Dense(_), _) => 2 * nan <= m,
    };
    if subtract {
        // Every entry that is not NaN is observed (unstored zeros too).
        g.copy_from_slice(hht);
        for_nan(x, i, |j| add_outer(g, h(j), -F::one()));
        // A diagonal entry left by cancellation (its exact value may be 0:
        // H's component vanishes on the observed entries) would make the
        // sweep divide by rounding noise: such rows are summed directly.
        let k = c.len();
        let tiny = F::epsilon() * F::from_f64_(1e4);
        if (0..k).all(|t| g[t * k + t] > tiny * hht[t * k + t]) {
            return m - nan;
        }
        match x {
            Input::Dense(_) => {
                g.fill(F::zero());
                for_observed(x, i, |j, _| add_outer(g, h(j), F::one()));
            }
            Input::Csr(_) => {
                // The unstored entries are observed zeros: sum every column
                // that is not a stored NaN.
                for_nan(x, i, |j| mark[j] = true);
                g.fill(F::zero());
                for (j, _) in mark[..m].iter().enumerate().filter(|p| !*p.1) {
                    add_outer(g, h(j), F::one());
                }
                for_nan(x, i, |j| mark[j] = false);
            }
        }
        m - nan
    } else {
        g.fill(F::zero());
        for_observed(x, i, |j, _| add_outer(g, h(j), F::one()));
        observed
    }
}

/// HALS sweeps of one vector `v` (k) on (hess, lin − l1), the arithmetic
/// of the unmasked sweeps (components in order, the gradient summed over
/// r in order, skipped when hess[t, t] = 0). Returns Σ|projected
/// gradient| of the last sweep.
fn sweep_one<F: NmfFloat>(v: &mut [F], hess: &[F], lin: &[F], l1: F, sweeps: usize) -> f64 {
    let k = v.len();
    let mut viol = F::zero();
    for _ in 0..sweeps {
        viol = F::zero();
        for t in 0..k {
            let g = &hess[t * k..(t + 1) * k];
            let mut grad = -(lin[t] - l1);
            for (r, &gr) in g.iter().enumerate() {
                grad += gr * v[r];
            }
            let pg = if v[t] == F::zero() {
                num_traits::Float::min(grad, F::zero())
            } else {
                grad
            };
            viol += num_traits::Float::abs(pg);
            let d = g[t];
            if d != F::zero() {
                let nv = v[t] - grad / d;
                v[t] = if nv > F::zero() { nv } else { F::zero() };
            }
        }
    }
    viol.to_f64_()
}

/// W's rows of `x` by masked sweeps (in place, or solved from zeros), in
/// parallel over fixed blocks of rows. Returns the cost sum over the
/// observed entries, ½ Σ (x_ij − w_i·h_j)², without W's penalty terms.
#[allow(clippy::too_many_arguments)]
pub(crate) fn update_rows<F: NmfFloat>(
    x: &Input<F>,
    mode: Missing,
    mut w: ArrayViewMut2<F>,
    ht: ArrayView2<F>,
    hht: ArrayView2<F>,
    pen_w: &Penalty,
    sweeps: RowSweeps,
    bufs: &mut MaskedCdBufs<F>,
) -> f64 {
    let (n, k) = w.dim();
    if n == 0 || k == 0 {
        return 0.0;
    }
    let hht = hht.as_standard_layout();
    let hs = hht.as_slice().expect("standard layout");
    let (l1, l2) = (F::from_f64_(pen_w.l1), F::from_f64_(pen_w.l2));
    let per = k * k + k;
    let blocks = n.div_ceil(ROWS);
    let scratch = bufs.scratch.slice(blocks * per);
    // CSR 'nan' rows summed directly mark their NaN columns: m flags per
    // block (grown once, reused).
    let marks = match (x, mode) {
        (Input::Csr(_), m) if m != Missing::Unstored => ht.nrows(),
        _ => 1,
    };
    if bufs.nan_mark.len() < blocks * marks {
        bufs.nan_mark.resize(blocks * marks, false);
    }
    let mark = &mut bufs.nan_mark[..blocks * marks];
    w.axis_chunks_iter_mut(Axis(0), ROWS)
        .into_par_iter()
        .zip(scratch.par_chunks_mut(per))
        .zip(mark.par_chunks_mut(marks))
        .enumerate()
        .map(|(b, ((mut wb, s), mark))| {
            let (g, c) = s.split_at_mut(k * k);
            let mut cost = 0.0;
            for (r, mut wr) in wb.outer_iter_mut().enumerate() {
                let i = b * ROWS + r;
                let v = wr.as_slice_mut().expect("rows of W are contiguous");
                let observed = row_gram(x, mode, i, ht, hs, g, c, mark);
                if observed == 0 {
                    v.fill(F::zero());
                    continue;
                }
                for t in 0..k {
                    g[t * k + t] += l2;
                }
                match sweeps {
                    RowSweeps::Fixed(s) => {
                        sweep_one(v, g, c, l1, s);
                    }
                    RowSweeps::Solve { max_iter, tol } => {
                        v.fill(F::zero());
                        let mut first = 0.0;
                        for it in 1..=max_iter {
                            let viol = sweep_one(v, g, c, l1, 1);
                            if it == 1 {
                                first = viol;
                            }
                            if first == 0.0 || viol / first <= tol {
                                break;
                            }
                        }
                    }
                }
                for_observed(x, i, |j, xv| {
                    let hj = ht.row(j);
                    let mut p = F::zero();
                    for (a, b) in v.iter().zip(hj.iter()) {
                        p += *a * *b;
                    }
                    let d = (xv - p).to_f64_();
                    cost += d * d;
                });
                if let Input::Csr(_) = x {
                    if mode != Missing::Unstored {
                        // The unstored entries are observed zeros.
                        let mut whht = 0.0;
                        let mut stored = 0.0;
                        for a in 0..k {
                            for bb in 0..k {
                                whht += (v[a] * v[bb] * hs[a * k + bb]).to_f64_();
                            }
                        }
                        for_observed(x, i, |j, _| {
                            let hj = ht.row(j);
                            let mut p = 0.0;
                            for (a, b) in v.iter().zip(hj.iter()) {
                                p += (*a * *b).to_f64_();
                            }
                            stored += p * p;
                        });
                        let mut nanp = 0.0;
                        for_nan(x, i, |j| {
                            let hj = ht.row(j);
                            let mut p = 0.0;
                            for (a, b) in v.iter().zip(hj.iter()) {
                                p += (*a * *b).to_f64_();
                            }
                            nanp += p * p;
                        });
                        cost += (whht - stored - nanp).max(0.0);
                    }
                }
            }
            (0.5 * cost, 0.0)
        })
        .collect_into_vec(&mut bufs.parts);
    bufs.parts.iter().map(|p| p.0).sum()
}

/// Adds `sign` × the batch's per-column statistics of `w` (the rows of
/// `x`): `grams` row j (k²) += Σ_{i observed in col j} w_i w_iᵀ and
/// `num` (k×m) column j += Σ_{i observed} x_ij w_i. Dense columns mostly
/// observed (and every column of CSR under "nan") start from WᵀW and
/// subtract the missing rows; the others are summed directly.
pub(crate) fn add_col_stats<F: NmfFloat>(
    x: &Input<F>,
    mode: Missing,
    w: ArrayView2<F>,
    sign: F,
    mut grams: ArrayViewMut2<F>,
    mut num: ArrayViewMut2<F>,
    bufs: &mut MaskedCdBufs<F>,
) {
    let (n, k) = w.dim();
    let m = grams.nrows();
    if n == 0 || k == 0 {
        return;
    }
    let w = w.as_standard_layout();
    let wrow = |i: usize| w.row(i).to_slice().expect("rows of W are contiguous");
    // Which columns subtract their missing rows from WᵀW.
    let cm = &mut bufs.col_missing;
    cm.clear();
    cm.resize(m, 0);
    for i in 0..n {
        for_nan(x, i, |j| cm[j] += 1);
    }
    // A column more than half missing in the batch sums its observed rows
    // directly: WᵀW minus nearly all of itself would leave rounding noise
    // (a never-observed column's A_j must be exactly 0, so that its H is
    // kept, not divided by noise).
    let direct = |j: usize, cm: &[usize]| match (x, mode) {
        (Input::Csr(_), Missing::Unstored) => true,
        _ => 2 * cm[j] > n,
    };
    // CSR 'nan': the unstored entries of a direct column are observed zeros
    // that `for_observed` does not visit, so those columns are summed over
    // their non-NaN rows below instead.
    let csr_nan = matches!(x, Input::Csr(_)) && mode != Missing::Unstored;
    let mut wtw = bufs.kk.mat(k, k);
    ndarray::linalg::general_mat_mul(F::one(), &w.t(), &w.view(), F::zero(), &mut wtw);
    let wtw = wtw.as_slice().expect("owned");
    for (j, mut g) in grams.outer_iter_mut().enumerate() {
        if !direct(j, cm) {
            let g = g.as_slice_mut().expect("rows of the Grams are contiguous");
            for (a, &b) in g.iter_mut().zip(wtw) {
                *a += sign * b;
            }
        }
    }
    let gs = grams.as_slice_mut().expect("standard layout");
    for i in 0..n {
        let wi = wrow(i);
        for_observed(x, i, |j, v| {
            if direct(j, cm) && !csr_nan {
                add_outer(&mut gs[j * k * k..(j + 1) * k * k], wi, sign);
            }
            let sv = sign * v;
            for (t, &wt) in wi.iter().enumerate() {
                num[[t, j]] += sv * wt;
            }
        });
        for_nan(x, i, |j| {
            if !direct(j, cm) {
                add_outer(&mut gs[j * k * k..(j + 1) * k * k], wi, -sign);
            }
        });
    }
    if csr_nan {
        let cols = &mut bufs.direct_cols;
        cols.clear();
        cols.extend((0..m).filter(|&j| direct(j, cm)));
        if !cols.is_empty() {
            let mark = &mut bufs.nan_mark;
            mark.clear();
            mark.resize(m, false);
            for i in 0..n {
                let wi = wrow(i);
                for_nan(x, i, |j| mark[j] = true);
                for &j in cols.iter() {
                    if !mark[j] {
                        add_outer(&mut gs[j * k * k..(j + 1) * k * k], wi, sign);
                    }
                }
                for_nan(x, i, |j| mark[j] = false);
            }
        }
    }
}

/// `s` ← ρ·s + t, s ← t (ρ = 0) or s ← s + t.
pub(crate) fn fold<F: NmfFloat>(s: &mut [F], t: &[F], rho: Option<f64>) {
    match rho {
        Some(0.0) => s.copy_from_slice(t),
        Some(r) => {
            let r = F::from_f64_(r);
            s.par_iter_mut()
                .zip(t.par_iter())
                .for_each(|(s, &t)| *s = *s * r + t);
        }
        None => s
            .par_iter_mut()
            .zip(t.par_iter())
            .for_each(|(s, &t)| *s += t),
    }
}

/// `h_sweeps` sweeps of every column j of `h` on (A_j + l2·I, B_j − l1),
/// A_j the row j of `a` (m × k²); columns whose A_j has a zero diagonal
/// keep their H. Returns ||H_new − H_old|| / ||H_new||.
pub(crate) fn sweep_cols_masked<F: NmfFloat>(
    h: &mut Array2<F>,
    a: ArrayView2<F>,
    b: ArrayView2<F>,
    pen: &Penalty,
    sweeps: usize,
    bufs: &mut MaskedCdBufs<F>,
) -> f64 {
    let (k, m) = h.dim();
    if k == 0 || m == 0 {
        return 0.0;
    }
    let (l1, l2) = (F::from_f64_(pen.l1), F::from_f64_(pen.l2));
    let per = k * k + 2 * k;
    let blocks = m.div_ceil(COLS);
    let scratch = bufs.scratch.slice(blocks * per);
    h.axis_chunks_iter_mut(Axis(1), COLS)
        .into_par_iter()
        .zip(scratch.par_chunks_mut(per))
        .enumerate()
        .map(|(bi, (mut hc, s))| {
            let (g, rest) = s.split_at_mut(k * k);
            let (v, lin) = rest.split_at_mut(k);
            let (mut d2, mut n2) = (0.0, 0.0);
            for c in 0..hc.ncols() {
                let j = bi * COLS + c;
                let aj = a.row(j);
                let aj = aj.as_slice().expect("rows of A are contiguous");
                let observed = (0..k).any(|t| aj[t * k + t] != F::zero());
                for t in 0..k {
                    v[t] = hc[[t, c]];
                    lin[t] = b[[t, j]];
                }
                if observed {
                    g.copy_from_slice(aj);
                    for t in 0..k {
                        g[t * k + t] += l2;
                    }
                    sweep_one(v, g, lin, l1, sweeps);
                }
                for t in 0..k {
                    let (nv, ov) = (v[t].to_f64_(), hc[[t, c]].to_f64_());
                    d2 += (nv - ov) * (nv - ov);
                    n2 += nv * nv;
                    hc[[t, c]] = v[t];
                }
            }
            (d2, n2)
        })
        .collect_into_vec(&mut bufs.parts);
    let (d2, n2) = bufs
        .parts
        .iter()
        .fold((0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1));
    d2.sqrt() / n2.sqrt()
}
