//! Hostile model files: truncated at every length, bit-flipped everywhere,
//! wrong checksum, huge claimed shapes, newer format version, another
//! program's safetensors file, values that would make a wrong model. Each
//! is a clear error naming the problem: never a panic, never a large
//! allocation (a counting allocator checks), never a wrong model.

mod gen;

use minibatchnmf::persist::{self, checksum};
use minibatchnmf::{Error, Init, MiniBatchNmf, MiniBatchNmfParams, NmfFloat};
use safetensors::{Dtype, View};
use std::alloc::{GlobalAlloc, Layout, System};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest single allocation made by this test binary.
struct Counting;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Every test here handles files of a few kB; nothing may allocate more.
const ALLOCATION_BOUND: usize = 16 << 20;

fn assert_small_allocations() {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < ALLOCATION_BOUND,
        "an allocation of {largest} bytes"
    );
}

fn model<F: NmfFloat>() -> MiniBatchNmf<F> {
    let x = gen::cast::<F>(&gen::matrix(12, 3, 5, 0.2, false));
    let params = MiniBatchNmfParams::new()
        .n_components(2)
        .init(Init::Random)
        .random_state(Some(0))
        .max_iter(5);
    let mut m = MiniBatchNmf::<F>::new(params).unwrap();
    m.fit_transform_with(
        &x,
        minibatchnmf::FitArgs {
            feature_names: Some(&["a".into(), "b".into(), "c".into()]),
            ..Default::default()
        },
    )
    .unwrap();
    m
}

fn same<F: NmfFloat>(a: &MiniBatchNmf<F>, b: &MiniBatchNmf<F>) -> bool {
    a.components().unwrap() == b.components().unwrap()
        && a.n_steps() == b.n_steps()
        && a.params() == b.params()
        && a.reconstruction_err() == b.reconstruction_err()
}

fn is_corrupt(e: &Error) -> bool {
    matches!(e, Error::CorruptModel { .. })
}

type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

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

/// Re-serialise a model file with edited metadata and tensors (with the
/// safetensors crate, as another program would), optionally recomputing
/// the checksum so that only the later checks can catch the edit.
fn rewrite(
    bytes: &[u8],
    edit_meta: impl FnOnce(&mut HashMap<String, String>),
    edit_tensors: impl FnOnce(&mut Tensors),
    fix_checksum: bool,
) -> Vec<u8> {
    let mut meta = gen::metadata(bytes);
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    let mut tensors: Tensors = st
        .tensors()
        .into_iter()
        .map(|(n, t)| (n, t.dtype(), t.shape().to_vec(), t.data().to_vec()))
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    edit_meta(&mut meta);
    edit_tensors(&mut tensors);
    if fix_checksum {
        let order = [
            "components",
            "components_numerator",
            "components_denominator",
        ];
        let dtype = meta["dtype"].clone();
        let sum = checksum::compute(
            &meta,
            order.iter().filter_map(|name| {
                tensors
                    .iter()
                    .find(|t| t.0 == *name)
                    .map(|t| (*name, dtype.as_str(), t.2.as_slice(), t.3.as_slice()))
            }),
        );
        meta.insert("checksum".into(), sum);
    }
    let views: Vec<(String, T)> = tensors
        .into_iter()
        .map(|(n, d, s, b)| (n, T(d, s, b)))
        .collect();
    safetensors::serialize(views.iter().map(|(n, t)| (n.as_str(), t)), Some(meta)).unwrap()
}

#[test]
fn every_prefix_of_a_model_file_is_a_corrupt_model_error() {
    for bytes in [
        model::<f64>().to_bytes().unwrap(),
        model::<f32>().to_bytes().unwrap(),
    ] {
        for len in 0..bytes.len() {
            let e = persist::from_bytes_any(&bytes[..len]).unwrap_err();
            assert!(is_corrupt(&e), "prefix {len}: {e}");
            assert!(MiniBatchNmf::<f64>::from_bytes(&bytes[..len]).is_err());
        }
        // An extra byte is caught too.
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(is_corrupt(&persist::from_bytes_any(&longer).unwrap_err()));
    }
    assert_small_allocations();
}

#[test]
fn every_flipped_bit_is_an_error_never_a_different_model() {
    let original = model::<f64>();
    let bytes = original.to_bytes().unwrap();
    let mut errors = 0;
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            match MiniBatchNmf::<f64>::from_bytes(&b) {
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    errors += 1;
                }
                Ok(m) => assert!(
                    same(&m, &original),
                    "flipping bit {bit} of byte {i} gave a different model"
                ),
            }
        }
    }
    // Every flip is caught (the checksum covers metadata and tensors; the
    // JSON, lengths and offsets are checked by the container).
    assert_eq!(errors, bytes.len() * 8);
    assert_small_allocations();
}

#[test]
fn wrong_checksum_is_named_in_the_error() {
    let bytes = model::<f64>().to_bytes().unwrap();
    let bad = rewrite(
        &bytes,
        |m| {
            m.insert("checksum".into(), "crc32c:00000000".into());
        },
        |_| {},
        false,
    );
    let e = MiniBatchNmf::<f64>::from_bytes(&bad).unwrap_err();
    assert!(
        is_corrupt(&e) && e.to_string().contains("checksum mismatch"),
        "{e}"
    );
    // A changed parameter with the old checksum.
    let bad = rewrite(
        &bytes,
        |m| {
            m.insert("param.max_iter".into(), "6".into());
        },
        |_| {},
        false,
    );
    let e = MiniBatchNmf::<f64>::from_bytes(&bad).unwrap_err();
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
    // No checksum at all.
    let bad = rewrite(
        &bytes,
        |m| {
            m.remove("checksum");
        },
        |_| {},
        false,
    );
    let e = MiniBatchNmf::<f64>::from_bytes(&bad).unwrap_err();
    assert!(e.to_string().contains("\"checksum\" is missing"), "{e}");
    // Unchanged re-serialisation still loads (the rewrite itself is sound).
    let same_again = rewrite(&bytes, |_| {}, |_| {}, false);
    assert!(MiniBatchNmf::<f64>::from_bytes(&same_again).is_ok());
}

#[test]
fn huge_claimed_shapes_and_header_lengths_allocate_nothing() {
    let bytes = model::<f64>().to_bytes().unwrap();
    let meta = serde_json::to_string(&gen::metadata(&bytes)).unwrap();
    for shape in [
        "[1152921504606846976, 3]",
        "[4294967296, 4294967296]",
        "[2, 1152921504606846976]",
    ] {
        for end in ["48", "9223372036854775807"] {
            let header = format!(
                r#"{{"__metadata__":{meta},"components":{{"dtype":"F64","shape":{shape},"data_offsets":[0,{end}]}}}}"#
            );
            let mut file = (header.len() as u64).to_le_bytes().to_vec();
            file.extend_from_slice(header.as_bytes());
            file.extend_from_slice(&[0u8; 48]);
            let e = persist::from_bytes_any(&file).unwrap_err();
            assert!(is_corrupt(&e), "{shape}: {e}");
        }
    }
    // A header length of 2^60, and one just past the end of the file.
    for n in [1u64 << 60, (bytes.len() - 7) as u64] {
        let mut file = bytes.clone();
        file[..8].copy_from_slice(&n.to_le_bytes());
        let e = persist::from_bytes_any(&file).unwrap_err();
        assert!(is_corrupt(&e), "{e}");
    }
    // Metadata claiming huge sizes, with a valid checksum.
    let big = rewrite(
        &bytes,
        |m| {
            m.insert("n_components".into(), (1u64 << 60).to_string());
        },
        |_| {},
        true,
    );
    let e = persist::from_bytes_any(&big).unwrap_err();
    assert!(e.to_string().contains("n_components"), "{e}");
    assert_small_allocations();
}

#[test]
fn newer_format_version_is_unsupported_and_says_upgrade() {
    let bytes = model::<f32>().to_bytes().unwrap();
    let newer = rewrite(
        &bytes,
        |m| {
            m.insert("format_version".into(), "2".into());
        },
        |_| {},
        false,
    );
    for e in [
        persist::from_bytes_any(&newer).unwrap_err(),
        MiniBatchNmf::<f32>::from_bytes(&newer).unwrap_err(),
    ] {
        assert!(matches!(e, Error::UnsupportedFormat { .. }), "{e}");
        assert!(
            e.to_string().contains("format version 2") && e.to_string().contains("upgrade"),
            "{e}"
        );
    }
}

#[test]
fn another_programs_safetensors_file_is_unsupported() {
    let w = T(Dtype::F32, vec![2, 2], vec![0u8; 16]);
    let b = T(Dtype::F32, vec![2], vec![0u8; 8]);
    let plain = safetensors::serialize([("weight", &w), ("bias", &b)], None).unwrap();
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    let torch = safetensors::serialize([("weight", &w), ("bias", &b)], Some(meta)).unwrap();
    for file in [plain, torch] {
        let e = persist::from_bytes_any(&file).unwrap_err();
        assert!(matches!(e, Error::UnsupportedFormat { .. }), "{e}");
        assert!(e.to_string().contains("not a minibatchnmf model"), "{e}");
        assert!(e.to_string().contains("weight"), "{e}");
    }
    // Not safetensors at all.
    let e = persist::from_bytes_any(b"\x80\x04\x95pickle data, not a model at all").unwrap_err();
    assert!(is_corrupt(&e), "{e}");
}

#[test]
fn values_that_would_make_a_wrong_model_are_rejected_even_with_a_valid_checksum() {
    let bytes = model::<f64>().to_bytes().unwrap();
    let set_first = |v: f64| {
        move |t: &mut Tensors| {
            let h = t.iter_mut().find(|t| t.0 == "components").unwrap();
            h.3[..8].copy_from_slice(&v.to_le_bytes());
        }
    };
    for v in [f64::NAN, f64::INFINITY, -1.0] {
        let bad = rewrite(&bytes, |_| {}, set_first(v), true);
        let e = MiniBatchNmf::<f64>::from_bytes(&bad).unwrap_err();
        assert!(
            e.to_string().contains("negative, NaN or infinite"),
            "{v}: {e}"
        );
    }
    let cases: Vec<(&str, &str, &str)> = vec![
        ("n_components", "3", "metadata says n_components = 3"),
        ("n_features_in", "4", "n_features_in = 4"),
        ("n_steps", "0", "\"n_steps\" is 0"),
        ("n_steps", "007", "not a valid integer"),
        ("frozen.rho", "0.70", "shortest round-trip"),
        ("frozen.rho", "1.5", "outside [0, 1]"),
        ("frozen.beta", "NaN", "not a finite float"),
        ("frozen.beta", "nan", "shortest round-trip"),
        ("param.batch_size", "0", "parameters are invalid"),
        ("param.tol", "1e-4", "does not read back exactly"),
        ("param.no_such_thing", "1", "does not know"),
        ("param.missing", "zeros", "'error', 'nan' or 'unstored'"),
        ("param.missing", "NaN", "'error', 'nan' or 'unstored'"),
        ("feature_names_in", "[\"a\"]", "1 feature names"),
        ("dtype", "float16", "neither"),
        ("last_fit.stop_reason", "bored", "unknown"),
    ];
    for (key, value, expect) in cases {
        let bad = rewrite(
            &bytes,
            |m| {
                m.insert(key.into(), value.into());
            },
            |_| {},
            true,
        );
        let e = MiniBatchNmf::<f64>::from_bytes(&bad).unwrap_err();
        assert!(e.to_string().contains(expect), "{key}={value}: {e}");
    }
    // A missing tensor, an extra tensor, a 3-D tensor.
    let bad = rewrite(
        &bytes,
        |_| {},
        |t| t.retain(|t| t.0 != "components_numerator"),
        true,
    );
    assert!(MiniBatchNmf::<f64>::from_bytes(&bad)
        .unwrap_err()
        .to_string()
        .contains("tensors are"));
    let bad = rewrite(
        &bytes,
        |_| {},
        |t| t.push(("extra".into(), Dtype::F64, vec![1, 1], vec![0; 8])),
        true,
    );
    assert!(MiniBatchNmf::<f64>::from_bytes(&bad).is_err());
    let bad = rewrite(&bytes, |_| {}, |t| t[0].2 = vec![1, 2, 3], true);
    assert!(MiniBatchNmf::<f64>::from_bytes(&bad)
        .unwrap_err()
        .to_string()
        .contains("2 dimensions"));
    // A tensor of the other dtype than the metadata says.
    let bad = rewrite(
        &bytes,
        |_| {},
        |t| {
            t[0].1 = Dtype::F32;
            t[0].2 = vec![2, 6];
        },
        true,
    );
    assert!(MiniBatchNmf::<f64>::from_bytes(&bad).is_err());
    assert_small_allocations();
}

#[test]
fn loading_the_other_dtype_is_a_clear_error() {
    let bytes = model::<f32>().to_bytes().unwrap();
    let e = MiniBatchNmf::<f64>::from_bytes(&bytes).unwrap_err();
    assert!(
        matches!(&e, Error::ModelDtype { expected: "float64", found } if found == "float32"),
        "{e}"
    );
    assert!(e.to_string().contains("load_any"));
    assert!(MiniBatchNmf::<f32>::from_bytes(&bytes).is_ok());
}

#[test]
fn unfitted_models_are_not_saved_and_missing_files_are_io_errors() {
    let m = MiniBatchNmf::<f64>::new(MiniBatchNmfParams::new()).unwrap();
    assert!(matches!(m.to_bytes().unwrap_err(), Error::NotFitted));
    let dir = gen::TempDir::new("hostile");
    assert!(matches!(
        m.save(dir.path("x")).unwrap_err(),
        Error::NotFitted
    ));
    assert!(!dir.path("x").exists());
    let e = MiniBatchNmf::<f64>::load(dir.path("missing.safetensors")).unwrap_err();
    assert!(matches!(e, Error::Io { action: "read", .. }), "{e}");
    let e = model::<f64>()
        .save(dir.path("no/such/folder/m.safetensors"))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Io {
                action: "write",
                ..
            }
        ),
        "{e}"
    );
}

/// Seeds for the load_model fuzz target (run with MBNMF_WRITE_FUZZ_SEEDS=<dir>).
#[test]
fn write_fuzz_seeds_when_asked() {
    let Ok(dir) = std::env::var("MBNMF_WRITE_FUZZ_SEEDS") else {
        return;
    };
    let dir = std::path::Path::new(&dir);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("f64_fit"), model::<f64>().to_bytes().unwrap()).unwrap();
    std::fs::write(dir.join("f32_fit"), model::<f32>().to_bytes().unwrap()).unwrap();
    let x = gen::matrix(6, 2, 1, 0.0, true);
    let mut m =
        MiniBatchNmf::<f64>::new(MiniBatchNmfParams::new().n_components(1).beta(0.0)).unwrap();
    m.partial_fit(&x).unwrap();
    std::fs::write(dir.join("f64_partial"), m.to_bytes().unwrap()).unwrap();
    // A model fitted with missing values (param.missing = "nan").
    let mut xm = gen::matrix(8, 3, 2, 0.0, true);
    xm[[1, 2]] = f64::NAN;
    let mut m = MiniBatchNmf::<f64>::new(
        MiniBatchNmfParams::new()
            .n_components(2)
            .init(minibatchnmf::Init::Random)
            .random_state(Some(0))
            .missing(minibatchnmf::Missing::Nan),
    )
    .unwrap();
    m.fit(&xm).unwrap();
    std::fs::write(dir.join("f64_missing"), m.to_bytes().unwrap()).unwrap();
}
