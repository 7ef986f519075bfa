//! numpy's legacy `RandomState` stream (MT19937), so that `random_state=s`
//! draws exactly what scikit-learn draws.
//!
//! Only what scikit-learn's NMF initialisation consumes is provided: the raw
//! 32-bit outputs, `random_sample()` (53-bit doubles) and the legacy Gaussian
//! sampler (Marsaglia's polar method, which produces two values per
//! accepted pair and hands out the second one on the following call).

use ndarray::Array2;

/// Number of 32-bit words in the MT19937 state.
const N: usize = 624;
/// Middle offset of the twist.
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// MT19937 seeded as `numpy.random.RandomState(seed)` seeds an integer.
///
/// ```
/// use minibatchnmf::rng::NumpyRandomState;
/// let mut rs = NumpyRandomState::new(0);
/// // numpy: np.random.RandomState(0).random_sample() == 0.5488135039273248
/// assert_eq!(rs.random_sample(), 0.5488135039273248);
/// ```
#[derive(Clone)]
pub struct NumpyRandomState {
    key: [u32; N],
    pos: usize,
    /// Second value of the last polar pair, not handed out yet.
    cached_gauss: Option<f64>,
}

impl std::fmt::Debug for NumpyRandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NumpyRandomState")
            .field("pos", &self.pos)
            .field("cached_gauss", &self.cached_gauss)
            .finish_non_exhaustive()
    }
}

impl NumpyRandomState {
    /// `RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        let mut key = [0u32; N];
        key[0] = seed;
        for i in 1..N {
            let prev = key[i - 1];
            key[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        NumpyRandomState {
            key,
            pos: N,
            cached_gauss: None,
        }
    }

    /// Seeding from a sequence of 32-bit words (MT19937's `init_by_array`,
    /// which is what numpy uses for array seeds).
    pub fn from_words(words: &[u32]) -> Self {
        let mut rs = NumpyRandomState::new(19_650_218);
        let key = &mut rs.key;
        let len = words.len().max(1);
        let mut i = 1usize;
        let mut j = 0usize;
        for _ in 0..N.max(len) {
            let prev = key[i - 1];
            let w = words.get(j).copied().unwrap_or(0);
            key[i] = (key[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_664_525))
                .wrapping_add(w)
                .wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                key[0] = key[N - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            let prev = key[i - 1];
            key[i] =
                (key[i] ^ (prev ^ (prev >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                key[0] = key[N - 1];
                i = 1;
            }
        }
        // Guarantee a non-zero state.
        key[0] = 0x8000_0000;
        rs.pos = N;
        rs.cached_gauss = None;
        rs
    }

    /// A generator seeded from OS entropy (scikit-learn's `random_state=None`).
    ///
    /// The whole state is seeded (as numpy does for `RandomState(None)`) from
    /// the standard library's randomly keyed hasher, the clock, the process
    /// id and a per-process counter, so two calls never share a stream.
    pub fn from_entropy() -> Self {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        use std::time::{SystemTime, UNIX_EPOCH};

        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut words = Vec::with_capacity(16);
        for round in 0..8u64 {
            // Each RandomState carries fresh OS-derived keys.
            let mut h = RandomState::new().build_hasher();
            h.write_u64(round);
            h.write_u64(count);
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            let v = h.finish();
            words.push(v as u32);
            words.push((v >> 32) as u32);
        }
        NumpyRandomState::from_words(&words)
    }

    /// Regenerate the 624 words of state.
    fn twist(&mut self) {
        let key = &mut self.key;
        for i in 0..N {
            let y = (key[i] & UPPER_MASK) | (key[(i + 1) % N] & LOWER_MASK);
            let mut v = key[(i + M) % N] ^ (y >> 1);
            if y & 1 == 1 {
                v ^= MATRIX_A;
            }
            key[i] = v;
        }
        self.pos = 0;
    }

    /// Next raw 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.twist();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `random_sample()`: a double in [0, 1) with 53 random bits (27 from
    /// the first word, 26 from the second).
    #[inline]
    pub fn random_sample(&mut self) -> f64 {
        let hi = (self.next_u32() >> 5) as f64;
        let lo = (self.next_u32() >> 6) as f64;
        (hi * 67_108_864.0 + lo) / 9_007_199_254_740_992.0
    }

    /// `standard_normal()`: the legacy polar Box-Muller with cached value.
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(g) = self.cached_gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.cached_gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// Fill `out` with standard normals, in order.
    pub fn fill_standard_normal(&mut self, out: &mut [f64]) {
        for v in out.iter_mut() {
            *v = self.standard_normal();
        }
    }

    /// `standard_normal(size=(rows, cols))` (or `normal(size=...)` with the
    /// default loc/scale): a rows×cols array filled in row-major order.
    pub fn standard_normal_array(&mut self, rows: usize, cols: usize) -> Array2<f64> {
        let mut v = vec![0.0; rows * cols];
        self.fill_standard_normal(&mut v);
        Array2::from_shape_vec((rows, cols), v).expect("shape matches length")
    }
}

/// A minimal reader for the `.npy` reference files of the unit tests.
#[cfg(test)]
pub(crate) mod test_npy {
    use std::path::{Path, PathBuf};

    /// Path of a file under `tests/fixtures/rng/`.
    pub fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests")
            .join("fixtures")
            .join("rng")
            .join(name)
    }

    /// All values of a float64 file, and its shape (read with ndarray-npy).
    pub fn read_f64(name: &str) -> (Vec<usize>, Vec<f64>) {
        read(name)
    }

    /// All values of a float32 file, and its shape.
    pub fn read_f32(name: &str) -> (Vec<usize>, Vec<f32>) {
        read(name)
    }

    fn read<T: ndarray_npy::ReadableElement>(name: &str) -> (Vec<usize>, Vec<T>) {
        let path = fixture(name);
        let a: ndarray::ArrayD<T> = ndarray_npy::read_npy(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        assert!(a.is_standard_layout(), "{name}: only C order is supported");
        (a.shape().to_vec(), a.into_raw_vec_and_offset().0)
    }

    /// A 2-D f8 file as an array.
    pub fn read_matrix(name: &str) -> ndarray::Array2<f64> {
        let (shape, v) = read_f64(name);
        assert_eq!(shape.len(), 2, "{name}");
        ndarray::Array2::from_shape_vec((shape[0], shape[1]), v).unwrap()
    }

    /// CSR arrays (indptr, indices, data) of a dense matrix, as
    /// `scipy.sparse.csr_matrix` builds them (sorted columns, zeros dropped).
    pub fn csr_parts<F: num_traits::Zero + Copy>(
        x: &ndarray::Array2<F>,
    ) -> (Vec<usize>, Vec<usize>, Vec<F>) {
        let mut indptr = vec![0];
        let (mut indices, mut data) = (vec![], vec![]);
        for row in x.rows() {
            for (j, &v) in row.iter().enumerate() {
                if !v.is_zero() {
                    indices.push(j);
                    data.push(v);
                }
            }
            indptr.push(data.len());
        }
        (indptr, indices, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference rows (see tests/fixtures/gen_rng_refs.py), each from a fresh
    /// `RandomState(seed)`: raw words, random_sample, standard_normal, and a
    /// mixed sequence (random_sample at i % 3 == 0, standard_normal otherwise).
    fn check_seed(seed: u32) {
        let (shape, v) = test_npy::read_f64(&format!("rng_seed{seed}.npy"));
        assert_eq!(shape.len(), 2);
        assert_eq!(shape[0], 4);
        let n = shape[1];
        let row = |r: usize| &v[r * n..(r + 1) * n];

        let mut rs = NumpyRandomState::new(seed);
        for (i, &want) in row(0).iter().enumerate() {
            assert_eq!(rs.next_u32() as f64, want, "seed {seed} raw draw {i}");
        }
        let mut rs = NumpyRandomState::new(seed);
        for (i, &want) in row(1).iter().enumerate() {
            let got = rs.random_sample();
            assert_eq!(got.to_bits(), want.to_bits(), "seed {seed} uniform {i}");
        }
        let mut rs = NumpyRandomState::new(seed);
        let mut normals = vec![0.0; n];
        rs.fill_standard_normal(&mut normals);
        for (i, (&got, &want)) in normals.iter().zip(row(2)).enumerate() {
            assert_eq!(got.to_bits(), want.to_bits(), "seed {seed} normal {i}");
        }
        let mut rs = NumpyRandomState::new(seed);
        for (i, &want) in row(3).iter().enumerate() {
            let got = if i % 3 == 0 {
                rs.random_sample()
            } else {
                rs.standard_normal()
            };
            assert_eq!(got.to_bits(), want.to_bits(), "seed {seed} mixed {i}");
        }
    }

    #[test]
    fn matches_numpy_seed_0() {
        check_seed(0);
    }

    #[test]
    fn matches_numpy_seed_1() {
        check_seed(1);
    }

    #[test]
    fn matches_numpy_seed_42() {
        check_seed(42);
    }

    #[test]
    fn matches_numpy_seed_max() {
        check_seed(u32::MAX);
    }

    #[test]
    fn normal_array_is_row_major_stream() {
        let a = NumpyRandomState::new(3).standard_normal_array(4, 5);
        let mut rs = NumpyRandomState::new(3);
        for v in a.iter() {
            assert_eq!(v.to_bits(), rs.standard_normal().to_bits());
        }
    }

    #[test]
    fn mt19937_reference_outputs() {
        // The MT19937 reference implementation's init_by_array({0x123, 0x234,
        // 0x345, 0x456}) output begins with these words.
        let mut rs = NumpyRandomState::from_words(&[0x123, 0x234, 0x345, 0x456]);
        let first: Vec<u32> = (0..5).map(|_| rs.next_u32()).collect();
        assert_eq!(
            first,
            vec![1067595299, 955945823, 477289528, 4107218783, 4228976476]
        );
    }

    #[test]
    fn entropy_streams_differ() {
        let mut a = NumpyRandomState::from_entropy();
        let mut b = NumpyRandomState::from_entropy();
        let da: Vec<u32> = (0..8).map(|_| a.next_u32()).collect();
        let db: Vec<u32> = (0..8).map(|_| b.next_u32()).collect();
        assert_ne!(da, db);
        let u = a.random_sample();
        assert!((0.0..1.0).contains(&u));
    }
}
