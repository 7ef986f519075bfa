//! Fitting from a file gives exactly (bit for bit) the model fitted on the
//! same matrix in memory: dense `.npy` (f32, f64, u8; C and Fortran order),
//! scipy `.npz` CSR (compressed and stored) and MatrixMarket, for the
//! NNDSVDa and random initialisations; and bad files fail with one clear
//! error naming the problem (row and column of a bad value).

use minibatchnmf::io::{self, save_npz_csr, CsrFile, InMemory, NpyRows, RowSource};
use minibatchnmf::{CsrView, Error, Init, MiniBatchNmf, MiniBatchNmfParams, NmfFloat, Solver};
use ndarray::{Array2, ShapeBuilder};
use ndarray_npy::write_npy;
use std::io::Write;
use std::path::Path;

/// Deterministic non-negative n×m matrix with about `zeros` share of zeros,
/// values multiples of 1/8 up to 31/8 (exact in f32, u8 after scaling by 8).
fn matrix(n: usize, m: usize, seed: u64, zeros: f64) -> Array2<f64> {
    let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    Array2::from_shape_fn((n, m), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (s >> 11) as f64 / (1u64 << 53) as f64;
        if u < zeros {
            0.0
        } else {
            ((s >> 3) % 31 + 1) as f64 / 8.0
        }
    })
}

fn csr(x: &Array2<f64>) -> (Vec<usize>, Vec<usize>, Vec<f64>) {
    let (mut ip, mut ix, mut dv) = (vec![0], vec![], vec![]);
    for row in x.rows() {
        for (j, &v) in row.iter().enumerate() {
            if v != 0.0 {
                ix.push(j);
                dv.push(v);
            }
        }
        ip.push(ix.len());
    }
    (ip, ix, dv)
}

fn params(init: Init) -> MiniBatchNmfParams {
    MiniBatchNmfParams::new()
        .n_components(4)
        .init(init)
        .random_state(Some(3))
        .batch_size(37)
        .max_iter(4)
        .tol(0.0)
}

/// W, H, A, n_iter, n_steps, reconstruction_err, B of one fit.
type Fit<F> = (
    Array2<F>,
    Array2<F>,
    Array2<F>,
    usize,
    usize,
    f64,
    Array2<F>,
);

fn fit<F: NmfFloat>(p: &MiniBatchNmfParams, src: &mut dyn RowSource<F>) -> Fit<F> {
    let mut model = MiniBatchNmf::<F>::new(p.clone()).unwrap();
    let w = model
        .fit_transform_source_with(src, Default::default())
        .unwrap();
    let s = model.last_fit().unwrap().clone();
    (
        w,
        model.components().unwrap().to_owned(),
        model.components_numerator().unwrap().to_owned(),
        s.n_iter,
        s.n_steps,
        s.reconstruction_err,
        model.components_denominator().unwrap().to_owned(),
    )
}

/// The fit over `file` equals the fit over `mem`, bit for bit.
fn assert_same_fit<F: NmfFloat>(
    what: &str,
    p: &MiniBatchNmfParams,
    mem: &mut dyn RowSource<F>,
    file: &mut dyn RowSource<F>,
) {
    let a = fit(p, mem);
    let b = fit(p, file);
    assert_eq!(a.3, b.3, "{what}: n_iter");
    assert_eq!(a.4, b.4, "{what}: n_steps");
    assert_eq!(a.5.to_bits(), b.5.to_bits(), "{what}: reconstruction_err");
    assert!(a.0 == b.0, "{what}: W differs");
    assert!(a.1 == b.1, "{what}: H differs");
    assert!(a.2 == b.2, "{what}: A differs");
    assert!(a.6 == b.6, "{what}: B differs");
    // The transform of the file equals the transform in memory.
    let mut model = MiniBatchNmf::<F>::new(p.clone()).unwrap();
    model.fit_source(mem).unwrap();
    assert!(
        model.transform_source(mem).unwrap() == model.transform_source(file).unwrap(),
        "{what}: transform differs"
    );
}

const INITS: [Init; 2] = [Init::Nndsvda, Init::Random];
/// Both solvers: MU and cd (whose statistics start from a streamed pass).
const SOLVERS: [Solver; 2] = [Solver::Mu, Solver::Cd];

/// Whole passes over X in blocks of ~3 KB (a dozen rows or so), so the
/// initialisation, the final W solve and the reconstruction error stream
/// many blocks. Every test of this file sets the same value (tests run in
/// parallel threads of one process).
fn small_pass_blocks() {
    io::set_pass_bytes(3000);
}

fn dense_case<F: NmfFloat>(x64: &Array2<f64>, path: &Path, what: &str, fresh: bool) {
    let x: Array2<F> = x64.mapv(F::from_f64_);
    for (init, solver) in INITS.into_iter().flat_map(|i| SOLVERS.map(|s| (i, s))) {
        let p = params(init).fresh_restarts(fresh).solver(solver);
        let mut file = NpyRows::<F>::open(path).unwrap();
        assert_same_fit(
            &format!("{what} {init:?} {solver:?} fresh={fresh}"),
            &p,
            &mut InMemory::new(&x),
            &mut file,
        );
    }
}

#[test]
fn fit_from_npy_equals_fit_in_memory() {
    small_pass_blocks();
    let dir = tempfile::tempdir().unwrap();
    let x = matrix(301, 23, 1, 0.3);
    // f64 and f32 files, read as f64 and f32.
    let p64 = dir.path().join("x64.npy");
    write_npy(&p64, &x).unwrap();
    let p32 = dir.path().join("x32.npy");
    write_npy(&p32, &x.mapv(|v| v as f32)).unwrap();
    dense_case::<f64>(&x, &p64, "f64 file as f64", false);
    dense_case::<f32>(&x, &p32, "f32 file as f32", false);
    dense_case::<f64>(&x, &p32, "f32 file as f64", true);
    // u8 counts.
    let x8 = x.mapv(|v| (v * 8.0) as u8);
    let p8 = dir.path().join("x8.npy");
    write_npy(&p8, &x8).unwrap();
    let x8f = x8.mapv(|v| v as f64);
    dense_case::<f32>(&x8f, &p8, "u8 file as f32", false);
    dense_case::<f64>(&x8f, &p8, "u8 file as f64", false);
    // Fortran order.
    let mut xf = Array2::<f64>::zeros((301, 23).f());
    xf.assign(&x);
    let pf = dir.path().join("xf.npy");
    write_npy(&pf, &xf).unwrap();
    assert!(NpyRows::<f64>::open(&pf).unwrap().is_fortran());
    dense_case::<f64>(&x, &pf, "Fortran-order f64 file", false);
}

fn csr_case<F: NmfFloat>(x64: &Array2<f64>, open: &dyn Fn() -> CsrFile<F>, what: &str) {
    let (ip, ix, dv) = csr(x64);
    let dv: Vec<F> = dv.iter().map(|&v| F::from_f64_(v)).collect();
    let (n, m) = x64.dim();
    for (init, solver) in INITS.into_iter().flat_map(|i| SOLVERS.map(|s| (i, s))) {
        let view = CsrView::new(n, m, &ip, &ix, &dv).unwrap();
        assert_same_fit(
            &format!("{what} {init:?} {solver:?}"),
            &params(init).solver(solver),
            &mut InMemory::new(view),
            &mut open(),
        );
    }
}

#[test]
fn fit_from_npz_csr_equals_fit_in_memory() {
    small_pass_blocks();
    let dir = tempfile::tempdir().unwrap();
    let x = matrix(260, 31, 2, 0.7);
    let (ip, ix, dv) = csr(&x);
    for compressed in [true, false] {
        let path = dir.path().join(format!("x{compressed}.npz"));
        save_npz_csr(&path, x.dim(), &ip, &ix, &dv, compressed).unwrap();
        let what = format!("npz compressed={compressed}");
        csr_case::<f64>(&x, &|| CsrFile::open_npz(&path).unwrap(), &what);
        csr_case::<f32>(&x, &|| CsrFile::open_npz(&path).unwrap(), &what);
    }
}

fn write_mtx(path: &Path, x: &Array2<f64>, shuffled: bool) {
    let mut entries: Vec<(usize, usize, f64)> = x
        .indexed_iter()
        .filter(|(_, &v)| v != 0.0)
        .map(|((i, j), &v)| (i, j, v))
        .collect();
    if shuffled {
        // Rows out of order (columns within a row keep their order).
        entries.sort_by_key(|&(i, j, _)| ((i * 7919) % x.nrows(), j));
    }
    let mut f = std::fs::File::create(path).unwrap();
    writeln!(f, "%%MatrixMarket matrix coordinate real general").unwrap();
    writeln!(f, "% a comment").unwrap();
    writeln!(f, "{} {} {}", x.nrows(), x.ncols(), entries.len()).unwrap();
    for (i, j, v) in entries {
        writeln!(f, "{} {} {v}", i + 1, j + 1).unwrap();
    }
}

#[test]
fn fit_from_matrix_market_equals_fit_in_memory() {
    small_pass_blocks();
    let dir = tempfile::tempdir().unwrap();
    let x = matrix(240, 29, 3, 0.75);
    for shuffled in [false, true] {
        let path = dir.path().join(format!("x{shuffled}.mtx"));
        write_mtx(&path, &x, shuffled);
        let what = format!("mtx shuffled={shuffled}");
        csr_case::<f64>(&x, &|| CsrFile::open_mtx(&path).unwrap(), &what);
        csr_case::<f32>(&x, &|| CsrFile::open_mtx(&path).unwrap(), &what);
    }
}

/// One-line error message of an `open` or a fit, as the CLI prints it.
fn open_err(path: &Path) -> String {
    match io::open::<f64>(path) {
        Err(e) => e.to_string(),
        Ok(mut src) => MiniBatchNmf::<f64>::new(params(Init::Random))
            .unwrap()
            .fit_source(src.as_mut())
            .map(|_| String::from("no error"))
            .unwrap_or_else(|e| e.to_string()),
    }
}

#[test]
fn bad_values_are_reported_with_row_and_column() {
    small_pass_blocks();
    let dir = tempfile::tempdir().unwrap();
    let mut x = matrix(50, 6, 4, 0.2);
    x[[41, 4]] = -2.0;
    let p = dir.path().join("neg.npy");
    write_npy(&p, &x).unwrap();
    let e = open_err(&p);
    assert!(
        e.contains("negative") && e.contains("row 41, column 4"),
        "{e}"
    );
    x[[41, 4]] = 1.0;
    x[[7, 2]] = f64::NAN;
    let p = dir.path().join("nan.npy");
    write_npy(&p, &x).unwrap();
    let e = open_err(&p);
    assert!(e.contains("NaN") && e.contains("row 7, column 2"), "{e}");
    // The same in a CSR file, and beyond the first pass block.
    x[[7, 2]] = 1.0;
    x[[44, 5]] = -1.0;
    let (ip, ix, dv) = csr(&x);
    let p = dir.path().join("neg.npz");
    save_npz_csr(&p, x.dim(), &ip, &ix, &dv, true).unwrap();
    let e = open_err(&p);
    assert!(e.contains("row 44, column 5"), "{e}");
    // f64 values too large for f32 become infinities when read as f32.
    let mut big = matrix(5, 3, 5, 0.0);
    big[[3, 1]] = 1e300;
    let p = dir.path().join("big.npy");
    write_npy(&p, &big).unwrap();
    let e = io::open::<f32>(&p)
        .map(|mut s| {
            MiniBatchNmf::<f32>::new(params(Init::Random).n_components(2))
                .unwrap()
                .fit_source(s.as_mut())
                .unwrap_err()
        })
        .unwrap_err_or_self();
    assert!(matches!(e, Error::NotFinite { .. }), "{e}");
    assert!(e.to_string().contains("row 3, column 1"), "{e}");
}

/// `Result<Error, Error>` → the error either way.
trait ErrEither {
    fn unwrap_err_or_self(self) -> Error;
}
impl ErrEither for Result<Error, Error> {
    fn unwrap_err_or_self(self) -> Error {
        match self {
            Ok(e) | Err(e) => e,
        }
    }
}

#[test]
fn bad_files_fail_with_one_clear_error() {
    small_pass_blocks();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let x = matrix(40, 5, 6, 0.2);
    // Missing file.
    let e = open_err(&d.join("missing.npy"));
    assert!(
        e.contains("missing.npy") && e.contains("No such file"),
        "{e}"
    );
    // Unknown extension.
    let e = open_err(&d.join("x.csv"));
    assert!(e.contains("unknown format"), "{e}");
    // Not a .npy.
    std::fs::write(d.join("text.npy"), "hello").unwrap();
    let e = open_err(&d.join("text.npy"));
    assert!(e.contains("not a valid .npy"), "{e}");
    // Truncated .npy.
    write_npy(d.join("full.npy"), &x).unwrap();
    let bytes = std::fs::read(d.join("full.npy")).unwrap();
    std::fs::write(d.join("cut.npy"), &bytes[..bytes.len() - 9]).unwrap();
    let e = open_err(&d.join("cut.npy"));
    assert!(e.contains("truncated"), "{e}");
    // 1-D and complex arrays.
    write_npy(d.join("v.npy"), &ndarray::arr1(&[1.0f64, 2.0])).unwrap();
    assert!(open_err(&d.join("v.npy")).contains("2-D"));
    // Truncated and malformed MatrixMarket.
    write_mtx(&d.join("x.mtx"), &x, false);
    let text = std::fs::read_to_string(d.join("x.mtx")).unwrap();
    let cut: String = text.lines().take(10).map(|l| format!("{l}\n")).collect();
    std::fs::write(d.join("cut.mtx"), cut).unwrap();
    let e = open_err(&d.join("cut.mtx"));
    assert!(e.contains("truncated"), "{e}");
    let bad = text.replacen("\n3 ", "\n3x ", 1);
    std::fs::write(d.join("bad.mtx"), bad).unwrap();
    let e = open_err(&d.join("bad.mtx"));
    assert!(e.contains("bad entry"), "{e}");
    std::fs::write(
        d.join("sym.mtx"),
        "%%MatrixMarket matrix coordinate real symmetric\n2 2 1\n1 1 1.0\n",
    )
    .unwrap();
    assert!(open_err(&d.join("sym.mtx")).contains("symmetry"));
    // A zip that is not a scipy sparse matrix.
    std::fs::write(d.join("junk.npz"), "PK junk").unwrap();
    assert!(open_err(&d.join("junk.npz")).contains("not a .npz"));
}

/// The fit with W spilled to a mapped file (a budget too small for W with
/// the rest, found by bisection between "refused" and "in RAM") equals the
/// fit in memory, bit for bit, from memory and from the file.
fn assert_same_fit_spilled<F: NmfFloat>(
    what: &str,
    p: &MiniBatchNmfParams,
    mem: &mut dyn RowSource<F>,
    file: &mut dyn RowSource<F>,
) {
    let a = fit(p, mem);
    let run = |budget: u64, src: &mut dyn RowSource<F>| {
        let mut q = p.clone();
        q.set_param("max_memory", &budget.to_string()).unwrap();
        let mut model = MiniBatchNmf::<F>::new(q).unwrap();
        model
            .fit_transform_source_to(src, None)
            .map(|(w, _)| (w, model))
    };
    let (mut lo, mut hi) = (1u64, 1u64 << 40);
    let (w, model) = loop {
        assert!(hi - lo > 1, "{what}: no budget spills W");
        let mid = lo + (hi - lo) / 2;
        match run(mid, file) {
            Err(Error::OutOfMemory { .. }) => lo = mid,
            Err(e) => panic!("{what}: {e}"),
            Ok((w, _)) if !w.is_spilled() => hi = mid,
            Ok(spilled) => break spilled,
        }
    };
    assert!(w.view() == a.0.view(), "{what}: spilled W differs");
    assert!(model.components().unwrap() == a.1, "{what}: H differs");
    assert!(
        model.components_numerator().unwrap() == a.2,
        "{what}: A differs"
    );
    assert!(
        model.components_denominator().unwrap() == a.6,
        "{what}: B differs"
    );
    let s = model.last_fit().unwrap();
    assert_eq!((s.n_iter, s.n_steps), (a.3, a.4), "{what}: counters");
    assert_eq!(
        s.reconstruction_err.to_bits(),
        a.5.to_bits(),
        "{what}: error"
    );
    // The same budget from memory: the same W, spilled too.
    let budget = model.params().get_max_memory().to_string();
    let (w2, _) = run(budget.parse().unwrap(), mem).unwrap();
    assert!(
        w2.is_spilled() && w2.view() == a.0.view(),
        "{what}: from memory"
    );
    // And W as an array, copied back from its file.
    assert!(w2.into_array().unwrap() == a.0, "{what}: into_array");
}

#[test]
fn fit_with_w_spilled_to_a_file_equals_fit_in_memory() {
    small_pass_blocks();
    let dir = tempfile::tempdir().unwrap();
    // Tall enough for W to matter next to the pass blocks.
    let x = matrix(3001, 3, 4, 0.3);
    let path = dir.path().join("x.npy");
    write_npy(&path, &x).unwrap();
    for solver in SOLVERS {
        for fresh in [false, true] {
            let p = params(Init::Random)
                .n_components(3)
                .fresh_restarts(fresh)
                .solver(solver);
            assert_same_fit_spilled::<f64>(
                &format!("npy {solver:?} fresh={fresh}"),
                &p,
                &mut InMemory::new(&x),
                &mut NpyRows::<f64>::open(&path).unwrap(),
            );
        }
    }
    let (ip, ix, dv) = csr(&x);
    let mpath = dir.path().join("x.mtx");
    write_mtx(&mpath, &x, true);
    let view = CsrView::new(x.nrows(), x.ncols(), &ip, &ix, &dv).unwrap();
    let x32: Array2<f32> = x.mapv(|v| v as f32);
    let p32 = dir.path().join("x32.npy");
    write_npy(&p32, &x32).unwrap();
    for solver in SOLVERS {
        let p = params(Init::Random).n_components(3).solver(solver);
        assert_same_fit_spilled::<f64>(
            &format!("mtx {solver:?}"),
            &p,
            &mut InMemory::new(view),
            &mut CsrFile::open_mtx(&mpath).unwrap(),
        );
        assert_same_fit_spilled::<f32>(
            &format!("f32 npy {solver:?}"),
            &p,
            &mut InMemory::new(&x32),
            &mut NpyRows::<f32>::open(&p32).unwrap(),
        );
    }
}
