//! Checks run by the fuzz targets in `fuzz/` and by the regression tests of their findings.
//! Each panics when the reader breaks a property that callers rely on.

use std::convert::Infallible;
use std::io::Cursor;

use crate::{is_zip, read_events_with, read_zip_with, Event, ReadOptions};

/// Decompressed size allowed per file while fuzzing, so that a small gzip input cannot make a
/// run take minutes.
const FUZZ_MAX_DECOMPRESSED_BYTES: u64 = 1 << 20;

/// Reads `data` as a trail file (or zip archive) and checks every event it yields.
pub fn check_trail_file(data: &[u8]) {
    let options = ReadOptions {
        max_decompressed_bytes: FUZZ_MAX_DECOMPRESSED_BYTES,
    };
    let on_event = |event: Event| {
        check_event(&event);
        Ok::<(), Infallible>(())
    };
    if is_zip(data) {
        let _ = read_zip_with("fuzz.zip", Cursor::new(data), options, on_event);
    } else {
        let _ = read_events_with("fuzz.json", data, options, on_event);
    }
}

/// Parses `data` as the fields of a CTS trace: the text after `{"trace_name":"fuzz",`, so that
/// the event is read as a trace whatever its other keys are.
pub fn check_cts_trace(data: &[u8]) {
    let fields = String::from_utf8_lossy(data);
    let fields = fields.trim_start().strip_prefix('{').unwrap_or(&fields);
    let text = format!(r#"{{"trace_name":"fuzz",{fields}"#);
    if let Ok(event) = Event::from_json(text) {
        check_event(&event);
    }
}

/// Checks that the stored text of an event parses again to the same event, because confirming a
/// credential later re-reads events from that text.
fn check_event(event: &Event) {
    let again = Event::from_json(event.raw.clone())
        .unwrap_or_else(|error| panic!("stored text of {} does not parse: {error}", event.raw));
    assert_eq!(&again, event, "stored text parses to another event");
}
