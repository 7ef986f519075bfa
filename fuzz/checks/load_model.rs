//! The model loader on arbitrary bytes: an error, or a model that is
//! internally consistent (finite non-negative H, shapes that agree), saves
//! and loads back to the same model, and transforms without failing. Never
//! a panic, never an allocation by a size the bytes merely claim.
//! (Built with `--cfg fuzzing`, the loader skips the checksum comparison so
//! the fuzzer can reach the checks behind it.)
//! Shared by the fuzz target and tests/fuzz_regressions.rs.

use minibatchnmf::persist::{self, AnyModel};
use minibatchnmf::{MiniBatchNmf, NmfFloat};

fn exercise<F: NmfFloat>(m: &MiniBatchNmf<F>) {
    let h = m.components().expect("a loaded model is fitted");
    let (k, n_features) = h.dim();
    assert_eq!(m.n_components(), Some(k));
    assert_eq!(m.n_features_in(), Some(n_features));
    assert!(h.iter().all(|v| v.is_finite() && *v >= F::zero()));
    let again = MiniBatchNmf::<F>::from_bytes(&m.to_bytes().expect("a loaded model saves"))
        .expect("a saved model loads");
    assert_eq!(again.components().unwrap(), h);
    assert_eq!(again.n_steps(), m.n_steps());
    assert_eq!(again.params(), m.params());
    // A tiny transform (bounded: at most 64 features, few iterations).
    if n_features <= 64 && k <= 64 {
        let x = ndarray::Array2::<F>::from_elem((2, n_features), F::one());
        let _ = m.transform(&x);
    }
}

/// One fuzz input.
pub fn run(bytes: &[u8]) {
    let any = persist::from_bytes_any(bytes);
    let a = MiniBatchNmf::<f64>::from_bytes(bytes);
    let b = MiniBatchNmf::<f32>::from_bytes(bytes);
    match &any {
        Ok(AnyModel::F64(m)) => {
            assert!(a.is_ok() && b.is_err());
            exercise(m);
        }
        Ok(AnyModel::F32(m)) => {
            assert!(b.is_ok() && a.is_err());
            exercise(m);
        }
        Err(e) => {
            assert!(a.is_err() && b.is_err());
            assert!(!e.to_string().is_empty());
        }
    }
}
