//! Initial W and H: random, NNDSVD, NNDSVDa, NNDSVDar (scikit-learn's
//! `_initialize_nmf`).

use crate::error::Result;
use crate::float::NmfFloat;
use crate::input::Input;
use crate::params::Init;
use ndarray::Array2;

/// Mean of all entries of X (implicit zeros of a CSR matrix included), in f64.
pub fn mean<F: NmfFloat>(x: &Input<F>) -> f64 {
    let (n, m) = x.shape();
    let total: f64 = match x {
        Input::Dense(d) => d.iter().map(|v| v.to_f64_()).sum(),
        Input::Csr(c) => c.values().iter().map(|v| v.to_f64_()).sum(),
    };
    total / (n as f64 * m as f64)
}

/// W (n×k) and H (k×m) for any `init` but `Custom`. `Init::Auto` resolves to
/// Nndsvda when k <= min(n, m), else Random. `random_state = None` draws
/// from entropy.
pub fn initialize<F: NmfFloat>(
    x: &Input<F>,
    n_components: usize,
    init: Init,
    random_state: Option<u32>,
) -> Result<(Array2<F>, Array2<F>)> {
    let _ = (x, n_components, init, random_state);
    todo!("H1")
}
