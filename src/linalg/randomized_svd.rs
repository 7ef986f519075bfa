//! scikit-learn's `randomized_svd` with its defaults (n_oversamples=10,
//! n_iter='auto', LU power-iteration normaliser, transpose='auto',
//! flip_sign=True), reproducing its random draws.

use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::rng::NumpyRandomState;
use ndarray::{Array1, Array2};

/// Truncated SVD: (U n×k, S k, Vt k×m).
pub fn randomized_svd<F: NmfFloat>(
    x: &Input<F>,
    n_components: usize,
    rng: &mut NumpyRandomState,
) -> Result<(Array2<F>, Array1<F>, Array2<F>)> {
    let _ = (x, n_components, rng);
    todo!("H1")
}
