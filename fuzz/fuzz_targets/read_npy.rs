#![no_main]
#[path = "../checks/readers.rs"]
mod check;
libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run("npy", data));
