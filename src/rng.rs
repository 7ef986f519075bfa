//! numpy's legacy `RandomState` stream (MT19937), so that `random_state=s`
//! draws exactly what scikit-learn draws.

/// MT19937 seeded as `numpy.random.RandomState(seed)` seeds an integer.
#[derive(Clone)]
pub struct NumpyRandomState {
    _todo: (),
}

impl NumpyRandomState {
    /// `RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        let _ = seed;
        todo!("H1")
    }
    /// A generator seeded from OS entropy (scikit-learn's `random_state=None`).
    pub fn from_entropy() -> Self {
        todo!("H1")
    }
    /// Next raw 32-bit output.
    pub fn next_u32(&mut self) -> u32 {
        todo!("H1")
    }
    /// `random_sample()`: a double in [0, 1) with 53 random bits.
    pub fn random_sample(&mut self) -> f64 {
        todo!("H1")
    }
    /// `standard_normal()`: the legacy polar Box-Muller with cached value.
    pub fn standard_normal(&mut self) -> f64 {
        todo!("H1")
    }
}
