//! Build script: the SONAME of the shared library, nothing else.
//!
//! The C header `include/minibatchnmf.h` is not written by the build: it is
//! generated from `src/ffi` by cbindgen in `tests/header.rs`, which fails when
//! the committed header differs from what src/ffi generates (`make
//! header-check`, part of `make test`) and rewrites it when asked to (`make
//! header`).

use std::env;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let major = env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        // `make install` installs libminibatchnmf.so.X.Y.Z with this SONAME.
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libminibatchnmf.so.{major}");
    }
}
