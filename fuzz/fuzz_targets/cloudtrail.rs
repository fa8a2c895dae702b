//! Any bytes as a trail file: form detection, gzip, zip archives, and CloudTrail records.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rekey_trail::fuzzing::check_trail_file(data);
});
