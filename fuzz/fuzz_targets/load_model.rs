#![no_main]
#[path = "../checks/load_model.rs"]
mod check;
libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
