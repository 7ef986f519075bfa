//! The floating-point types the solver runs in.
//!
//! f32 inputs are factorized in f32 end to end (as scikit-learn does), f64 in
//! f64. Every numeric routine is generic over [`NmfFloat`] so the two share one
//! implementation.

use ndarray::{LinalgScalar, ScalarOperand};
use ndarray_linalg::Lapack;
use num_traits::{Float, FromPrimitive, NumAssign};
use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;

/// A real floating-point type with BLAS and LAPACK support (f32 or f64).
pub trait NmfFloat:
    Float
    + NumAssign
    + FromPrimitive
    + LinalgScalar
    + ScalarOperand
    + Lapack<Real = Self>
    + ndarray_linalg::Scalar<Real = Self>
    + Sum
    + Send
    + Sync
    + Debug
    + Display
    + LowerExp
    + Default
    + 'static
{
    /// Name of the dtype as numpy spells it ("float32"/"float64").
    const DTYPE: &'static str;

    /// Lossless widening to f64.
    fn to_f64_(self) -> f64;
    /// Rounding conversion from f64 (as numpy's astype).
    fn from_f64_(v: f64) -> Self;
}

impl NmfFloat for f64 {
    const DTYPE: &'static str = "float64";
    #[inline(always)]
    fn to_f64_(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64_(v: f64) -> Self {
        v
    }
}

impl NmfFloat for f32 {
    const DTYPE: &'static str = "float32";
    #[inline(always)]
    fn to_f64_(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64_(v: f64) -> Self {
        v as f32
    }
}

/// scikit-learn's `EPSILON`: float32 machine epsilon, used as the floor for
/// WH values in the beta-divergence updates whatever the dtype.
pub const EPSILON_F32: f64 = f32::EPSILON as f64;

/// float64 machine epsilon: the threshold below which W/H are zeroed for
/// stability when beta < 1 (W) or beta <= 1 (H).
pub const EPSILON_F64: f64 = f64::EPSILON;
