//! Build script: the SONAME of the shared library, and the C header
//! `include/minibatchnmf.h` generated from `src/ffi` by cbindgen.
//!
//! The header is written to:
//! - `$MINIBATCHNMF_HEADER_OUT` when that variable is set (the drift check
//!   `make header-check` regenerates into a temporary file and diffs it
//!   against the committed header), otherwise
//! - `include/minibatchnmf.h`, when its content changed, except under CI
//!   (`CI` set), where the committed header must be left as committed so the
//!   drift check compares against it.
//!
//! A cbindgen failure never fails the build (the library does not need the
//! header): it is reported as a cargo warning, and the drift check, which
//! requires the regenerated file, catches it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-env-changed=MINIBATCHNMF_HEADER_OUT");
    println!("cargo:rerun-if-env-changed=CI");

    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // `make install` installs libminibatchnmf.so.X.Y.Z with this SONAME.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libminibatchnmf.so.{major}");
    }

    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()));
    let target = match env::var_os("MINIBATCHNMF_HEADER_OUT") {
        Some(p) if !p.is_empty() => {
            // Never leave a stale file behind: the drift check must fail if
            // generation fails.
            let _ = fs::remove_file(&p);
            Some(PathBuf::from(p))
        }
        _ if is_ci() => None,
        _ => Some(manifest_dir.join("include").join("minibatchnmf.h")),
    };

    let generated = std::panic::catch_unwind(|| generate(&manifest_dir));
    let header = match generated {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            println!("cargo:warning=minibatchnmf: C header not generated: {e}");
            return;
        }
        Err(_) => {
            println!("cargo:warning=minibatchnmf: C header not generated: cbindgen panicked");
            return;
        }
    };
    if let Ok(out_dir) = env::var("OUT_DIR") {
        let _ = fs::write(Path::new(&out_dir).join("minibatchnmf.h"), &header);
    }
    if let Some(path) = target {
        if let Err(e) = write_if_changed(&path, &header) {
            println!(
                "cargo:warning=minibatchnmf: cannot write {}: {e}",
                path.display()
            );
        }
    }
}

fn is_ci() -> bool {
    matches!(env::var("CI"), Ok(v) if !v.is_empty() && v != "0" && v != "false")
}

fn generate(manifest_dir: &Path) -> Result<Vec<u8>, String> {
    let mut config = cbindgen::Config::from_file(manifest_dir.join("cbindgen.toml"))?;
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let part = |name: &str| env::var(name).unwrap_or_else(|_| "0".into());
    config.after_includes = Some(format!(
        "\n/** Version of this header (compare with nmf_version() at run time). */\n\
         #define MINIBATCHNMF_VERSION \"{version}\"\n\
         #define MINIBATCHNMF_VERSION_MAJOR {}\n\
         #define MINIBATCHNMF_VERSION_MINOR {}\n\
         #define MINIBATCHNMF_VERSION_PATCH {}\n",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(manifest_dir.join("src").join("ffi").join("mod.rs"))
        .generate()
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    bindings.write(&mut out);
    Ok(out)
}

fn write_if_changed(path: &Path, content: &[u8]) -> std::io::Result<()> {
    if fs::read(path).ok().as_deref() == Some(content) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(path, content)
}
