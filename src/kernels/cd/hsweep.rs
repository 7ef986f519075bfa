//! H's coordinate sweeps: scikit-learn's sweeps over the rows of Hᵀ
//! against (A, Bᵀ), run in place on the columns of H (k×m) without
//! forming Hᵀ first, `HL` columns at a time (wide blocks: on wide data
//! this is most of a step's arithmetic, and the latency of each
//! component's gradient chain is hidden by the independent columns).
//! The swept block, lane-major in cache, is also written out as Hᵀ's
//! rows, so the next step's W side needs no transpose of H.

use super::sweep::{sweep_block, SweepBufs};
use crate::float::NmfFloat;
use ndarray::{Array2, ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;

/// Columns of H per parallel task (fixed, so the H-change sums do not
/// depend on the number of threads).
const COLS: usize = 1024;

/// Columns swept together (32 f64: four AVX-512 or eight AVX registers of
/// independent chains).
const HL: usize = 32;

/// One parallel task: (block index, (((H's columns of the block, B's
/// columns of the block), its scratch), Hᵀ's rows of the block or nothing)).
type BlockTask<'a, F> = (
    usize,
    (
        ((ArrayViewMut2<'a, F>, ArrayViewMut2<'a, F>), &'a mut [F]),
        &'a mut [F],
    ),
);

/// B's change in some of its columns, compactly: the columns (increasing)
/// and their k values each (column c's at `c·k..`).
pub(crate) type ColsDelta<'a, F> = Option<(&'a [usize], &'a [F])>;

/// `sweeps` HALS sweeps over every column of `h` (k×m) in place, with the
/// Hessian `hess` (k×k) and the linear term `b` (k×m; `l1` is subtracted
/// from it): each column gets exactly the arithmetic of its row of Hᵀ in
/// [`super::sweep_rows`]. In parallel over blocks of columns. With `ht`
/// (m×k, standard layout), Hᵀ of the new H is written there too.
/// With `add`, each block first adds B's change in its columns to `b`
/// (the same `b[t, j] += Δ` as a separate pass, while the block's columns
/// of B are in cache for the sweep).
/// Returns ||H_new − H_old|| / ||H_new|| (per-lane sums over a block of
/// `COLS` columns, added lane by lane, then block by block).
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_cols<F: NmfFloat>(
    h: &mut Array2<F>,
    hess: ArrayView2<F>,
    b: &mut Array2<F>,
    add: ColsDelta<F>,
    l1: f64,
    sweeps: usize,
    bufs: &mut SweepBufs<F>,
    ht: Option<&mut Array2<F>>,
) -> f64 {
    let (k, m) = h.dim();
    if k == 0 || m == 0 {
        return 0.0;
    }
    if h.strides()[1] != 1 {
        // The sweeps address H's rows directly (never the case for the
        // model's H).
        *h = h.as_standard_layout().into_owned();
    }
    if b.strides()[1] != 1 {
        *b = b.as_standard_layout().into_owned();
    }
    debug_assert_eq!(b.dim(), (k, m));
    let l1 = F::from_f64_(l1);
    let hess = hess.as_standard_layout();
    let hs = hess.as_slice().expect("standard layout");
    let blocks = m.div_ceil(COLS);
    let per = 3 * k * HL;
    let SweepBufs { parts, lanes } = bufs;
    let lanes = lanes.slice(blocks * per);
    // Hᵀ's rows of each block (an empty slice per block without `ht`).
    let mut none: [F; 0] = [];
    let (hts, ht_per): (&mut [F], usize) = match ht {
        Some(t) => {
            debug_assert_eq!(t.dim(), (m, k));
            (t.as_slice_mut().expect("standard layout"), COLS * k)
        }
        None => (&mut none, 0),
    };
    let job = |(bi, (((mut hc, mut bc), scratch), htc)): BlockTask<F>| {
        let (vb, rest) = scratch.split_at_mut(k * HL);
        let (lb, old) = rest.split_at_mut(k * HL);
        // Per-lane sums (independent chains), added in lane order at the
        // end of the block.
        let (mut d2, mut n2) = ([0.0f64; HL], [0.0f64; HL]);
        let cols = hc.ncols();
        let c0 = bi * COLS;
        let rs = hc.strides()[0] as usize;
        let hp = hc.as_mut_ptr();
        let brs = bc.strides()[0] as usize;
        let bp = bc.as_mut_ptr();
        if let Some((list, delta)) = add {
            let lo = list.partition_point(|&j| j < c0);
            let hi = list.partition_point(|&j| j < c0 + cols);
            for (c, &j) in list[lo..hi].iter().enumerate().map(|(i, j)| (lo + i, j)) {
                for (t, &d) in delta[c * k..(c + 1) * k].iter().enumerate() {
                    // SAFETY: row t, column j − c0 of this block of B
                    // (j in c0..c0 + cols), disjoint from other blocks.
                    unsafe { *bp.add(t * brs + j - c0) += d };
                }
            }
        }
        for j0 in (0..cols).step_by(HL) {
            let used = HL.min(cols - j0);
            if used < HL {
                vb.fill(F::zero());
                lb.fill(F::zero());
            }
            for t in 0..k {
                // SAFETY: row t of this block of H: `cols` values from
                // hp + t·rs, inside H and disjoint from the other rows
                // (rs ≥ m ≥ cols) and from the other blocks' columns.
                let hr = unsafe { std::slice::from_raw_parts(hp.add(t * rs), cols) };
                // SAFETY: row t of this block of B, likewise (no mutable
                // reference to it lives while this one does).
                let br = unsafe { std::slice::from_raw_parts(bp.add(t * brs), cols) };
                let (vd, ld) = (&mut vb[t * HL..(t + 1) * HL], &mut lb[t * HL..(t + 1) * HL]);
                if used == HL {
                    let hv: &[F; HL] = hr[j0..j0 + HL].try_into().expect("lanes");
                    let bv: &[F; HL] = br[j0..j0 + HL].try_into().expect("lanes");
                    let vd: &mut [F; HL] = vd.try_into().expect("lanes");
                    let ld: &mut [F; HL] = ld.try_into().expect("lanes");
                    *vd = *hv;
                    *ld = *bv;
                } else {
                    vd[..used].copy_from_slice(&hr[j0..j0 + used]);
                    ld[..used].copy_from_slice(&br[j0..j0 + used]);
                }
            }
            old.copy_from_slice(vb);
            let mut viol = [F::zero(); HL];
            sweep_block(vb, lb, hs, l1, sweeps, &mut viol);
            for t in 0..k {
                // SAFETY: as above; no other reference to this row lives.
                let hr = unsafe { std::slice::from_raw_parts_mut(hp.add(t * rs), cols) };
                let hr = &mut hr[j0..j0 + used];
                let (nvs, ovs) = (&vb[t * HL..(t + 1) * HL], &old[t * HL..(t + 1) * HL]);
                for l in 0..HL {
                    // Padding lanes stay zero: they add nothing.
                    let (nv, ov) = (nvs[l].to_f64_(), ovs[l].to_f64_());
                    d2[l] += (nv - ov) * (nv - ov);
                    n2[l] += nv * nv;
                }
                hr.copy_from_slice(&nvs[..used]);
            }
            if !htc.is_empty() {
                for (l, row) in htc[j0 * k..(j0 + used) * k].chunks_exact_mut(k).enumerate() {
                    for (t, x) in row.iter_mut().enumerate() {
                        *x = vb[t * HL + l];
                    }
                }
            }
        }
        (d2.iter().sum::<f64>(), n2.iter().sum::<f64>())
    };
    let blocks_iter = h
        .axis_chunks_iter_mut(Axis(1), COLS)
        .into_par_iter()
        .zip(b.axis_chunks_iter_mut(Axis(1), COLS).into_par_iter())
        .zip(lanes.par_chunks_mut(per));
    if ht_per > 0 {
        blocks_iter
            .zip(hts.par_chunks_mut(ht_per))
            .enumerate()
            .map(&job)
            .collect_into_vec(parts);
    } else {
        blocks_iter
            .map(|x| (x, &mut [][..]))
            .enumerate()
            .map(&job)
            .collect_into_vec(parts);
    }
    let (d2, n2) = parts.iter().fold((0.0, 0.0), |p, q| (p.0 + q.0, p.1 + q.1));
    d2.sqrt() / n2.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::cd::sweep_rows;
    use ndarray::array;

    /// H's in-place column sweeps (several blocks of `COLS` columns, a
    /// partial block of lanes at the end) do to each column exactly what
    /// the row sweeps do to the same row of Hᵀ; the H change is
    /// ||H_new − H_old|| / ||H_new||; the Hᵀ written is the new H's.
    #[test]
    fn column_sweeps_of_h_equal_row_sweeps_of_ht() {
        let (k, m) = (3, 2 * COLS + 13);
        let f = |i: usize, j: usize, s: usize| (((i * 31 + j * 17 + s) % 23) as f64) / 7.0;
        let h0 =
            ndarray::Array2::from_shape_fn(
                (k, m),
                |(i, j)| if (i + j) % 5 == 0 { 0.0 } else { f(i, j, 1) },
            );
        let b = ndarray::Array2::from_shape_fn((k, m), |(i, j)| f(i, j, 4));
        let hess = array![[2.0, 0.3, 0.1], [0.3, 1.5, 0.2], [0.1, 0.2, 0.9]];
        let mut h = h0.clone();
        let mut bufs = SweepBufs::default();
        let mut ht_out = ndarray::Array2::from_elem((m, k), -1.0);
        let mut bm = b.clone();
        let change = sweep_cols(
            &mut h,
            hess.view(),
            &mut bm,
            None,
            0.05,
            3,
            &mut bufs,
            Some(&mut ht_out),
        );
        assert_eq!(bm, b);
        let mut ht = h0.t().as_standard_layout().into_owned();
        let bt = b.t().as_standard_layout().into_owned();
        sweep_rows(ht.view_mut(), hess.view(), bt.view(), 0.05, 3, &mut bufs);
        assert_eq!(h, ht.t());
        assert_eq!(ht_out, ht);
        let expected = (&h - &h0).mapv(|d| d * d).sum().sqrt() / h.mapv(|v| v * v).sum().sqrt();
        assert!(change > 0.0 && (change - expected).abs() <= 1e-12 * expected);
        // Without Hᵀ: the same H and change.
        let mut h2 = h0.clone();
        let change2 = sweep_cols(
            &mut h2,
            hess.view(),
            &mut bm,
            None,
            0.05,
            3,
            &mut bufs,
            None,
        );
        assert_eq!(h2, h);
        assert_eq!(change2, change);
    }

    /// B's compact change in some columns (in several blocks, the first
    /// and the last column among them), added by the sweep: the same B and
    /// H, bit for bit, as adding it first and sweeping after.
    #[test]
    fn sweep_adds_the_compact_change_of_b_first() {
        let (k, m) = (4, 3 * COLS + 7);
        let f = |i: usize, j: usize, s: usize| (((i * 13 + j * 29 + s) % 19) as f64) / 5.0;
        let h0 = ndarray::Array2::from_shape_fn((k, m), |(i, j)| f(i, j, 2));
        let b0 = ndarray::Array2::from_shape_fn((k, m), |(i, j)| f(i, j, 7) - 1.0);
        let hess = ndarray::Array2::from_shape_fn((k, k), |(i, j)| {
            if i == j {
                2.0 + i as f64
            } else {
                0.1 * (i + j) as f64
            }
        });
        let cols: Vec<usize> = (0..m).filter(|j| j % 7 == 0 || *j == m - 1).collect();
        let delta: Vec<f64> = (0..cols.len() * k)
            .map(|i| ((i % 11) as f64) / 3.0 - 1.5)
            .collect();
        let mut bufs = SweepBufs::default();
        let (mut h1, mut b1) = (h0.clone(), b0.clone());
        for (c, &j) in cols.iter().enumerate() {
            for t in 0..k {
                b1[[t, j]] += delta[c * k + t];
            }
        }
        let c1 = sweep_cols(&mut h1, hess.view(), &mut b1, None, 0.0, 2, &mut bufs, None);
        let (mut h2, mut b2) = (h0.clone(), b0.clone());
        let add = Some((&cols[..], &delta[..]));
        let c2 = sweep_cols(&mut h2, hess.view(), &mut b2, add, 0.0, 2, &mut bufs, None);
        assert_ne!(b1, b0);
        assert_eq!(b2, b1);
        assert_eq!(h2, h1);
        assert_eq!(c2, c1);
    }
}
