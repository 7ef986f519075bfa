#![no_main]
#[path = "../checks/ffi_calls.rs"]
mod check;
libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
