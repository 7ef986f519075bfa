#![no_main]
#[path = "../checks/csr_validation.rs"]
mod check;
libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
