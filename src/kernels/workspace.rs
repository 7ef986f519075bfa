//! Buffers allocated once per fit (or per transform) and reused by every
//! step, so the inner loop does not allocate.

use crate::float::NmfFloat;
#[cfg(test)]
use crate::input::Input;
use crate::linalg::sparse::CscIndex;
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;

/// Elements of the dense W·H block materialised at once (4 MiB in f64):
/// dense X of any width and the beta != 1, 2 sparse paths go through W·H in
/// row blocks of this size.
const BLOCK_ELEMS: usize = 1 << 19;

/// Elements of one W·H block (the memory preflight counts them).
pub(crate) fn block_elems() -> usize {
    BLOCK_ELEMS
}

/// Rows per block for X with `n_features` columns.
pub(crate) fn rows_per_block(n_features: usize) -> usize {
    (BLOCK_ELEMS / n_features.max(1)).max(1)
}

/// A growable flat buffer viewed as a matrix of any shape up to its size.
#[derive(Default)]
pub(crate) struct Buf<F>(Vec<F>);

impl<F: NmfFloat> Buf<F> {
    /// Capacity for `len` elements (allocates only when growing).
    pub(crate) fn reserve(&mut self, len: usize) {
        if self.0.len() < len {
            self.0.resize(len, F::zero());
        }
    }
    /// An r×c row-major view of the first r·c elements.
    pub(crate) fn mat(&mut self, r: usize, c: usize) -> ArrayViewMut2<'_, F> {
        self.reserve(r * c);
        ArrayViewMut2::from_shape((r, c), &mut self.0[..r * c]).expect("buffer holds r*c elements")
    }
    /// The first `len` elements.
    pub(crate) fn slice(&mut self, len: usize) -> &mut [F] {
        self.reserve(len);
        &mut self.0[..len]
    }
}

/// Quantities derived from H, recomputed when H changes.
pub(crate) struct HCache<F> {
    /// Hᵀ (m×k), contiguous rows for per-non-zero dot products and GEMMs.
    pub(crate) ht: Array2<F>,
    /// H·Hᵀ (k×k).
    pub(crate) hht: Array2<F>,
    /// Row sums of H (k).
    pub(crate) hsum: Array1<F>,
    /// Per-column-block partial products of H·Hᵀ (wide H only).
    gram_parts: Vec<F>,
    /// `ht` already holds Hᵀ of the current H: cd's H sweep wrote it
    /// (`refresh` then skips the transpose, once). H changes only in a
    /// step's apply, which sets it; a new workspace starts without it.
    pub(crate) ht_fresh: bool,
}

/// Columns of H per block of the H·Hᵀ product: H wider than two blocks is
/// multiplied block by block in parallel, the k×k partial products added
/// in block order (a cut fixed by m alone, so the sums never depend on the
/// number of threads). Narrower H (dense data of a few thousand features)
/// takes one GEMM.
const GRAM_BLOCK: usize = 4096;

fn gram_blocks(m: usize) -> usize {
    if m >= 2 * GRAM_BLOCK {
        m.div_ceil(GRAM_BLOCK)
    } else {
        1
    }
}

impl<F: NmfFloat> HCache<F> {
    /// `ht_now`: allocate Hᵀ now (a fit's workspace); else at the first
    /// [`HCache::refresh`] (a pass workspace, whose CSR transform never
    /// transposes H: m×k values neither allocated nor zeroed).
    fn with_ht(k: usize, m: usize, ht_now: bool) -> Self {
        HCache {
            ht: Array2::zeros(if ht_now { (m, k) } else { (0, k) }),
            hht: Array2::zeros((k, k)),
            hsum: Array1::zeros(k),
            gram_parts: vec![
                F::zero();
                if gram_blocks(m) > 1 {
                    gram_blocks(m) * k * k
                } else {
                    0
                }
            ],
            ht_fresh: false,
        }
    }

    /// Recompute Hᵀ (unless cd's H sweep just wrote it), for β = 1 (the
    /// only loss that reads them) the row sums of H and, for β = 2 (the
    /// only loss that reads it), H·Hᵀ.
    pub(crate) fn refresh(&mut self, h: ArrayView2<F>, beta: f64) {
        // Transpose with plain index arithmetic (reads H row by row).
        let (k, m) = h.dim();
        let fresh = std::mem::take(&mut self.ht_fresh) && self.ht.dim() == (m, k);
        if self.ht.dim() != (m, k) {
            // A pass workspace allocates Hᵀ at its first transpose.
            self.ht = Array2::zeros((m, k));
        }
        match (h.as_slice(), self.ht.as_slice_mut()) {
            _ if fresh => {}
            (Some(hs), Some(ts)) => {
                // In tiles of TILE columns of H (TILE rows of Hᵀ, in cache
                // while the k rows of H are read), in parallel.
                const TILE: usize = 256;
                if k > 0 {
                    ts.par_chunks_mut(TILE * k)
                        .enumerate()
                        .for_each(|(t, tile)| {
                            let j0 = t * TILE;
                            let w = tile.len() / k;
                            for c in 0..k {
                                let src = &hs[c * m + j0..c * m + j0 + w];
                                for (jj, &v) in src.iter().enumerate() {
                                    tile[jj * k + c] = v;
                                }
                            }
                        });
                }
            }
            _ => self.ht.assign(&h.t()),
        }
        self.refresh_without_ht(h, beta);
    }

    /// [`HCache::refresh`] but for Hᵀ, which is left as it is (and must not
    /// be read): for a caller that multiplies by Hᵀ from H itself (CSR
    /// transform, [`crate::linalg::sparse_panels`]).
    pub(crate) fn refresh_without_ht(&mut self, h: ArrayView2<F>, beta: f64) {
        if beta == 2.0 {
            self.gram(h);
        }
        if beta == 1.0 {
            for (sum, row) in self.hsum.iter_mut().zip(h.rows()) {
                *sum = row.sum();
            }
        }
    }

    /// H·Hᵀ into `hht`: one GEMM, or (wide H) per-block GEMMs in parallel
    /// added in block order.
    fn gram(&mut self, h: ArrayView2<F>) {
        let (k, m) = h.dim();
        let nb = gram_blocks(m);
        if nb == 1 || k == 0 || self.gram_parts.len() != nb * k * k {
            ndarray::linalg::general_mat_mul(F::one(), &h, &h.t(), F::zero(), &mut self.hht);
            return;
        }
        self.gram_parts
            .par_chunks_mut(k * k)
            .enumerate()
            .for_each(|(b, part)| {
                let hb = h.slice(ndarray::s![
                    ..,
                    b * GRAM_BLOCK..((b + 1) * GRAM_BLOCK).min(m)
                ]);
                let mut p = ArrayViewMut2::from_shape((k, k), part).expect("k*k elements");
                ndarray::linalg::general_mat_mul(F::one(), &hb, &hb.t(), F::zero(), &mut p);
            });
        let mut parts = self.gram_parts.chunks(k * k);
        let first = parts.next().expect("two blocks or more");
        let out = self.hht.as_slice_mut().expect("owned k×k");
        out.copy_from_slice(first);
        for p in parts {
            for (o, &v) in out.iter_mut().zip(p) {
                *o += v;
            }
        }
    }
}

/// Buffers of the W update and of the W·H passes over a block of rows.
#[derive(Default)]
pub(crate) struct RowBufs<F> {
    /// Numerator of the W update (rows×k).
    pub(crate) num: Buf<F>,
    /// Denominator of the W update (rows×k).
    pub(crate) den: Buf<F>,
    /// W·H, then X∘(W·H)^(β-2) (block rows×m).
    pub(crate) wh: Buf<F>,
    /// (W·H)^(β-1) (block rows×m).
    pub(crate) wh2: Buf<F>,
    /// Per-non-zero values of a CSR block.
    pub(crate) nz: Buf<F>,
}

/// Accumulators of the H update over a mini-batch. Allocated on first use
/// ([`HStats::ensure`]): a W solve or a divergence pass never touches them,
/// and a worker whose share of the statistics goes elsewhere never holds a
/// k×m copy (k×m is 14 MB at k = 50 over a 35k-term vocabulary).
pub(crate) struct HStats<F> {
    /// Shape (k, m) of `num` and `den` once allocated.
    shape: (usize, usize),
    /// Numerator (k×m).
    pub(crate) num: Array2<F>,
    /// Denominator (k×m).
    pub(crate) den: Array2<F>,
    /// Wᵀ·W (k×k), for beta = 2.
    pub(crate) wtw: Array2<F>,
    /// Column sums of W (k), for beta = 1.
    pub(crate) wsum: Array1<F>,
    /// Column index of a CSR batch: its numerator is gathered per column
    /// (X's columns in parallel, each summed in row order) instead of
    /// scattered into per-thread copies.
    pub(crate) csc: CscIndex,
    /// The batch's per-non-zero values of that numerator (β ≠ 2).
    pub(crate) nz: Buf<F>,
}

impl<F: NmfFloat> HStats<F> {
    /// Statistics for k components and m features, allocated on first use.
    pub(crate) fn new(k: usize, m: usize) -> Self {
        HStats {
            shape: (k, m),
            num: Array2::zeros((0, 0)),
            den: Array2::zeros((0, 0)),
            wtw: Array2::zeros((0, 0)),
            wsum: Array1::zeros(0),
            csc: CscIndex::default(),
            nz: Buf::default(),
        }
    }

    /// Allocate every accumulator (once; later calls do nothing).
    pub(crate) fn ensure(&mut self) {
        self.ensure_parts(true, true);
    }

    /// Allocate the accumulators a step of loss `beta` fills: `den` only
    /// for β ≠ 1, 2 (the H update derives those denominators from `wtw`
    /// and `wsum`).
    pub(crate) fn ensure_for(&mut self, beta: f64) {
        self.ensure_parts(true, beta != 1.0 && beta != 2.0);
    }

    /// Allocate the small accumulators, and the k×m `num` / `den` when
    /// asked (once each).
    fn ensure_parts(&mut self, num: bool, den: bool) {
        let (k, m) = self.shape;
        if num && self.num.dim() != (k, m) {
            self.num = Array2::zeros((k, m));
        }
        if den && self.den.dim() != (k, m) {
            self.den = Array2::zeros((k, m));
        }
        if self.wsum.len() != k {
            self.wtw = Array2::zeros((k, k));
            self.wsum = Array1::zeros(k);
        }
    }
    /// Zero the accumulators the loss uses (the others stay untouched).
    pub(crate) fn clear(&mut self, beta: f64) {
        self.clear_with(beta, true);
    }

    /// [`Self::clear`], leaving `num` alone unless `num`.
    pub(crate) fn clear_with(&mut self, beta: f64, num: bool) {
        self.ensure_parts(num, beta != 1.0 && beta != 2.0);
        if num {
            self.num.fill(F::zero());
        }
        if beta == 2.0 {
            self.wtw.fill(F::zero());
        } else if beta == 1.0 {
            self.wsum.fill(F::zero());
        } else {
            self.den.fill(F::zero());
        }
    }

    /// self = Σ parts (the reduction of per-thread statistics), for the
    /// accumulators the loss uses (`num` too when `num`).
    pub(crate) fn sum_of(&mut self, parts: &[ThreadBufs<F>], beta: f64, num: bool) {
        fn sum_into<F: NmfFloat, D: ndarray::Dimension>(
            out: &mut ndarray::Array<F, D>,
            parts: &[ThreadBufs<F>],
            get: impl Fn(&HStats<F>) -> &ndarray::Array<F, D>,
        ) {
            out.assign(get(&parts[0].stats));
            for p in &parts[1..] {
                *out += get(&p.stats);
            }
        }
        self.ensure_for(beta);
        if parts.is_empty() {
            self.clear_with(beta, num);
            return;
        }
        if num {
            sum_into(&mut self.num, parts, |p| &p.num);
        }
        if beta == 2.0 {
            sum_into(&mut self.wtw, parts, |p| &p.wtw);
        } else if beta == 1.0 {
            sum_into(&mut self.wsum, parts, |p| &p.wsum);
        } else {
            sum_into(&mut self.den, parts, |p| &p.den);
        }
    }
}

/// The buffers one worker thread uses for its share of a mini-batch's rows.
pub(crate) struct ThreadBufs<F> {
    pub(crate) rows: RowBufs<F>,
    pub(crate) stats: HStats<F>,
}

/// How many row ranges to split `n` rows of width `m` into: one per worker,
/// but never ranges so small that the split costs more than it saves.
pub(crate) fn plan_parts(n: usize, m: usize, workers: usize) -> usize {
    const MIN_ELEMS_PER_PART: usize = 1 << 14;
    const MIN_ROWS_PER_PART: usize = 4;
    workers
        .min((n * m / MIN_ELEMS_PER_PART).max(1))
        .min((n / MIN_ROWS_PER_PART).max(1))
        .max(1)
}

/// Everything one fit needs, sized from the first call and reused: the
/// steps of a fit allocate nothing.
pub struct Workspace<F> {
    pub(crate) hc: HCache<F>,
    /// One set of buffers per worker thread.
    pub(crate) threads: Vec<ThreadBufs<F>>,
    /// The reduced H statistics of the current step.
    pub(crate) stats: HStats<F>,
    /// W of a fresh restart (batch rows×k).
    pub(crate) w_fresh: Buf<F>,
    /// X·Hᵀ of the current batch (batch rows×k), for beta = 2.
    pub(crate) xht: Buf<F>,
    /// The statistics packed for the all-reduce (distributed fits only).
    pub(crate) red: Buf<F>,
    /// Per-chunk sums of the H-change test.
    pub(crate) h_parts: Vec<(f64, f64)>,
    /// WᵀW·H of the β = 2 H update, a block of columns per thread
    /// (`update_h::apply`).
    pub(crate) h_den: Buf<F>,
    /// The cd solver's buffers (grown on first use).
    pub(crate) cd: super::cd::CdBufs<F>,
    /// The masked updates' buffers (missing values; grown on first use).
    pub(crate) masked: super::masked::MaskedState<F>,
}

impl<F: NmfFloat> Workspace<F> {
    /// Sized for mini-batches of up to `batch_size` rows of X with k
    /// components.
    #[cfg(test)]
    pub fn for_fit(x: &Input<F>, k: usize, batch_size: usize) -> Self {
        Self::for_shape(x.n_cols(), k, batch_size)
    }

    /// [`Workspace::for_fit`] for X with `m` columns.
    pub fn for_shape(m: usize, k: usize, batch_size: usize) -> Self {
        Self::sized(m, k, batch_size, true)
    }

    /// For one call over whole X (a W solve, a divergence): the row buffers
    /// grow on first use, to what the loss needs (a β = 2 solve never
    /// touches the W·H blocks, 8 MiB of zeroed pages per thread).
    pub(crate) fn for_pass(m: usize, k: usize, rows: usize) -> Self {
        Self::sized(m, k, rows, false)
    }

    fn sized(m: usize, k: usize, batch_size: usize, reserve_rows: bool) -> Self {
        let workers = rayon::current_num_threads().max(1);
        let parts = plan_parts(batch_size, m, workers);
        let rows_per_part = batch_size.div_ceil(parts).max(1);
        let threads = (0..workers)
            .map(|i| {
                let mut rows = RowBufs::default();
                // The W·H blocks (rows_per_block(m)·m each) grow on first
                // use, to what the loss needs: a β = 2 fit never touches
                // them (8 MiB of zeroed pages per thread saved).
                if reserve_rows && i < parts {
                    rows.num.reserve(rows_per_part * k);
                    rows.den.reserve(rows_per_part * k);
                }
                ThreadBufs {
                    rows,
                    stats: HStats::new(k, m),
                }
            })
            .collect();
        Workspace {
            hc: HCache::with_ht(k, m, reserve_rows),
            threads,
            stats: HStats::new(k, m),
            w_fresh: Buf::default(),
            xht: Buf::default(),
            red: Buf::default(),
            h_parts: Vec::with_capacity((k * m).div_ceil(super::update_h::CHUNK)),
            h_den: Buf::default(),
            cd: super::cd::CdBufs::default(),
            masked: super::masked::MaskedState::default(),
        }
    }

    /// A workspace for a one-off W solve or divergence over X.
    #[cfg(test)]
    pub(crate) fn for_rows(x: &Input<F>, k: usize) -> Self {
        Self::for_fit(x, k, x.n_rows().clamp(1, 1 << 16))
    }
}
