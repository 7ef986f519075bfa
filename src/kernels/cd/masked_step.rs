//! The masked cd step (see [`super::masked`]): part 1 (W's rows and the
//! batch's per-column statistics), part 3 (A_j, B folded, H's columns
//! swept), the exact statistics of a starting W, the W solve over a row
//! source (`transform`, fresh restarts' final W) and the memory the
//! per-column statistics need.

use super::masked::{add_col_stats, fold, sweep_cols_masked, update_rows, RowSweeps};
use super::{BatchStats, CdBufs, CdConfig, StatUpdate};
use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::io::{for_each_block, RowSource};
use crate::kernels::step::WRows;
use crate::kernels::workspace::HStats;
use crate::kernels::{Penalty, Workspace};
use crate::memory::MaxMemory;
use crate::memory::{bytes_of, Budget};
use crate::params::Missing;
use ndarray::{s, Array2, ArrayView2};

/// Whether cd statistics `a` (the model's A) are the per-column form
/// (m × k²) rather than A = WᵀW (k × k).
pub fn is_per_column<F>(a: &Array2<F>, k: usize, m: usize) -> bool {
    a.dim() == (m, k * k) && (k, k) != (m, k * k)
}

/// Refuses, before anything is allocated, a masked cd fit whose
/// per-column statistics do not fit `max_memory`: the model's A_j (m·k²),
/// the batch's (m·k²) and the reduce buffer of a distributed step (m·k²).
pub fn check_memory(max_memory: MaxMemory, m: usize, k: usize, elem: usize) -> Result<()> {
    let needed = bytes_of(&[3, m, k, k], elem);
    Budget::of(max_memory).check(
        format!(
            "solver='cd' with missing values on {m} features and n_components={k} \
             (one k×k Gram matrix per feature for H's updates, kept for the model, \
             the batch and the reduce: 3·m·k² values)"
        ),
        needed,
        "use solver='mu' (its masked statistics are 2·k×m values), lower n_components, \
         or raise max_memory if that much memory is really free",
    )
}

/// Part 1 of a masked cd step: W's rows of `x` (in place or solved from
/// zeros per row), the batch's statistics (B_b in `ws.stats.num`, the
/// per-column A_b in `ws.cd.masked.grams`, as changes when `kind` is
/// `Delta`) and the cost over the observed entries plus W's penalty terms.
#[allow(clippy::too_many_arguments)]
pub(crate) fn local<F: NmfFloat>(
    x: &Input<F>,
    w: WRows<F>,
    h: ArrayView2<F>,
    pen_w: &Penalty,
    cfg: &CdConfig,
    kind: BatchStats,
    mode: Missing,
    ws: &mut Workspace<F>,
) -> Result<f64> {
    let (rows, k, m) = (x.n_rows(), h.nrows(), h.ncols());
    ws.hc.refresh(h, 2.0);
    ws.stats.ensure();
    let Workspace {
        hc,
        stats,
        w_fresh,
        cd,
        ..
    } = ws;
    let CdBufs { w_old, masked, .. } = cd;
    let (ht, hht) = (hc.ht.view(), hc.hht.view());
    let delta = kind == BatchStats::Delta;
    let (w, had_old, cost) = match w {
        WRows::Update(mut w) => {
            if delta {
                w_old.mat(rows, k).assign(&w);
            }
            let sweeps = RowSweeps::Fixed(cfg.w_sweeps);
            let cost = update_rows(x, mode, w.view_mut(), ht, hht, pen_w, sweeps, masked);
            (w, true, cost)
        }
        WRows::Fresh {
            max_iter,
            tol,
            keep,
            ..
        } => {
            let mut wf = w_fresh.mat(rows, k);
            let sweeps = RowSweeps::Solve { max_iter, tol };
            let cost = update_rows(x, mode, wf.view_mut(), ht, hht, pen_w, sweeps, masked);
            let had_old = match keep {
                Some(mut old) => {
                    if delta {
                        w_old.mat(rows, k).assign(&old);
                    }
                    old.assign(&wf);
                    true
                }
                None => false,
            };
            (wf, had_old, cost)
        }
    };
    stats.num.fill(F::zero());
    let mut grams = std::mem::take(&mut masked.grams);
    {
        let mut g = grams.mat(m, k * k);
        g.fill(F::zero());
        add_col_stats(
            x,
            mode,
            w.view(),
            F::one(),
            g.view_mut(),
            stats.num.view_mut(),
            masked,
        );
        if delta && had_old {
            let old = w_old.mat(rows, k);
            add_col_stats(
                x,
                mode,
                old.view(),
                -F::one(),
                g.view_mut(),
                stats.num.view_mut(),
                masked,
            );
        }
    }
    masked.grams = grams;
    Ok(cost + pen_w.terms(w.view()))
}

/// The flat statistics a masked cd step reduces over the workers: B_b
/// (k×m) and the per-column A_b (m·k²).
pub(crate) fn reduce_parts<'a, F: NmfFloat>(
    stats: &'a mut HStats<F>,
    cd: &'a mut CdBufs<F>,
) -> (&'a mut [F], &'a mut [F]) {
    let (k, m) = stats.num.dim();
    (
        stats.num.as_slice_mut().expect("owned"),
        cd.masked.grams.slice(m * k * k),
    )
}

/// Part 3 of a masked cd step: A_j and B from the (reduced) batch
/// statistics, then `h_sweeps` sweeps over each column of H. `a` is the
/// model's per-column A (m × k²), `b` its B (k×m).
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply<F: NmfFloat>(
    h: &mut Array2<F>,
    a: &mut Array2<F>,
    b: &mut Array2<F>,
    stats: &HStats<F>,
    pen: &Penalty,
    update: StatUpdate,
    h_sweeps: usize,
    bufs: &mut CdBufs<F>,
) -> f64 {
    let (k, m) = h.dim();
    let rho = match update {
        StatUpdate::Decay(r) => Some(r),
        StatUpdate::Add => None,
    };
    let masked = &mut bufs.masked;
    {
        let g = masked.grams.slice(m * k * k);
        fold(a.as_slice_mut().expect("owned"), g, rho);
    }
    fold(
        b.as_slice_mut().expect("owned"),
        stats.num.as_slice().expect("owned"),
        rho,
    );
    sweep_cols_masked(h, a.view(), b.view(), pen, h_sweeps, masked)
}

/// The exact per-column statistics of a starting W over the rows of `src`
/// (this worker's): A (m × k²) and B (k×m).
pub fn exact_stats_source_masked<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    mode: Missing,
    w: ArrayView2<F>,
) -> Result<(Array2<F>, Array2<F>)> {
    let m = src.shape().1;
    let k = w.ncols();
    let mut a = Array2::zeros((m, k * k));
    let mut b = Array2::zeros((k, m));
    let mut bufs = super::masked::MaskedCdBufs::default();
    for_each_block(src, |s0, xb| {
        let e = s0 + xb.n_rows();
        add_col_stats(
            xb,
            mode,
            w.slice(s![s0..e, ..]),
            F::one(),
            a.view_mut(),
            b.view_mut(),
            &mut bufs,
        );
        Ok(())
    })?;
    Ok((a, b))
}

/// W with H fixed from each row's observed entries, by coordinate descent
/// from zeros: per row, sweeps until its violation ≤ `tol` × its first or
/// `max_iter` sweeps (rows are independent, so no reduce is needed).
/// Rows without an observed entry get W = 0.
pub fn solve_w_source_cd_masked<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    mode: Missing,
    h: ArrayView2<F>,
    pen_w: &Penalty,
    max_iter: usize,
    tol: f64,
) -> Result<Array2<F>> {
    let n = src.shape().0;
    let k = h.nrows();
    let ht = h.t().as_standard_layout().into_owned();
    let hht = h.dot(&h.t());
    let mut w = Array2::zeros((n, k));
    let mut bufs = super::masked::MaskedCdBufs::default();
    for_each_block(src, |s0, xb| {
        let e = s0 + xb.n_rows();
        update_rows(
            xb,
            mode,
            w.slice_mut(s![s0..e, ..]),
            ht.view(),
            hht.view(),
            pen_w,
            RowSweeps::Solve { max_iter, tol },
            &mut bufs,
        );
        Ok(())
    })?;
    Ok(w)
}
