//! Small deterministic matrices for the persistence and property tests
//! (no files, no RNG crate: a fixed linear congruential sequence).

#![allow(dead_code)]

use minibatchnmf::NmfFloat;
use ndarray::Array2;

/// n × m non-negative values in [0, 4); about `zeros` of them 0 unless
/// `positive`, when every value is in [0.05, 4).
pub fn matrix(n: usize, m: usize, seed: u64, zeros: f64, positive: bool) -> Array2<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    Array2::from_shape_fn((n, m), |_| {
        let u = next();
        let v = next() * 4.0;
        if positive {
            0.05 + v * 0.9875
        } else if u < zeros {
            0.0
        } else {
            v
        }
    })
}

/// The matrix in dtype F.
pub fn cast<F: NmfFloat>(x: &Array2<f64>) -> Array2<F> {
    x.mapv(F::from_f64_)
}

/// CSR arrays of the non-zero entries of `x`.
pub struct Csr<F> {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<usize>,
    pub data: Vec<F>,
}

impl<F: NmfFloat> Csr<F> {
    pub fn from_dense(x: &Array2<F>) -> Self {
        let (mut indptr, mut indices, mut data) = (vec![0], vec![], vec![]);
        for row in x.rows() {
            for (j, &v) in row.iter().enumerate() {
                if v != F::zero() {
                    indices.push(j);
                    data.push(v);
                }
            }
            indptr.push(data.len());
        }
        Csr {
            n_rows: x.nrows(),
            n_cols: x.ncols(),
            indptr,
            indices,
            data,
        }
    }

    pub fn view(&self) -> minibatchnmf::CsrView<'_, F> {
        minibatchnmf::CsrView::new(
            self.n_rows,
            self.n_cols,
            &self.indptr,
            &self.indices,
            &self.data,
        )
        .expect("valid CSR")
    }
}

/// A temporary folder removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "mbnmf-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The raw bytes of each tensor of a model file, by name (read with the
/// safetensors crate, independently of minibatchnmf's loader).
pub fn tensor_bytes(file: &[u8]) -> Vec<(String, Vec<usize>, Vec<u8>)> {
    let st = safetensors::SafeTensors::deserialize(file).expect("a safetensors file");
    let mut out: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(name, t)| (name, t.shape().to_vec(), t.data().to_vec()))
        .collect();
    out.sort();
    out
}

/// The `__metadata__` map of a model file.
pub fn metadata(file: &[u8]) -> std::collections::HashMap<String, String> {
    let (_, meta) = safetensors::SafeTensors::read_metadata(file).expect("a safetensors file");
    meta.metadata().clone().unwrap_or_default()
}
