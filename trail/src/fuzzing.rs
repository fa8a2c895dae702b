//! Checks run by the fuzz targets in `fuzz/` and by the regression tests of their findings.
//! Each panics when the reader breaks a property that callers rely on.

use std::convert::Infallible;
use std::io::Cursor;
use std::sync::Arc;

use crate::{is_zip, read_events_with, read_zip_with, Event, Needles, ReadOptions};

/// Decompressed size allowed per file while fuzzing, so that a small gzip input cannot make a
/// run take minutes.
const FUZZ_MAX_DECOMPRESSED_BYTES: u64 = 1 << 20;

/// Key id that the needle check of [`check_trail_file`] searches for.
const FUZZ_KEY: &str = "AKIAFUZZ";

/// Reads `data` as a trail file (or zip archive) and checks every event it yields. Then reads
/// it again, parsing only the events that contain [`FUZZ_KEY`], and checks that this finds
/// every event with that key and counts the same number of events.
pub fn check_trail_file(data: &[u8]) {
    let options = ReadOptions {
        max_decompressed_bytes: FUZZ_MAX_DECOMPRESSED_BYTES,
        ..ReadOptions::default()
    };
    let Some((all, count)) = read_all(data, options.clone()) else {
        return;
    };
    let filtered = ReadOptions {
        only_containing: Needles::new([FUZZ_KEY]).map(Arc::new),
        ..options
    };
    let (found, filtered_count) = read_all(data, filtered)
        .expect("reading only the events with a key fails where reading every event succeeds");
    assert_eq!(filtered_count, count, "the search counts another number of events");
    let with_key = |event: &&Event| event.access_key_id.as_deref() == Some(FUZZ_KEY);
    let expected: Vec<&Event> = all.iter().filter(with_key).collect();
    let found: Vec<&Event> = found.iter().filter(with_key).collect();
    assert_eq!(found, expected, "the search misses events with the key");
}

/// Events of `data` and the count of events read, checking each event; `None` when the reader
/// rejects the input.
fn read_all(data: &[u8], options: ReadOptions) -> Option<(Vec<Event>, u64)> {
    let mut events = Vec::new();
    let on_event = |event: Event| {
        check_event(&event);
        events.push(event);
        Ok::<(), Infallible>(())
    };
    let count = if is_zip(data) {
        let summaries = read_zip_with("fuzz.zip", Cursor::new(data), options, on_event).ok()?;
        summaries.iter().map(|(_, summary)| summary.events).sum()
    } else {
        read_events_with("fuzz.json", data, options, on_event).ok()?.events
    };
    Some((events, count))
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
