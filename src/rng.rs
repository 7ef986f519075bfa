//! numpy's legacy `RandomState` stream (MT19937), so that `random_state=s`
//! draws exactly what scikit-learn draws.
//!
//! Only what scikit-learn's NMF initialisation consumes is provided: the raw
//! 32-bit outputs, `random_sample()` (53-bit doubles) and the legacy Gaussian
//! sampler (Marsaglia's polar method, which produces two values per
//! accepted pair and hands out the second one on the following call).

use crate::params::ParamError;
use ndarray::Array2;
use std::sync::Arc;

/// Pairs of normals per parallel task of [`NumpyRandomState::fill_standard_normal`]
/// (shorter fills run sequentially).
const PAR_PAIRS: usize = 8192;

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
/// use minibatchnmf::NumpyRandomState;
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

    /// numpy's `RandomState().set_state(('MT19937', key, pos, has_gauss,
    /// cached_gaussian))`, checked as [`MtState::new`] checks it.
    pub fn from_state(
        key: &[u32],
        pos: usize,
        has_gauss: bool,
        cached_gaussian: f64,
    ) -> Result<Self, ParamError> {
        Ok(Self::from_mt_state(&MtState::new(
            key,
            pos,
            has_gauss,
            cached_gaussian,
        )?))
    }

    /// The generator in a checked state.
    pub fn from_mt_state(state: &MtState) -> Self {
        NumpyRandomState {
            key: *state.key,
            pos: state.pos,
            cached_gauss: state.cached_gauss,
        }
    }

    /// The current state (numpy's `get_state()`), to continue the stream
    /// elsewhere.
    pub fn state(&self) -> MtState {
        MtState {
            key: Box::new(self.key),
            pos: self.pos,
            cached_gauss: self.cached_gauss,
        }
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

    /// Fill `out` with standard normals, in order: the values and the
    /// generator's final state of as many [`standard_normal`] calls, bit
    /// for bit. Long fills draw the accepted pairs (x1, x2, r2) in order
    /// first, then compute their factors √(−2·ln r2 / r2), independent of
    /// each other, in parallel (the same operations on the same values).
    ///
    /// [`standard_normal`]: NumpyRandomState::standard_normal
    pub fn fill_standard_normal(&mut self, out: &mut [f64]) {
        let mut out = out;
        if out.is_empty() {
            return;
        }
        if let Some(g) = self.cached_gauss.take() {
            out[0] = g;
            out = &mut out[1..];
        }
        let pairs = out.len() / 2;
        if pairs < PAR_PAIRS {
            for v in out.iter_mut() {
                *v = self.standard_normal();
            }
            return;
        }
        // Pair p: out[2p] = f·x2 (returned first), out[2p + 1] = f·x1 (the
        // value standard_normal caches for the next call).
        let mut r2s = vec![0.0f64; pairs];
        for (pair, r2o) in out.chunks_exact_mut(2).zip(r2s.iter_mut()) {
            loop {
                let x1 = 2.0 * self.random_sample() - 1.0;
                let x2 = 2.0 * self.random_sample() - 1.0;
                let r2 = x1 * x1 + x2 * x2;
                if r2 < 1.0 && r2 != 0.0 {
                    pair[0] = x2;
                    pair[1] = x1;
                    *r2o = r2;
                    break;
                }
            }
        }
        {
            use rayon::prelude::*;
            out[..2 * pairs]
                .par_chunks_mut(2 * PAR_PAIRS)
                .zip(r2s.par_chunks(PAR_PAIRS))
                .for_each(|(o, r)| {
                    for (pair, &r2) in o.chunks_exact_mut(2).zip(r) {
                        let f = (-2.0 * r2.ln() / r2).sqrt();
                        pair[0] *= f;
                        pair[1] *= f;
                    }
                });
        }
        if out.len() % 2 == 1 {
            out[2 * pairs] = self.standard_normal();
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

/// A complete numpy `RandomState` state: what `RandomState.get_state()`
/// returns in its legacy tuple form `('MT19937', key, pos, has_gauss,
/// cached_gaussian)`, checked as numpy's `set_state` checks it.
///
/// Its text form (`get_param("random_state")`, saved models) is
/// `mt19937:<pos>:<cached_gaussian or none>:<key as 624 × 8 hex digits>`.
///
/// ```
/// use minibatchnmf::{MtState, NumpyRandomState};
/// let mut a = NumpyRandomState::new(0);
/// a.standard_normal();
/// let state: MtState = a.state();
/// let mut b = NumpyRandomState::from_mt_state(&state);
/// assert_eq!(a.random_sample(), b.random_sample());
/// assert_eq!(state.to_string().parse::<MtState>().unwrap(), state);
/// assert!(MtState::new(&[0; 624], 624, false, 0.0).is_err()); // all-zero key
/// ```
#[derive(Clone, PartialEq)]
pub struct MtState {
    key: Box<[u32; N]>,
    pos: usize,
    cached_gauss: Option<f64>,
}

impl MtState {
    /// Words in the key (624).
    pub const KEY_LEN: usize = N;

    /// numpy's state from its parts: `key` must hold 624 words and `pos`
    /// be at most 624 (what `get_state()` can return), and the key must not
    /// be all zeros (a generator that only ever outputs zeros; numpy's
    /// `set_state` accepts it silently, we refuse it). `cached_gaussian` is
    /// used only when `has_gauss` is true.
    pub fn new(
        key: &[u32],
        pos: usize,
        has_gauss: bool,
        cached_gaussian: f64,
    ) -> Result<Self, ParamError> {
        let bad = |reason: String| ParamError::Invalid {
            name: "random_state",
            reason,
        };
        let key: Box<[u32; N]> =
            key.to_vec()
                .into_boxed_slice()
                .try_into()
                .map_err(|k: Box<[u32]>| {
                    bad(format!("an MT19937 key has {N} words, got {}", k.len()))
                })?;
        if pos > N {
            return Err(bad(format!(
                "the MT19937 position must be <= {N}, got {pos}"
            )));
        }
        if key.iter().all(|&w| w == 0) {
            return Err(bad("an all-zero MT19937 key is not a valid state".into()));
        }
        Ok(MtState {
            key,
            pos,
            cached_gauss: has_gauss.then_some(cached_gaussian),
        })
    }

    /// The 624 words of the key.
    pub fn key(&self) -> &[u32] {
        &self.key[..]
    }

    /// Position of the next word to temper (624: twist first).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Whether a second Gaussian of the last polar pair is waiting.
    pub fn has_gauss(&self) -> bool {
        self.cached_gauss.is_some()
    }

    /// The waiting Gaussian (0.0 when there is none, as numpy reports it).
    pub fn cached_gaussian(&self) -> f64 {
        self.cached_gauss.unwrap_or(0.0)
    }
}

impl std::fmt::Debug for MtState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MtState")
            .field("pos", &self.pos)
            .field("cached_gauss", &self.cached_gauss)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for MtState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mt19937:{}:", self.pos)?;
        match self.cached_gauss {
            Some(g) => write!(f, "{g:?}:")?,
            None => write!(f, "none:")?,
        }
        for w in self.key.iter() {
            write!(f, "{w:08x}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for MtState {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        let bad = || ParamError::Invalid {
            name: "random_state",
            reason: "expected a seed, None or mt19937:<pos>:<gaussian or none>:<624 words in hex>"
                .into(),
        };
        let mut parts = s.trim().splitn(4, ':');
        if parts.next() != Some("mt19937") {
            return Err(bad());
        }
        let pos: usize = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let gauss = match parts.next().ok_or_else(bad)? {
            "none" => None,
            g => Some(g.parse::<f64>().map_err(|_| bad())?),
        };
        let hex = parts.next().ok_or_else(bad)?;
        if hex.len() != 8 * N || !hex.is_ascii() {
            return Err(bad());
        }
        let key: Vec<u32> = (0..N)
            .map(|i| u32::from_str_radix(&hex[8 * i..8 * i + 8], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| bad())?;
        MtState::new(&key, pos, gauss.is_some(), gauss.unwrap_or(0.0))
    }
}

/// Where the initialisation draws from (scikit-learn's `random_state`).
///
/// `From<Option<u32>>` keeps `random_state(Some(seed))` / `random_state(None)`
/// working.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum RandomState {
    /// `None`: a generator seeded from OS entropy for each draw.
    #[default]
    Entropy,
    /// An int seed: each draw starts a fresh `RandomState(seed)`, so every
    /// fit starts the same way.
    Seed(u32),
    /// A `RandomState` instance, given by its state: draws continue its
    /// stream, and a fit that initialises W and H leaves the state where
    /// scikit-learn would leave the instance, so a second fit continues it.
    State(Arc<MtState>),
}

impl RandomState {
    /// The seed, if this is [`RandomState::Seed`].
    pub fn seed(&self) -> Option<u32> {
        match self {
            RandomState::Seed(s) => Some(*s),
            _ => None,
        }
    }

    /// After drawing from `rng` (made by [`generator`](Self::generator)):
    /// a [`RandomState::State`] moves on to `rng`'s state, as a numpy
    /// instance would have; a seed or `Entropy` stays as it is.
    pub fn advance_to(&mut self, rng: &NumpyRandomState) {
        if let RandomState::State(s) = self {
            *s = Arc::new(rng.state());
        }
    }

    /// A generator for one draw (scikit-learn's `check_random_state`).
    pub fn generator(&self) -> NumpyRandomState {
        match self {
            RandomState::Entropy => NumpyRandomState::from_entropy(),
            RandomState::Seed(s) => NumpyRandomState::new(*s),
            RandomState::State(st) => NumpyRandomState::from_mt_state(st),
        }
    }
}

impl From<Option<u32>> for RandomState {
    fn from(v: Option<u32>) -> Self {
        v.map_or(RandomState::Entropy, RandomState::Seed)
    }
}

impl From<u32> for RandomState {
    fn from(v: u32) -> Self {
        RandomState::Seed(v)
    }
}

impl From<MtState> for RandomState {
    fn from(v: MtState) -> Self {
        RandomState::State(Arc::new(v))
    }
}

impl std::fmt::Display for RandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RandomState::Entropy => f.write_str("None"),
            RandomState::Seed(s) => write!(f, "{s}"),
            RandomState::State(st) => write!(f, "{st}"),
        }
    }
}

impl std::str::FromStr for RandomState {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        let t = s.trim();
        if t == "None" || t == "none" {
            Ok(RandomState::Entropy)
        } else if t.starts_with("mt19937:") {
            Ok(t.parse::<MtState>()?.into())
        } else {
            t.parse()
                .map(RandomState::Seed)
                .map_err(|_| ParamError::Invalid {
                    name: "random_state",
                    reason: format!("cannot parse {s:?}"),
                })
        }
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

    /// Long fills (the parallel factors), odd and even lengths, with and
    /// without a cached value at the start: the values and the final state
    /// of as many `standard_normal` calls.
    #[test]
    fn long_fills_are_the_sequential_stream() {
        for (len, cached) in [
            (2 * PAR_PAIRS * 3 + 1, false),
            (2 * PAR_PAIRS * 3 + 1, true),
            (2 * PAR_PAIRS + 6, true),
            (2 * PAR_PAIRS + 6, false),
            (5, true),
        ] {
            let mut a = NumpyRandomState::new(11);
            let mut b = NumpyRandomState::new(11);
            if cached {
                a.standard_normal();
                b.standard_normal();
            }
            let mut v = vec![0.0; len];
            a.fill_standard_normal(&mut v);
            for x in &v {
                assert_eq!(x.to_bits(), b.standard_normal().to_bits());
            }
            assert!(a.state() == b.state());
            assert_eq!(a.standard_normal().to_bits(), b.standard_normal().to_bits());
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

    /// A generator rebuilt from the exported parts of `rs` (as numpy's
    /// `set_state(get_state())` would).
    fn through_parts(rs: &NumpyRandomState) -> NumpyRandomState {
        let st = rs.state();
        NumpyRandomState::from_state(st.key(), st.pos(), st.has_gauss(), st.cached_gaussian())
            .unwrap()
    }

    /// The state of `RandomState(seed)` after `k` draws, set into a new
    /// generator, continues numpy's stream (fixture rows 0 and 2): raw words
    /// across a twist, and normals with and without a cached Gaussian.
    #[test]
    fn from_state_continues_numpys_stream() {
        for seed in [0u32, 42, u32::MAX] {
            let (shape, v) = test_npy::read_f64(&format!("rng_seed{seed}.npy"));
            let n = shape[1];
            let row = |r: usize| &v[r * n..(r + 1) * n];
            for k in [0, 1, 7, n / 2] {
                let mut rs = NumpyRandomState::new(seed);
                for _ in 0..k {
                    rs.next_u32();
                }
                let mut cont = through_parts(&rs);
                for (i, &want) in row(0)[k..].iter().enumerate() {
                    assert_eq!(cont.next_u32() as f64, want, "seed {seed} raw {}", k + i);
                }
                let mut rs = NumpyRandomState::new(seed);
                for _ in 0..k {
                    rs.standard_normal();
                }
                assert_eq!(rs.state().has_gauss(), k % 2 == 1);
                let mut cont = through_parts(&rs);
                for (i, &want) in row(2)[k..].iter().enumerate() {
                    let got = cont.standard_normal();
                    assert_eq!(
                        got.to_bits(),
                        want.to_bits(),
                        "seed {seed} normal {}",
                        k + i
                    );
                }
            }
        }
    }

    #[test]
    fn state_round_trips_through_text() {
        let mut rs = NumpyRandomState::new(5);
        rs.standard_normal();
        let st = rs.state();
        assert!(st.has_gauss());
        let text = st.to_string();
        assert_eq!(text.parse::<MtState>().unwrap(), st);
        let r: RandomState = text.parse().unwrap();
        assert_eq!(r, RandomState::from(st.clone()));
        assert_eq!(r.to_string(), text);
        assert_eq!("None".parse::<RandomState>().unwrap(), RandomState::Entropy);
        assert_eq!("7".parse::<RandomState>().unwrap(), RandomState::Seed(7));
        for bad in ["mt19937:1:none:00", "mt19937:x:none:", "-1", "mt19937"] {
            assert!(bad.parse::<RandomState>().is_err(), "{bad}");
        }
        let bad_pos = text.replacen(&format!("mt19937:{}:", st.pos()), "mt19937:625:", 1);
        assert_ne!(bad_pos, text);
        assert!(bad_pos.parse::<MtState>().is_err());
    }

    #[test]
    fn invalid_states_are_param_errors() {
        let key = NumpyRandomState::new(1).state().key().to_vec();
        let err = |r: Result<NumpyRandomState, ParamError>| match r {
            Err(ParamError::Invalid { name, reason }) => {
                assert_eq!(name, "random_state");
                reason
            }
            other => panic!("expected an error, got {other:?}"),
        };
        assert!(err(NumpyRandomState::from_state(&key, 625, false, 0.0)).contains("625"));
        assert!(err(NumpyRandomState::from_state(&key[..623], 0, false, 0.0)).contains("623"));
        assert!(err(NumpyRandomState::from_state(&[0; 624], 0, false, 0.0)).contains("all-zero"));
        // pos = 624 (twist first) and pos = 0 are both valid.
        assert!(NumpyRandomState::from_state(&key, 624, true, 0.5).is_ok());
        assert!(NumpyRandomState::from_state(&key, 0, false, 0.0).is_ok());
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
