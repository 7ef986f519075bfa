//! Thread control: one rayon pool for the library's own parallel loops and a
//! single-threaded OpenBLAS, so the two never oversubscribe the cores.

use std::sync::{Arc, Once, RwLock};

static BLAS_ONCE: Once = Once::new();
static POOL: RwLock<Option<Arc<rayon::ThreadPool>>> = RwLock::new(None);

extern "C" {
    fn openblas_set_num_threads(num_threads: std::os::raw::c_int);
}

/// The library's one-time OpenBLAS set-up, before its first BLAS call:
/// the CPU's own kernels where OpenBLAS fell back to its generic ones
/// ([`crate::linalg::openblas`]), and a single-threaded OpenBLAS: our
/// parallelism is explicit (rayon over row blocks and elementwise passes),
/// and BLAS threads would fight it.
pub(crate) fn init_blas() {
    BLAS_ONCE.call_once(|| {
        crate::linalg::openblas::upgrade_generic_core_once();
        // SAFETY: OpenBLAS's setter takes a plain int, keeps no pointer and
        // may be called at any time (openblas-src links the library).
        unsafe { openblas_set_num_threads(1) }
    });
}

/// Use `n` worker threads for the library's parallel work (0 = one per
/// core, rayon's default). Takes effect for calls that start afterwards.
pub fn set_num_threads(n: usize) -> Result<(), String> {
    init_blas();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("minibatchnmf-{i}"))
        .build()
        .map_err(|e| e.to_string())?;
    let mut guard = POOL.write().unwrap_or_else(|e| e.into_inner());
    *guard = Some(Arc::new(pool));
    Ok(())
}

/// Number of threads the library's parallel work will use.
pub fn num_threads() -> usize {
    let guard = POOL.read().unwrap_or_else(|e| e.into_inner());
    guard
        .as_ref()
        .map_or_else(rayon::current_num_threads, |p| p.current_num_threads())
}

/// Run `f` on the library's pool (the global rayon pool unless
/// [`set_num_threads`] chose another).
pub(crate) fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    init_blas();
    let pool = POOL.read().unwrap_or_else(|e| e.into_inner()).clone();
    match pool {
        Some(p) => p.install(f),
        None => f(),
    }
}
