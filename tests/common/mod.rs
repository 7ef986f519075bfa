//! Shared helpers of the integration tests: `.npy` reading (ndarray-npy), the
//! fixture-case loader (`params.txt`, `expected.txt`, dense/CSR matrices) and
//! the conversion of a case's parameters into [`MiniBatchNmfParams`].
//!
//! The fixture layout is documented in `tests/fixtures/generate.py`.
#![allow(dead_code)]

use minibatchnmf::{CsrView, Input, MiniBatchNmfParams, NmfFloat, ParamError};
use ndarray::{Array2, ArrayView2};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

pub mod masked;

// ---------------------------------------------------------------------------
// .npy reader
// ---------------------------------------------------------------------------

/// The values of a `.npy` file, in its stored type.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    F64(Vec<f64>),
    F32(Vec<f32>),
    I64(Vec<i64>),
    I32(Vec<i32>),
}

/// A `.npy` array: C-order values and shape.
#[derive(Debug, Clone, PartialEq)]
pub struct Npy {
    pub shape: Vec<usize>,
    pub data: NpyData,
}

impl Npy {
    /// numpy's dtype name of the stored values.
    pub fn dtype(&self) -> &'static str {
        match self.data {
            NpyData::F64(_) => "float64",
            NpyData::F32(_) => "float32",
            NpyData::I64(_) => "int64",
            NpyData::I32(_) => "int32",
        }
    }

    /// The values as f64 (lossless for every supported type but i64 > 2^53).
    pub fn to_f64(&self) -> Vec<f64> {
        match &self.data {
            NpyData::F64(v) => v.clone(),
            NpyData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            NpyData::I32(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// Floating-point values converted to `F` (exact when the stored type
    /// is `F`; f32 -> f64 is exact too). Panics on integer files.
    pub fn to_float<F: NmfFloat>(&self) -> Vec<F> {
        match &self.data {
            NpyData::F64(v) => v.iter().map(|&x| F::from_f64_(x)).collect(),
            NpyData::F32(v) => v.iter().map(|&x| F::from_f64_(x as f64)).collect(),
            _ => panic!("expected a float array, found {}", self.dtype()),
        }
    }

    /// Integer values as usize (panics on negative values or float files).
    pub fn to_usize(&self) -> Vec<usize> {
        let conv = |x: i64| usize::try_from(x).unwrap_or_else(|_| panic!("negative index {x}"));
        match &self.data {
            NpyData::I64(v) => v.iter().map(|&x| conv(x)).collect(),
            NpyData::I32(v) => v.iter().map(|&x| conv(x as i64)).collect(),
            _ => panic!("expected an integer array, found {}", self.dtype()),
        }
    }

    /// A 2-D array of `F`.
    pub fn to_array2<F: NmfFloat>(&self) -> Array2<F> {
        assert_eq!(
            self.shape.len(),
            2,
            "expected a 2-D array, shape {:?}",
            self.shape
        );
        Array2::from_shape_vec((self.shape[0], self.shape[1]), self.to_float())
            .expect("shape matches the number of values")
    }
}

/// Parse a `.npy` file (any format version; dtypes float64, float32, int64,
/// int32 of either byte order; C order only) with `ndarray-npy`, whatever
/// its stored type: each supported element type is tried in turn.
pub fn parse_npy(bytes: &[u8]) -> Result<Npy, String> {
    use ndarray::ArrayD;
    use ndarray_npy::{ReadNpyError, ReadNpyExt};
    /// Shape and values, None when the file holds another dtype.
    type Parsed<T> = Option<(Vec<usize>, Vec<T>)>;
    fn try_read<T: ndarray_npy::ReadableElement>(bytes: &[u8]) -> Result<Parsed<T>, String> {
        match ArrayD::<T>::read_npy(bytes) {
            Ok(a) => {
                if !a.is_standard_layout() {
                    return Err("only C order is supported (fortran_order = True)".into());
                }
                Ok(Some((a.shape().to_vec(), a.into_raw_vec_and_offset().0)))
            }
            Err(ReadNpyError::WrongDescriptor(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }
    if let Some((shape, v)) = try_read::<f64>(bytes)? {
        return Ok(Npy {
            shape,
            data: NpyData::F64(v),
        });
    }
    if let Some((shape, v)) = try_read::<f32>(bytes)? {
        return Ok(Npy {
            shape,
            data: NpyData::F32(v),
        });
    }
    if let Some((shape, v)) = try_read::<i64>(bytes)? {
        return Ok(Npy {
            shape,
            data: NpyData::I64(v),
        });
    }
    if let Some((shape, v)) = try_read::<i32>(bytes)? {
        return Ok(Npy {
            shape,
            data: NpyData::I32(v),
        });
    }
    Err("unsupported dtype (expected float64, float32, int64 or int32)".into())
}

/// Read and parse a `.npy` file.
pub fn read_npy(path: &Path) -> Result<Npy, String> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_npy(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------------------
// Matrices of a case: dense or CSR
// ---------------------------------------------------------------------------

/// A CSR matrix owning its arrays (indices/indptr as usize).
#[derive(Debug, Clone)]
pub struct CsrOwned<F> {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<usize>,
    pub data: Vec<F>,
}

impl<F: NmfFloat> CsrOwned<F> {
    /// A checked view for the estimator.
    pub fn view(&self) -> CsrView<'_, F> {
        CsrView::new(
            self.n_rows,
            self.n_cols,
            &self.indptr,
            &self.indices,
            &self.data,
        )
        .expect("fixture CSR matrices are well formed")
    }

    /// Rows `a..b` as a new CSR matrix (indptr rebased to 0), as scipy's
    /// `X[a:b]` gives it.
    pub fn rows(&self, a: usize, b: usize) -> CsrOwned<F> {
        let (s, e) = (self.indptr[a], self.indptr[b]);
        CsrOwned {
            n_rows: b - a,
            n_cols: self.n_cols,
            indptr: self.indptr[a..=b].iter().map(|&p| p - s).collect(),
            indices: self.indices[s..e].to_vec(),
            data: self.data[s..e].to_vec(),
        }
    }

    /// The dense equivalent.
    pub fn to_dense(&self) -> Array2<F> {
        let mut out = Array2::zeros((self.n_rows, self.n_cols));
        for i in 0..self.n_rows {
            for p in self.indptr[i]..self.indptr[i + 1] {
                out[[i, self.indices[p]]] = self.data[p];
            }
        }
        out
    }
}

/// Data of a case, dense or CSR.
#[derive(Debug, Clone)]
pub enum Matrix<F> {
    Dense(Array2<F>),
    Csr(CsrOwned<F>),
}

impl<F: NmfFloat> Matrix<F> {
    /// The estimator's view of it.
    pub fn input(&self) -> Input<'_, F> {
        match self {
            Matrix::Dense(a) => Input::Dense(a.view()),
            Matrix::Csr(c) => Input::Csr(c.view()),
        }
    }

    /// Rows `a..b` as a new matrix.
    pub fn rows(&self, a: usize, b: usize) -> Matrix<F> {
        match self {
            Matrix::Dense(x) => Matrix::Dense(x.slice(ndarray::s![a..b, ..]).to_owned()),
            Matrix::Csr(c) => Matrix::Csr(c.rows(a, b)),
        }
    }

    pub fn shape(&self) -> (usize, usize) {
        match self {
            Matrix::Dense(a) => a.dim(),
            Matrix::Csr(c) => (c.n_rows, c.n_cols),
        }
    }
}

// ---------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------

/// Keys of `params.txt` that describe the case rather than the estimator.
pub const META_KEYS: &[&str] = &[
    "method", "dtype", "sparse", "X_shape", "Xt_shape", "chunks", "source",
];

/// The fixtures directory (`tests/fixtures/cases`).
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join("cases")
}

/// All case directories of the committed fixtures, sorted by name.
pub fn case_dirs() -> Vec<PathBuf> {
    case_dirs_in(&cases_dir())
}

/// All case directories (those with a `params.txt`) under `root`, sorted.
pub fn case_dirs_in(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run `python tests/fixtures/generate.py`)",
                root.display()
            )
        })
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.join("params.txt").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// Parse `name=value` lines (blank lines and `#` comments ignored), keeping
/// the order.
pub fn parse_kv(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("not a name=value line: {l:?}"))
        })
        .collect()
}

/// One fixture case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    /// Estimator parameters (scikit-learn names and spellings), in file order.
    pub params: Vec<(String, String)>,
    /// Metadata keys of `params.txt` (see [`META_KEYS`]).
    pub meta: BTreeMap<String, String>,
    /// `expected.txt`.
    pub expected: BTreeMap<String, String>,
}

impl Case {
    pub fn load(dir: &Path) -> Result<Case, String> {
        let name = dir
            .file_name()
            .expect("case dir has a name")
            .to_string_lossy()
            .into_owned();
        let read = |f: &str| {
            fs::read_to_string(dir.join(f)).map_err(|e| format!("{}: {e}", dir.join(f).display()))
        };
        let mut params = Vec::new();
        let mut meta = BTreeMap::new();
        for (k, v) in parse_kv(&read("params.txt")?)? {
            if META_KEYS.contains(&k.as_str()) {
                meta.insert(k, v);
            } else {
                params.push((k, v));
            }
        }
        let expected = parse_kv(&read("expected.txt")?)?.into_iter().collect();
        Ok(Case {
            name,
            dir: dir.to_path_buf(),
            params,
            meta,
            expected,
        })
    }

    pub fn meta(&self, key: &str) -> Result<&str, String> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("{}: params.txt has no {key}", self.name))
    }

    pub fn method(&self) -> Result<&str, String> {
        self.meta("method")
    }

    pub fn dtype(&self) -> Result<&str, String> {
        self.meta("dtype")
    }

    pub fn is_sparse(&self) -> bool {
        self.meta.get("sparse").map(String::as_str) == Some("1")
    }

    /// A parameter's value as written in params.txt.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The estimator parameters: `MiniBatchNmfParams::new()` then
    /// `set_param(name, value)` for each line.
    pub fn build_params(&self) -> Result<MiniBatchNmfParams, ParamError> {
        params_from_pairs(&self.params)
    }

    /// An expected value parsed as `T`.
    pub fn expect<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        let v = self
            .expected
            .get(key)
            .ok_or_else(|| format!("{}: expected.txt has no {key}", self.name))?;
        v.parse()
            .map_err(|_| format!("{}: cannot parse expected {key}={v:?}", self.name))
    }

    /// partial_fit chunk boundaries `0, a, b, ..., n`.
    pub fn chunks(&self) -> Result<Vec<usize>, String> {
        self.meta("chunks")?
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|e| format!("{}: bad chunks: {e}", self.name))
            })
            .collect()
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn has(&self, file: &str) -> bool {
        self.path(file).is_file()
    }

    /// A stored 2-D float array converted to `F`.
    pub fn array<F: NmfFloat>(&self, name: &str) -> Result<Array2<F>, String> {
        Ok(read_npy(&self.path(&format!("{name}.npy")))?.to_array2())
    }

    /// A stored 2-D float array in f64 (for comparisons).
    pub fn array_f64(&self, name: &str) -> Result<Array2<f64>, String> {
        self.array::<f64>(name)
    }

    /// The stored dtype of an array file.
    pub fn array_dtype(&self, name: &str) -> Result<&'static str, String> {
        Ok(read_npy(&self.path(&format!("{name}.npy")))?.dtype())
    }

    /// Matrix `name` ("X" or "Xt"): `name.npy` if dense, else the CSR triple
    /// `name_data.npy`, `name_indices.npy`, `name_indptr.npy` with the shape
    /// from `name_shape` in params.txt.
    pub fn matrix<F: NmfFloat>(&self, name: &str) -> Result<Matrix<F>, String> {
        if self.is_sparse() {
            let shape = self.meta(&format!("{name}_shape"))?;
            let (r, c) = shape
                .split_once(',')
                .ok_or_else(|| format!("{}: bad {name}_shape {shape:?}", self.name))?;
            let n_rows: usize = r
                .trim()
                .parse()
                .map_err(|e| format!("{}: {e}", self.name))?;
            let n_cols: usize = c
                .trim()
                .parse()
                .map_err(|e| format!("{}: {e}", self.name))?;
            let data = read_npy(&self.path(&format!("{name}_data.npy")))?.to_float();
            let indices = read_npy(&self.path(&format!("{name}_indices.npy")))?.to_usize();
            let indptr = read_npy(&self.path(&format!("{name}_indptr.npy")))?.to_usize();
            let m = CsrOwned {
                n_rows,
                n_cols,
                indptr,
                indices,
                data,
            };
            CsrView::new(m.n_rows, m.n_cols, &m.indptr, &m.indices, &m.data)
                .map_err(|e| format!("{}: {name} is not valid CSR: {e}", self.name))?;
            Ok(Matrix::Csr(m))
        } else {
            Ok(Matrix::Dense(self.array(name)?))
        }
    }
}

/// `MiniBatchNmfParams::new()` with `set_param(name, value)` applied in order.
pub fn params_from_pairs<S: AsRef<str>>(
    pairs: &[(S, S)],
) -> Result<MiniBatchNmfParams, ParamError> {
    let mut p = MiniBatchNmfParams::new();
    for (k, v) in pairs {
        p.set_param(k.as_ref(), v.as_ref())?;
    }
    Ok(p)
}

// ---------------------------------------------------------------------------
// Comparisons
// ---------------------------------------------------------------------------

/// Worst elementwise discrepancy between `actual` and `expected`.
#[derive(Debug, Clone, Copy)]
pub struct Discrepancy {
    /// max |a - b|.
    pub max_abs: f64,
    /// max |a - b| / max(|b|, floor), with floor = `floor_frac` × max |b| of
    /// the array: the quantity that must stay <= rtol.
    pub max_scaled: f64,
    /// Where max_scaled is reached.
    pub at: (usize, usize),
}

/// Elementwise comparison with a floor relative to the array's magnitude:
/// element (i, j) passes when |a - b| <= rtol · max(|b|, floor_frac · max|B|).
/// Returns Err on a shape mismatch or a non-finite actual value.
pub fn discrepancy(
    actual: ArrayView2<f64>,
    expected: ArrayView2<f64>,
    floor_frac: f64,
) -> Result<Discrepancy, String> {
    if actual.dim() != expected.dim() {
        return Err(format!(
            "shape {:?}, expected {:?}",
            actual.dim(),
            expected.dim()
        ));
    }
    let scale = expected.iter().fold(0.0f64, |m, &v| m.max(v.abs()));
    let floor = floor_frac * scale;
    let mut d = Discrepancy {
        max_abs: 0.0,
        max_scaled: 0.0,
        at: (0, 0),
    };
    for ((ij, &a), &b) in actual.indexed_iter().zip(expected.iter()) {
        if !a.is_finite() {
            return Err(format!("non-finite value {a} at {ij:?} (expected {b})"));
        }
        let diff = (a - b).abs();
        let denom = b.abs().max(floor);
        let scaled = if diff == 0.0 {
            0.0
        } else if denom == 0.0 {
            f64::INFINITY
        } else {
            diff / denom
        };
        d.max_abs = d.max_abs.max(diff);
        if scaled > d.max_scaled {
            d.max_scaled = scaled;
            d.at = ij;
        }
    }
    Ok(d)
}

/// Convert a float array to f64.
pub fn to_f64<F: NmfFloat>(a: ArrayView2<F>) -> Array2<f64> {
    a.mapv(|v| v.to_f64_())
}
