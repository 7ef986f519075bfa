//! The exact statistics of a starting W: A = WᵀW and B = WᵀX over this
//! worker's rows, X read by blocks (the cut depends on X's shape alone,
//! so a file and memory give the same bits).

use super::local::wt_x;
use crate::error::Result;
use crate::float::NmfFloat;
use crate::io::{for_each_block, pass_rows, RowSource};
use crate::kernels::Workspace;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2};

/// (A, B) = (WᵀW, WᵀX) of the rows of `src` and `w` (aligned).
pub fn exact_stats_source<F: NmfFloat>(
    src: &mut dyn RowSource<F>,
    w: ArrayView2<F>,
) -> Result<(Array2<F>, Array2<F>)> {
    let (n, m) = src.shape();
    let k = w.ncols();
    let block = pass_rows::<F>(n, m, src.nnz(), src.is_sparse());
    let mut ws = Workspace::for_pass(m, k, block.clamp(1, 1 << 16));
    ws.stats.ensure_for(2.0);
    let mut a = Array2::zeros((k, k));
    general_mat_mul(F::one(), &w.t(), &w, F::zero(), &mut a);
    let mut b = Array2::zeros((k, m));
    for_each_block(src, |s0, xb| {
        let e = s0 + xb.n_rows();
        wt_x(xb, w.slice(s![s0..e, ..]), &mut ws.stats, &mut ws.threads);
        b += &ws.stats.num;
        Ok(())
    })?;
    Ok((a, b))
}
