//! The committed C header `include/minibatchnmf.h` is what cbindgen generates
//! from `src/ffi` (with `cbindgen.toml`), and the C ABI it declares keeps its
//! shape.
//!
//! The build never writes the header (a library build needs no cbindgen):
//! - `make header-check` (part of `make test`) runs this test, which fails
//!   when the committed header differs from what src/ffi generates;
//! - `make header` sets `MINIBATCHNMF_WRITE_HEADER=1`, which rewrites the
//!   header instead; commit the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn committed_header() -> String {
    let path = manifest_dir().join("include").join("minibatchnmf.h");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The header cbindgen generates from src/ffi, with the version macros.
fn generate(manifest_dir: &Path) -> Vec<u8> {
    let mut config =
        cbindgen::Config::from_file(manifest_dir.join("cbindgen.toml")).expect("cbindgen.toml");
    config.after_includes = Some(format!(
        "\n/** Version of this header (compare with nmf_version() at run time). */\n\
         #define MINIBATCHNMF_VERSION \"{}\"\n\
         #define MINIBATCHNMF_VERSION_MAJOR {}\n\
         #define MINIBATCHNMF_VERSION_MINOR {}\n\
         #define MINIBATCHNMF_VERSION_PATCH {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(manifest_dir.join("src").join("ffi").join("mod.rs"))
        .generate()
        .expect("cbindgen failed on src/ffi");
    let mut out = Vec::new();
    bindings.write(&mut out);
    out
}

#[test]
fn committed_header_is_what_src_ffi_generates() {
    let dir = manifest_dir();
    let generated = generate(&dir);
    let path = dir.join("include").join("minibatchnmf.h");
    if std::env::var_os("MINIBATCHNMF_WRITE_HEADER").is_some_and(|v| !v.is_empty() && v != "0") {
        if std::fs::read(&path).ok().as_deref() != Some(&generated[..]) {
            std::fs::write(&path, &generated).expect("write include/minibatchnmf.h");
            eprintln!("wrote {}", path.display());
        }
        return;
    }
    let committed = std::fs::read(&path).expect("read include/minibatchnmf.h");
    if committed != generated {
        let out = dir
            .join("target")
            .join("header-check")
            .join("minibatchnmf.h");
        let _ = std::fs::create_dir_all(out.parent().unwrap());
        let _ = std::fs::write(&out, &generated);
        panic!(
            "include/minibatchnmf.h is out of date with src/ffi (the generated header is in {}): \
             run `make header` and commit it",
            out.display()
        );
    }
}

/// Every `nmf_*` function the header declares: name → its parameter list
/// (whitespace normalised).
fn declarations(header: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let text: String = header
        .lines()
        .filter(|l| !l.trim_start().starts_with('*') && !l.trim_start().starts_with("/*"))
        .collect::<Vec<_>>()
        .join(" ");
    for (i, _) in text.match_indices("nmf_") {
        // A declaration's name follows the return type: a space or a '*'.
        if !matches!(text[..i].chars().last(), Some(' ' | '*')) {
            continue;
        }
        let tail = &text[i..];
        let Some(open) = tail.find('(') else { continue };
        let name = &tail[..open];
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let close = tail[open..].find(')').expect("unclosed parameter list") + open;
        let args = tail[open + 1..close]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if tail[close + 1..].trim_start().starts_with(';') {
            out.insert(name.to_string(), args);
        }
    }
    out
}

#[test]
fn every_f64_export_has_an_f32_twin_with_the_same_arguments() {
    let decls = declarations(&committed_header());
    let f64s: Vec<_> = decls.keys().filter(|n| n.ends_with("_f64")).collect();
    assert!(
        f64s.len() >= 11,
        "expected the f64 data calls, found {f64s:?}"
    );
    for name in f64s {
        let twin = format!("{}_f32", name.strip_suffix("_f64").unwrap());
        let args = decls
            .get(&twin)
            .unwrap_or_else(|| panic!("{name} has no f32 twin {twin}"));
        assert_eq!(
            args.replace("float", "double"),
            decls[name],
            "{twin} does not take {name}'s arguments (float for double)"
        );
    }
    // And the other way round: no f32 call without its f64 twin.
    for name in decls.keys().filter(|n| n.ends_with("_f32")) {
        let twin = format!("{}_f64", name.strip_suffix("_f32").unwrap());
        assert!(decls.contains_key(&twin), "{name} has no f64 twin {twin}");
    }
}

#[test]
fn every_export_in_src_ffi_is_declared_and_guarded() {
    // Each `extern "C"` function of src/ffi is in the header, and its body
    // runs inside the panic guard (`guard`, `guard_value` or `catch_unwind`).
    let decls = declarations(&committed_header());
    let mut seen = 0;
    let mut stack = vec![manifest_dir().join("src").join("ffi")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let src = std::fs::read_to_string(&path).unwrap();
            let mut rest = src.as_str();
            while let Some(i) = rest.find("extern \"C\" fn nmf_") {
                let tail = &rest[i + "extern \"C\" fn ".len()..];
                let name = &tail[..tail.find('(').unwrap()];
                assert!(
                    decls.contains_key(name),
                    "{name} ({}) is not in the header",
                    path.display()
                );
                // The body: from the first '{' after the signature to the next export.
                let body_start = tail.find('{').unwrap();
                let body_end = tail[body_start..]
                    .find("extern \"C\" fn ")
                    .map_or(tail.len(), |e| body_start + e);
                let body = &tail[body_start..body_end];
                assert!(
                    body.contains("guard(")
                        || body.contains("guard_value(")
                        || body.contains("catch_unwind"),
                    "{name} ({}) does not run inside the panic guard",
                    path.display()
                );
                seen += 1;
                rest = &tail[body_start..];
            }
        }
    }
    assert_eq!(
        seen,
        decls.len(),
        "the header declares functions src/ffi does not export"
    );
}
