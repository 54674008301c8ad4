#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    augtrain_fuzz_targets::pth(data);
});
