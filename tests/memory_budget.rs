//! Files that lie and data that is tall (issue 20): every entry point
//! answers a data file whose header claims more than the machine holds with
//! a one-line error — never an abort, never the kernel's OOM killer — and
//! the memory budget (`max_memory`) refuses a fit up front, also when the
//! process runs under an address-space limit (`ulimit -v`).
//!
//! The hostile files are built here, in a temporary folder:
//! * `tall12.mtx`: 100 bytes claiming 10^12 × 10^12 with 2 entries;
//! * `tall8.mtx`: 10^8 rows × 3 columns with 2 entries;
//! * `zeros.npz`: a deflated all-zero 2·10^8 × 5 CSR matrix (< 1 MB).

use minibatchnmf::ffi::*;

use minibatchnmf::io;
use minibatchnmf::{Budget, MaxMemory};
use minibatchnmf::{Error, Init, MiniBatchNmf, MiniBatchNmfParams};
use std::ffi::CStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A `.npy` header (version 1.0) for `descr` and `shape`.
fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let shape = match shape {
        [] => "()".to_string(),
        [n] => format!("({n},)"),
        s => format!(
            "({})",
            s.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut d = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + d.len() + 1) % 64 != 0 {
        d.push(' ');
    }
    d.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(d.len() as u16).to_le_bytes());
    out.extend_from_slice(d.as_bytes());
    out
}

fn tall12(dir: &Path) -> PathBuf {
    let p = dir.join("tall12.mtx");
    std::fs::write(
        &p,
        "%%MatrixMarket matrix coordinate real general\n\
         1000000000000 1000000000000 2\n1 1 1.0\n2 2 1.0\n",
    )
    .unwrap();
    p
}

fn tall8(dir: &Path) -> PathBuf {
    let p = dir.join("tall8.mtx");
    std::fs::write(
        &p,
        "%%MatrixMarket matrix coordinate real general\n100000000 3 2\n1 1 1.0\n2 2 1.0\n",
    )
    .unwrap();
    p
}

/// An all-zero `n`×5 CSR matrix as scipy saves it (deflate), its int32
/// indptr written by chunks.
fn zeros_npz(dir: &Path, n: usize) -> PathBuf {
    let p = dir.join("zeros.npz");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let opt = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    z.start_file("format.npy", opt).unwrap();
    z.write_all(&npy_header("|S3", &[])).unwrap();
    z.write_all(b"csr").unwrap();
    z.start_file("shape.npy", opt).unwrap();
    z.write_all(&npy_header("<i8", &[2])).unwrap();
    for v in [n as i64, 5] {
        z.write_all(&v.to_le_bytes()).unwrap();
    }
    z.start_file("indptr.npy", opt).unwrap();
    z.write_all(&npy_header("<i4", &[n + 1])).unwrap();
    let chunk = vec![0u8; 1 << 22];
    let mut left = (n + 1) * 4;
    while left > 0 {
        let c = left.min(chunk.len());
        z.write_all(&chunk[..c]).unwrap();
        left -= c;
    }
    z.start_file("indices.npy", opt).unwrap();
    z.write_all(&npy_header("<i4", &[0])).unwrap();
    z.start_file("data.npy", opt).unwrap();
    z.write_all(&npy_header("<f8", &[0])).unwrap();
    z.finish().unwrap();
    p
}

/// What a child run of the CLI gave: exit status, stderr, peak RSS (KiB).
struct Run {
    status: i32,
    stderr: String,
    max_rss_kib: i64,
}

/// Runs `minibatchnmf args…` (through `sh -c 'ulimit -v …; exec …'` when
/// `limit_kib` is given) and measures the child's peak RSS with wait4.
fn run_cli(args: &[&str], limit_kib: Option<u64>, dir: &Path) -> Run {
    let exe = env!("CARGO_BIN_EXE_minibatchnmf");
    let mut cmd = match limit_kib {
        Some(kib) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -v {kib} && exec \"$0\" \"$@\""))
                .arg(exe)
                .args(args);
            c
        }
        None => {
            let mut c = Command::new(exe);
            c.args(args);
            c
        }
    };
    let mut child = cmd
        .current_dir(dir)
        .env("OPENBLAS_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 reaps this child (not waited
    // for through `child` afterwards).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(r, pid);
    assert!(libc::WIFEXITED(status), "killed by a signal: {stderr}");
    std::mem::forget(child);
    Run {
        status: libc::WEXITSTATUS(status),
        stderr,
        max_rss_kib: ru.ru_maxrss,
    }
}

/// Exit status 2 and one line "minibatchnmf: error: …" containing `want`,
/// under 100 MB of RSS.
fn refused(run: &Run, want: &str) {
    assert_eq!(run.status, 2, "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.starts_with("minibatchnmf: error: ") && run.stderr.contains(want),
        "{}",
        run.stderr
    );
    assert!(
        run.max_rss_kib < 100 * 1024,
        "peak RSS {} KiB: {}",
        run.max_rss_kib,
        run.stderr
    );
    eprintln!("peak RSS {} KiB: {}", run.max_rss_kib, run.stderr.trim());
}

#[test]
fn header_claiming_ten_to_the_twelve_rows_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = tall12(dir.path());
    let f = f.to_str().unwrap();
    for extra in [&[][..], &["-k", "2"], &["-k", "2", "--init", "random"]] {
        let mut args = vec!["fit", f, "-o", "m.safetensors", "-q"];
        args.extend_from_slice(extra);
        refused(&run_cli(&args, None, dir.path()), "not enough memory");
    }
}

/// A MatrixMarket file of `n` rows × 3 columns with 2 entries.
fn tall_mtx(dir: &Path, n: usize) -> PathBuf {
    let p = dir.join(format!("tall{n}.mtx"));
    std::fs::write(
        &p,
        format!("%%MatrixMarket matrix coordinate real general\n{n} 3 2\n1 1 1.0\n2 2 1.0\n"),
    )
    .unwrap();
    p
}

#[test]
fn ten_to_the_eight_rows_are_refused_up_front_by_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let f = tall8(dir.path());
    let f = f.to_str().unwrap();
    // W alone is 10^8 × 3 × 8 bytes = 2.2 GiB. Under a 1 GiB budget the
    // default init (nndsvda) takes the streamed SVD and W lives in a mapped
    // file: the fit runs (too long for a test: see
    // `a_tall_sparse_file_with_the_default_init_fits_within_the_budget`
    // for the same file with fewer rows, and docs for the 10^8 run). Under
    // 100 MiB, the row blocks of whole passes (128 MiB) do not fit:
    // refused up front, whatever the init.
    for init in ["nndsvda", "random"] {
        let args = [
            "fit",
            f,
            "-o",
            "m.safetensors",
            "-q",
            "--init",
            init,
            "--max-memory",
            "100M",
        ];
        refused(&run_cli(&args, None, dir.path()), "memory-mapped file");
    }
    // The default budget follows a process limit (ulimit -v 1 GiB): W
    // mapped from its file does not fit the address space.
    let args = ["fit", f, "-o", "m.safetensors", "-q"];
    refused(&run_cli(&args, Some(1 << 20), dir.path()), "ulimit -v");
}

/// The hostile tall file with 4·10^6 rows and the default init (nndsvda)
/// under a 200 MiB budget: W (92 MiB) in a mapped file, the streamed SVD
/// (nothing of n rows in RAM): fitted, peak RSS under the budget.
#[test]
fn a_tall_sparse_file_with_the_default_init_fits_within_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let f = tall_mtx(dir.path(), 4_000_000);
    let f = f.to_str().unwrap();
    let args = [
        "fit",
        f,
        "-o",
        "m.safetensors",
        "-q",
        "--random-state",
        "0",
        "--max-iter",
        "2",
        "--max-memory",
        "200M",
    ];
    let (run, t) = timed_cli(&args, dir.path());
    assert_eq!(run.status, 0, "{}", run.stderr);
    eprintln!(
        "4·10^6 × 3 .mtx, nndsvda, 200 MiB budget: {t:.2} s, peak RSS {} MiB",
        run.max_rss_kib >> 10
    );
    assert!(run.max_rss_kib < 200 << 10, "{} KiB", run.max_rss_kib);
    let h = MiniBatchNmf::<f64>::load(dir.path().join("m.safetensors"))
        .unwrap()
        .components()
        .unwrap()
        .to_owned();
    assert!(h.iter().all(|v| v.is_finite() && *v >= 0.0));
}

#[test]
fn an_allocation_the_system_refuses_is_the_same_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = tall8(dir.path());
    let f = f.to_str().unwrap();
    // The budget says yes (1 TiB), the address-space limit says no.
    let args = ["fit", f, "-o", "m.safetensors", "-q", "--max-memory", "1T"];
    refused(
        &run_cli(&args, Some(1536 << 10), dir.path()),
        "the system refused",
    );
    // W would spill (random init, a 1 GiB budget), but a mapped file takes
    // address space too: under a 1.5 GiB limit, refused up front.
    let args = [
        "fit",
        f,
        "-o",
        "m.safetensors",
        "-q",
        "--init",
        "random",
        "--max-memory",
        "1G",
    ];
    refused(
        &run_cli(&args, Some(1536 << 10), dir.path()),
        "the address-space limit, ulimit -v",
    );
}

#[test]
fn a_compressed_npz_of_two_hundred_million_empty_rows_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let f = zeros_npz(dir.path(), 200_000_000);
    assert!(std::fs::metadata(&f).unwrap().len() < 2_000_000);
    let f = f.to_str().unwrap();
    // W (8 GB) could live in a mapped file and the default init take the
    // streamed SVD, but the row blocks of whole passes (128 MiB) do not
    // fit 100 MiB: refused up front.
    let args = [
        "fit",
        f,
        "-o",
        "m.safetensors",
        "-q",
        "--max-memory",
        "100M",
    ];
    refused(&run_cli(&args, None, dir.path()), "not enough memory");
    // Its reader keeps no offset per row: the rows are all empty.
    let mut src = io::open_with::<f64>(f, &Budget::of(MaxMemory::Bytes(1 << 20))).unwrap();
    assert_eq!(src.shape(), (200_000_000, 5));
    assert_eq!(src.nnz(), 0);
    assert_eq!(src.rows(199_999_990, 200_000_000).unwrap().shape(), (10, 5));
}

#[test]
fn a_bad_max_memory_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let f = tall8(dir.path());
    let run = run_cli(
        &["fit", f.to_str().unwrap(), "--max-memory", "lots"],
        None,
        dir.path(),
    );
    assert_eq!(run.status, 2);
    assert!(run.stderr.contains("--max-memory"), "{}", run.stderr);
}

#[test]
fn max_memory_is_a_string_keyed_parameter() {
    let mut p = MiniBatchNmfParams::new();
    assert_eq!(p.get_param("max_memory").unwrap(), "auto");
    p.set_param("max_memory", "512M").unwrap();
    assert_eq!(
        p.get_param("max_memory").unwrap(),
        (512u64 << 20).to_string()
    );
    assert_eq!(p.get_max_memory(), MaxMemory::Bytes(512 << 20));
    assert!(p.set_param("max_memory", "-3").is_err());
    // Not scikit-learn's: an extension parameter, not in get_params.
    assert!(p.get_params().iter().all(|(n, _)| *n != "max_memory"));
    assert!(p.extension_params().iter().any(|(n, _)| *n == "max_memory"));
}

#[test]
fn a_fit_over_budget_fails_and_leaves_the_model_unchanged() {
    let x = ndarray::Array2::from_shape_fn((2000, 40), |(i, j)| ((i * 7 + j * 3) % 11) as f64);
    let params = MiniBatchNmfParams::new()
        .n_components(5)
        .init(Init::Random)
        .random_state(Some(0))
        .max_iter(3);
    let mut m = MiniBatchNmf::<f64>::new(params).unwrap();
    m.fit(&x).unwrap();
    let h = m.components().unwrap().to_owned();
    m.set_param("max_memory", "100K").unwrap();
    for e in [
        m.fit(&x).unwrap_err(),
        m.transform(&x).map(|_| ()).unwrap_err(),
        m.partial_fit(&x).unwrap_err(),
    ] {
        assert!(matches!(e, Error::OutOfMemory { .. }), "{e}");
        assert!(e.to_string().contains("max_memory"), "{e}");
    }
    assert_eq!(m.components().unwrap(), h);
    m.set_param("max_memory", "auto").unwrap();
    m.fit(&x).unwrap();
}

/// A wide CSR matrix takes a batch of many rows under a budget far below
/// a dense batch×m block (batch_size × n_features × 8 bytes = 3.2 GB
/// here): the preflight counts the values a batch can hold, never a dense
/// block the fit does not allocate — for both solvers and transform.
#[test]
fn a_wide_csr_matrix_takes_large_batches_under_a_small_budget() {
    let (n, m, per_row) = (4000usize, 100_000usize, 5usize);
    let mut indptr = vec![0usize];
    let (mut indices, mut data) = (Vec::new(), Vec::new());
    for i in 0..n {
        let mut cols: Vec<usize> = (0..per_row).map(|t| (i * 7919 + t * 104_729) % m).collect();
        cols.sort_unstable();
        cols.dedup();
        for c in cols {
            indices.push(c);
            data.push(1.0 + ((i + c) % 5) as f64);
        }
        indptr.push(indices.len());
    }
    let x = minibatchnmf::CsrView::new(n, m, &indptr, &indices, &data).unwrap();
    for solver in ["mu", "cd"] {
        let params = MiniBatchNmfParams::new()
            .n_components(3)
            .init(Init::Random)
            .random_state(Some(0))
            .batch_size(n)
            .max_iter(2);
        let mut model = MiniBatchNmf::<f64>::new(params).unwrap();
        model.set_param("solver", solver).unwrap();
        model.set_param("max_memory", "200M").unwrap();
        model.fit(x).unwrap_or_else(|e| panic!("{solver}: {e}"));
        model
            .transform(x)
            .unwrap_or_else(|e| panic!("{solver}: {e}"));
        // The budget still binds: H's statistics alone need more than 1 MiB.
        model.set_param("max_memory", "1M").unwrap();
        let e = model.fit(x).unwrap_err();
        assert!(matches!(e, Error::OutOfMemory { .. }), "{solver}: {e}");
    }
}

fn last_error() -> String {
    unsafe { CStr::from_ptr(nmf_last_error()) }
        .to_string_lossy()
        .into_owned()
}

#[test]
fn the_c_abi_returns_out_of_memory_never_aborts() {
    // 2 rows claiming 10^12 features: H alone would be 10^12 × k values.
    let (indptr, indices, data) = ([0usize, 1, 2], [0usize, 999_999_999_999], [1.0f64, 2.0]);
    for (mode_fixed, init) in [
        (false, NmfInit::NMF_INIT_AUTO),
        (true, NmfInit::NMF_INIT_RANDOM),
    ] {
        let mut p = nmf_params_default();
        if mode_fixed {
            p.n_components_mode = minibatchnmf::ffi::NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
            p.n_components = 5;
        }
        p.init = init;
        let mut model: *mut NmfModel = std::ptr::null_mut();
        unsafe {
            assert_eq!(nmf_create(&p, &mut model), NmfStatus::NMF_OK);
            let s = nmf_fit_csr_f64(
                model,
                indptr.as_ptr(),
                indices.as_ptr(),
                data.as_ptr(),
                2,
                2,
                1_000_000_000_000,
            );
            assert_eq!(s, NmfStatus::NMF_ERR_OUT_OF_MEMORY, "{}", last_error());
            assert!(last_error().contains("not enough memory"));
            let mut fitted = true;
            assert_eq!(nmf_is_fitted(model, &mut fitted), NmfStatus::NMF_OK);
            assert!(!fitted);
            nmf_free(model);
        }
    }
    let name = unsafe { CStr::from_ptr(nmf_status_str(25)) };
    assert_eq!(name.to_str().unwrap(), "NMF_ERR_OUT_OF_MEMORY");
}

#[test]
fn readers_check_headers_against_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let open = |p: &Path| io::open_with::<f64>(p, &Budget::of(MaxMemory::Bytes(64 << 20)));
    let err = |p: &Path| match open(p) {
        Ok(_) => panic!("{} opened", p.display()),
        Err(e) => e.to_string(),
    };
    // .mtx announcing more entries than its bytes can hold.
    let p = d.join("many.mtx");
    std::fs::write(
        &p,
        "%%MatrixMarket matrix coordinate real general\n3 3 1000000000\n1 1 1\n",
    )
    .unwrap();
    assert!(err(&p).contains("more than the file's"), "{}", err(&p));
    // .npy whose header claims 4 GiB of header (version 2.0).
    let p = d.join("header.npy");
    let mut b = b"\x93NUMPY\x02\x00".to_vec();
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(b"{'descr': '<f8'");
    std::fs::write(&p, b).unwrap();
    assert!(err(&p).contains("header claims"), "{}", err(&p));
    // .npy whose shape claims more values than the file holds.
    let p = d.join("shape.npy");
    let mut b = npy_header("<f8", &[1 << 40, 1 << 20]);
    b.extend_from_slice(&[0; 64]);
    std::fs::write(&p, b).unwrap();
    assert!(err(&p).contains("truncated") || err(&p).contains("overflows"));
    // An unsorted .mtx of 10^12 rows: offsets for its non-empty rows only.
    let p = d.join("unsorted.mtx");
    std::fs::write(
        &p,
        "%%MatrixMarket matrix coordinate real general\n1000000000000 4 3\n\
         999999999999 2 1\n1 1 2\n999999999999 1 3\n",
    )
    .unwrap();
    let mut src = open(&p).unwrap();
    assert_eq!((src.shape(), src.nnz()), ((1_000_000_000_000, 4), 3));
    let last = src.rows(999_999_999_998, 1_000_000_000_000).unwrap();
    match last {
        minibatchnmf::Input::Csr(c) => {
            // 1-based row 999999999999 is the block's first row.
            assert_eq!(c.row(0), (&[1usize, 0][..], &[1.0, 3.0][..]));
            assert_eq!(c.row(1).0.len(), 0);
        }
        _ => panic!("sparse"),
    }
}

#[test]
fn the_c_abi_takes_max_memory_by_name_and_refuses_a_fit_over_it() {
    use std::ffi::CString;
    let x: Vec<f64> = (0..2000 * 40).map(|i| ((i * 7) % 11) as f64).collect();
    let mut p = nmf_params_default();
    p.n_components_mode = minibatchnmf::ffi::NmfNComponentsMode::NMF_N_COMPONENTS_FIXED;
    p.n_components = 5;
    p.init = NmfInit::NMF_INIT_RANDOM;
    p.random_state = 0;
    p.random_state_is_none = false;
    p.max_iter = 2;
    let mut model: *mut NmfModel = std::ptr::null_mut();
    let (name, bad) = (
        CString::new("max_memory").unwrap(),
        CString::new("lots").unwrap(),
    );
    unsafe {
        assert_eq!(nmf_create(&p, &mut model), NmfStatus::NMF_OK);
        assert_eq!(
            nmf_set_param(model, name.as_ptr(), bad.as_ptr()),
            NmfStatus::NMF_ERR_INVALID_PARAM
        );
        assert!(last_error().contains("max_memory"), "{}", last_error());
        let small = CString::new("100K").unwrap();
        assert_eq!(
            nmf_set_param(model, name.as_ptr(), small.as_ptr()),
            NmfStatus::NMF_OK
        );
        let mut len = 0usize;
        assert_eq!(
            nmf_get_param_len(model, name.as_ptr(), &mut len),
            NmfStatus::NMF_OK
        );
        let mut buf = vec![0 as std::ffi::c_char; len + 1];
        assert_eq!(
            nmf_get_param(model, name.as_ptr(), buf.as_mut_ptr(), buf.len()),
            NmfStatus::NMF_OK
        );
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "102400");
        // nmf_set_params keeps it (it replaces scikit-learn's parameters only).
        assert_eq!(nmf_set_params(model, &p), NmfStatus::NMF_OK);
        let s = nmf_fit_dense_f64(model, x.as_ptr(), 2000, 40, 40);
        assert_eq!(s, NmfStatus::NMF_ERR_OUT_OF_MEMORY, "{}", last_error());
        assert!(
            last_error().contains("set by max_memory"),
            "{}",
            last_error()
        );
        let mut fitted = true;
        assert_eq!(nmf_is_fitted(model, &mut fitted), NmfStatus::NMF_OK);
        assert!(!fitted);
        let auto = CString::new("auto").unwrap();
        assert_eq!(
            nmf_set_param(model, name.as_ptr(), auto.as_ptr()),
            NmfStatus::NMF_OK
        );
        assert_eq!(
            nmf_fit_dense_f64(model, x.as_ptr(), 2000, 40, 40),
            NmfStatus::NMF_OK
        );
        nmf_free(model);
    }
}

/// A dense f64 `.npy` of n×m values (deterministic, non-negative), written
/// by row blocks.
fn tall_npy(path: &Path, n: usize, m: usize) {
    let mut out = io::NpyWriter::<f64>::create(path, (n, m)).unwrap();
    let rows = 65536;
    let mut s = 0..n;
    while s.start < n {
        let a = s.start;
        let b = (a + rows).min(n);
        let block = ndarray::Array2::from_shape_fn((b - a, m), |(i, j)| {
            (((a + i) * 31 + j * 17) % 13) as f64 / 4.0
        });
        out.write_rows(block.view()).unwrap();
        s = b..n;
    }
    out.finish().unwrap();
}

/// Whether two files hold the same bytes (read by 1 MiB chunks).
fn same_bytes(a: &Path, b: &Path) -> bool {
    let (mut fa, mut fb) = (
        std::fs::File::open(a).unwrap(),
        std::fs::File::open(b).unwrap(),
    );
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na = fa.read(&mut ba).unwrap();
        let mut nb = 0;
        while nb < na {
            match fb.read(&mut bb[nb..na]).unwrap() {
                0 => return false,
                r => nb += r,
            }
        }
        if na == 0 {
            return fb.read(&mut bb[..1]).unwrap() == 0;
        }
        if ba[..na] != bb[..na] {
            return false;
        }
    }
}

/// Runs the CLI and times it.
fn timed_cli(args: &[&str], dir: &Path) -> (Run, f64) {
    let t = std::time::Instant::now();
    let run = run_cli(args, None, dir);
    (run, t.elapsed().as_secs_f64())
}

#[test]
fn a_tall_fit_over_budget_spills_w_and_equals_the_fit_in_memory() {
    // 2·10^6 × 20, k = 10: W is 160 MB, the rest of the fit (row blocks of
    // whole passes, workspaces) about 130 MB: W cannot stay in RAM under a
    // 200 MB budget, and lives in the --w-out file.
    let (n, m) = (2_000_000, 20);
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    tall_npy(&x, n, m);
    let x = x.to_str().unwrap();
    let common = [
        "fit",
        x,
        "-q",
        "-k",
        "10",
        "--init",
        "random",
        "--random-state",
        "0",
        "--max-iter",
        "2",
        "--tol",
        "0",
    ];
    let with = |extra: &[&'static str]| {
        let mut a = common.to_vec();
        a.extend_from_slice(extra);
        a
    };
    let (ram, t_ram) = timed_cli(
        &with(&["--w-out", "w_ram.npy", "-o", "ram.safetensors"]),
        dir.path(),
    );
    assert_eq!(ram.status, 0, "{}", ram.stderr);
    let (spill, t_spill) = timed_cli(
        &with(&[
            "--w-out",
            "w_spill.npy",
            "-o",
            "spill.safetensors",
            "--max-memory",
            "200M",
        ]),
        dir.path(),
    );
    assert_eq!(spill.status, 0, "{}", spill.stderr);
    // Compared by chunks: this process stays small, as the peak RSS of
    // the children other tests fork from it counts its size at the fork.
    let (a, b) = (dir.path().join("w_ram.npy"), dir.path().join("w_spill.npy"));
    assert_eq!(
        std::fs::metadata(&a).unwrap().len(),
        128 + (n * 10 * 8) as u64
    );
    assert!(same_bytes(&a, &b), "W differs");
    let load = |f: &str| MiniBatchNmf::<f64>::load(dir.path().join(f)).unwrap();
    let (a, b) = (load("ram.safetensors"), load("spill.safetensors"));
    assert_eq!(a.components().unwrap(), b.components().unwrap());
    assert_eq!(
        a.reconstruction_err().unwrap().to_bits(),
        b.reconstruction_err().unwrap().to_bits()
    );
    eprintln!(
        "in memory: {t_ram:.2} s, peak RSS {} MiB; spilled: {t_spill:.2} s ({:.2}×), peak RSS {} MiB",
        ram.max_rss_kib >> 10,
        t_spill / t_ram,
        spill.max_rss_kib >> 10
    );
    assert!(
        spill.max_rss_kib < 200 << 10,
        "peak RSS {} KiB over the 200 MiB budget",
        spill.max_rss_kib
    );
    assert!(ram.max_rss_kib > spill.max_rss_kib + (100 << 10));
}

/// The default init (nndsvda) of a tall dense fit whose in-RAM SVD blocks
/// (4 × 2·10^6 × 20 values, 1.2 GiB) do not fit the budget takes the
/// streamed SVD: under 400 MiB with W in RAM, under 200 MiB with W in a
/// mapped file too, bit for bit the same fit, each under its budget; and
/// within rounding of the unbudgeted fit (the in-RAM SVD).
#[test]
fn a_tall_fit_with_the_default_init_streams_its_svd_within_the_budget() {
    let (n, m) = (2_000_000, 20);
    let dir = tempfile::tempdir().unwrap();
    let x = dir.path().join("x.npy");
    tall_npy(&x, n, m);
    let x = x.to_str().unwrap();
    let common = [
        "fit",
        x,
        "-q",
        "-k",
        "10",
        "--random-state",
        "0",
        "--max-iter",
        "2",
        "--tol",
        "0",
    ];
    let with = |extra: &[&'static str]| {
        let mut a = common.to_vec();
        a.extend_from_slice(extra);
        a
    };
    let (ram, t_ram) = timed_cli(&with(&["-o", "ram.safetensors"]), dir.path());
    assert_eq!(ram.status, 0, "{}", ram.stderr);
    let (st, t_st) = timed_cli(
        &with(&[
            "--w-out",
            "w_st.npy",
            "-o",
            "st.safetensors",
            "--max-memory",
            "400M",
        ]),
        dir.path(),
    );
    assert_eq!(st.status, 0, "{}", st.stderr);
    let (sp, t_sp) = timed_cli(
        &with(&[
            "--w-out",
            "w_sp.npy",
            "-o",
            "sp.safetensors",
            "--max-memory",
            "200M",
        ]),
        dir.path(),
    );
    assert_eq!(sp.status, 0, "{}", sp.stderr);
    let (a, b) = (dir.path().join("w_st.npy"), dir.path().join("w_sp.npy"));
    assert!(same_bytes(&a, &b), "W differs");
    let load = |f: &str| MiniBatchNmf::<f64>::load(dir.path().join(f)).unwrap();
    let (r, s, p) = (
        load("ram.safetensors"),
        load("st.safetensors"),
        load("sp.safetensors"),
    );
    assert_eq!(s.components().unwrap(), p.components().unwrap());
    assert_eq!(
        s.reconstruction_err().unwrap().to_bits(),
        p.reconstruction_err().unwrap().to_bits()
    );
    let (hr, hs) = (r.components().unwrap(), s.components().unwrap());
    let scale = hr.iter().fold(0.0f64, |a, v| a.max(v.abs()));
    let d = hr
        .iter()
        .zip(hs.iter())
        .fold(0.0f64, |a, (x, y)| a.max((x - y).abs()))
        / scale;
    eprintln!(
        "in-RAM SVD: {t_ram:.2} s, peak RSS {} MiB; streamed, W in RAM: {t_st:.2} s ({:.2}×), \
         peak RSS {} MiB; streamed, W spilled: {t_sp:.2} s ({:.2}×), peak RSS {} MiB; \
         H after 2 epochs, streamed vs in-RAM SVD: {d:e} relative",
        ram.max_rss_kib >> 10,
        t_st / t_ram,
        st.max_rss_kib >> 10,
        t_sp / t_ram,
        sp.max_rss_kib >> 10
    );
    assert!(d < 1e-8, "streamed vs in-RAM SVD: {d:e}");
    assert!(st.max_rss_kib < 400 << 10, "{} KiB", st.max_rss_kib);
    assert!(sp.max_rss_kib < 200 << 10, "{} KiB", sp.max_rss_kib);
    // The in-RAM SVD is what the budget kept the others from.
    assert!(ram.max_rss_kib > 400 << 10, "{} KiB", ram.max_rss_kib);
}
