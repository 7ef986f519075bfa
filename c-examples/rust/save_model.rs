//! Save models from Rust for the other languages to load (the Python
//! caller of c-examples/ checks them): fits an f64 and an f32 model on a
//! small generated matrix and writes
//!   OUT_DIR/rust_model_f64.safetensors, OUT_DIR/rust_model_f32.safetensors
//!   OUT_DIR/rust_expected.safetensors  (tensors x, w_f64, w_f32: X and
//!                                        each model's transform of X)
//!
//!   cargo run --release --example save_model -- OUT_DIR

use minibatchnmf::{MiniBatchNmf, MiniBatchNmfParams};
use ndarray::Array2;
use safetensors::{Dtype, View};
use std::borrow::Cow;

struct T(Dtype, Vec<usize>, Vec<u8>);
impl View for &T {
    fn dtype(&self) -> Dtype {
        self.0
    }
    fn shape(&self) -> &[usize] {
        &self.1
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.2)
    }
    fn data_len(&self) -> usize {
        self.2.len()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).ok_or("usage: save_model OUT_DIR")?);
    std::fs::create_dir_all(&dir)?;
    // A fixed pseudo-random non-negative 50 x 7 matrix with ~30% zeros.
    let mut s = 12345u64;
    let x = Array2::from_shape_fn((50, 7), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        if u < 0.3 {
            0.0
        } else {
            (u * 8.0).round() / 2.0
        }
    });
    let params = MiniBatchNmfParams::new()
        .n_components(3)
        .batch_size(16)
        .random_state(Some(0));

    let mut m64 = MiniBatchNmf::<f64>::new(params.clone())?;
    m64.fit(&x)?;
    m64.save(dir.join("rust_model_f64.safetensors"))?;
    let w64 = m64.transform(&x)?;

    let x32 = x.mapv(|v| v as f32);
    let mut m32 = MiniBatchNmf::<f32>::new(params)?;
    m32.fit(&x32)?;
    m32.save(dir.join("rust_model_f32.safetensors"))?;
    let w32 = m32.transform(&x32)?;

    let le64 = |a: &Array2<f64>| a.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>();
    let tensors = [
        ("x", T(Dtype::F64, vec![50, 7], le64(&x))),
        ("w_f64", T(Dtype::F64, vec![50, 3], le64(&w64))),
        (
            "w_f32",
            T(
                Dtype::F32,
                vec![50, 3],
                w32.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        ),
    ];
    let bytes = safetensors::serialize(tensors.iter().map(|(n, t)| (*n, t)), None)?;
    std::fs::write(dir.join("rust_expected.safetensors"), bytes)?;
    println!("wrote Rust-saved models to {}", dir.display());
    Ok(())
}
