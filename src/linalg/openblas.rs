//! OpenBLAS's kernels for CPUs it does not know.
//!
//! A DYNAMIC_ARCH OpenBLAS picks its kernels (a "core") from the CPU's
//! model number when it loads. A release older than the CPU does not know
//! its model and falls back to its generic x86-64 core, "Prescott" (SSE3):
//! Debian 12's OpenBLAS 0.3.21 does so on Intel's Emerald Rapids Xeons
//! (family 6, model 207), where its GEMM then runs at a fifth of the
//! speed of its own SkylakeX kernels on the same CPU (10 against 52
//! GFlop/s in f64, one thread, `bench_runner --mode machine`).
//!
//! So before the library's first BLAS call ([`crate::parallel`]'s one-time
//! set-up), when OpenBLAS runs its generic core, the user has not chosen
//! one (`OPENBLAS_CORETYPE` unset) and the CPU and the operating system
//! support a better one's instructions (checked with
//! `is_x86_feature_detected!`, which also checks that the OS saves the
//! wider registers), the library asks OpenBLAS to pick its kernels again as
//! if `OPENBLAS_CORETYPE` had named that core at start-up: SkylakeX for
//! AVX-512 (F, CD, BW, DQ, VL), Haswell for AVX2 + FMA, Sandybridge for
//! AVX. Nothing else changes (the thread count, the buffers), and a CPU
//! OpenBLAS knows keeps its choice.
//!
//! The switch uses OpenBLAS's own re-initialisation entry points, looked up
//! at run time (`gotoblas_dynamic_quit`, `gotoblas_dynamic_init` and the
//! target core's kernel table; an OpenBLAS built without DYNAMIC_ARCH has
//! none of them and is left alone). It sets `OPENBLAS_CORETYPE` for the
//! duration of the call and then removes it, so child processes inherit
//! the user's environment. It must not race another thread's BLAS call
//! into the same OpenBLAS (a GEMM that runs while the kernel table is
//! replaced computes garbage or crashes), so on Linux it runs when the
//! library is loaded ([`UPGRADE_AT_LOAD`], an ELF constructor: before
//! `main`, or at `dlopen`, when no other thread of the program has
//! started BLAS work), and otherwise at the library's one-time set-up
//! before its first call. A program that `dlopen`s the library while its
//! own threads run BLAS work in this OpenBLAS should set
//! `OPENBLAS_CORETYPE` itself, or `MINIBATCHNMF_OPENBLAS_CORE=keep` to
//! leave the choice alone.

use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_void};

/// OpenBLAS's generic x86-64 core, its fallback for unknown CPUs.
const GENERIC_CORE: &str = "Prescott";

/// The environment variable that turns the switch off (`keep`).
pub(crate) const KEEP_VAR: &str = "MINIBATCHNMF_OPENBLAS_CORE";

extern "C" {
    fn openblas_get_corename() -> *const c_char;
}

/// The name of the kernels ("core") OpenBLAS runs for the library, e.g.
/// "Haswell" (after the library's one-time set-up, which this runs).
pub fn openblas_core() -> String {
    crate::parallel::init_blas();
    current_core()
}

fn current_core() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated name.
    let p = unsafe { openblas_get_corename() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, static, NUL-terminated (above).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// The better core this CPU supports, as OpenBLAS names it (with the
/// symbol of its kernel table), or None.
#[cfg(target_arch = "x86_64")]
fn better_core() -> Option<(&'static str, &'static str)> {
    let avx512 = is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512cd")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512vl");
    if avx512 {
        Some(("SkylakeX", "gotoblas_SKYLAKEX"))
    } else if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        Some(("Haswell", "gotoblas_HASWELL"))
    } else if is_x86_feature_detected!("avx") {
        Some(("Sandybridge", "gotoblas_SANDYBRIDGE"))
    } else {
        None
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn better_core() -> Option<(&'static str, &'static str)> {
    None
}

/// A symbol of the loaded OpenBLAS (or of any loaded object), or null.
fn symbol(name: &str) -> *mut c_void {
    let Ok(c) = CString::new(name) else {
        return std::ptr::null_mut();
    };
    // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only looks
    // the name up.
    unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) }
}

/// What [`upgrade_generic_core`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CoreChoice {
    /// OpenBLAS's own choice stands (a known CPU, a user's choice, no
    /// better core, or not a DYNAMIC_ARCH build).
    Kept(String),
    /// The generic core was replaced.
    Upgraded { from: String, to: String },
}

/// The switch, once per process: at load ([`UPGRADE_AT_LOAD`]) or at the
/// library's first BLAS set-up, whichever comes first.
static UPGRADE_ONCE: std::sync::Once = std::sync::Once::new();

/// [`upgrade_generic_core`], the first time only.
pub(crate) fn upgrade_generic_core_once() {
    UPGRADE_ONCE.call_once_force(|_| {
        upgrade_generic_core();
    });
}

/// Runs the switch when the library is loaded, before any thread of the
/// program can be in a BLAS call: the Rust test harness, for one, runs
/// tests on several threads, and a test's own `ndarray` product raced
/// the switch made at the library's first call (wrong products, now and
/// then a crash, under load). A panic must not unwind into the loader.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static UPGRADE_AT_LOAD: extern "C" fn() = {
    extern "C" fn upgrade_at_load() {
        let _ = std::panic::catch_unwind(upgrade_generic_core_once);
    }
    upgrade_at_load
};

/// If OpenBLAS runs its generic core on a CPU that supports a better one,
/// re-initialise it with that one (module docs). Call once, before any
/// BLAS call of the library.
pub(crate) fn upgrade_generic_core() -> CoreChoice {
    let current = current_core();
    let user_chose = std::env::var_os("OPENBLAS_CORETYPE").is_some_and(|v| !v.is_empty());
    let keep = std::env::var(KEEP_VAR).is_ok_and(|v| v.eq_ignore_ascii_case("keep"));
    if user_chose || keep || !current.eq_ignore_ascii_case(GENERIC_CORE) {
        return CoreChoice::Kept(current);
    }
    let Some((target, table)) = better_core() else {
        return CoreChoice::Kept(current);
    };
    let quit = symbol("gotoblas_dynamic_quit");
    let init = symbol("gotoblas_dynamic_init");
    if quit.is_null() || init.is_null() || symbol(table).is_null() {
        return CoreChoice::Kept(current);
    }
    // SAFETY: both are OpenBLAS's `void f(void)` functions (DYNAMIC_ARCH,
    // present since the table of the target core is): quit forgets the
    // kernel table, init picks one again, reading OPENBLAS_CORETYPE as at
    // start-up; the target's table is compiled in, so init finds it.
    unsafe {
        let quit: extern "C" fn() = std::mem::transmute::<*mut c_void, extern "C" fn()>(quit);
        let init: extern "C" fn() = std::mem::transmute::<*mut c_void, extern "C" fn()>(init);
        std::env::set_var("OPENBLAS_CORETYPE", target);
        quit();
        init();
        std::env::remove_var("OPENBLAS_CORETYPE");
    }
    let now = current_core();
    if now.eq_ignore_ascii_case(target) {
        CoreChoice::Upgraded {
            from: current,
            to: now,
        }
    } else {
        CoreChoice::Kept(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The core OpenBLAS runs after the library's set-up is the better
    /// core exactly when it started on the generic one without a user's
    /// choice; a known CPU's choice is never changed.
    #[test]
    fn generic_core_is_upgraded_only_when_it_is_the_fallback() {
        crate::parallel::init_blas();
        let now = openblas_core();
        assert!(!now.is_empty());
        let user = std::env::var_os("OPENBLAS_CORETYPE").is_some_and(|v| !v.is_empty());
        if let (false, Some((better, _))) = (user, better_core()) {
            // On a CPU with AVX or better, the generic core never stays.
            let keep = std::env::var(KEEP_VAR).is_ok_and(|v| v.eq_ignore_ascii_case("keep"));
            if !keep && !symbol("gotoblas_dynamic_init").is_null() {
                assert!(
                    !now.eq_ignore_ascii_case(GENERIC_CORE),
                    "OpenBLAS still runs {now} where {better} is supported"
                );
            }
        }
        // A second call changes nothing.
        assert_eq!(upgrade_generic_core(), CoreChoice::Kept(now));
    }
}
