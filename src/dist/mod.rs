//! Data-parallel fitting: the sum-all-reduce hook every worker calls.
//!
//! P workers ("ranks") each hold a shard of X's rows and the same H. A
//! mini-batch step is split in three (local, reduce, apply): each rank
//! updates its rows of W and sums its share of the H statistics (local),
//! the statistics and the cost are summed over the ranks (reduce, through a
//! [`Reducer`]), and every rank applies the identical H update (apply). One
//! process is the identity reduce: nothing is called at all.
//!
//! # The row order a distributed fit reproduces
//! The shards, concatenated in rank order (rank 0's rows first), are the X
//! of the equivalent single-process fit. With N the total rows and
//! `bs = min(batch_size, N)`, global batch b covers global rows
//! `[b·bs, min((b+1)·bs, N))`, the same every epoch; each rank processes its
//! intersection with that range (possibly empty). `rho`, the H penalties,
//! the early-stopping weights, `n_steps`, `n_iter` and the H-change test are
//! all computed from global quantities, so every rank takes the same
//! decisions and ends with the same H as the single-process fit (to
//! rounding: sums are associated differently).
//!
//! A worker's shard is any [`crate::io::RowSource`]: rows in memory, or its
//! own file read by row blocks (`fit_source`, `transform_source`).
//!
//! Every call that reduces (fit, fit_transform, partial_fit, transform) is
//! collective: all ranks must make it, with their own shard. Its first
//! reduce is a preflight exchange that also carries an error flag, so a
//! rank that rejects its input makes every rank return an error before any
//! work is done.

pub(crate) mod preflight;

pub(crate) use preflight::{abort, preflight, Shard, ShardSums};

use crate::error::{Error, Result};
use crate::float::NmfFloat;
use std::any::TypeId;
use std::fmt;

/// A sum-all-reduce across the workers of a distributed fit (e.g. MPI's
/// `MPI_Allreduce` with `MPI_SUM`).
///
/// Contract: every rank calls the methods in the same order with buffers of
/// the same length; on return each buffer holds the element-wise sum over
/// all ranks, **the same bits on every rank** (MPI implementations give
/// this for the built-in sum in practice; a reduction that differs between
/// ranks would let their H drift apart). Calls come from one thread at a
/// time, not necessarily the thread that started the fit (MPI must be
/// initialised with at least `MPI_THREAD_SERIALIZED`).
///
/// ```
/// use minibatchnmf::dist::{Reducer, SingleProcess};
/// let r = SingleProcess;
/// let mut buf = [1.0, 2.0];
/// r.sum_f64(&mut buf).unwrap();
/// assert_eq!((r.rank(), r.n_ranks(), buf), (0, 1, [1.0, 2.0]));
/// ```
pub trait Reducer: Send + Sync + fmt::Debug {
    /// This worker's index, 0 ≤ rank < n_ranks: its shard's place in the
    /// global row order.
    fn rank(&self) -> usize;
    /// Number of workers.
    fn n_ranks(&self) -> usize;
    /// Sum `buf` element-wise over all workers, in place.
    fn sum_f64(&self, buf: &mut [f64]) -> std::result::Result<(), String>;
    /// Sum `buf` element-wise over all workers, in place.
    fn sum_f32(&self, buf: &mut [f32]) -> std::result::Result<(), String>;
}

/// The identity reduce: one worker, nothing to sum.
#[derive(Debug, Clone, Copy, Default)]
pub struct SingleProcess;

impl Reducer for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn n_ranks(&self) -> usize {
        1
    }
    fn sum_f64(&self, _: &mut [f64]) -> std::result::Result<(), String> {
        Ok(())
    }
    fn sum_f32(&self, _: &mut [f32]) -> std::result::Result<(), String> {
        Ok(())
    }
}

/// How the kernels and the estimator reach the other workers: nothing
/// (one process, every reduce is a no-op) or a [`Reducer`].
#[derive(Clone, Copy)]
pub(crate) struct Comm<'a> {
    reducer: Option<&'a dyn Reducer>,
}

impl<'a> Comm<'a> {
    /// One process: every reduce returns at once.
    pub fn single() -> Self {
        Comm { reducer: None }
    }

    /// Through `reducer` (None = one process).
    pub fn new(reducer: Option<&'a dyn Reducer>) -> Self {
        Comm { reducer }
    }

    /// Whether reduces are no-ops.
    pub fn is_single(&self) -> bool {
        self.reducer.is_none()
    }

    /// This worker's rank (0 for one process).
    pub fn rank(&self) -> usize {
        self.reducer.map_or(0, |r| r.rank())
    }

    /// Number of workers (1 for one process).
    pub fn n_ranks(&self) -> usize {
        self.reducer.map_or(1, |r| r.n_ranks())
    }

    /// Sum f64 values over the workers.
    pub fn sum_f64(&self, buf: &mut [f64]) -> Result<()> {
        match self.reducer {
            None => Ok(()),
            Some(r) => r.sum_f64(buf).map_err(reduce_error),
        }
    }

    /// Sum values of the model's dtype over the workers.
    pub fn sum<F: NmfFloat>(&self, buf: &mut [F]) -> Result<()> {
        let Some(r) = self.reducer else {
            return Ok(());
        };
        let res = if TypeId::of::<F>() == TypeId::of::<f64>() {
            // SAFETY: F is f64 (same type, checked above).
            let b = unsafe { &mut *(buf as *mut [F] as *mut [f64]) };
            r.sum_f64(b)
        } else if TypeId::of::<F>() == TypeId::of::<f32>() {
            // SAFETY: F is f32.
            let b = unsafe { &mut *(buf as *mut [F] as *mut [f32]) };
            r.sum_f32(b)
        } else {
            Err(format!("no reduce for dtype {}", F::DTYPE))
        };
        res.map_err(reduce_error)
    }

    /// Sum `values` (model dtype) and `scalars` (f64) in as few calls as
    /// the dtype allows: one when F is f64 (the scalars travel in `buf`'s
    /// tail, which must hold `values.len() + scalars.len()` elements), two
    /// for f32 (the scalars stay in f64). `buf`'s head must already hold
    /// the values.
    pub fn sum_with_scalars<F: NmfFloat>(
        &self,
        buf: &mut [F],
        n_values: usize,
        scalars: &mut [f64],
    ) -> Result<()> {
        if self.is_single() {
            return Ok(());
        }
        if TypeId::of::<F>() == TypeId::of::<f64>() {
            let tail = &mut buf[n_values..n_values + scalars.len()];
            for (t, s) in tail.iter_mut().zip(scalars.iter()) {
                *t = F::from_f64_(*s);
            }
            self.sum(&mut buf[..n_values + scalars.len()])?;
            for (s, t) in scalars.iter_mut().zip(buf[n_values..].iter()) {
                *s = t.to_f64_();
            }
            Ok(())
        } else {
            self.sum(&mut buf[..n_values])?;
            self.sum_f64(scalars)
        }
    }
}

impl fmt::Debug for Comm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reducer {
            None => write!(f, "Comm::single"),
            Some(r) => write!(f, "Comm({r:?})"),
        }
    }
}

fn reduce_error(msg: String) -> Error {
    Error::Reduce(format!("the all-reduce hook failed: {msg}"))
}

#[cfg(test)]
mod tests;
