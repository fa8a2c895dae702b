//! Any bytes as the fields of a Huawei Cloud Trace Service trace.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rekey_trail::fuzzing::check_cts_trace(data);
});
