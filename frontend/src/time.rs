//! Display of times: the API sends UTC, people read both UTC and their browser's zone.

use chrono::{DateTime, FixedOffset, Utc};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

/// Formats a time in UTC, such as `2023-07-10 12:20:00 UTC`.
pub fn format_utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Formats a time in the browser's zone with its offset, such as `2023-07-10 14:20:00 +02:00`.
///
/// The offset is the one in force at that instant, so a time in summer shows summer time even
/// when read in winter.
pub fn format_local(time: DateTime<Utc>) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(time.timestamp_millis() as f64));
    // `getTimezoneOffset` is UTC minus local time in minutes, so east of Greenwich is negative.
    let offset_seconds = (-date.get_timezone_offset() * 60.0).round() as i32;
    match FixedOffset::east_opt(offset_seconds) {
        Some(offset) => time
            .with_timezone(&offset)
            .format("%Y-%m-%d %H:%M:%S %:z")
            .to_string(),
        None => format_utc(time),
    }
}

/// Name of the browser's time zone, such as `Europe/Berlin`, when the browser reports one.
pub fn local_zone_name() -> Option<String> {
    let format = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    let options = format.resolved_options();
    js_sys::Reflect::get(&options, &JsValue::from_str("timeZone"))
        .ok()
        .and_then(|zone| zone.as_string())
        .filter(|zone| !zone.is_empty())
}

/// A `<time>` element showing the local time, with UTC in its tooltip.
#[component]
pub fn LocalTime(time: DateTime<Utc>) -> impl IntoView {
    view! {
        <time datetime=time.to_rfc3339() title=format_utc(time)>
            {format_local(time)}
        </time>
    }
}

/// A `<time>` element showing UTC, with the local time in its tooltip.
#[component]
pub fn UtcTime(time: DateTime<Utc>) -> impl IntoView {
    view! {
        <time datetime=time.to_rfc3339() title=format_local(time)>
            {format_utc(time)}
        </time>
    }
}
